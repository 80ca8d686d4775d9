//! Push on PostgreSQL: the reads and the write of `storage::push` for a group of pushes inside one
//! READ COMMITTED transaction. Each read is a set-based statement over arrays (`= ANY($1)`,
//! `UNNEST`) and the whole write is one statement (data-modifying `WITH`), so a group costs about
//! ten round trips whatever its size.
//!
//! Locks, always in this order (so two groups cannot deadlock): the devices' rows in id order
//! (`FOR UPDATE`: two pushes of one device run one after the other and each reads the other's
//! `last_seq` and `received` rows), then the feed counter row before the first new movement (see
//! `feed.rs`: it serializes every writer of the feed, so feed numbers commit in order — DESIGN.md's
//! sequence trap — and every check, level and alert reads the state every earlier push committed).
//!
//! Must not: decide anything (`storage::push` and `storage::rules` do).

use super::db::Db;
use super::rows::ALERT_COLUMNS;
use super::{feed, rows};
use crate::storage::push::{Pair, PushJob, PushTx, PushWrites};
use crate::storage::{Result, StorageError};
use ::postgres::types::ToSql;
use smartstock_core::level::LevelEntry;
use smartstock_core::wire::{MovementOutcome, Outcome};
use smartstock_core::{
    Alert, AlertKind, DeviceId, LedgerDigest, Level, LocationId, Movement, MovementId, ProductId, Timestamp, UserId,
};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Applies a group of pushes of distinct devices inside `db` (the caller commits).
pub(super) fn push_group(db: &mut Db<'_>, jobs: &[PushJob<'_>]) -> Result<Vec<Result<Vec<MovementOutcome>>>> {
    crate::storage::push::push_group(&mut PgPush(db), jobs)
}

struct PgPush<'a, 'c>(&'a mut Db<'c>);

/// SQL built once from column lists.
fn once(cell: &'static OnceLock<String>, build: impl FnOnce() -> String) -> &'static str {
    cell.get_or_init(build)
}

const DEVICES: &str = "SELECT id, user_id, last_seq FROM devices WHERE id = ANY($1) ORDER BY id FOR UPDATE";
const PRODUCTS: &str = "SELECT id, sku, reorder_point FROM products WHERE id = ANY($1)";
const LOCATIONS: &str = "SELECT id, code FROM locations WHERE id = ANY($1)";
const PAIR_ENTRIES: &str = "SELECT id, occurred_at, delta, counted_qty FROM movements \
     WHERE product_id = $1 AND location_id = $2 AND kind <> 'void' AND voided_by IS NULL";
const OPEN_ALERTS: &str = "SELECT DISTINCT a.kind, a.product_id, a.location_id FROM alerts a \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS p(pid, lid) ON a.product_id = p.pid AND a.location_id = p.lid \
     WHERE a.resolved_at IS NULL";
const WINDOW: &str = "SELECT value::bigint FROM settings WHERE key = 'count_review_window_ms'";

fn by_seqs_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    once(&SQL, || {
        format!(
            "WITH k AS (SELECT * FROM UNNEST($1::uuid[], $2::bigint[]) AS k(device_id, device_seq)) \
             SELECT m.device_id, m.device_seq, m.id, NULL::text AS outcome, m.server_seq, {ALERT} \
             FROM k JOIN movements m ON m.device_id = k.device_id AND m.device_seq = k.device_seq {FIRST_ALERT} \
             UNION ALL \
             SELECT r.device_id, r.device_seq, r.movement_id, r.outcome, {NO_ACCEPTED} \
             FROM k JOIN received r ON r.device_id = k.device_id AND r.device_seq = k.device_seq"
        )
    })
}

/// Accepted rows first: a movement id stored as accepted answers with that outcome, even when
/// `received` keeps another outcome of it under a later number.
fn by_ids_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    once(&SQL, || {
        format!(
            "SELECT 0 AS source, m.id, NULL::text AS outcome, m.server_seq, {ALERT} \
             FROM movements m {FIRST_ALERT} WHERE m.id = ANY($1) \
             UNION ALL \
             SELECT 1, r.movement_id, r.outcome, {NO_ACCEPTED} FROM received r WHERE r.movement_id = ANY($1) \
             ORDER BY source"
        )
    })
}

