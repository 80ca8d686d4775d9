//! The outbox: movements this device recorded that the server has not answered yet, in
//! `device_seq` order, and what happens when it answers. Applying a batch of outcomes is one
//! transaction. A rejected movement is kept (never deleted), stops counting toward its level,
//! raises a `rejected_movement` alert the user can act on, and blocks nothing behind it.
//!
//! Must not: send anything (the sync crate does) or renumber a movement the server has seen.

use crate::alerts::upsert_alert;
use crate::error::{Result, StoreError};
use crate::ledger::recompute_pair;
use crate::{sql, Store};
use rusqlite::{params, Connection, TransactionBehavior};
use smartstock_core::ids::NewRandom;
use smartstock_core::wire::{MovementOutcome, Outcome};
use smartstock_core::{Alert, AlertId, AlertKind, DeviceId, Movement, MovementId, MovementKind};

/// What applying a batch of outcomes did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AckSummary {
    /// Movements now confirmed by the server.
    pub accepted: u64,
    /// Movements the server refused (kept, shown, fixable).
    pub rejected: u64,
    /// Outcomes for movements already answered (a replayed response): ignored.
    pub already_answered: u64,
}

/// A movement the server refused, with its reason.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RejectedMovement {
    /// The movement as recorded.
    pub movement: Movement,
    /// Its product's SKU.
    pub sku: String,
    /// Its product's name.
    pub product_name: String,
    /// Its product's unit.
    pub unit: String,
    /// Decimal places of the product's quantities (the movement's are integers in base units).
    pub unit_scale: u32,
    /// Stable reason code.
    pub code: String,
    /// The server's explanation.
    pub message: String,
}

/// Rejected movements with their product's SKU, name and unit, newest first; `still_open`
/// leaves out those the user voided or corrected.
/// A rejected movement `m` whose rejection nobody has resolved yet.
pub(crate) const STILL_OPEN: &str = "AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.kind = 'rejected_movement' \
     AND a.movement_id = m.id AND a.resolved_at IS NOT NULL)";

