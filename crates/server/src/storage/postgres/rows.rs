//! Row mapping of the PostgreSQL backend: domain types to and from rows selected with the column
//! lists the SQLite schema uses too (`smartstock_store`'s `*_COLUMNS`: the tables have the same
//! columns) and the cached level of a pair.
//!
//! Must not: decide rules (`rules` does) or open transactions (callers pass their [`Db`]).

use super::db::Db;
use crate::storage::{Result, StorageError};
use ::postgres::Row;
use smartstock_core::level::CountAnchor;
use smartstock_core::{
    Alert, AlertId, DeviceId, LedgerDigest, Level, Location, LocationId, LocationKind, Movement, MovementId,
    NegativeStockPolicy, Product, ProductId, Timestamp, UserId,
};
pub(super) use smartstock_store::alerts::ALERT_COLUMNS;
pub(super) use smartstock_store::catalog::{LOCATION_COLUMNS, PRODUCT_COLUMNS};
pub(super) use smartstock_store::sql::MOVEMENT_COLUMNS;

/// Reads a text column into a type that parses from text.
fn parsed<T: std::str::FromStr>(row: &Row, idx: usize) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(idx)?;
    text.parse().map_err(|e| StorageError::Database(format!("stored value {text:?} in column {idx}: {e}")))
}

/// Maps a row whose first columns are `MOVEMENT_COLUMNS`.
pub(super) fn movement_from_row(row: &Row) -> Result<Movement> {
    movement_from_row_at(row, 0)
}

/// Maps `MOVEMENT_COLUMNS` starting at column `at`.
pub(super) fn movement_from_row_at(row: &Row, at: usize) -> Result<Movement> {
    let reason: Option<String> = row.try_get(at + 9)?;
    Ok(Movement {
        id: MovementId(row.try_get(at)?),
        device_id: DeviceId(row.try_get(at + 1)?),
        device_seq: row.try_get(at + 2)?,
        user_id: UserId(row.try_get(at + 3)?),
        kind: parsed(row, at + 4)?,
        product_id: ProductId(row.try_get(at + 5)?),
        location_id: LocationId(row.try_get(at + 6)?),
        delta: row.try_get(at + 7)?,
        counted_qty: row.try_get(at + 8)?,
        reason: reason
            .map(|r| r.parse().map_err(|e| StorageError::Database(format!("stored reason {r:?}: {e}"))))
            .transpose()?,
        note: row.try_get(at + 10)?,
        reference: row.try_get(at + 11)?,
        peer_location_id: row.try_get::<_, Option<uuid::Uuid>>(at + 12)?.map(LocationId),
        occurred_at: Timestamp(row.try_get(at + 13)?),
        recorded_at: Timestamp(row.try_get(at + 14)?),
        server_seq: row.try_get(at + 15)?,
        qty_before: row.try_get(at + 16)?,
        qty_after: row.try_get(at + 17)?,
    })
}

/// Maps a row selected with `PRODUCT_COLUMNS`.
pub(super) fn product_from_row(row: &Row) -> Result<Product> {
    product_from_row_at(row, 0)
}

/// Maps `PRODUCT_COLUMNS` starting at column `at`.
pub(super) fn product_from_row_at(row: &Row, at: usize) -> Result<Product> {
    let scale: i64 = row.try_get(at + 5)?;
    Ok(Product {
        id: ProductId(row.try_get(at)?),
        sku: row.try_get(at + 1)?,
        name: row.try_get(at + 2)?,
        barcode: row.try_get(at + 3)?,
        unit: row.try_get(at + 4)?,
        unit_scale: u32::try_from(scale).map_err(|_| StorageError::Database(format!("stored unit_scale {scale}")))?,
        reorder_point: row.try_get(at + 6)?,
        reorder_qty: row.try_get(at + 7)?,
        cost_minor: row.try_get(at + 8)?,
        price_minor: row.try_get(at + 9)?,
        archived: row.try_get(at + 10)?,
        negative_stock: row.try_get::<_, Option<String>>(at + 11)?.and_then(|p| NegativeStockPolicy::parse(&p)),
    })
}