fn stored_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    once(&SQL, || format!("SELECT {}, voided_by FROM movements WHERE id = ANY($1)", rows::MOVEMENT_COLUMNS))
}

fn levels_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    once(&SQL, || {
        format!(
            "SELECT l.product_id, l.location_id, {} FROM levels l \
             JOIN UNNEST($1::uuid[], $2::uuid[]) AS p(pid, lid) ON l.product_id = p.pid AND l.location_id = p.lid",
            rows::LEVEL_COLUMNS.split(", ").map(|c| format!("l.{c}")).collect::<Vec<_>>().join(", ")
        )
    })
}

fn devices_from(rows: &[::postgres::Row]) -> Result<Vec<(DeviceId, UserId, i64)>> {
    rows.iter().map(|r| Ok((DeviceId(r.try_get(0)?), UserId(r.try_get(1)?), r.try_get(2)?))).collect()
}

fn replays_from(rows: &[::postgres::Row]) -> Result<Vec<(DeviceId, i64, MovementId, Outcome)>> {
    rows.iter()
        .map(|r| Ok((DeviceId(r.try_get(0)?), r.try_get(1)?, MovementId(r.try_get(2)?), stored_outcome(r, 3)?)))
        .collect()
}

fn outcomes_from(rows: &[::postgres::Row]) -> Result<Vec<(MovementId, Outcome)>> {
    let mut found: HashMap<MovementId, Outcome> = HashMap::with_capacity(rows.len());
    for r in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = found.entry(MovementId(r.try_get(1)?)) {
            slot.insert(stored_outcome(r, 2)?);
        }
    }
    Ok(found.into_iter().collect())
}

fn products_from(rows: &[::postgres::Row]) -> Result<Vec<(ProductId, String, i64)>> {
    rows.iter().map(|r| Ok((ProductId(r.try_get(0)?), r.try_get(1)?, r.try_get(2)?))).collect()
}

fn locations_from(rows: &[::postgres::Row]) -> Result<Vec<(LocationId, String)>> {
    rows.iter().map(|r| Ok((LocationId(r.try_get(0)?), r.try_get(1)?))).collect()
}

fn stored_from(rows: &[::postgres::Row]) -> Result<Vec<(Movement, Option<MovementId>)>> {
    rows.iter()
        .map(|r| Ok((rows::movement_from_row(r)?, r.try_get::<_, Option<uuid::Uuid>>(18)?.map(MovementId))))
        .collect()
}

fn levels_from(rows: &[::postgres::Row]) -> Result<Vec<(Pair, Level, LedgerDigest)>> {
    rows.iter()
        .map(|r| {
            let (level, digest) = rows::level_from_row(r, 2)?;
            Ok(((ProductId(r.try_get(0)?), LocationId(r.try_get(1)?)), level, digest))
        })
        .collect()
}

fn open_alerts_from(rows: &[::postgres::Row]) -> Result<Vec<(AlertKind, Pair)>> {
    let mut open = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get(0)?;
        if let Ok(kind) = kind.parse::<AlertKind>() {
            open.push((kind, (ProductId(r.try_get(1)?), LocationId(r.try_get(2)?))));
        }
    }
    Ok(open)
}

fn decode(outcome: &str) -> Result<Outcome> {
    serde_json::from_str(outcome).map_err(|e| StorageError::Database(format!("stored outcome: {e}")))
}

/// The first alert a movement raised (joined as `a`), for rebuilding its outcome.
const FIRST_ALERT: &str = "LEFT JOIN LATERAL (SELECT * FROM alerts WHERE alerts.movement_id = m.id \
     ORDER BY feed_seq LIMIT 1) a ON true";
/// The alert columns after `server_seq`, in `ALERT_COLUMNS` order (all null without an alert).
const ALERT: &str = "a.id, a.kind, a.product_id, a.location_id, a.quantity, a.movement_id, a.message, a.raised_at, \
     a.resolved_by, a.resolved_at";

