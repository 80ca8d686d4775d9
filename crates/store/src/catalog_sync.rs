//! This device's side of the catalog merge (DESIGN.md, "Catalog edits", "Catalog created twice
//! offline"): every local catalog edit is stamped per field with the device's hybrid logical
//! clock and queued (the catalog outbox, its own gapless `seq`) in the transaction that applies
//! it; rows from the server — pulled, or in a push outcome — merge into the local catalog by the
//! same per-field rule as the server's (`smartstock_core::merge`), so every replica converges.
//! An outcome that names an alias re-points this device's unsent movements of the alias to the
//! kept row and recomputes its levels, so stock groups by the kept id everywhere. Notices from
//! the server are stored for the alerts inbox.
//!
//! Must not: talk to the network (the sync crate does) or decide which value wins (core does).

use crate::catalog::{location_by, product_by};
use crate::error::{Result, StoreError};
use crate::remote::{upsert_location, upsert_product};
use crate::{Actor, Store};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use smartstock_core::merge::{merge_entity, stamp_fields, FieldStamp, Stamps};
use smartstock_core::wire::{
    CatalogEdit, CatalogEntity, CatalogNotice, CatalogOutcome, CatalogRow, CatalogStatus, NoticeKind,
};
use smartstock_core::{DeviceId, Hlc, LocationId, ProductId, Timestamp, UserId};
use uuid::Uuid;

/// What applying a catalog push's outcomes did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogAck {
    /// Edits answered (and taken out of the outbox).
    pub answered: u64,
    /// Edits with at least one field that lost.
    pub lost: u64,
    /// Rows merged into another as an alias.
    pub aliased: u64,
    /// Edits the server refused.
    pub rejected: u64,
}

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Conflict(format!("a stored catalog edit is not valid JSON: {e}"))
}

fn read_hlc(conn: &Connection) -> Result<(Hlc, i64)> {
    Ok(conn.query_row("SELECT hlc_wall, hlc_counter, clock_offset_ms FROM device", [], |r| {
        Ok((Hlc { wall: r.get(0)?, counter: r.get(1)? }, r.get(2)?))
    })?)
}

fn write_hlc(conn: &Connection, hlc: Hlc) -> Result<()> {
    conn.prepare_cached("UPDATE device SET hlc_wall = ?1, hlc_counter = ?2")?
        .execute(params![hlc.wall, hlc.counter])?;
    Ok(())
}

/// Moves this device's clock past `remote` (a stamp it received).
pub(crate) fn observe(conn: &Connection, remote: Hlc, now: Timestamp) -> Result<()> {
    let (hlc, offset) = read_hlc(conn)?;
    let next = hlc.observe(remote, now.plus_millis(offset));
    write_hlc(conn, next)
}

/// Stamps `fields` of `row` with a fresh clock reading and queues the edit for the server, in
/// the caller's transaction (the one that applied it).
pub(crate) fn queue_edit(
    tx: &Connection,
    actor: Actor,
    now: Timestamp,
    row: &CatalogRow,
    created: bool,
    fields: &[&str],
) -> Result<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let (hlc, offset) = read_hlc(tx)?;
    let hlc = hlc.tick(now.plus_millis(offset));
    write_hlc(tx, hlc)?;
    let (device, seq): (Uuid, i64) =
        tx.query_row("SELECT device_id, next_catalog_seq FROM device", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let stamp = FieldStamp { hlc, device_id: DeviceId(device), user_id: actor.user_id };
    save_stamps(tx, row.id(), &stamp_fields(fields.iter().copied(), stamp))?;
    tx.prepare_cached(
        "INSERT INTO catalog_outbox (seq, hlc_wall, hlc_counter, created, fields, row) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        seq,
        hlc.wall,
        hlc.counter,
        created,
        serde_json::to_string(fields).map_err(json_error)?,
        serde_json::to_string(row).map_err(json_error)?
    ])?;
    tx.prepare_cached("UPDATE device SET next_catalog_seq = ?1")?.execute([seq + 1])?;
    Ok(())
}

