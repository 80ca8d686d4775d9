//! Push on SQLite: the primitive reads and writes of `storage::push` inside one IMMEDIATE
//! transaction. SQLite's single writer is the lock that makes feed numbers commit in order and
//! lets every check see every earlier push, so `lock_feed` has nothing to do.
//!
//! Must not: decide anything (`storage::push` and `storage::rules` do).

use crate::storage::push::PushTx;
use crate::storage::{Pusher, Result, StorageError};
use rusqlite::{params, Connection, OptionalExtension};
use smartstock_core::level::LevelEntry;
use smartstock_core::wire::{MovementOutcome, Outcome, PushRequest};
use smartstock_core::{
    Alert, AlertKind, DeviceId, LedgerDigest, Level, LocationId, Movement, MovementId, ProductId, Timestamp, UserId,
};
use smartstock_store::sql;

/// Applies a push inside `tx` (the caller commits).
pub(super) fn push(
    tx: &Connection,
    pusher: &Pusher,
    request: &PushRequest,
    now: Timestamp,
) -> Result<Vec<MovementOutcome>> {
    crate::storage::push::push(&mut SqlitePush(tx), pusher, request, now)
}

struct SqlitePush<'c>(&'c Connection);

fn decode(outcome: String) -> rusqlite::Result<Outcome> {
    serde_json::from_str(&outcome)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

impl PushTx for SqlitePush<'_> {
    fn device(&mut self, id: DeviceId) -> Result<Option<(UserId, i64)>> {
        Ok(self
            .0
            .prepare_cached("SELECT user_id, last_seq FROM devices WHERE id = ?1")?
            .query_row([id.0], |r| Ok((UserId(r.get(0)?), r.get(1)?)))
            .optional()?)
    }

    fn set_device_last_seq(&mut self, id: DeviceId, seq: i64) -> Result<()> {
        self.0.prepare_cached("UPDATE devices SET last_seq = ?2 WHERE id = ?1")?.execute(params![id.0, seq])?;
        Ok(())
    }

    fn received_by_seq(&mut self, device: DeviceId, seq: i64) -> Result<Option<(MovementId, Outcome)>> {
        Ok(self
            .0
            .prepare_cached("SELECT movement_id, outcome FROM received WHERE device_id = ?1 AND device_seq = ?2")?
            .query_row(params![device.0, seq], |r| Ok((MovementId(r.get(0)?), decode(r.get(1)?)?)))
            .optional()?)
    }

    fn received_by_id(&mut self, id: MovementId) -> Result<Option<Outcome>> {
        Ok(self
            .0
            .prepare_cached("SELECT outcome FROM received WHERE movement_id = ?1 LIMIT 1")?
            .query_row([id.0], |r| decode(r.get(0)?))
            .optional()?)
    }

    fn insert_received(&mut self, device: DeviceId, seq: i64, id: MovementId, outcome: &Outcome) -> Result<()> {
        let json = serde_json::to_string(outcome).map_err(|e| StorageError::Database(e.to_string()))?;
        self.0
            .prepare_cached(
                "INSERT INTO received (device_id, device_seq, movement_id, outcome) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![device.0, seq, id.0, json])?;
        Ok(())
    }

    fn lock_feed(&mut self) -> Result<i64> {
        // The IMMEDIATE transaction already holds SQLite's one write lock.
        super::feed::head(self.0)
    }

    fn set_feed_seq(&mut self, last: i64) -> Result<()> {
        super::feed::set(self.0, last)
    }

    fn product(&mut self, id: ProductId) -> Result<Option<(String, i64)>> {
        Ok(self
            .0
            .prepare_cached("SELECT sku, reorder_point FROM products WHERE id = ?1")?
            .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn location_code(&mut self, id: LocationId) -> Result<Option<String>> {
        Ok(self
            .0
            .prepare_cached("SELECT code FROM locations WHERE id = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?)
    }

    fn stored_movement(&mut self, id: MovementId) -> Result<Option<(Movement, Option<MovementId>)>> {
        let query = format!("SELECT {}, voided_by FROM movements WHERE id = ?1", sql::MOVEMENT_COLUMNS);
        Ok(self
            .0
            .prepare_cached(&query)?
            .query_row([id.0], |r| {
                Ok((sql::movement_from_row(r)?, r.get::<_, Option<uuid::Uuid>>(18)?.map(MovementId)))
            })
            .optional()?)
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

    fn open_alert(&mut self, kind: AlertKind, product: ProductId, location: LocationId) -> Result<bool> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT 1 FROM alerts WHERE kind = ?1 AND product_id = ?2 AND location_id = ?3 \
                 AND resolved_at IS NULL LIMIT 1",
            )?
            .query_row(params![kind.as_str(), product.0, location.0], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn count_review_window_ms(&mut self) -> Result<i64> {
        Ok(self
            .0
            .prepare_cached("SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'count_review_window_ms'")?
            .query_row([], |r| r.get(0))?)
    }

    fn level(&mut self, product: ProductId, location: LocationId) -> Result<Option<(Level, LedgerDigest)>> {
        Ok(sql::load_level(self.0, product, location)?)
    }

    fn save_level(
        &mut self,
        product: ProductId,
        location: LocationId,
        level: &Level,
        digest: &LedgerDigest,
    ) -> Result<()> {
        Ok(sql::save_level(self.0, product, location, level, digest)?)
    }

    fn insert_movement(&mut self, movement: &Movement) -> Result<()> {
        Ok(sql::insert_movement(self.0, movement)?)
    }

    fn set_voided_by(&mut self, target: MovementId, void: MovementId) -> Result<()> {
        self.0.prepare_cached("UPDATE movements SET voided_by = ?1 WHERE id = ?2")?.execute([void.0, target.0])?;
        Ok(())
    }

    fn insert_alert(&mut self, alert: &Alert, feed_seq: i64) -> Result<()> {
        super::insert_alert_at(self.0, alert, feed_seq)
    }
}
