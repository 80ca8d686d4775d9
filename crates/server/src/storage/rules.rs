//! Push rules that do not depend on a database, shared by every backend: why a pushed movement is
//! rejected, what an accepted one does to the cached level of its pair, which alerts it raises and
//! how they are worded, and the outcome that reports it. A backend hands in the stored facts
//! through [`PushFacts`] (its own SQL, run inside its push transaction); every function here decides
//! from those facts only, so two backends holding the same data give the same outcome.
//!
//! Must not: run SQL, open or end transactions, take feed numbers or write anything: the backend
//! does all of that, in its own order, under its own locks. The level rule, the checksum and
//! movement validation belong to `smartstock-core` and are called here, never re-implemented.

use crate::storage::{Pusher, Result, Role, StorageError};
use smartstock_core::ids::NewRandom;
use smartstock_core::level::{level_of, needs_count_review, Applied, LevelEntry};
use smartstock_core::wire::Outcome;
use smartstock_core::{
    Alert, AlertId, AlertKind, Level, LevelError, LocationId, Movement, MovementId, MovementKind, ProductId, Timestamp,
};

/// What the push rules need to know about stored data. Each method reads the backend's current
/// state inside the push transaction (so it sees the movements accepted earlier in the batch).
pub trait PushFacts {
    /// Whether the catalog holds this product.
    fn product_exists(&mut self, id: ProductId) -> Result<bool>;
    /// Whether the catalog holds this location.
    fn location_exists(&mut self, id: LocationId) -> Result<bool>;
    /// A stored movement and the void that cancelled it, if any.
    fn stored_movement(&mut self, id: MovementId) -> Result<Option<(Movement, Option<MovementId>)>>;
    /// The level-rule entries of one pair that count: stored movements that are neither voids nor
    /// voided.
    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>>;
    /// A product's SKU and reorder point (for alert messages and the low-stock rule).
    fn product_sku_and_reorder_point(&mut self, id: ProductId) -> Result<(String, i64)>;
    /// A location's code (for alert messages).
    fn location_code(&mut self, id: LocationId) -> Result<String>;
    /// Whether an unresolved alert of `kind` exists for the pair.
    fn open_alert(&mut self, kind: AlertKind, product: ProductId, location: LocationId) -> Result<bool>;
    /// The `count_review_window_ms` setting.
    fn count_review_window_ms(&mut self) -> Result<i64>;
}

/// A rejection outcome.
pub fn rejected(code: &str, message: impl Into<String>) -> Outcome {
    Outcome::Rejected { code: code.into(), message: message.into() }
}

