//! Small data-access functions shared by the store's modules (and by the server's SQLite backend,
//! whose `movements` and `levels` tables have the same columns): each takes a `&Connection` (a
//! `Transaction` derefs to one) so writes compose into the caller's transaction.
//!
//! Must not: open transactions of its own or decide rules; callers do both.

use crate::error::{Result, StoreError};
use rusqlite::types::{FromSqlError, Type};
use rusqlite::{params, Connection, OptionalExtension, Row};
use smartstock_core::level::{CountAnchor, LevelEntry};
use smartstock_core::{
    DeviceId, LedgerDigest, Level, LocationId, Movement, MovementId, NegativeStockPolicy, ProductId, Timestamp, UserId,
};

/// Columns of `movements` in the order `movement_from_row` reads them.
pub const MOVEMENT_COLUMNS: &str = "id, device_id, device_seq, user_id, kind, product_id, location_id, delta, \
     counted_qty, reason, note, ref, peer_location_id, occurred_at, recorded_at, server_seq, qty_before, qty_after";

/// Reads a text column into a type that parses from text, reporting a conversion failure.
fn parsed<T: std::str::FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn opt_parsed<T: std::str::FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: Option<String> = row.get(idx)?;
    text.map(|t| t.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))))
        .transpose()
}

/// Maps a row whose first columns are `MOVEMENT_COLUMNS`.
pub fn movement_from_row(row: &Row<'_>) -> rusqlite::Result<Movement> {
    Ok(Movement {
        id: MovementId(row.get(0)?),
        device_id: DeviceId(row.get(1)?),
        device_seq: row.get(2)?,
        user_id: UserId(row.get(3)?),
        kind: parsed(row, 4)?,
        product_id: ProductId(row.get(5)?),
        location_id: LocationId(row.get(6)?),
        delta: row.get(7)?,
        counted_qty: row.get(8)?,
        reason: opt_parsed(row, 9)?,
        note: row.get(10)?,
        reference: row.get(11)?,
        peer_location_id: row.get::<_, Option<uuid::Uuid>>(12)?.map(LocationId),
        occurred_at: Timestamp(row.get(13)?),
        recorded_at: Timestamp(row.get(14)?),
        server_seq: row.get(15)?,
        qty_before: row.get(16)?,
        qty_after: row.get(17)?,
    })
}

/// Inserts a movement row (pending until the server answers).
pub fn insert_movement(conn: &Connection, m: &Movement) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, location_id, delta, \
         counted_qty, reason, note, ref, peer_location_id, occurred_at, recorded_at, server_seq, qty_before, \
         qty_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    stmt.execute(params![
        &m.id.as_bytes()[..],
        &m.device_id.as_bytes()[..],
        m.device_seq,
        &m.user_id.as_bytes()[..],
        m.kind.as_str(),
        &m.product_id.as_bytes()[..],
        &m.location_id.as_bytes()[..],
        m.delta,
        m.counted_qty,
        m.reason.map(|r| r.as_str()),
        m.note,
        m.reference,
        m.peer_location_id.map(|l| l.0),
        m.occurred_at.millis(),
        m.recorded_at.millis(),
        m.server_seq,
        m.qty_before,
        m.qty_after,
    ])?;
    Ok(())
}

/// Inserts a movement the server already accepted (a pulled row), unless a movement with its id
/// is held already. Returns whether the row was new. Any other clash (a `(device_id, device_seq)`
/// taken by a different movement) is an error, never silently skipped.
pub fn insert_accepted_movement(conn: &Connection, m: &Movement, voided_by: Option<MovementId>) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, location_id, delta, \
         counted_qty, reason, note, ref, peer_location_id, occurred_at, recorded_at, server_seq, qty_before, \
         qty_after, sync_state, voided_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
         ?15, ?16, ?17, ?18, 'accepted', ?19) ON CONFLICT (id) DO NOTHING",
    )?;
    let values = params![
        &m.id.as_bytes()[..],
        &m.device_id.as_bytes()[..],
        m.device_seq,
        &m.user_id.as_bytes()[..],
        m.kind.as_str(),
        &m.product_id.as_bytes()[..],
        &m.location_id.as_bytes()[..],
        m.delta,
        m.counted_qty,
        m.reason.map(|r| r.as_str()),
        m.note,
        m.reference,
        m.peer_location_id.as_ref().map(|l| &l.as_bytes()[..]),
        m.occurred_at.millis(),
        m.recorded_at.millis(),
        m.server_seq,
        m.qty_before,
        m.qty_after,
        voided_by.as_ref().map(|v| &v.as_bytes()[..]),
    ];
    let inserted = match stmt.execute(values) {
        Err(e) if is_server_seq_clash(&e) => {
            // A number this device holds from before the server was restored from a backup: the
            // restored server handed it out anew, so the old holder loses it.
            release_server_seq(conn, m.server_seq.unwrap_or_default(), m.id)?;
            stmt.execute(values)?
        }
        other => other?,
    };
    Ok(inserted == 1)
}