/// Rebuilds an accepted movement's outcome from `server_seq` at `at` and the alert columns after it.
fn accepted_outcome(row: &::postgres::Row, at: usize) -> Result<Outcome> {
    let server_seq: i64 = row.try_get(at)?;
    let alert = match row.try_get::<_, Option<uuid::Uuid>>(at + 1)? {
        Some(_) => Some(rows::alert_from_row_at(row, at + 1)?),
        None => None,
    };
    Ok(crate::storage::rules::accepted(server_seq, alert.into_iter().collect()))
}

/// Null accepted-outcome columns (`server_seq` and `ALERT`) for the `received` half of a union.
const NO_ACCEPTED: &str = "NULL::bigint, NULL::uuid, NULL::text, NULL::uuid, NULL::uuid, NULL::bigint, NULL::uuid, \
     NULL::text, NULL::bigint, NULL::uuid, NULL::bigint";

/// The outcome of a row with the stored outcome text at `at` (a `received` row) or, when that is
/// null, `server_seq` and the alert columns after it (an accepted movement).
fn stored_outcome(row: &::postgres::Row, at: usize) -> Result<Outcome> {
    match row.try_get::<_, Option<&str>>(at)? {
        Some(text) => decode(text),
        None => accepted_outcome(row, at + 1),
    }
}

fn uuids<T>(items: &[T], id: impl Fn(&T) -> uuid::Uuid) -> Vec<uuid::Uuid> {
    items.iter().map(id).collect()
}

impl PushTx for PgPush<'_, '_> {
    fn devices(&mut self, ids: &[DeviceId]) -> Result<Vec<(DeviceId, UserId, i64)>> {
        devices_from(&self.0.query(DEVICES, &[&uuids(ids, |d| d.0)])?)
    }

    fn received_by_seqs(&mut self, keys: &[(DeviceId, i64)]) -> Result<Vec<(DeviceId, i64, MovementId, Outcome)>> {
        let (devices, seqs): (Vec<uuid::Uuid>, Vec<i64>) = keys.iter().map(|(d, s)| (d.0, *s)).unzip();
        replays_from(&self.0.query(by_seqs_sql(), &[&devices, &seqs])?)
    }

    fn received_by_ids(&mut self, ids: &[MovementId]) -> Result<Vec<(MovementId, Outcome)>> {
        outcomes_from(&self.0.query(by_ids_sql(), &[&uuids(ids, |m| m.0)])?)
    }

    fn lock_feed(&mut self) -> Result<i64> {
        let rows = self.0.query(feed::LOCK, &[])?;
        Ok(rows.first().ok_or_else(|| StorageError::Database("no feed counter".into()))?.try_get(0)?)
    }

    fn products(&mut self, ids: &[ProductId]) -> Result<Vec<(ProductId, String, i64)>> {
        products_from(&self.0.query(PRODUCTS, &[&uuids(ids, |p| p.0)])?)
    }

    fn locations(&mut self, ids: &[LocationId]) -> Result<Vec<(LocationId, String)>> {
        locations_from(&self.0.query(LOCATIONS, &[&uuids(ids, |l| l.0)])?)
    }

    fn stored_movements(&mut self, ids: &[MovementId]) -> Result<Vec<(Movement, Option<MovementId>)>> {
        stored_from(&self.0.query(stored_sql(), &[&uuids(ids, |m| m.0)])?)
    }

    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>> {
        let found = self.0.query(PAIR_ENTRIES, &[&product.0, &location.0])?;
        let mut entries = Vec::with_capacity(found.len());
        for r in found {
            entries.extend(LevelEntry::from_parts(
                MovementId(r.try_get(0)?),
                Timestamp(r.try_get(1)?),
                r.try_get(2)?,
                r.try_get(3)?,
            ));
        }
        Ok(entries)
    }

    fn levels(&mut self, pairs: &[Pair]) -> Result<Vec<(Pair, Level, LedgerDigest)>> {
        let (products, locations) = (uuids(pairs, |p| p.0 .0), uuids(pairs, |p| p.1 .0));
        levels_from(&self.0.query(levels_sql(), &[&products, &locations])?)
    }

