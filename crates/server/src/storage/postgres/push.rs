//! Push on PostgreSQL: the reads and the write of `storage::push` inside one READ COMMITTED
//! transaction, each a set-based statement over arrays (`= ANY($1)`, `UNNEST`), so a batch of 500
//! movements costs a dozen round trips, not thousands.
//!
//! Locks, always in this order (so two pushes cannot deadlock): the device's row (`FOR UPDATE`:
//! two pushes of one device run one after the other and each reads the other's `last_seq` and
//! `received` rows), then the feed counter row before the first new movement (see `feed.rs`: it
//! serializes every writer of the feed, so feed numbers commit in order — DESIGN.md's sequence
//! trap — and every check, level and alert reads the state every earlier push committed).
//!
//! Must not: decide anything (`storage::push` and `storage::rules` do).

use super::db::Db;
use super::{feed, rows};
use crate::storage::push::{Pair, PushTx, PushWrites};
use crate::storage::{Pusher, Result, StorageError};
use smartstock_core::level::LevelEntry;
use smartstock_core::wire::{MovementOutcome, Outcome, PushRequest};
use smartstock_core::{
    AlertKind, DeviceId, LedgerDigest, Level, LocationId, Movement, MovementId, ProductId, Timestamp, UserId,
};

/// Applies a push inside `db` (the caller commits).
pub(super) fn push(
    db: &mut Db<'_>,
    pusher: &Pusher,
    request: &PushRequest,
    now: Timestamp,
) -> Result<Vec<MovementOutcome>> {
    crate::storage::push::push(&mut PgPush(db), pusher, request, now)
}

struct PgPush<'a, 'c>(&'a mut Db<'c>);

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

fn uuids<T>(items: &[T], id: impl Fn(&T) -> uuid::Uuid) -> Vec<uuid::Uuid> {
    items.iter().map(id).collect()
}

impl PushTx for PgPush<'_, '_> {
    fn device(&mut self, id: DeviceId) -> Result<Option<(UserId, i64)>> {
        let row = self.0.query_opt("SELECT user_id, last_seq FROM devices WHERE id = $1 FOR UPDATE", &[&id.0])?;
        row.map(|r| Ok((UserId(r.try_get(0)?), r.try_get(1)?))).transpose()
    }

    fn received_by_seqs(&mut self, device: DeviceId, seqs: &[i64]) -> Result<Vec<(i64, MovementId, Outcome)>> {
        let seqs = seqs.to_vec();
        let accepted = self.0.query(
            &format!(
                "SELECT m.device_seq, m.id, m.server_seq, {ALERT} FROM movements m {FIRST_ALERT} \
                 WHERE m.device_id = $1 AND m.device_seq = ANY($2)"
            ),
            &[&device.0, &seqs],
        )?;
        let mut found = accepted
            .iter()
            .map(|r| Ok((r.try_get(0)?, MovementId(r.try_get(1)?), accepted_outcome(r, 2)?)))
            .collect::<Result<Vec<_>>>()?;
        let kept = self.0.query(
            "SELECT device_seq, movement_id, outcome FROM received WHERE device_id = $1 AND device_seq = ANY($2)",
            &[&device.0, &seqs],
        )?;
        for r in kept {
            found.push((r.try_get(0)?, MovementId(r.try_get(1)?), decode(r.try_get(2)?)?));
        }
        Ok(found)
    }

    fn received_by_ids(&mut self, ids: &[MovementId]) -> Result<Vec<(MovementId, Outcome)>> {
        let ids = uuids(ids, |m| m.0);
        let accepted = self.0.query(
            &format!("SELECT m.id, m.server_seq, {ALERT} FROM movements m {FIRST_ALERT} WHERE m.id = ANY($1)"),
            &[&ids],
        )?;
        let mut found = accepted
            .iter()
            .map(|r| Ok((MovementId(r.try_get(0)?), accepted_outcome(r, 1)?)))
            .collect::<Result<Vec<_>>>()?;
        let kept = self.0.query(
            "SELECT DISTINCT ON (movement_id) movement_id, outcome FROM received WHERE movement_id = ANY($1)",
            &[&ids],
        )?;
        for r in kept {
            let id = MovementId(r.try_get(0)?);
            if !found.iter().any(|(known, _)| *known == id) {
                found.push((id, decode(r.try_get(1)?)?));
            }
        }
        Ok(found)
    }

    fn lock_feed(&mut self) -> Result<i64> {
        feed::lock(self.0)
    }

    fn products(&mut self, ids: &[ProductId]) -> Result<Vec<(ProductId, String, i64)>> {
        let ids = uuids(ids, |p| p.0);
        let rows = self.0.query("SELECT id, sku, reorder_point FROM products WHERE id = ANY($1)", &[&ids])?;
        rows.iter().map(|r| Ok((ProductId(r.try_get(0)?), r.try_get(1)?, r.try_get(2)?))).collect()
    }

