//! Push on PostgreSQL: the primitive reads and writes of `storage::push` inside one READ
//! COMMITTED transaction.
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
use crate::storage::push::PushTx;
use crate::storage::{Pusher, Result, StorageError};
use smartstock_core::level::LevelEntry;
use smartstock_core::wire::{MovementOutcome, Outcome, PushRequest};
use smartstock_core::{
    Alert, AlertKind, DeviceId, LedgerDigest, Level, LocationId, Movement, MovementId, ProductId, Timestamp, UserId,
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

impl PushTx for PgPush<'_, '_> {
    fn device(&mut self, id: DeviceId) -> Result<Option<(UserId, i64)>> {
        let row = self.0.query_opt("SELECT user_id, last_seq FROM devices WHERE id = $1 FOR UPDATE", &[&id.0])?;
        row.map(|r| Ok((UserId(r.try_get(0)?), r.try_get(1)?))).transpose()
    }

    fn set_device_last_seq(&mut self, id: DeviceId, seq: i64) -> Result<()> {
        self.0.execute("UPDATE devices SET last_seq = $2 WHERE id = $1", &[&id.0, &seq])?;
        Ok(())
    }

    fn received_by_seq(&mut self, device: DeviceId, seq: i64) -> Result<Option<(MovementId, Outcome)>> {
        let row = self.0.query_opt(
            "SELECT movement_id, outcome FROM received WHERE device_id = $1 AND device_seq = $2",
            &[&device.0, &seq],
        )?;
        row.map(|r| Ok((MovementId(r.try_get(0)?), decode(r.try_get(1)?)?))).transpose()
    }

    fn received_by_id(&mut self, id: MovementId) -> Result<Option<Outcome>> {
        let row = self.0.query_opt("SELECT outcome FROM received WHERE movement_id = $1 LIMIT 1", &[&id.0])?;
        row.map(|r| decode(r.try_get(0)?)).transpose()
    }

    fn insert_received(&mut self, device: DeviceId, seq: i64, id: MovementId, outcome: &Outcome) -> Result<()> {
        let json = serde_json::to_string(outcome).map_err(|e| StorageError::Database(e.to_string()))?;
        self.0.execute(
            "INSERT INTO received (device_id, device_seq, movement_id, outcome) VALUES ($1, $2, $3, $4)",
            &[&device.0, &seq, &id.0, &json],
        )?;
        Ok(())
    }

    fn lock_feed(&mut self) -> Result<i64> {
        feed::lock(self.0)
    }

    fn set_feed_seq(&mut self, last: i64) -> Result<()> {
        feed::set(self.0, last)
    }

    fn product(&mut self, id: ProductId) -> Result<Option<(String, i64)>> {
        let row = self.0.query_opt("SELECT sku, reorder_point FROM products WHERE id = $1", &[&id.0])?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    fn location_code(&mut self, id: LocationId) -> Result<Option<String>> {
        let row = self.0.query_opt("SELECT code FROM locations WHERE id = $1", &[&id.0])?;
        row.map(|r| Ok(r.try_get(0)?)).transpose()
    }

    fn stored_movement(&mut self, id: MovementId) -> Result<Option<(Movement, Option<MovementId>)>> {
        let sql = format!("SELECT {}, voided_by FROM movements WHERE id = $1", rows::MOVEMENT_COLUMNS);
        let Some(row) = self.0.query_opt(&sql, &[&id.0])? else { return Ok(None) };
        let voided_by = row.try_get::<_, Option<uuid::Uuid>>(18)?.map(MovementId);
        Ok(Some((rows::movement_from_row(&row)?, voided_by)))
    }

    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>> {
        let rows = self.0.query(
            "SELECT id, occurred_at, delta, counted_qty FROM movements \
             WHERE product_id = $1 AND location_id = $2 AND kind <> 'void' AND voided_by IS NULL",
            &[&product.0, &location.0],
        )?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            entries.extend(LevelEntry::from_parts(
                MovementId(r.try_get(0)?),
                Timestamp(r.try_get(1)?),
                r.try_get(2)?,
                r.try_get(3)?,
            ));
        }
        Ok(entries)
    }

    fn open_alert(&mut self, kind: AlertKind, product: ProductId, location: LocationId) -> Result<bool> {
        Ok(self
            .0
            .query_opt(
                "SELECT 1 FROM alerts WHERE kind = $1 AND product_id = $2 AND location_id = $3 \
                 AND resolved_at IS NULL LIMIT 1",
                &[&kind.as_str(), &product.0, &location.0],
            )?
            .is_some())
    }

    fn count_review_window_ms(&mut self) -> Result<i64> {
        Ok(self
            .0
            .query_one("SELECT value::bigint FROM settings WHERE key = 'count_review_window_ms'", &[])?
            .try_get(0)?)
    }

    fn level(&mut self, product: ProductId, location: LocationId) -> Result<Option<(Level, LedgerDigest)>> {
        rows::load_level(self.0, product, location)
    }

    fn save_level(
        &mut self,
        product: ProductId,
        location: LocationId,
        level: &Level,
        digest: &LedgerDigest,
    ) -> Result<()> {
        rows::save_level(self.0, product, location, level, digest)
    }

    fn insert_movement(&mut self, movement: &Movement) -> Result<()> {
        rows::insert_movement(self.0, movement)
    }

    fn set_voided_by(&mut self, target: MovementId, void: MovementId) -> Result<()> {
        self.0.execute("UPDATE movements SET voided_by = $1 WHERE id = $2", &[&void.0, &target.0])?;
        Ok(())
    }

    fn insert_alert(&mut self, alert: &Alert, feed_seq: i64) -> Result<()> {
        rows::insert_alert(self.0, alert, feed_seq)
    }
}
