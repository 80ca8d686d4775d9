//! Push on SQLite: one IMMEDIATE transaction per batch (SQLite's single writer is the lock that
//! makes feed numbers commit in order). Per movement: a replay returns its stored outcome; a
//! different movement under a used sequence number refuses the batch (restored database); a gap
//! refuses the batch; anything else is accepted (level by the core rule, alerts raised) or
//! rejected with a reason, and the outcome is stored in the same transaction as the movement.
//!
//! Must not: refuse a movement for negative stock (it physically happened: flag it instead).

use super::feed::next_feed_seq;
use crate::storage::{Pusher, Result, Role, StorageError};
use rusqlite::{params, Connection, OptionalExtension};
use smartstock_core::ids::NewRandom;
use smartstock_core::level::{level_of, needs_count_review, Applied, LevelEntry};
use smartstock_core::wire::{MovementOutcome, Outcome, PushRequest, WIRE_VERSION};
use smartstock_core::{
    Alert, AlertId, AlertKind, DeviceId, Level, LocationId, Movement, MovementId, MovementKind, ProductId, Timestamp,
    ValidationError,
};
use smartstock_store::sql;

/// Applies a push inside `tx` (the caller commits).
pub(super) fn push(
    tx: &Connection,
    pusher: &Pusher,
    request: &PushRequest,
    now: Timestamp,
) -> Result<Vec<MovementOutcome>> {
    if request.v != WIRE_VERSION {
        return Err(ValidationError::new("v", format!("this server speaks wire version {WIRE_VERSION}")).into());
    }
    if pusher.role == Role::Viewer {
        return Err(StorageError::Forbidden("viewers cannot record movements".into()));
    }
    let mut last_seq = device_last_seq(tx, request.device_id, pusher)?;
    let mut outcomes = Vec::with_capacity(request.movements.len());
    for movement in &request.movements {
        if movement.device_id != request.device_id {
            return Err(ValidationError::new("device_id", "every movement must carry the pushing device's id").into());
        }
        if let Some((stored_id, outcome)) = received_by_seq(tx, request.device_id, movement.device_seq)? {
            if stored_id != movement.id {
                return Err(StorageError::DeviceRestored { device_seq: movement.device_seq });
            }
            outcomes.push(MovementOutcome { id: movement.id, device_seq: movement.device_seq, outcome });
            continue;
        }
        if movement.device_seq != last_seq + 1 {
            return Err(StorageError::SequenceGap { last_acknowledged: last_seq });
        }
        let outcome = match received_by_id(tx, movement.id)? {
            Some(stored) => stored,
            None => accept_or_reject(tx, pusher, movement, now)?,
        };
        insert_received(tx, request.device_id, movement, &outcome)?;
        last_seq = movement.device_seq;
        outcomes.push(MovementOutcome { id: movement.id, device_seq: movement.device_seq, outcome });
    }
    tx.prepare_cached("UPDATE devices SET last_seq = ?2 WHERE id = ?1")?
        .execute(params![request.device_id.0, last_seq])?;
    Ok(outcomes)
}