    fn locations(&mut self, ids: &[LocationId]) -> Result<Vec<(LocationId, String)>> {
        let ids = uuids(ids, |l| l.0);
        let rows = self.0.query("SELECT id, code FROM locations WHERE id = ANY($1)", &[&ids])?;
        rows.iter().map(|r| Ok((LocationId(r.try_get(0)?), r.try_get(1)?))).collect()
    }

    fn stored_movements(&mut self, ids: &[MovementId]) -> Result<Vec<(Movement, Option<MovementId>)>> {
        let ids = uuids(ids, |m| m.0);
        let sql = format!("SELECT {}, voided_by FROM movements WHERE id = ANY($1)", rows::MOVEMENT_COLUMNS);
        let found = self.0.query(&sql, &[&ids])?;
        found
            .iter()
            .map(|r| Ok((rows::movement_from_row(r)?, r.try_get::<_, Option<uuid::Uuid>>(18)?.map(MovementId))))
            .collect()
    }

    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>> {
        let found = self.0.query(
            "SELECT id, occurred_at, delta, counted_qty FROM movements \
             WHERE product_id = $1 AND location_id = $2 AND kind <> 'void' AND voided_by IS NULL",
            &[&product.0, &location.0],
        )?;
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
        let sql = format!(
            "SELECT l.product_id, l.location_id, {} FROM levels l \
             JOIN UNNEST($1::uuid[], $2::uuid[]) AS p(pid, lid) ON l.product_id = p.pid AND l.location_id = p.lid",
            rows::LEVEL_COLUMNS.split(", ").map(|c| format!("l.{c}")).collect::<Vec<_>>().join(", ")
        );
        let found = self.0.query(&sql, &[&products, &locations])?;
        found
            .iter()
            .map(|r| {
                let (level, digest) = rows::level_from_row(r, 2)?;
                Ok(((ProductId(r.try_get(0)?), LocationId(r.try_get(1)?)), level, digest))
            })
            .collect()
    }

    fn open_alerts(&mut self, pairs: &[Pair]) -> Result<Vec<(AlertKind, Pair)>> {
        let (products, locations) = (uuids(pairs, |p| p.0 .0), uuids(pairs, |p| p.1 .0));
        let found = self.0.query(
            "SELECT DISTINCT a.kind, a.product_id, a.location_id FROM alerts a \
             JOIN UNNEST($1::uuid[], $2::uuid[]) AS p(pid, lid) ON a.product_id = p.pid AND a.location_id = p.lid \
             WHERE a.resolved_at IS NULL",
            &[&products, &locations],
        )?;
        let mut open = Vec::with_capacity(found.len());
        for r in found {
            let kind: String = r.try_get(0)?;
            if let Ok(kind) = kind.parse::<AlertKind>() {
                open.push((kind, (ProductId(r.try_get(1)?), LocationId(r.try_get(2)?))));
            }
        }
        Ok(open)
    }

    fn count_review_window_ms(&mut self) -> Result<i64> {
        Ok(self
            .0
            .query_one("SELECT value::bigint FROM settings WHERE key = 'count_review_window_ms'", &[])?
            .try_get(0)?)
    }

    fn write(&mut self, writes: &PushWrites) -> Result<()> {
        insert_movements(self.0, &writes.movements)?;
        if !writes.voided.is_empty() {
            let (targets, voids) = (uuids(&writes.voided, |v| v.0 .0), uuids(&writes.voided, |v| v.1 .0));
            self.0.execute(
                "UPDATE movements SET voided_by = v.void FROM UNNEST($1::uuid[], $2::uuid[]) AS v(target, void) \
                 WHERE movements.id = v.target",
                &[&targets, &voids],
            )?;
        }
        for (alert, seq) in &writes.alerts {
            rows::insert_alert(self.0, alert, *seq)?;
        }
        save_levels(self.0, &writes.levels)?;
        if let Some(device) = writes.device {
            insert_received(self.0, device, &writes.received)?;
            self.0.execute("UPDATE devices SET last_seq = $2 WHERE id = $1", &[&device.0, &writes.last_seq])?;
        }
        if let Some(last) = writes.feed_seq {
            feed::set(self.0, last)?;
        }
        Ok(())
    }
}