/// Whether `e` is a `server_seq` uniqueness failure.
pub(crate) fn is_server_seq_clash(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(text))
        if f.code == rusqlite::ErrorCode::ConstraintViolation && text.contains("movements.server_seq"))
}

/// Takes `server_seq` away from any movement but `keep` that still holds it (a number from before
/// the server was restored from an older backup; the server has given it to another movement).
pub fn release_server_seq(conn: &Connection, server_seq: i64, keep: MovementId) -> Result<()> {
    conn.prepare_cached("UPDATE movements SET server_seq = NULL WHERE server_seq = ?1 AND id <> ?2")?
        .execute(params![server_seq, keep.0])?;
    Ok(())
}

/// One movement by id, with whether it is voided (`voided_by`) and its sync state.
pub fn movement_by_id(conn: &Connection, id: MovementId) -> Result<Option<(Movement, Option<MovementId>, String)>> {
    let sql = format!("SELECT {MOVEMENT_COLUMNS}, voided_by, sync_state FROM movements WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row([id.0], |row| {
            Ok((movement_from_row(row)?, row.get::<_, Option<uuid::Uuid>>(18)?.map(MovementId), row.get(19)?))
        })
        .optional()?)
}

/// The level-rule entries of one product × location that count: not voided, not rejected, not
/// voids themselves.
pub fn pair_entries(conn: &Connection, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, occurred_at, delta, counted_qty FROM movements \
         WHERE product_id = ?1 AND location_id = ?2 AND kind <> 'void' AND voided_by IS NULL \
         AND sync_state <> 'rejected'",
    )?;
    let rows = stmt.query_map(params![product.0, location.0], |row| {
        Ok(LevelEntry::from_parts(MovementId(row.get(0)?), Timestamp(row.get(1)?), row.get(2)?, row.get(3)?))
    })?;
    let mut entries = Vec::new();
    for row in rows {
        entries.extend(row?);
    }
    Ok(entries)
}

/// The cached level and checksum of a pair (`None` if it has no movements yet).
pub fn load_level(
    conn: &Connection,
    product: ProductId,
    location: LocationId,
) -> Result<Option<(Level, LedgerDigest)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT on_hand, anchor_id, anchor_at, anchor_counted, latest_at, latest_id, movement_count, digest \
         FROM levels WHERE product_id = ?1 AND location_id = ?2",
    )?;
    Ok(stmt.query_row(params![product.0, location.0], level_from_row).optional()?)
}

fn level_from_row(row: &Row<'_>) -> rusqlite::Result<(Level, LedgerDigest)> {
    let anchor = match (row.get::<_, Option<uuid::Uuid>>(1)?, row.get::<_, Option<i64>>(2)?, row.get(3)?) {
        (Some(id), Some(at), Some(counted)) => {
            Some(CountAnchor { id: MovementId(id), occurred_at: Timestamp(at), counted })
        }
        _ => None,
    };
    let latest = match (row.get::<_, Option<i64>>(4)?, row.get::<_, Option<uuid::Uuid>>(5)?) {
        (Some(at), Some(id)) => Some((Timestamp(at), MovementId(id))),
        _ => None,
    };
    let count: i64 = row.get(6)?;
    let bytes: Vec<u8> = row.get(7)?;
    let blob_size = bytes.len();
    let sum: [u8; 16] = bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            7,
            Type::Blob,
            Box::new(FromSqlError::InvalidBlobSize { expected_size: 16, blob_size }),
        )
    })?;
    Ok((Level { on_hand: row.get(0)?, anchor, latest }, LedgerDigest::from_parts(count as u64, sum)))
}