    fn open_alerts(&mut self, pairs: &[Pair]) -> Result<Vec<(AlertKind, Pair)>> {
        let (products, locations) = (uuids(pairs, |p| p.0 .0), uuids(pairs, |p| p.1 .0));
        open_alerts_from(&self.0.query(OPEN_ALERTS, &[&products, &locations])?)
    }

    fn count_review_window_ms(&mut self) -> Result<i64> {
        let rows = self.0.query(WINDOW, &[])?;
        Ok(rows.first().ok_or_else(|| StorageError::Database("no count review window".into()))?.try_get(0)?)
    }

    fn write(&mut self, writes: &PushWrites) -> Result<()> {
        let mut params = movement_params(&writes.movements, &writes.voided);
        params.extend(voided_params(&writes.voided));
        params.extend(alert_params(&writes.alerts));
        params.extend(level_params(&writes.levels));
        params.extend(received_params(&writes.received)?);
        params.extend(device_params(&writes.devices));
        params.push(Box::new(writes.feed_seq));
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        self.0.execute(write_sql(), &params)?;
        Ok(())
    }
}

/// A statement parameter.
type Param = Box<dyn ToSql + Sync>;

/// The one statement that stores a push group: movements, voids, alerts, levels, kept outcomes,
/// devices' last numbers, and the feed counter with its notice (`feed::set_ctes`). Every part
/// reads the snapshot from before the statement, so a movement voided in the same group gets
/// its `voided_by` on insert (the `UPDATE` of stored targets cannot see it).
fn write_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "WITH moved AS (INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, \
             location_id, delta, counted_qty, reason, note, ref, peer_location_id, occurred_at, recorded_at, \
             server_seq, qty_before, qty_after, voided_by) SELECT * FROM UNNEST($1::uuid[], $2::uuid[], \
             $3::bigint[], $4::uuid[], $5::text[], $6::uuid[], $7::uuid[], $8::bigint[], $9::bigint[], \
             $10::text[], $11::text[], $12::text[], $13::uuid[], $14::bigint[], $15::bigint[], $16::bigint[], \
             $17::bigint[], $18::bigint[], $19::uuid[])), \
             voided AS (UPDATE movements SET voided_by = v.void FROM UNNEST($20::uuid[], $21::uuid[]) \
             AS v(target, void) WHERE movements.id = v.target), \
             raised AS (INSERT INTO alerts ({ALERT_COLUMNS}, feed_seq) SELECT * FROM UNNEST($22::uuid[], \
             $23::text[], $24::uuid[], $25::uuid[], $26::bigint[], $27::uuid[], $28::text[], $29::bigint[], \
             $30::uuid[], $31::bigint[], $32::bigint[])), \
             saved AS (INSERT INTO levels (product_id, location_id, on_hand, anchor_id, anchor_at, \
             anchor_counted, latest_at, latest_id, movement_count, digest) SELECT * FROM UNNEST($33::uuid[], \
             $34::uuid[], $35::bigint[], $36::uuid[], $37::bigint[], $38::bigint[], $39::bigint[], $40::uuid[], \
             $41::bigint[], $42::bytea[]) ON CONFLICT (product_id, location_id) DO UPDATE SET \
             on_hand = excluded.on_hand, anchor_id = excluded.anchor_id, anchor_at = excluded.anchor_at, \
             anchor_counted = excluded.anchor_counted, latest_at = excluded.latest_at, \
             latest_id = excluded.latest_id, movement_count = excluded.movement_count, digest = excluded.digest), \
             kept AS (INSERT INTO received (device_id, device_seq, movement_id, outcome) SELECT * FROM \
             UNNEST($43::uuid[], $44::bigint[], $45::uuid[], $46::text[])), \
             acknowledged AS (UPDATE devices SET last_seq = d.last FROM UNNEST($47::uuid[], $48::bigint[]) \
             AS d(id, last) WHERE devices.id = d.id), {}",
            feed::set_ctes(49)
        )
    })
}

