//! Push on SQLite: the reads and the write of `storage::push` for a group of pushes inside one
//! IMMEDIATE transaction. SQLite's single writer is the lock that makes feed numbers commit in order and lets every
//! check see every earlier push, so `lock_feed` only reads the counter. The "set-based" reads and
//! writes are loops over prepared statements: in-process SQLite has no round trips to save.
//!
//! Must not: decide anything (`storage::push` and `storage::rules` do).

use crate::storage::push::{Pair, PushJob, PushTx, PushWrites};
use crate::storage::{Result, StorageError};
use rusqlite::{params, Connection, OptionalExtension};
use smartstock_core::level::LevelEntry;
use smartstock_core::wire::{MovementOutcome, Outcome};
use smartstock_core::{
    AlertKind, DeviceId, LedgerDigest, Level, LocationId, Movement, MovementId, ProductId, Timestamp, UserId,
};
use smartstock_store::sql;

/// Applies a group of pushes of distinct devices inside `tx` (the caller commits).
pub(super) fn push_group(tx: &Connection, jobs: &[PushJob<'_>]) -> Result<Vec<Result<Vec<MovementOutcome>>>> {
    crate::storage::push::push_group(&mut SqlitePush(tx), jobs)
}

struct SqlitePush<'c>(&'c Connection);

impl SqlitePush<'_> {
    /// The outcome an accepted movement got: flagged with the first alert it raised, if any.
    fn accepted_outcome(&self, id: MovementId, server_seq: i64) -> Result<Outcome> {
        let alert = self
            .0
            .prepare_cached(&format!(
                "SELECT {} FROM alerts WHERE movement_id = ?1 ORDER BY feed_seq LIMIT 1",
                super::ALERT_COLUMNS
            ))?
            .query_row([id.0], super::alert_from_row)
            .optional()?;
        Ok(crate::storage::rules::accepted(server_seq, alert.into_iter().collect()))
    }
}