/// Maps a row selected with `LOCATION_COLUMNS`.
pub(super) fn location_from_row(row: &Row) -> Result<Location> {
    location_from_row_at(row, 0)
}

/// Maps `LOCATION_COLUMNS` starting at column `at`.
pub(super) fn location_from_row_at(row: &Row, at: usize) -> Result<Location> {
    let kind: String = row.try_get(at + 3)?;
    Ok(Location {
        id: LocationId(row.try_get(at)?),
        code: row.try_get(at + 1)?,
        name: row.try_get(at + 2)?,
        kind: LocationKind::parse("kind", &kind).unwrap_or(LocationKind::Other),
        parent_id: row.try_get::<_, Option<uuid::Uuid>>(at + 4)?.map(LocationId),
        archived: row.try_get(at + 5)?,
    })
}

/// Maps a row selected with `ALERT_COLUMNS`.
pub(super) fn alert_from_row(row: &Row) -> Result<Alert> {
    alert_from_row_at(row, 0)
}

/// Maps `ALERT_COLUMNS` starting at column `at`.
pub(super) fn alert_from_row_at(row: &Row, at: usize) -> Result<Alert> {
    Ok(Alert {
        id: AlertId(row.try_get(at)?),
        kind: parsed(row, at + 1)?,
        product_id: ProductId(row.try_get(at + 2)?),
        location_id: LocationId(row.try_get(at + 3)?),
        quantity: row.try_get(at + 4)?,
        movement_id: row.try_get::<_, Option<uuid::Uuid>>(at + 5)?.map(MovementId),
        message: row.try_get(at + 6)?,
        raised_at: Timestamp(row.try_get(at + 7)?),
        resolved_by: row.try_get::<_, Option<uuid::Uuid>>(at + 8)?.map(UserId),
        resolved_at: row.try_get::<_, Option<i64>>(at + 9)?.map(Timestamp),
    })
}

/// A digest from its stored parts (a malformed sum reads as zero, as on SQLite).
pub(super) fn digest_from(count: i64, bytes: &[u8]) -> LedgerDigest {
    let sum: [u8; 16] = bytes.try_into().unwrap_or_default();
    LedgerDigest::from_parts(count as u64, sum)
}

/// The cached level and checksum of a pair (`None` if it has no movements yet).
pub(super) fn load_level(
    db: &mut Db<'_>,
    product: ProductId,
    location: LocationId,
) -> Result<Option<(Level, LedgerDigest)>> {
    let row = db.query_opt(
        &format!("SELECT {LEVEL_COLUMNS} FROM levels WHERE product_id = $1 AND location_id = $2"),
        &[&product.0, &location.0],
    )?;
    row.map(|row| level_from_row(&row, 0)).transpose()
}

/// Columns of `levels` in the order `level_from_row` reads them.
pub(super) const LEVEL_COLUMNS: &str =
    "on_hand, anchor_id, anchor_at, anchor_counted, latest_at, latest_id, movement_count, digest";

/// Maps `LEVEL_COLUMNS` starting at column `at`.
pub(super) fn level_from_row(row: &Row, at: usize) -> Result<(Level, LedgerDigest)> {
    let anchor = match (
        row.try_get::<_, Option<uuid::Uuid>>(at + 1)?,
        row.try_get::<_, Option<i64>>(at + 2)?,
        row.try_get::<_, Option<i64>>(at + 3)?,
    ) {
        (Some(id), Some(occurred), Some(counted)) => {
            Some(CountAnchor { id: MovementId(id), occurred_at: Timestamp(occurred), counted })
        }
        _ => None,
    };
    let latest = match (row.try_get::<_, Option<i64>>(at + 4)?, row.try_get::<_, Option<uuid::Uuid>>(at + 5)?) {
        (Some(occurred), Some(id)) => Some((Timestamp(occurred), MovementId(id))),
        _ => None,
    };
    let bytes: Vec<u8> = row.try_get(at + 7)?;
    let sum: [u8; 16] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| StorageError::Database(format!("stored level digest has {} bytes, not 16", bytes.len())))?;
    let level = Level { on_hand: row.try_get(at)?, anchor, latest };
    Ok((level, LedgerDigest::from_parts(row.try_get::<_, i64>(at + 6)? as u64, sum)))
}
