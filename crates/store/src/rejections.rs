//! What the user does about a movement the server refused (DESIGN.md: "rejected with a reason
//! that the UI shows and the user can fix — never silently dropped"). A rejected movement stays
//! in the ledger as recorded and never counts toward a level; its `rejected_movement` alert is
//! what the UI lists. The user either voids it (accepts that it stays out: the rejection is
//! closed) or corrects it (records what really happened, in the same transaction as closing the
//! rejection). Both are audited with who, when and which device.
//!
//! Must not: send anything, or change the rejected row's content (it is immutable).

use crate::catalog::AuditStamp;
use crate::error::{Result, StoreError};
use crate::ledger::record_in;
use crate::outbox::RejectedMovement;
use crate::{Actor, Recorded, Store};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use smartstock_core::{MovementId, MovementIntent, Timestamp};

impl Store {
    /// Rejected movements the user has not voided or corrected yet, newest first.
    pub fn open_rejections(&self) -> Result<Vec<RejectedMovement>> {
        crate::outbox::rejected_rows(&self.read(), true)
    }

    /// How many rejected movements are still open (the sync status shows it at all times).
    pub fn open_rejection_count(&self) -> Result<u64> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT COUNT(*) FROM movements m WHERE m.sync_state = 'rejected' {}",
            crate::outbox::STILL_OPEN
        ))?;
        let count: i64 = stmt.query_row([], |r| r.get(0))?;
        Ok(count.max(0) as u64)
    }

    /// Voids a rejected movement: it stays out of every level for good and its rejection is
    /// closed (audited). `NotFound` if `id` is not an open rejection.
    pub fn void_rejected(&self, actor: Actor, id: MovementId) -> Result<()> {
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        close_rejection(&tx, actor, now, id, "voided", None)?;
        tx.commit()?;
        Ok(())
    }

    /// Corrects a rejected movement: records `intent` (what really happened; the usual checks
    /// and negative-stock policy apply) as having occurred when the rejected one did, and
    /// closes the rejection, in one transaction (audited with the new movements' ids).
    pub fn correct_rejected(&self, actor: Actor, id: MovementId, intent: &MovementIntent) -> Result<Recorded> {
        intent.validate()?;
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let occurred_at = open_rejection(&tx, id)?;
        let movements = record_in(&tx, actor, now, intent, Some(occurred_at))?;
        let ids: Vec<String> = movements.iter().map(|m| m.id.to_string()).collect();
        close_rejection(&tx, actor, now, id, "corrected", Some(ids.join(" ")))?;
        tx.commit()?;
        Ok(Recorded { movements })
    }
}

/// When the rejected movement `id` occurred, if its rejection is still open.
fn open_rejection(tx: &Connection, id: MovementId) -> Result<Timestamp> {
    let found: Option<(String, i64, bool)> = rusqlite::OptionalExtension::optional(tx.query_row(
        "SELECT sync_state, occurred_at, EXISTS (SELECT 1 FROM alerts WHERE kind = 'rejected_movement' \
         AND movement_id = ?1 AND resolved_at IS NOT NULL) FROM movements WHERE id = ?1",
        [id.0],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    ))?;
    match found {
        Some((state, at, false)) if state == "rejected" => Ok(Timestamp(at)),
        _ => Err(StoreError::not_found("open rejected movement", id)),
    }
}

/// Resolves the rejection's alert and audits what the user did (`voided` or `corrected` by
/// the movements in `by`).
fn close_rejection(
    tx: &Transaction<'_>,
    actor: Actor,
    now: Timestamp,
    id: MovementId,
    action: &'static str,
    by: Option<String>,
) -> Result<()> {
    open_rejection(tx, id)?;
    tx.execute(
        "UPDATE alerts SET resolved_by = ?2, resolved_at = ?3 \
         WHERE kind = 'rejected_movement' AND movement_id = ?1 AND resolved_at IS NULL",
        params![id.0, actor.user_id.0, now.millis()],
    )?;
    AuditStamp::begin(tx, actor, now)?.record(
        tx,
        "movement",
        id.0,
        Some(&[("rejection", Some("open".into())), ("corrected_by", None)]),
        &[("rejection", Some(action.into())), ("corrected_by", by)],
    )?;
    Ok(())
}