fn decode(outcome: String) -> rusqlite::Result<Outcome> {
    serde_json::from_str(&outcome)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

impl PushTx for SqlitePush<'_> {
    fn devices(&mut self, ids: &[DeviceId]) -> Result<Vec<(DeviceId, UserId, i64)>> {
        let mut stmt = self.0.prepare_cached("SELECT user_id, last_seq FROM devices WHERE id = ?1")?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.extend(stmt.query_row([id.0], |r| Ok((*id, UserId(r.get(0)?), r.get(1)?))).optional()?);
        }
        Ok(found)
    }

    fn received_by_seqs(&mut self, keys: &[(DeviceId, i64)]) -> Result<Vec<(DeviceId, i64, MovementId, Outcome)>> {
        let mut accepted =
            self.0.prepare_cached("SELECT id, server_seq FROM movements WHERE device_id = ?1 AND device_seq = ?2")?;
        let mut kept = self
            .0
            .prepare_cached("SELECT movement_id, outcome FROM received WHERE device_id = ?1 AND device_seq = ?2")?;
        let mut found = Vec::new();
        for (device, seq) in keys {
            let stored: Option<(MovementId, i64)> =
                accepted.query_row(params![device.0, seq], |r| Ok((MovementId(r.get(0)?), r.get(1)?))).optional()?;
            match stored {
                Some((id, server_seq)) => found.push((*device, *seq, id, self.accepted_outcome(id, server_seq)?)),
                None => {
                    let row = kept
                        .query_row(params![device.0, seq], |r| Ok((MovementId(r.get(0)?), decode(r.get(1)?)?)))
                        .optional()?;
                    found.extend(row.map(|(id, outcome)| (*device, *seq, id, outcome)));
                }
            }
        }
        Ok(found)
    }

    fn received_by_ids(&mut self, ids: &[MovementId]) -> Result<Vec<(MovementId, Outcome)>> {
        let mut accepted = self.0.prepare_cached("SELECT server_seq FROM movements WHERE id = ?1")?;
        let mut kept = self.0.prepare_cached("SELECT outcome FROM received WHERE movement_id = ?1 LIMIT 1")?;
        let mut found = Vec::new();
        for id in ids {
            let server_seq: Option<i64> = accepted.query_row([id.0], |r| r.get(0)).optional()?;
            match server_seq {
                Some(server_seq) => found.push((*id, self.accepted_outcome(*id, server_seq)?)),
                None => found.extend(kept.query_row([id.0], |r| decode(r.get(0)?)).optional()?.map(|o| (*id, o))),
            }
        }
        Ok(found)
    }

    fn lock_feed(&mut self) -> Result<i64> {
        // The IMMEDIATE transaction already holds SQLite's one write lock.
        super::feed::head(self.0)
    }

    fn products(&mut self, ids: &[ProductId]) -> Result<Vec<(ProductId, String, i64)>> {
        let mut stmt = self.0.prepare_cached("SELECT sku, reorder_point FROM products WHERE id = ?1")?;
        let mut found = Vec::new();
        for id in ids {
            found.extend(stmt.query_row([id.0], |r| Ok((*id, r.get(0)?, r.get(1)?))).optional()?);
        }
        Ok(found)
    }

    fn locations(&mut self, ids: &[LocationId]) -> Result<Vec<(LocationId, String)>> {
        let mut stmt = self.0.prepare_cached("SELECT code FROM locations WHERE id = ?1")?;
        let mut found = Vec::new();
        for id in ids {
            found.extend(stmt.query_row([id.0], |r| Ok((*id, r.get(0)?))).optional()?);
        }
        Ok(found)
    }

    fn stored_movements(&mut self, ids: &[MovementId]) -> Result<Vec<(Movement, Option<MovementId>)>> {
        let query = format!("SELECT {}, voided_by FROM movements WHERE id = ?1", sql::MOVEMENT_COLUMNS);
        let mut stmt = self.0.prepare_cached(&query)?;
        let mut found = Vec::new();
        for id in ids {
            let row = stmt
                .query_row([id.0], |r| {
                    Ok((sql::movement_from_row(r)?, r.get::<_, Option<uuid::Uuid>>(18)?.map(MovementId)))
                })
                .optional()?;
            found.extend(row);
        }
        Ok(found)
    }

    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, occurred_at, delta, counted_qty FROM movements \
             WHERE product_id = ?1 AND location_id = ?2 AND kind <> 'void' AND voided_by IS NULL",
        )?;
        let rows = stmt.query_map(params![product.0, location.0], |r| {
            Ok(LevelEntry::from_parts(MovementId(r.get(0)?), Timestamp(r.get(1)?), r.get(2)?, r.get(3)?))
        })?;
        let mut entries = Vec::new();
        for row in rows {
            entries.extend(row?);
        }
        Ok(entries)
    }

    fn levels(&mut self, pairs: &[Pair]) -> Result<Vec<(Pair, Level, LedgerDigest)>> {
        let mut found = Vec::new();
        for (product, location) in pairs {
            found.extend(sql::load_level(self.0, *product, *location)?.map(|(l, d)| ((*product, *location), l, d)));
        }
        Ok(found)
    }

    fn open_alerts(&mut self, pairs: &[Pair]) -> Result<Vec<(AlertKind, Pair)>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT DISTINCT kind FROM alerts WHERE product_id = ?1 AND location_id = ?2 AND resolved_at IS NULL",
        )?;
        let mut found = Vec::new();
        for pair in pairs {
            let kinds = stmt.query_map(params![pair.0 .0, pair.1 .0], |r| r.get::<_, String>(0))?;
            for kind in kinds {
                if let Ok(kind) = kind?.parse::<AlertKind>() {
                    found.push((kind, *pair));
                }
            }
        }
        Ok(found)
    }

    fn count_review_window_ms(&mut self) -> Result<i64> {
        Ok(self
            .0
            .prepare_cached("SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'count_review_window_ms'")?
            .query_row([], |r| r.get(0))?)
    }

    fn write(&mut self, writes: &PushWrites) -> Result<()> {
        for movement in &writes.movements {
            sql::insert_movement(self.0, movement)?;
        }
        let mut voided = self.0.prepare_cached("UPDATE movements SET voided_by = ?1 WHERE id = ?2")?;
        for (target, void) in &writes.voided {
            voided.execute([void.0, target.0])?;
        }
        for (alert, seq) in &writes.alerts {
            super::insert_alert_at(self.0, alert, *seq)?;
        }
        for ((product, location), level, digest) in &writes.levels {
            sql::save_level(self.0, *product, *location, level, digest)?;
        }
        let mut received = self.0.prepare_cached(
            "INSERT INTO received (device_id, device_seq, movement_id, outcome) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (device, seq, id, outcome) in &writes.received {
            let json = serde_json::to_string(outcome).map_err(|e| StorageError::Database(e.to_string()))?;
            received.execute(params![device.0, seq, id.0, json])?;
        }
        let mut acknowledged = self.0.prepare_cached("UPDATE devices SET last_seq = ?2 WHERE id = ?1")?;
        for (device, last) in &writes.devices {
            acknowledged.execute(params![device.0, last])?;
        }
        if let Some(last) = writes.feed_seq {
            super::feed::set(self.0, last)?;
        }
        Ok(())
    }
}