fn device_last_seq(tx: &Connection, device: DeviceId, pusher: &Pusher) -> Result<i64> {
    let row: Option<(uuid::Uuid, i64)> = tx
        .prepare_cached("SELECT user_id, last_seq FROM devices WHERE id = ?1")?
        .query_row([device.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        None => Err(StorageError::NotFound { what: "device", key: format!("{device} (register it first)") }),
        Some((owner, _)) if owner != pusher.user_id.0 => {
            Err(StorageError::Forbidden(format!("device {device} is registered to another user")))
        }
        Some((_, last)) => Ok(last),
    }
}

fn decode(outcome: String) -> rusqlite::Result<Outcome> {
    serde_json::from_str(&outcome)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn received_by_seq(tx: &Connection, device: DeviceId, seq: i64) -> Result<Option<(MovementId, Outcome)>> {
    Ok(tx
        .prepare_cached("SELECT movement_id, outcome FROM received WHERE device_id = ?1 AND device_seq = ?2")?
        .query_row(params![device.0, seq], |r| Ok((MovementId(r.get(0)?), decode(r.get(1)?)?)))
        .optional()?)
}

fn received_by_id(tx: &Connection, id: MovementId) -> Result<Option<Outcome>> {
    Ok(tx
        .prepare_cached("SELECT outcome FROM received WHERE movement_id = ?1 LIMIT 1")?
        .query_row([id.0], |r| decode(r.get(0)?))
        .optional()?)
}

fn insert_received(tx: &Connection, device: DeviceId, movement: &Movement, outcome: &Outcome) -> Result<()> {
    let json = serde_json::to_string(outcome).map_err(|e| StorageError::Database(e.to_string()))?;
    tx.prepare_cached("INSERT INTO received (device_id, device_seq, movement_id, outcome) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![device.0, movement.device_seq, movement.id.0, json])?;
    Ok(())
}

fn rejected(code: &str, message: impl Into<String>) -> Outcome {
    Outcome::Rejected { code: code.into(), message: message.into() }
}

/// Why a movement cannot be accepted, if it cannot.
fn rejection(tx: &Connection, pusher: &Pusher, m: &Movement) -> Result<Option<Outcome>> {
    if let Err(e) = m.validate() {
        return Ok(Some(rejected("invalid", e.to_string())));
    }
    if !exists(tx, "SELECT 1 FROM products WHERE id = ?1", m.product_id.0)? {
        return Ok(Some(rejected(
            "unknown_product",
            format!("product {} is not in the catalog; sync the catalog or create it", m.product_id),
        )));
    }
    for location in std::iter::once(m.location_id).chain(m.peer_location_id) {
        if !exists(tx, "SELECT 1 FROM locations WHERE id = ?1", location.0)? {
            return Ok(Some(rejected("unknown_location", format!("location {location} is not in the catalog"))));
        }
    }
    if pusher.role == Role::Clerk && !pusher.locations.contains(&m.location_id) {
        return Ok(Some(rejected(
            "location_not_assigned",
            format!(
                "you are not assigned to location {}; ask a manager to assign it or record it elsewhere",
                m.location_id
            ),
        )));
    }
    if m.kind == MovementKind::Void {
        return void_rejection(tx, m);
    }
    Ok(None)
}

fn void_rejection(tx: &Connection, m: &Movement) -> Result<Option<Outcome>> {
    let target_id = m.voided_id()?;
    let Some((target, voided_by, _)) = stored_movement(tx, target_id)? else {
        return Ok(Some(rejected("void_target_missing", format!("movement {target_id} is not on the server"))));
    };
    let problem = if target.kind == MovementKind::Void {
        Some("a void cannot be voided")
    } else if voided_by.is_some() {
        Some("the movement is already voided")
    } else if (target.product_id, target.location_id) != (m.product_id, m.location_id) {
        Some("the void names another product or location than its movement")
    } else {
        None
    };
    Ok(problem.map(|p| rejected("void_refused", format!("void of {target_id} refused: {p}"))))
}

fn exists(tx: &Connection, sql: &str, id: uuid::Uuid) -> Result<bool> {
    Ok(tx.prepare_cached(sql)?.query_row([id], |_| Ok(())).optional()?.is_some())
}

fn stored_movement(tx: &Connection, id: MovementId) -> Result<Option<(Movement, Option<uuid::Uuid>, i64)>> {
    let query = format!("SELECT {}, voided_by, server_seq FROM movements WHERE id = ?1", sql::MOVEMENT_COLUMNS);
    Ok(tx
        .prepare_cached(&query)?
        .query_row([id.0], |r| Ok((sql::movement_from_row(r)?, r.get(18)?, r.get(19)?)))
        .optional()?)
}

fn accept_or_reject(tx: &Connection, pusher: &Pusher, m: &Movement, now: Timestamp) -> Result<Outcome> {
    if let Some(rejection) = rejection(tx, pusher, m)? {
        return Ok(rejection);
    }
    let server_seq = next_feed_seq(tx)?;
    let stored = Movement { server_seq: Some(server_seq), ..m.clone() };
    let (before, mut digest) = sql::load_level(tx, m.product_id, m.location_id)?.unwrap_or_default();
    let after = match m.kind {
        MovementKind::Void => level_without(tx, before, m.voided_id()?)?,
        _ => level_with(tx, before, m)?,
    };
    sql::insert_movement(tx, &stored)?;
    if m.kind == MovementKind::Void {
        tx.prepare_cached("UPDATE movements SET voided_by = ?1 WHERE id = ?2")?.execute([m.id.0, m.voided_id()?.0])?;
    }
    digest.add(&stored);
    sql::save_level(tx, m.product_id, m.location_id, &after, &digest)?;
    Ok(match raise_alerts(tx, m, &before, &after, now)? {
        Some(alert) => Outcome::AcceptedFlagged { server_seq, alert },
        None => Outcome::Accepted { server_seq },
    })
}

fn pair_entries(tx: &Connection, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>> {
    let mut stmt = tx.prepare_cached(
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

fn level_with(tx: &Connection, level: Level, m: &Movement) -> Result<Level> {
    let Some(entry) = m.level_entry() else { return Ok(level) };
    let mut after = level;
    if after.apply(&entry).map_err(level_error)? == Applied::NeedsRecompute {
        let mut entries = pair_entries(tx, m.product_id, m.location_id)?;
        entries.push(entry);
        after = level_of(&entries).map_err(level_error)?;
    }
    Ok(after)
}

fn level_without(tx: &Connection, level: Level, target_id: MovementId) -> Result<Level> {
    let Some((target, _, _)) = stored_movement(tx, target_id)? else { return Ok(level) };
    let Some(entry) = target.level_entry() else { return Ok(level) };
    let mut after = level;
    if after.remove(&entry).map_err(level_error)? == Applied::NeedsRecompute {
        let rest: Vec<LevelEntry> = pair_entries(tx, target.product_id, target.location_id)?
            .into_iter()
            .filter(|e| e.id != target_id)
            .collect();
        after = level_of(&rest).map_err(level_error)?;
    }
    Ok(after)
}

fn level_error(e: smartstock_core::LevelError) -> StorageError {
    StorageError::Conflict { code: "level_overflow", message: e.to_string() }
}

/// Raises the alerts this movement causes; returns the first (the outcome carries it).
fn raise_alerts(tx: &Connection, m: &Movement, before: &Level, after: &Level, now: Timestamp) -> Result<Option<Alert>> {
    let (sku, reorder_point): (String, i64) = tx
        .prepare_cached("SELECT sku, reorder_point FROM products WHERE id = ?1")?
        .query_row([m.product_id.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let code: String =
        tx.prepare_cached("SELECT code FROM locations WHERE id = ?1")?.query_row([m.location_id.0], |r| r.get(0))?;
    let mut raised = Vec::new();
    if after.on_hand < 0 && !open_alert(tx, AlertKind::NegativeStock, m)? {
        let message = format!(
            "{sku} at {code} is at {} after movements from several devices were merged; count it or record a correction",
            after.on_hand
        );
        raised.push((AlertKind::NegativeStock, after.on_hand, message));
    }
    if reorder_point > 0
        && after.on_hand <= reorder_point
        && before.on_hand > reorder_point
        && !open_alert(tx, AlertKind::LowStock, m)?
    {
        raised.push((
            AlertKind::LowStock,
            after.on_hand,
            format!("{sku} at {code} is down to {} (reorder point {reorder_point})", after.on_hand),
        ));
    }
    if let Some(review) = count_review(tx, m, after, &sku, &code)? {
        raised.push(review);
    }
    let mut first = None;
    for (kind, quantity, message) in raised {
        let alert = Alert {
            id: AlertId::new_random(),
            kind,
            product_id: m.product_id,
            location_id: m.location_id,
            quantity,
            movement_id: Some(m.id),
            message,
            raised_at: now,
            resolved_by: None,
            resolved_at: None,
        };
        super::insert_alert(tx, &alert)?;
        first.get_or_insert(alert);
    }
    Ok(first)
}

/// A movement so close in time to the pair's latest count (recorded on another device) that the
/// clocks cannot tell which came first.
fn count_review(
    tx: &Connection,
    m: &Movement,
    after: &Level,
    sku: &str,
    code: &str,
) -> Result<Option<(AlertKind, i64, String)>> {
    let (Some(delta), Some(anchor)) = (m.delta, after.anchor) else { return Ok(None) };
    let window: i64 = tx
        .prepare_cached("SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'count_review_window_ms'")?
        .query_row([], |r| r.get(0))?;
    if anchor.id == m.id || !needs_count_review(anchor.occurred_at, m.occurred_at, window.max(0) as u64) {
        return Ok(None);
    }
    let Some((count, _, _)) = stored_movement(tx, anchor.id)? else { return Ok(None) };
    if count.device_id == m.device_id {
        return Ok(None);
    }
    let side = if m.occurred_at < anchor.occurred_at { "just before" } else { "just after" };
    let message = format!(
        "a movement of {delta} for {sku} at {code} occurred {side} a count from another device; check whether the count included it"
    );
    Ok(Some((AlertKind::CountReview, delta, message)))
}

fn open_alert(tx: &Connection, kind: AlertKind, m: &Movement) -> Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT 1 FROM alerts WHERE kind = ?1 AND product_id = ?2 AND location_id = ?3 AND resolved_at IS NULL LIMIT 1",
        )?
        .query_row(params![kind.as_str(), m.product_id.0, m.location_id.0], |_| Ok(()))
        .optional()?
        .is_some())
}