/// The stamps held for a row's fields.
pub(crate) fn load_stamps(conn: &Connection, id: Uuid) -> Result<Stamps> {
    let text: Option<String> = conn
        .prepare_cached("SELECT stamps FROM catalog_row_stamps WHERE entity_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    text.map_or_else(|| Ok(Stamps::new()), |text| decode_stamps(&text))
}

/// Adds `stamps` to those held for a row (a field stamped again takes the new stamp).
fn save_stamps(conn: &Connection, id: Uuid, stamps: &Stamps) -> Result<()> {
    let mut held = load_stamps(conn, id)?;
    held.extend(stamps.iter().map(|(field, stamp)| (field.clone(), *stamp)));
    conn.prepare_cached(
        "INSERT INTO catalog_row_stamps (entity_id, stamps) VALUES (?1, ?2) \
         ON CONFLICT (entity_id) DO UPDATE SET stamps = excluded.stamps",
    )?
    .execute(params![id, encode_stamps(&held)])?;
    Ok(())
}

/// One distinct stamp and the fields it covers, as `catalog_row_stamps` stores it.
type StoredStamp = (i64, u32, String, String, Vec<String>);

/// A row's stamps as stored: each distinct stamp once, with its fields (migration 0005).
pub(crate) fn encode_stamps(stamps: &Stamps) -> String {
    let mut groups: Vec<(FieldStamp, Vec<&str>)> = Vec::new();
    for (field, stamp) in stamps {
        match groups.iter_mut().find(|(held, _)| held == stamp) {
            Some((_, fields)) => fields.push(field),
            None => groups.push((*stamp, vec![field])),
        }
    }
    let stored: Vec<(i64, u32, String, String, &[&str])> = groups
        .iter()
        .map(|(s, fields)| {
            (
                s.hlc.wall,
                s.hlc.counter,
                s.device_id.0.simple().to_string(),
                s.user_id.0.simple().to_string(),
                &fields[..],
            )
        })
        .collect();
    // A tuple of numbers, strings and a list of strings always serializes.
    serde_json::to_string(&stored).unwrap_or_default()
}

fn decode_stamps(text: &str) -> Result<Stamps> {
    let unreadable =
        |e: &dyn std::fmt::Display| StoreError::Conflict(format!("stored field stamps are unreadable: {e}"));
    let stored: Vec<StoredStamp> = serde_json::from_str(text).map_err(|e| unreadable(&e))?;
    let mut stamps = Stamps::new();
    for (wall, counter, device, user, fields) in stored {
        let id = |text: &str| Uuid::parse_str(text).map_err(|e| unreadable(&e));
        let stamp =
            FieldStamp { hlc: Hlc { wall, counter }, device_id: DeviceId(id(&device)?), user_id: UserId(id(&user)?) };
        stamps.extend(fields.into_iter().map(|field| (field, stamp)));
    }
    Ok(stamps)
}

fn local_row(conn: &Connection, entity: CatalogEntity, id: Uuid) -> Result<Option<CatalogRow>> {
    Ok(match entity {
        CatalogEntity::Product => product_by(conn, "id = ?1", id)?.map(CatalogRow::Product),
        CatalogEntity::Location => location_by(conn, "id = ?1", id)?.map(CatalogRow::Location),
    })
}

fn write_row(conn: &Connection, row: &CatalogRow) -> Result<()> {
    match row {
        CatalogRow::Product(p) => upsert_product(conn, p),
        CatalogRow::Location(l) => upsert_location(conn, l),
    }
}

/// Merges a row from the server (with its stamps) into the local catalog by the per-field rule:
/// a field this device stamped later than the server keeps the local value (an edit not yet
/// merged there); every other field takes the server's value and stamp.
pub(crate) fn merge_from_server(conn: &Connection, row: &CatalogRow, stamps: &Stamps) -> Result<()> {
    let local_stamps = load_stamps(conn, row.id())?;
    let local = match local_stamps.is_empty() {
        true => None,
        false => local_row(conn, row.entity(), row.id())?,
    };
    let (merged, merged_stamps) = match local {
        None => (row.clone(), stamps.clone()),
        Some(local) => merge_rows((row, stamps), (&local, &local_stamps))?,
    };
    write_row(conn, &merged)?;
    save_stamps(conn, row.id(), &merged_stamps)
}

fn merge_rows(server: (&CatalogRow, &Stamps), local: (&CatalogRow, &Stamps)) -> Result<(CatalogRow, Stamps)> {
    Ok(match (server.0, local.0) {
        (CatalogRow::Product(s), CatalogRow::Product(l)) => {
            let (p, st, _) = merge_entity((s, server.1), (l, local.1))?;
            (CatalogRow::Product(p), st)
        }
        (CatalogRow::Location(s), CatalogRow::Location(l)) => {
            let (p, st, _) = merge_entity((s, server.1), (l, local.1))?;
            (CatalogRow::Location(p), st)
        }
        _ => return Err(StoreError::Conflict("a catalog row changed kind".into())),
    })
}

/// Stores a notice once (a re-pulled one is recognised by id).
pub(crate) fn store_notice(conn: &Connection, n: &CatalogNotice) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO catalog_notices (id, kind, entity, entity_id, code, field, lost_value, kept_value, message, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
        n.id,
        n.kind.as_str(),
        n.entity.as_str(),
        n.entity_id,
        n.code,
        n.field,
        n.lost_value,
        n.kept_value,
        n.message,
        n.at.millis()
    ])?;
    Ok(())
}