/// Why a movement cannot be accepted, if it cannot: invalid fields, unknown product or location,
/// a clerk at a location not assigned to them, or a void that cannot apply. Checked in that order.
pub fn rejection(facts: &mut dyn PushFacts, pusher: &Pusher, m: &Movement) -> Result<Option<Outcome>> {
    if let Err(e) = m.validate() {
        return Ok(Some(rejected("invalid", e.to_string())));
    }
    if !facts.product_exists(m.product_id)? {
        return Ok(Some(rejected(
            "unknown_product",
            format!("product {} is not in the catalog; sync the catalog or create it", m.product_id),
        )));
    }
    for location in std::iter::once(m.location_id).chain(m.peer_location_id) {
        if !facts.location_exists(location)? {
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
        return void_rejection(facts, m);
    }
    Ok(None)
}

fn void_rejection(facts: &mut dyn PushFacts, m: &Movement) -> Result<Option<Outcome>> {
    let target_id = m.voided_id()?;
    let Some((target, voided_by)) = facts.stored_movement(target_id)? else {
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

/// The pair's level once `m` (not yet stored) is accepted, from its cached level `before`: the
/// core rule's incremental update, or a recomputation over the stored entries when the cache
/// cannot answer. A void takes its target out of the set.
pub fn level_after(facts: &mut dyn PushFacts, before: Level, m: &Movement) -> Result<Level> {
    match m.kind {
        MovementKind::Void => level_without(facts, before, m.voided_id()?),
        _ => level_with(facts, before, m),
    }
}

fn level_with(facts: &mut dyn PushFacts, level: Level, m: &Movement) -> Result<Level> {
    let Some(entry) = m.level_entry() else { return Ok(level) };
    let mut after = level;
    if after.apply(&entry).map_err(level_error)? == Applied::NeedsRecompute {
        let mut entries = facts.pair_entries(m.product_id, m.location_id)?;
        entries.push(entry);
        after = level_of(&entries).map_err(level_error)?;
    }
    Ok(after)
}

fn level_without(facts: &mut dyn PushFacts, level: Level, target_id: MovementId) -> Result<Level> {
    let Some((target, _)) = facts.stored_movement(target_id)? else { return Ok(level) };
    let Some(entry) = target.level_entry() else { return Ok(level) };
    let mut after = level;
    if after.remove(&entry).map_err(level_error)? == Applied::NeedsRecompute {
        let rest: Vec<LevelEntry> = facts
            .pair_entries(target.product_id, target.location_id)?
            .into_iter()
            .filter(|e| e.id != target_id)
            .collect();
        after = level_of(&rest).map_err(level_error)?;
    }
    Ok(after)
}

/// A level that left the range of an `i64`.
pub fn level_error(e: LevelError) -> StorageError {
    StorageError::Conflict { code: "level_overflow", message: e.to_string() }
}

/// The alerts accepting `m` raises, in the order they are stored (the first is the one its
/// outcome carries): `negative_stock` when the level is below zero and none is open for the pair;
/// `low_stock` when the level crosses the reorder point downwards and none is open; `count_review`
/// when a delta lands within the review window of the pair's latest count made on another device.
pub fn alerts_raised(
    facts: &mut dyn PushFacts,
    m: &Movement,
    before: &Level,
    after: &Level,
    now: Timestamp,
) -> Result<Vec<Alert>> {
    let (sku, reorder_point) = facts.product_sku_and_reorder_point(m.product_id)?;
    let code = facts.location_code(m.location_id)?;
    let mut raised = Vec::new();
    if after.on_hand < 0 && !facts.open_alert(AlertKind::NegativeStock, m.product_id, m.location_id)? {
        let message = format!(
            "{sku} at {code} is at {} after movements from several devices were merged; \
             count it or record a correction",
            after.on_hand
        );
        raised.push((AlertKind::NegativeStock, after.on_hand, message));
    }
    if reorder_point > 0
        && after.on_hand <= reorder_point
        && before.on_hand > reorder_point
        && !facts.open_alert(AlertKind::LowStock, m.product_id, m.location_id)?
    {
        let message = format!("{sku} at {code} is down to {} (reorder point {reorder_point})", after.on_hand);
        raised.push((AlertKind::LowStock, after.on_hand, message));
    }
    if let Some(review) = count_review(facts, m, after, &sku, &code)? {
        raised.push(review);
    }
    Ok(raised
        .into_iter()
        .map(|(kind, quantity, message)| Alert {
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
        })
        .collect())
}

/// A movement so close in time to the pair's latest count (recorded on another device) that the
/// clocks cannot tell which came first.
fn count_review(
    facts: &mut dyn PushFacts,
    m: &Movement,
    after: &Level,
    sku: &str,
    code: &str,
) -> Result<Option<(AlertKind, i64, String)>> {
    let (Some(delta), Some(anchor)) = (m.delta, after.anchor) else { return Ok(None) };
    let window = facts.count_review_window_ms()?;
    if anchor.id == m.id || !needs_count_review(anchor.occurred_at, m.occurred_at, window.max(0) as u64) {
        return Ok(None);
    }
    let Some((count, _)) = facts.stored_movement(anchor.id)? else { return Ok(None) };
    if count.device_id == m.device_id {
        return Ok(None);
    }
    let side = if m.occurred_at < anchor.occurred_at { "just before" } else { "just after" };
    let message = format!(
        "a movement of {delta} for {sku} at {code} occurred {side} a count from another device; \
         check whether the count included it"
    );
    Ok(Some((AlertKind::CountReview, delta, message)))
}

/// The outcome of an accepted movement stored at `server_seq`: flagged with the first alert it
/// raised, if it raised any.
pub fn accepted(server_seq: i64, alerts: Vec<Alert>) -> Outcome {
    match alerts.into_iter().next() {
        Some(alert) => Outcome::AcceptedFlagged { server_seq, alert },
        None => Outcome::Accepted { server_seq },
    }
}