pub(crate) fn rejected_rows(conn: &Connection, still_open: bool) -> Result<Vec<RejectedMovement>> {
    let columns: Vec<String> = sql::MOVEMENT_COLUMNS.split(',').map(|c| format!("m.{}", c.trim())).collect();
    let open = if still_open { STILL_OPEN } else { "" };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {}, m.reject_code, m.reject_message, p.sku, p.name, p.unit, p.unit_scale \
         FROM movements m JOIN products p ON p.id = m.product_id WHERE m.sync_state = 'rejected' {open} \
         ORDER BY m.seq DESC",
        columns.join(", ")
    ))?;
    let rows = stmt.query_map([], |row| {
        Ok(RejectedMovement {
            movement: sql::movement_from_row(row)?,
            code: row.get::<_, Option<String>>(18)?.unwrap_or_default(),
            message: row.get::<_, Option<String>>(19)?.unwrap_or_default(),
            sku: row.get(20)?,
            product_name: row.get(21)?,
            unit: row.get(22)?,
            unit_scale: row.get(23)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

impl Store {
    /// Up to `limit` unanswered movements, oldest first (`device_seq` order).
    pub fn pending(&self, limit: u32) -> Result<Vec<Movement>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM movements WHERE sync_state = 'pending' ORDER BY device_seq LIMIT ?1",
            sql::MOVEMENT_COLUMNS
        ))?;
        let rows = stmt.query_map([limit], sql::movement_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Up to `limit` unanswered movements after `device_seq` (in order): the next push batch,
    /// read while the answer to the previous one is still being written.
    pub fn pending_after(&self, device_seq: i64, limit: u32) -> Result<Vec<Movement>> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM movements WHERE sync_state = 'pending' AND device_seq > ?1 ORDER BY device_seq LIMIT ?2",
            sql::MOVEMENT_COLUMNS
        ))?;
        let rows = stmt
            .query_map(params![device_seq, limit], sql::movement_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// How many movements wait for the server.
    pub fn pending_count(&self) -> Result<u64> {
        let conn = self.read();
        let n: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM movements WHERE sync_state = 'pending'")?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Applies the server's answers to pushed movements, all in one transaction.
    #[tracing::instrument(skip_all, fields(outcomes = outcomes.len()))]
    pub fn acknowledge(&self, outcomes: &[MovementOutcome]) -> Result<AckSummary> {
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut summary = AckSummary::default();
        for outcome in outcomes {
            let (server_seq, alert) = match &outcome.outcome {
                Outcome::Accepted { server_seq } => (*server_seq, None),
                Outcome::AcceptedFlagged { server_seq, alert } => (*server_seq, Some(alert)),
                Outcome::Rejected { .. } => (0, None),
            };
            let answered = match &outcome.outcome {
                Outcome::Rejected { .. } => sync_state(&tx, outcome.id)? != "pending",
                _ => !accept(&tx, outcome.id, server_seq)?,
            };
            if answered {
                sync_state(&tx, outcome.id)?; // NotFound for a movement this device never held
                summary.already_answered += 1;
                continue;
            }
            match &outcome.outcome {
                Outcome::Accepted { .. } | Outcome::AcceptedFlagged { .. } => {
                    if let Some(alert) = alert {
                        upsert_alert(&tx, alert)?;
                    }
                }
                Outcome::Rejected { code, message } => {
                    let (movement, _, _) = sql::movement_by_id(&tx, outcome.id)?
                        .ok_or_else(|| StoreError::not_found("movement", outcome.id))?;
                    reject(&tx, &movement, code, message)?;
                    upsert_alert(&tx, &rejection_alert(&movement, message, now))?;
                    summary.rejected += 1;
                    continue;
                }
            }
            summary.accepted += 1;
        }
        tx.commit()?;
        Ok(summary)
    }

    /// Movements the server refused, newest first.
    pub fn rejected_movements(&self) -> Result<Vec<RejectedMovement>> {
        rejected_rows(&self.read(), false)
    }

    /// The server answered a push with a sequence gap: it holds this device's movements only up
    /// to `last_acknowledged` (it was restored from an older backup). Queues the lost ones again,
    /// in one transaction (see `requeue_after`). Returns how many.
    pub fn resend_after(&self, last_acknowledged: i64) -> Result<u64> {
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let queued = requeue_after(&tx, last_acknowledged)?;
        tx.commit()?;
        Ok(queued)
    }

    /// Gives this device a new identity (the server refused the old one because this database
    /// was restored from a backup or copied): unsent movements are re-sequenced 1, 2, … under
    /// `new_device` in their original order; answered ones keep theirs. Returns how many moved.
    pub fn rebind_device(&self, new_device: DeviceId) -> Result<u64> {
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let moved = tx.execute(
            "UPDATE movements SET device_id = ?1, device_seq = r.rn \
             FROM (SELECT seq, row_number() OVER (ORDER BY device_seq) AS rn FROM movements \
                   WHERE sync_state = 'pending') AS r \
             WHERE movements.seq = r.seq",
            [new_device.0],
        )?;
        tx.execute("UPDATE device SET device_id = ?1, next_seq = ?2", params![new_device.0, moved as i64 + 1])?;
        // Unanswered catalog edits are numbered anew under the new identity too.
        let edits = tx.execute(
            "UPDATE catalog_outbox SET seq = r.rn \
             FROM (SELECT id, row_number() OVER (ORDER BY seq) AS rn FROM catalog_outbox) AS r \
             WHERE catalog_outbox.id = r.id",
            [],
        )?;
        tx.execute("UPDATE device SET next_catalog_seq = ?1", [edits as i64 + 1])?;
        tx.commit()?;
        Ok(moved as u64)
    }
}

/// Queues again every movement this device recorded after `last_acknowledged` that the server
/// had answered: the server lost them (it was restored from an older backup). Rejected ones go
/// back too, since a rejection uses its number and the restored server forgot it; they count
/// toward their level again until the server answers anew. The pull cursor moves back to the
/// last feed number the restored server surely holds, so nothing numbered anew is skipped
/// (pulled rows already held are recognised by id). Returns how many were queued again.
fn requeue_after(tx: &Connection, last_acknowledged: i64) -> Result<u64> {
    let device: uuid::Uuid = tx.query_row("SELECT device_id FROM device", [], |r| r.get(0))?;
    let kept: Option<i64> = tx.query_row(
        "SELECT MAX(server_seq) FROM movements WHERE device_id = ?1 AND device_seq <= ?2",
        params![device, last_acknowledged],
        |r| r.get(0),
    )?;
    crate::remote::rewind_cursor(tx, kept.unwrap_or(0))?;
    let rejected: Vec<Movement> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT {} FROM movements WHERE device_id = ?1 AND device_seq > ?2 AND sync_state = 'rejected'",
            sql::MOVEMENT_COLUMNS
        ))?;
        let rows = stmt.query_map(params![device, last_acknowledged], sql::movement_from_row)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let queued = tx.execute(
        "UPDATE movements SET sync_state = 'pending', server_seq = NULL, reject_code = NULL, reject_message = NULL \
         WHERE device_id = ?1 AND device_seq > ?2 AND sync_state <> 'pending'",
        params![device, last_acknowledged],
    )?;
    for movement in &rejected {
        if movement.kind == MovementKind::Void {
            if let Ok(target) = movement.voided_id() {
                tx.execute(
                    "UPDATE movements SET voided_by = ?1 WHERE id = ?2 AND voided_by IS NULL",
                    params![movement.id.0, target.0],
                )?;
            }
        }
        recompute_pair(tx, movement.product_id, movement.location_id)?;
    }
    Ok(queued as u64)
}

/// A movement's sync state; `NotFound` if this device does not hold it.
fn sync_state(tx: &Connection, id: MovementId) -> Result<String> {
    let mut stmt = tx.prepare_cached("SELECT sync_state FROM movements WHERE id = ?1")?;
    rusqlite::OptionalExtension::optional(stmt.query_row([id.0], |r| r.get(0)))?
        .ok_or_else(|| StoreError::not_found("movement", id))
}

/// Marks a pending movement accepted at `server_seq`; false if it was not pending (answered
/// before). A number still held from before the server was restored from a backup gives way.
fn accept(tx: &Connection, id: MovementId, server_seq: i64) -> Result<bool> {
    let mut stmt = tx.prepare_cached(
        "UPDATE movements SET sync_state = 'accepted', server_seq = ?2 WHERE id = ?1 AND sync_state = 'pending'",
    )?;
    let changed = match stmt.execute(params![id.0, server_seq]) {
        Err(e) if sql::is_server_seq_clash(&e) => {
            sql::release_server_seq(tx, server_seq, id)?;
            stmt.execute(params![id.0, server_seq])?
        }
        other => other?,
    };
    Ok(changed == 1)
}

/// Marks a movement rejected and takes it out of its level; a rejected void restores the
/// movement it meant to cancel.
fn reject(tx: &Connection, movement: &Movement, code: &str, message: &str) -> Result<()> {
    tx.prepare_cached(
        "UPDATE movements SET sync_state = 'rejected', reject_code = ?2, reject_message = ?3 WHERE id = ?1",
    )?
    .execute(params![movement.id.0, code, message])?;
    if movement.kind == MovementKind::Void {
        if let Ok(target) = movement.voided_id() {
            tx.prepare_cached("UPDATE movements SET voided_by = NULL WHERE id = ?1 AND voided_by = ?2")?
                .execute([target.0, movement.id.0])?;
        }
    }
    recompute_pair(tx, movement.product_id, movement.location_id)?;
    Ok(())
}

fn rejection_alert(movement: &Movement, message: &str, now: smartstock_core::Timestamp) -> Alert {
    Alert {
        id: AlertId::new_random(),
        kind: AlertKind::RejectedMovement,
        product_id: movement.product_id,
        location_id: movement.location_id,
        quantity: movement.delta.or(movement.counted_qty).unwrap_or(0),
        movement_id: Some(movement.id),
        message: format!("The server rejected a {}: {message}", movement.kind.as_str()),
        raised_at: now,
        resolved_by: None,
        resolved_at: None,
    }
}