/// The row `alias` was merged into: its code moves aside (the kept row takes it), it is
/// archived, and this device's unsent movements of it are re-pointed to `kept`, whose levels are
/// recomputed from the ledger.
fn apply_alias(
    tx: &Connection,
    entity: CatalogEntity,
    alias: Uuid,
    kept: Uuid,
    alias_code: &str,
    kept_row: Option<(&CatalogRow, &Stamps)>,
) -> Result<()> {
    let rename = match entity {
        CatalogEntity::Product => "UPDATE products SET sku = ?2, barcode = NULL, archived = 1 WHERE id = ?1",
        CatalogEntity::Location => "UPDATE locations SET code = ?2, archived = 1 WHERE id = ?1",
    };
    tx.execute(rename, params![alias, alias_code])?;
    tx.execute(
        "INSERT INTO catalog_aliases (alias_id, canonical_id, entity) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![alias, kept, entity.as_str()],
    )?;
    if let Some((row, stamps)) = kept_row {
        merge_from_server(tx, row, stamps)?;
    }
    match entity {
        CatalogEntity::Product => repoint_product(tx, ProductId(alias), ProductId(kept)),
        CatalogEntity::Location => repoint_location(tx, LocationId(alias), LocationId(kept)),
    }
}

fn pairs(tx: &Connection, sql: &str, id: Uuid) -> Result<Vec<(Uuid, Uuid)>> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn repoint_product(tx: &Connection, alias: ProductId, kept: ProductId) -> Result<()> {
    let levels = pairs(tx, "SELECT product_id, location_id FROM levels WHERE product_id = ?1", alias.0)?;
    tx.execute(
        "UPDATE movements SET product_id = ?2 WHERE product_id = ?1 AND sync_state = 'pending'",
        params![alias.0, kept.0],
    )?;
    for (_, location) in levels {
        tx.execute("DELETE FROM levels WHERE product_id = ?1 AND location_id = ?2", params![alias.0, location])?;
        crate::ledger::recompute_pair(tx, kept, LocationId(location))?;
    }
    Ok(())
}

fn repoint_location(tx: &Connection, alias: LocationId, kept: LocationId) -> Result<()> {
    let levels = pairs(tx, "SELECT product_id, location_id FROM levels WHERE location_id = ?1", alias.0)?;
    tx.execute(
        "UPDATE movements SET location_id = ?2 WHERE location_id = ?1 AND sync_state = 'pending'",
        params![alias.0, kept.0],
    )?;
    tx.execute(
        "UPDATE movements SET peer_location_id = ?2 WHERE peer_location_id = ?1 AND sync_state = 'pending'",
        params![alias.0, kept.0],
    )?;
    for (product, _) in levels {
        tx.execute("DELETE FROM levels WHERE product_id = ?1 AND location_id = ?2", params![product, alias.0])?;
        crate::ledger::recompute_pair(tx, ProductId(product), kept)?;
    }
    Ok(())
}

/// The latest clock reading among stamps.
pub(crate) fn newest(stamps: &Stamps) -> Option<Hlc> {
    stamps.values().map(|s| s.hlc).max()
}