fn insert_movements(db: &mut Db<'_>, movements: &[Movement]) -> Result<()> {
    if movements.is_empty() {
        return Ok(());
    }
    let column = |f: &dyn Fn(&Movement) -> uuid::Uuid| movements.iter().map(f).collect::<Vec<_>>();
    let (ids, devices, users) = (column(&|m| m.id.0), column(&|m| m.device_id.0), column(&|m| m.user_id.0));
    let (products, locations) = (column(&|m| m.product_id.0), column(&|m| m.location_id.0));
    let seqs: Vec<i64> = movements.iter().map(|m| m.device_seq).collect();
    let kinds: Vec<&str> = movements.iter().map(|m| m.kind.as_str()).collect();
    let deltas: Vec<Option<i64>> = movements.iter().map(|m| m.delta).collect();
    let counted: Vec<Option<i64>> = movements.iter().map(|m| m.counted_qty).collect();
    let reasons: Vec<Option<&str>> = movements.iter().map(|m| m.reason.map(|r| r.as_str())).collect();
    let notes: Vec<Option<&str>> = movements.iter().map(|m| m.note.as_deref()).collect();
    let refs: Vec<Option<&str>> = movements.iter().map(|m| m.reference.as_deref()).collect();
    let peers: Vec<Option<uuid::Uuid>> = movements.iter().map(|m| m.peer_location_id.map(|p| p.0)).collect();
    let occurred: Vec<i64> = movements.iter().map(|m| m.occurred_at.millis()).collect();
    let recorded: Vec<i64> = movements.iter().map(|m| m.recorded_at.millis()).collect();
    let server_seqs: Vec<Option<i64>> = movements.iter().map(|m| m.server_seq).collect();
    let before: Vec<i64> = movements.iter().map(|m| m.qty_before).collect();
    let after: Vec<i64> = movements.iter().map(|m| m.qty_after).collect();
    db.execute(
        "INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, location_id, delta, \
         counted_qty, reason, note, ref, peer_location_id, occurred_at, recorded_at, server_seq, qty_before, \
         qty_after) SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::uuid[], $5::text[], \
         $6::uuid[], $7::uuid[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::uuid[], \
         $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[])",
        &[
            &ids,
            &devices,
            &seqs,
            &users,
            &kinds,
            &products,
            &locations,
            &deltas,
            &counted,
            &reasons,
            &notes,
            &refs,
            &peers,
            &occurred,
            &recorded,
            &server_seqs,
            &before,
            &after,
        ],
    )?;
    Ok(())
}

fn insert_received(db: &mut Db<'_>, device: DeviceId, received: &[(i64, MovementId, Outcome)]) -> Result<()> {
    if received.is_empty() {
        return Ok(());
    }
    let seqs: Vec<i64> = received.iter().map(|r| r.0).collect();
    let ids: Vec<uuid::Uuid> = received.iter().map(|r| r.1 .0).collect();
    let outcomes = received
        .iter()
        .map(|r| serde_json::to_string(&r.2).map_err(|e| StorageError::Database(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    db.execute(
        "INSERT INTO received (device_id, device_seq, movement_id, outcome) \
         SELECT $1, s, m, o FROM UNNEST($2::bigint[], $3::uuid[], $4::text[]) AS t(s, m, o)",
        &[&device.0, &seqs, &ids, &outcomes],
    )?;
    Ok(())
}

fn save_levels(db: &mut Db<'_>, levels: &[(Pair, Level, LedgerDigest)]) -> Result<()> {
    if levels.is_empty() {
        return Ok(());
    }
    let products: Vec<uuid::Uuid> = levels.iter().map(|l| l.0 .0 .0).collect();
    let locations: Vec<uuid::Uuid> = levels.iter().map(|l| l.0 .1 .0).collect();
    let on_hand: Vec<i64> = levels.iter().map(|l| l.1.on_hand).collect();
    let anchor_ids: Vec<Option<uuid::Uuid>> = levels.iter().map(|l| l.1.anchor.map(|a| a.id.0)).collect();
    let anchor_at: Vec<Option<i64>> = levels.iter().map(|l| l.1.anchor.map(|a| a.occurred_at.millis())).collect();
    let anchor_counted: Vec<Option<i64>> = levels.iter().map(|l| l.1.anchor.map(|a| a.counted)).collect();
    let latest_at: Vec<Option<i64>> = levels.iter().map(|l| l.1.latest.map(|(at, _)| at.millis())).collect();
    let latest_ids: Vec<Option<uuid::Uuid>> = levels.iter().map(|l| l.1.latest.map(|(_, id)| id.0)).collect();
    let counts: Vec<i64> = levels.iter().map(|l| l.2.count as i64).collect();
    let digests: Vec<Vec<u8>> = levels.iter().map(|l| l.2.sum_bytes().to_vec()).collect();
    db.execute(
        "INSERT INTO levels (product_id, location_id, on_hand, anchor_id, anchor_at, anchor_counted, latest_at, \
         latest_id, movement_count, digest) SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], \
         $4::uuid[], $5::bigint[], $6::bigint[], $7::bigint[], $8::uuid[], $9::bigint[], $10::bytea[]) \
         ON CONFLICT (product_id, location_id) DO UPDATE SET on_hand = excluded.on_hand, \
         anchor_id = excluded.anchor_id, anchor_at = excluded.anchor_at, anchor_counted = excluded.anchor_counted, \
         latest_at = excluded.latest_at, latest_id = excluded.latest_id, \
         movement_count = excluded.movement_count, digest = excluded.digest",
        &[
            &products,
            &locations,
            &on_hand,
            &anchor_ids,
            &anchor_at,
            &anchor_counted,
            &latest_at,
            &latest_ids,
            &counts,
            &digests,
        ],
    )?;
    Ok(())
}