fn column<T, V: ToSql + Sync + 'static>(items: &[T], f: impl Fn(&T) -> V) -> Param {
    Box::new(items.iter().map(f).collect::<Vec<V>>())
}

/// `$1`–`$19`: the movements, each with the void (in this group) that cancels it.
fn movement_params(movements: &[Movement], voided: &[(MovementId, MovementId)]) -> Vec<Param> {
    let voided_by: HashMap<MovementId, MovementId> = voided.iter().copied().collect();
    vec![
        column(movements, |m| m.id.0),
        column(movements, |m| m.device_id.0),
        column(movements, |m| m.device_seq),
        column(movements, |m| m.user_id.0),
        column(movements, |m| m.kind.as_str().to_owned()),
        column(movements, |m| m.product_id.0),
        column(movements, |m| m.location_id.0),
        column(movements, |m| m.delta),
        column(movements, |m| m.counted_qty),
        column(movements, |m| m.reason.map(|r| r.as_str().to_owned())),
        column(movements, |m| m.note.clone()),
        column(movements, |m| m.reference.clone()),
        column(movements, |m| m.peer_location_id.map(|p| p.0)),
        column(movements, |m| m.occurred_at.millis()),
        column(movements, |m| m.recorded_at.millis()),
        column(movements, |m| m.server_seq),
        column(movements, |m| m.qty_before),
        column(movements, |m| m.qty_after),
        column(movements, |m| voided_by.get(&m.id).map(|v| v.0)),
    ]
}

/// `$20`–`$21`: (target, void).
fn voided_params(voided: &[(MovementId, MovementId)]) -> Vec<Param> {
    vec![column(voided, |v| v.0 .0), column(voided, |v| v.1 .0)]
}

/// `$22`–`$32`: `ALERT_COLUMNS` and the feed number.
fn alert_params(alerts: &[(Alert, i64)]) -> Vec<Param> {
    vec![
        column(alerts, |a| a.0.id.0),
        column(alerts, |a| a.0.kind.as_str().to_owned()),
        column(alerts, |a| a.0.product_id.0),
        column(alerts, |a| a.0.location_id.0),
        column(alerts, |a| a.0.quantity),
        column(alerts, |a| a.0.movement_id.map(|m| m.0)),
        column(alerts, |a| a.0.message.clone()),
        column(alerts, |a| a.0.raised_at.millis()),
        column(alerts, |a| a.0.resolved_by.map(|u| u.0)),
        column(alerts, |a| a.0.resolved_at.map(|t| t.millis())),
        column(alerts, |a| a.1),
    ]
}

/// `$33`–`$42`: the changed levels.
fn level_params(levels: &[(Pair, Level, LedgerDigest)]) -> Vec<Param> {
    vec![
        column(levels, |l| l.0 .0 .0),
        column(levels, |l| l.0 .1 .0),
        column(levels, |l| l.1.on_hand),
        column(levels, |l| l.1.anchor.map(|a| a.id.0)),
        column(levels, |l| l.1.anchor.map(|a| a.occurred_at.millis())),
        column(levels, |l| l.1.anchor.map(|a| a.counted)),
        column(levels, |l| l.1.latest.map(|(at, _)| at.millis())),
        column(levels, |l| l.1.latest.map(|(_, id)| id.0)),
        column(levels, |l| l.2.count as i64),
        column(levels, |l| l.2.sum_bytes().to_vec()),
    ]
}

/// `$43`–`$46`: outcomes kept in `received`.
fn received_params(received: &[(DeviceId, i64, MovementId, Outcome)]) -> Result<Vec<Param>> {
    let outcomes = received
        .iter()
        .map(|r| serde_json::to_string(&r.3).map_err(|e| StorageError::Database(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    Ok(vec![column(received, |r| r.0 .0), column(received, |r| r.1), column(received, |r| r.2 .0), Box::new(outcomes)])
}

/// `$47`–`$48`: each device's new last acknowledged number.
fn device_params(devices: &[(DeviceId, i64)]) -> Vec<Param> {
    vec![column(devices, |d| d.0 .0), column(devices, |d| d.1)]
}