impl Store {
    /// Catalog edits the server has not answered, in `seq` order (at most `limit`).
    pub fn pending_catalog_edits(&self, limit: u32) -> Result<Vec<CatalogEdit>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, hlc_wall, hlc_counter, created, fields, row FROM catalog_outbox ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?))
        })?;
        let mut edits = Vec::new();
        for row in rows {
            let (seq, wall, counter, created, fields, body) = row?;
            edits.push(CatalogEdit {
                seq,
                hlc: Hlc { wall, counter },
                created,
                fields: serde_json::from_str(&fields).map_err(json_error)?,
                row: serde_json::from_str(&body).map_err(json_error)?,
            });
        }
        Ok(edits)
    }

    /// How many catalog edits wait for the server.
    pub fn pending_catalog_count(&self) -> Result<u64> {
        let count: i64 = self.read().query_row("SELECT COUNT(*) FROM catalog_outbox", [], |r| r.get(0))?;
        Ok(count.max(0) as u64)
    }

    /// Applies a catalog push's outcomes in one transaction: each answered edit leaves the
    /// outbox; the row the server holds now merges in by the per-field rule; an alias re-points
    /// unsent movements to the kept row; a refusal becomes a notice.
    pub fn acknowledge_catalog(&self, outcomes: &[CatalogOutcome]) -> Result<CatalogAck> {
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ack = CatalogAck::default();
        for outcome in outcomes {
            let body: Option<String> = tx
                .prepare_cached("DELETE FROM catalog_outbox WHERE seq = ?1 RETURNING row")?
                .query_row([outcome.seq], |r| r.get(0))
                .optional()?;
            let Some(body) = body else { continue };
            let edited: CatalogRow = serde_json::from_str(&body).map_err(json_error)?;
            ack.answered += 1;
            if let Some(hlc) = newest(&outcome.stamps) {
                observe(&tx, hlc, now)?;
            }
            let kept = outcome.row.as_ref().map(|row| (row, &outcome.stamps));
            match &outcome.status {
                CatalogStatus::Merged { lost } => {
                    ack.lost += u64::from(!lost.is_empty());
                    if let Some((row, stamps)) = kept {
                        merge_from_server(&tx, row, stamps)?;
                    }
                }
                CatalogStatus::Aliased { canonical_id, alias_code } => {
                    ack.aliased += 1;
                    apply_alias(&tx, edited.entity(), edited.id(), *canonical_id, alias_code, kept)?;
                }
                CatalogStatus::Rejected { code, message } => {
                    ack.rejected += 1;
                    if let Some((row, stamps)) = kept {
                        merge_from_server(&tx, row, stamps)?;
                    }
                    store_notice(&tx, &rejection_notice(&edited, code, message, now))?;
                }
            }
        }
        tx.commit()?;
        Ok(ack)
    }

    /// Notices from the server not dismissed yet, newest first (the alerts inbox lists them).
    pub fn catalog_notices(&self) -> Result<Vec<CatalogNotice>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT id, kind, entity, entity_id, code, field, lost_value, kept_value, message, at FROM catalog_notices \
             WHERE dismissed_at IS NULL ORDER BY at DESC, id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            let kind: String = r.get(1)?;
            let entity: String = r.get(2)?;
            Ok(CatalogNotice {
                id: r.get(0)?,
                kind: NoticeKind::parse(&kind).unwrap_or(NoticeKind::EditLost),
                entity: CatalogEntity::parse(&entity).unwrap_or(CatalogEntity::Product),
                entity_id: r.get(3)?,
                code: r.get(4)?,
                field: r.get(5)?,
                lost_value: r.get(6)?,
                kept_value: r.get(7)?,
                message: r.get(8)?,
                at: Timestamp(r.get(9)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Hides a notice from the inbox (it stays stored).
    pub fn dismiss_catalog_notice(&self, id: Uuid) -> Result<()> {
        let now = self.clock().now();
        let changed = self.write().execute(
            "UPDATE catalog_notices SET dismissed_at = ?2 WHERE id = ?1 AND dismissed_at IS NULL",
            params![id, now.millis()],
        )?;
        match changed {
            0 => Err(StoreError::not_found("catalog notice", id)),
            _ => Ok(()),
        }
    }

    /// The field stamps this device holds for a product or location.
    pub fn catalog_stamps(&self, id: Uuid) -> Result<Stamps> {
        load_stamps(&self.read(), id)
    }
}

fn rejection_notice(edited: &CatalogRow, code: &str, message: &str, now: Timestamp) -> CatalogNotice {
    CatalogNotice {
        id: Uuid::now_v7(),
        kind: NoticeKind::Rejected,
        entity: edited.entity(),
        entity_id: edited.id(),
        code: edited.code().to_string(),
        field: code.to_string(),
        lost_value: None,
        kept_value: None,
        message: format!("your edit of {} {} was refused: {message}", edited.entity().as_str(), edited.code()),
        at: now,
    }
}