/// Writes the cached level and checksum of a pair.
pub fn save_level(
    conn: &Connection,
    product: ProductId,
    location: LocationId,
    level: &Level,
    digest: &LedgerDigest,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO levels (product_id, location_id, on_hand, anchor_id, anchor_at, anchor_counted, latest_at, \
         latest_id, movement_count, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (product_id, location_id) DO UPDATE SET on_hand = excluded.on_hand, \
         anchor_id = excluded.anchor_id, anchor_at = excluded.anchor_at, anchor_counted = excluded.anchor_counted, \
         latest_at = excluded.latest_at, latest_id = excluded.latest_id, \
         movement_count = excluded.movement_count, digest = excluded.digest",
    )?;
    stmt.execute(params![
        &product.as_bytes()[..],
        &location.as_bytes()[..],
        level.on_hand,
        level.anchor.as_ref().map(|a| &a.id.as_bytes()[..]),
        level.anchor.map(|a| a.occurred_at.millis()),
        level.anchor.map(|a| a.counted),
        level.latest.map(|(at, _)| at.millis()),
        level.latest.as_ref().map(|(_, id)| &id.as_bytes()[..]),
        digest.count as i64,
        &digest.sum_bytes()[..],
    ])?;
    Ok(())
}

/// A product × location pair with its level and checksum, as `levels` holds them.
pub type PairLevel = ((ProductId, LocationId), (Level, LedgerDigest));

/// Inserts levels into a table that holds none of their pairs, `LEVEL_ROWS` to a statement.
pub fn insert_levels(conn: &Connection, levels: &[PairLevel]) -> Result<()> {
    const LEVEL_ROWS: usize = 256;
    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    for chunk in levels.chunks(LEVEL_ROWS) {
        let sql = format!(
            "INSERT INTO levels (product_id, location_id, on_hand, anchor_id, anchor_at, anchor_counted, latest_at, \
             latest_id, movement_count, digest) VALUES {}",
            vec![row; chunk.len()].join(", ")
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut index = 0;
        for ((product, location), (level, digest)) in chunk {
            let values: [&dyn rusqlite::ToSql; 10] = [
                &product.0,
                &location.0,
                &level.on_hand,
                &level.anchor.map(|a| a.id.0),
                &level.anchor.map(|a| a.occurred_at.millis()),
                &level.anchor.map(|a| a.counted),
                &level.latest.map(|(at, _)| at.millis()),
                &level.latest.map(|(_, id)| id.0),
                &(digest.count as i64),
                &digest.sum_bytes(),
            ];
            for value in values {
                index += 1;
                stmt.raw_bind_parameter(index, value)?;
            }
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

/// What the ledger needs to know about a product to record a movement of it.
#[derive(Clone, Debug)]
pub struct ProductBrief {
    /// SKU (for messages).
    pub sku: String,
    /// Decimal places of its unit.
    pub unit_scale: u32,
    /// Its override of the global negative-stock policy.
    pub negative_stock: Option<NegativeStockPolicy>,
    /// Archived products take no new movements.
    pub archived: bool,
}

/// Looks up a product for recording; `NotFound` names the id.
pub fn product_brief(conn: &Connection, id: ProductId) -> Result<ProductBrief> {
    let mut stmt =
        conn.prepare_cached("SELECT sku, unit_scale, negative_stock, archived FROM products WHERE id = ?1")?;
    stmt.query_row([id.0], |row| {
        Ok(ProductBrief {
            sku: row.get(0)?,
            unit_scale: row.get(1)?,
            negative_stock: row.get::<_, Option<String>>(2)?.and_then(|p| NegativeStockPolicy::parse(&p)),
            archived: row.get(3)?,
        })
    })
    .optional()?
    .ok_or_else(|| StoreError::not_found("product", id))
}

/// A location's code and whether it is archived; `NotFound` names the id.
pub fn location_brief(conn: &Connection, id: LocationId) -> Result<(String, bool)> {
    let mut stmt = conn.prepare_cached("SELECT code, archived FROM locations WHERE id = ?1")?;
    stmt.query_row([id.0], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::not_found("location", id))
}

/// The global negative-stock policy.
pub fn global_policy(conn: &Connection) -> Result<NegativeStockPolicy> {
    let mut stmt = conn.prepare_cached("SELECT value FROM settings WHERE key = 'negative_stock_policy'")?;
    let text: Option<String> = stmt.query_row([], |r| r.get(0)).optional()?;
    Ok(text.and_then(|t| NegativeStockPolicy::parse(&t)).unwrap_or_default())
}
