//! Recording movements: turns a `MovementIntent` into ledger rows, keeping the cached level and
//! checksum of each touched product × location right in the same transaction, and applying the
//! negative-stock policy to the device's own view.
//!
//! The level arithmetic is `smartstock_core::level` — applied incrementally, and recomputed from
//! the ledger when the incremental state cannot answer (a count or void in the past).
//!
//! Must not: update or delete a movement's content (voids reference; the schema's triggers
//! enforce it), or write anything when a check fails (every path is one transaction).

use crate::error::{Result, StoreError};
use crate::sql::{self, ProductBrief};
use crate::{Actor, Store};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use smartstock_core::ids::NewRandom;
use smartstock_core::level::{level_of, Applied, LevelEntry};
use smartstock_core::quantity::format_scaled;
use smartstock_core::{
    DeviceId, LedgerDigest, Level, LocationId, Movement, MovementId, MovementIntent, MovementKind, NegativeStockPolicy,
    ProductId, ReasonCode, Timestamp, TransferId, UserId,
};

/// What one `record` call wrote: one movement, or two for a one-step transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The movements, in `device_seq` order; `qty_after` is each pair's new level.
    pub movements: Vec<Movement>,
}

/// Whether the device's negative-stock policy applies: to local records only. Movements from
/// other devices physically happened and are never refused (`apply_remote`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PolicyCheck {
    Enforce,
}

/// A movement before it has an id, a sequence number and times.
#[derive(Clone, Debug)]
pub(crate) struct Draft {
    pub kind: MovementKind,
    pub product_id: ProductId,
    pub location_id: LocationId,
    pub delta: Option<i64>,
    pub counted_qty: Option<i64>,
    pub reason: Option<ReasonCode>,
    pub note: Option<String>,
    pub reference: Option<String>,
    pub peer_location_id: Option<LocationId>,
}

impl Draft {
    pub(crate) fn new(kind: MovementKind, product_id: ProductId, location_id: LocationId) -> Draft {
        Draft {
            kind,
            product_id,
            location_id,
            delta: None,
            counted_qty: None,
            reason: None,
            note: None,
            reference: None,
            peer_location_id: None,
        }
    }
}

/// Identity and clock of the movements one transaction records; hands out gapless `device_seq`
/// and carries the transaction's `WriteCache`.
pub(crate) struct Stamp {
    pub device_id: DeviceId,
    pub user_id: UserId,
    pub next_seq: i64,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    pub cache: WriteCache,
}

/// What a run of appends inside one transaction reads again and again: product and location
/// facts, and the levels it changes. Levels are written back once, in key order, by `flush`
/// (a bulk import of a million rows writes each level once, sequentially, instead of a million
/// random updates). Movements themselves are written at once, so ledger reads stay exact.
#[derive(Default)]
pub(crate) struct WriteCache {
    levels: HashMap<(ProductId, LocationId), (Level, LedgerDigest)>,
    /// The pairs whose level this transaction changed (`flush` writes only those: a pair read
    /// ahead whose movements all waited for their product gets no level row).
    changed: HashSet<(ProductId, LocationId)>,
    products: HashMap<ProductId, ProductBrief>,
    locations: HashMap<LocationId, (String, bool)>,
    /// The levels table had no row when this transaction first looked (a first import or an
    /// initial pull): every pair not in `levels` is new, no need to ask the database.
    levels_table_empty: Option<bool>,
    global_policy: Option<NegativeStockPolicy>,
}

impl WriteCache {
    /// A cache for a transaction that found the ledger empty: no level is read from the database.
    pub(crate) fn for_empty_ledger() -> WriteCache {
        WriteCache { levels_table_empty: Some(true), ..WriteCache::default() }
    }

    /// The level held for a pair, or an empty one: only for a cache made by `for_empty_ledger`.
    pub(crate) fn cached_level(&self, pair: (ProductId, LocationId)) -> (Level, LedgerDigest) {
        self.levels.get(&pair).copied().unwrap_or_default()
    }

    /// Turns a failed write of `movement` into an error that names its missing product or
    /// location, if one is missing (otherwise returns `Ok` and the caller reports its own error).
    pub(crate) fn name_missing_catalog(&mut self, tx: &Connection, movement: &Movement) -> Result<()> {
        self.product(tx, movement.product_id)?;
        self.location(tx, movement.location_id)?;
        Ok(())
    }

    fn level(&mut self, tx: &Connection, product: ProductId, location: LocationId) -> Result<(Level, LedgerDigest)> {
        if let Some(cached) = self.levels.get(&(product, location)) {
            return Ok(*cached);
        }
        let empty = match self.levels_table_empty {
            Some(empty) => empty,
            None => {
                let any: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM levels)", [], |r| r.get(0))?;
                *self.levels_table_empty.insert(!any)
            }
        };
        if empty {
            return Ok(Default::default());
        }
        Ok(sql::load_level(tx, product, location)?.unwrap_or_default())
    }

    /// Reads the cached levels of `pairs` (sorted and deduplicated here) in key order, so a
    /// large batch walks the levels table once instead of jumping around it.
    pub fn preload_levels(&mut self, tx: &Connection, pairs: &mut Vec<(ProductId, LocationId)>) -> Result<()> {
        pairs.sort_unstable();
        pairs.dedup();
        for &(product, location) in pairs.iter() {
            let level = self.level(tx, product, location)?;
            self.levels.insert((product, location), level);
        }
        Ok(())
    }

    pub(crate) fn set_level(&mut self, product: ProductId, location: LocationId, level: Level, digest: LedgerDigest) {
        self.levels.insert((product, location), (level, digest));
        self.changed.insert((product, location));
    }

    fn product(&mut self, tx: &Connection, id: ProductId) -> Result<ProductBrief> {
        if let Some(brief) = self.products.get(&id) {
            return Ok(brief.clone());
        }
        let brief = sql::product_brief(tx, id)?;
        self.products.insert(id, brief.clone());
        Ok(brief)
    }

    fn location(&mut self, tx: &Connection, id: LocationId) -> Result<(String, bool)> {
        if let Some(brief) = self.locations.get(&id) {
            return Ok(brief.clone());
        }
        let brief = sql::location_brief(tx, id)?;
        self.locations.insert(id, brief.clone());
        Ok(brief)
    }

    fn global_policy(&mut self, tx: &Connection) -> Result<NegativeStockPolicy> {
        match self.global_policy {
            Some(policy) => Ok(policy),
            None => Ok(*self.global_policy.insert(sql::global_policy(tx)?)),
        }
    }

    /// Writes every changed level, in key order. Call before commit.
    pub fn flush(&mut self, tx: &Connection) -> Result<()> {
        let mut changed: Vec<_> = self.levels.drain().filter(|(pair, _)| self.changed.contains(pair)).collect();
        self.changed.clear();
        changed.sort_unstable_by_key(|(key, _)| *key);
        for ((product, location), (level, digest)) in changed {
            sql::save_level(tx, product, location, &level, &digest)?;
        }
        Ok(())
    }

    /// Writes every level into a levels table that was empty, many rows to a statement, in key
    /// order (a first pull's end).
    pub(crate) fn flush_into_empty(&mut self, tx: &Connection) -> Result<()> {
        let mut levels: Vec<_> = self.levels.drain().filter(|(pair, _)| self.changed.contains(pair)).collect();
        self.changed.clear();
        levels.sort_unstable_by_key(|(key, _)| *key);
        sql::insert_levels(tx, &levels)
    }
}

impl Stamp {
    /// Reads the device row inside `tx`; `occurred_at` defaults to now + the server offset.
    pub fn begin(tx: &Connection, actor: Actor, now: Timestamp, occurred_at: Option<Timestamp>) -> Result<Stamp> {
        let mut stmt = tx.prepare_cached("SELECT device_id, next_seq, clock_offset_ms FROM device")?;
        let (device_id, next_seq, offset) =
            stmt.query_row([], |r| Ok((DeviceId(r.get(0)?), r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
        Ok(Stamp {
            device_id,
            user_id: actor.user_id,
            next_seq,
            occurred_at: occurred_at.unwrap_or(now.plus_millis(offset)),
            recorded_at: now,
            cache: WriteCache::default(),
        })
    }

    /// Writes the changed levels and the next free sequence number (call once, before commit).
    pub fn finish(&mut self, tx: &Connection) -> Result<()> {
        self.cache.flush(tx)?;
        tx.prepare_cached("UPDATE device SET next_seq = ?1")?.execute([self.next_seq])?;
        Ok(())
    }

    fn movement(&mut self, draft: Draft, qty_before: i64, qty_after: i64) -> Movement {
        let seq = self.next_seq;
        self.next_seq += 1;
        Movement {
            id: MovementId::new_v7(),
            device_id: self.device_id,
            device_seq: seq,
            user_id: self.user_id,
            kind: draft.kind,
            product_id: draft.product_id,
            location_id: draft.location_id,
            delta: draft.delta,
            counted_qty: draft.counted_qty,
            reason: draft.reason,
            note: draft.note,
            reference: draft.reference,
            peer_location_id: draft.peer_location_id,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            server_seq: None,
            qty_before,
            qty_after,
        }
    }
}

impl Store {
    /// Records what the user asked, now. See `record_at`.
    pub fn record(&self, actor: Actor, intent: &MovementIntent) -> Result<Recorded> {
        self.record_at(actor, intent, None)
    }

    /// Records what the user asked, as having occurred at `occurred_at` (default: now, corrected
    /// by the server offset). Everything is one durable transaction: when this returns `Ok` the
    /// movement survives a crash or power cut; when it returns `Err` nothing was written.
    #[tracing::instrument(skip_all)]
    pub fn record_at(&self, actor: Actor, intent: &MovementIntent, occurred_at: Option<Timestamp>) -> Result<Recorded> {
        intent.validate()?;
        let now = self.clock().now();
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let movements = record_in(&tx, actor, now, intent, occurred_at)?;
        tx.commit()?;
        Ok(Recorded { movements })
    }
}

/// Records `intent` inside the caller's transaction (which commits): stamps, rows, levels and
/// the next sequence number.
pub(crate) fn record_in(
    tx: &Transaction<'_>,
    actor: Actor,
    now: Timestamp,
    intent: &MovementIntent,
    occurred_at: Option<Timestamp>,
) -> Result<Vec<Movement>> {
    let mut stamp = Stamp::begin(tx, actor, now, occurred_at)?;
    let movements = record_intent(tx, &mut stamp, intent)?;
    stamp.finish(tx)?;
    Ok(movements)
}

fn record_intent(tx: &Transaction<'_>, stamp: &mut Stamp, intent: &MovementIntent) -> Result<Vec<Movement>> {
    let one = |draft: Draft, stamp: &mut Stamp| append(tx, stamp, draft, PolicyCheck::Enforce).map(|m| vec![m]);
    match intent.clone() {
        MovementIntent::Receive { product_id, location_id, quantity, reference, note } => {
            let mut d = Draft::new(MovementKind::Receive, product_id, location_id);
            (d.delta, d.reference, d.note) = (Some(quantity), reference, note);
            one(d, stamp)
        }
        MovementIntent::Issue { product_id, location_id, quantity, reason, reference, note } => {
            let mut d = Draft::new(MovementKind::Issue, product_id, location_id);
            (d.delta, d.reason, d.reference, d.note) =
                (Some(-quantity), reason.or(Some(ReasonCode::Sale)), reference, note);
            one(d, stamp)
        }
        MovementIntent::Adjust { product_id, location_id, delta, reason, note } => {
            let mut d = Draft::new(MovementKind::Adjust, product_id, location_id);
            (d.delta, d.reason, d.note) = (Some(delta), Some(reason), note);
            one(d, stamp)
        }
        MovementIntent::Count { product_id, location_id, counted_qty, note } => {
            let mut d = Draft::new(MovementKind::Count, product_id, location_id);
            (d.counted_qty, d.note) = (Some(counted_qty), note);
            one(d, stamp)
        }
        MovementIntent::Transfer { product_id, from, to, quantity, note } => {
            let transfer = TransferId::new_random();
            let out = append(
                tx,
                stamp,
                transfer_draft(MovementKind::TransferOut, product_id, from, to, -quantity, transfer, note.clone()),
                PolicyCheck::Enforce,
            )?;
            let inn = append(
                tx,
                stamp,
                transfer_draft(MovementKind::TransferIn, product_id, to, from, quantity, transfer, note),
                PolicyCheck::Enforce,
            )?;
            Ok(vec![out, inn])
        }
        MovementIntent::Dispatch { product_id, from, to, quantity, note } => {
            stamp.cache.location(tx, to)?;
            let draft = transfer_draft(
                MovementKind::TransferOut,
                product_id,
                from,
                to,
                -quantity,
                TransferId::new_random(),
                note,
            );
            one(draft, stamp)
        }
        MovementIntent::ReceiveTransfer { transfer_id, quantity, note } => {
            let draft = receipt_draft(tx, transfer_id, quantity, note)?;
            one(draft, stamp)
        }
        MovementIntent::Void { movement_id, note } => void(tx, stamp, movement_id, note).map(|m| vec![m]),
    }
}

fn transfer_draft(
    kind: MovementKind,
    product_id: ProductId,
    location: LocationId,
    peer: LocationId,
    delta: i64,
    transfer: TransferId,
    note: Option<String>,
) -> Draft {
    let mut d = Draft::new(kind, product_id, location);
    (d.delta, d.reference, d.peer_location_id, d.note) = (Some(delta), Some(transfer.to_string()), Some(peer), note);
    d
}

/// The `transfer_in` that completes a dispatched transfer.
fn receipt_draft(tx: &Connection, transfer: TransferId, quantity: Option<i64>, note: Option<String>) -> Result<Draft> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {}, voided_by, sync_state FROM movements WHERE ref = ?1 AND kind IN ('transfer_out', 'transfer_in')",
        sql::MOVEMENT_COLUMNS
    ))?;
    let rows = stmt
        .query_map([transfer.to_string()], |row| {
            Ok((sql::movement_from_row(row)?, row.get::<_, Option<uuid::Uuid>>(18)?, row.get::<_, String>(19)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let live = |m: &&(Movement, Option<uuid::Uuid>, String)| m.1.is_none() && m.2 != "rejected";
    let out = rows
        .iter()
        .filter(live)
        .find(|m| m.0.kind == MovementKind::TransferOut)
        .map(|m| m.0.clone())
        .ok_or_else(|| StoreError::not_found("transfer", transfer))?;
    if rows.iter().filter(live).any(|m| m.0.kind == MovementKind::TransferIn) {
        return Err(StoreError::Conflict(format!("transfer {transfer} was already received")));
    }
    let sent = out.delta.unwrap_or(0).unsigned_abs() as i64;
    let arrived = quantity.unwrap_or(sent);
    if arrived > sent {
        return Err(smartstock_core::ValidationError::new(
            "quantity",
            format!("must be at most the {sent} dispatched in transfer {transfer}"),
        )
        .into());
    }
    let to = out.peer_location_id.ok_or_else(|| StoreError::not_found("transfer destination", transfer))?;
    Ok(transfer_draft(MovementKind::TransferIn, out.product_id, to, out.location_id, arrived, transfer, note))
}

/// Cancels a movement: records a `void` and takes the target out of its level.
fn void(tx: &Connection, stamp: &mut Stamp, target_id: MovementId, note: String) -> Result<Movement> {
    let (target, voided_by, state) =
        sql::movement_by_id(tx, target_id)?.ok_or_else(|| StoreError::not_found("movement", target_id))?;
    if target.kind == MovementKind::Void {
        return Err(StoreError::Conflict("a void cannot be voided; record the movement again instead".into()));
    }
    if let Some(by) = voided_by {
        return Err(StoreError::Conflict(format!("movement {target_id} is already voided by {by}")));
    }
    if state == "rejected" {
        return Err(StoreError::Conflict(format!(
            "movement {target_id} was rejected by the server and does not count; there is nothing to void"
        )));
    }
    if target.kind == MovementKind::TransferOut {
        refuse_if_received(tx, &target)?;
    }
    let product = stamp.cache.product(tx, target.product_id)?;
    let (location_code, _) = stamp.cache.location(tx, target.location_id)?;
    let (level, mut digest) = stamp.cache.level(tx, target.product_id, target.location_id)?;
    let after = level_without(tx, level, &target)?;
    check_policy(tx, &mut stamp.cache, &product, &location_code, level.on_hand, after.on_hand)?;
    let mut draft = Draft::new(MovementKind::Void, target.product_id, target.location_id);
    (draft.reference, draft.note) = (Some(target_id.to_string()), Some(note));
    let movement = stamp.movement(draft, level.on_hand, after.on_hand);
    sql::insert_movement(tx, &movement)?;
    tx.prepare_cached("UPDATE movements SET voided_by = ?1 WHERE id = ?2")?.execute([movement.id.0, target_id.0])?;
    digest.add(&movement);
    stamp.cache.set_level(target.product_id, target.location_id, after, digest);
    Ok(movement)
}

fn refuse_if_received(tx: &Connection, out: &Movement) -> Result<()> {
    let received: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM movements WHERE ref = ?1 AND kind = 'transfer_in' \
             AND voided_by IS NULL AND sync_state <> 'rejected')",
        )?
        .query_row([&out.reference], |r| r.get(0))?;
    if received {
        return Err(StoreError::Conflict(
            "this transfer was already received at its destination; void the receipt first".into(),
        ));
    }
    Ok(())
}

/// The level once `target` leaves the set (it is voided).
fn level_without(tx: &Connection, level: Level, target: &Movement) -> Result<Level> {
    let Some(entry) = target.level_entry() else { return Ok(level) };
    let mut after = level;
    if after.remove(&entry)? == Applied::NeedsRecompute {
        let rest: Vec<LevelEntry> = sql::pair_entries(tx, target.product_id, target.location_id)?
            .into_iter()
            .filter(|e| e.id != target.id)
            .collect();
        after = level_of(&rest)?;
    }
    Ok(after)
}

/// Appends one movement: checks product and location, computes the new level by the level
/// rule, applies the policy, writes the row, the level and the checksum.
pub(crate) fn append(tx: &Connection, stamp: &mut Stamp, draft: Draft, policy: PolicyCheck) -> Result<Movement> {
    let product = stamp.cache.product(tx, draft.product_id)?;
    let (location_code, location_archived) = stamp.cache.location(tx, draft.location_id)?;
    if policy == PolicyCheck::Enforce {
        if product.archived {
            return Err(StoreError::Conflict(format!(
                "product {} is archived; restore it before recording stock",
                product.sku
            )));
        }
        if location_archived {
            return Err(StoreError::Conflict(format!("location {location_code} is archived; choose another location")));
        }
    }
    let (level, mut digest) = stamp.cache.level(tx, draft.product_id, draft.location_id)?;
    let provisional = stamp.movement(draft, level.on_hand, level.on_hand);
    let after = level_after(tx, level, &provisional)?;
    if policy == PolicyCheck::Enforce {
        check_policy(tx, &mut stamp.cache, &product, &location_code, level.on_hand, after.on_hand)?;
    }
    let movement = Movement { qty_after: after.on_hand, ..provisional };
    movement.validate()?;
    sql::insert_movement(tx, &movement)?;
    digest.add(&movement);
    stamp.cache.set_level(movement.product_id, movement.location_id, after, digest);
    Ok(movement)
}

/// The level once `movement` joins the set.
fn level_after(tx: &Connection, level: Level, movement: &Movement) -> Result<Level> {
    let Some(entry) = movement.level_entry() else { return Ok(level) };
    let mut after = level;
    if after.apply(&entry)? == Applied::NeedsRecompute {
        let mut entries = sql::pair_entries(tx, movement.product_id, movement.location_id)?;
        entries.push(entry);
        after = level_of(&entries)?;
    }
    Ok(after)
}

fn check_policy(
    tx: &Connection,
    cache: &mut WriteCache,
    product: &ProductBrief,
    location: &str,
    before: i64,
    after: i64,
) -> Result<()> {
    let policy = NegativeStockPolicy::effective(cache.global_policy(tx)?, product.negative_stock);
    if policy.refuses(before, after) {
        return Err(StoreError::NegativeStock {
            sku: product.sku.clone(),
            location: location.to_string(),
            on_hand: format_scaled(before, product.unit_scale),
            requested: format_scaled(before - after, product.unit_scale),
        });
    }
    Ok(())
}

/// Recomputes a pair's level and checksum from the ledger (after a rejection or a repair).
pub(crate) fn recompute_pair(tx: &Connection, product: ProductId, location: LocationId) -> Result<Level> {
    let level = level_of(&sql::pair_entries(tx, product, location)?)?;
    let digest = pair_digest(tx, product, location)?;
    sql::save_level(tx, product, location, &level, &digest)?;
    Ok(level)
}

/// The checksum of a pair's movements as stored (every movement not rejected, voids included).
pub(crate) fn pair_digest(tx: &Connection, product: ProductId, location: LocationId) -> Result<LedgerDigest> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {} FROM movements WHERE product_id = ?1 AND location_id = ?2 AND sync_state <> 'rejected'",
        sql::MOVEMENT_COLUMNS
    ))?;
    let rows = stmt.query_map([product.0, location.0], sql::movement_from_row)?;
    let mut digest = LedgerDigest::default();
    for row in rows {
        digest.add(&row?);
    }
    Ok(digest)
}

/// Adds a movement recorded by another device (from a pull), in any arrival order: a movement
/// already held is skipped; a void cancels its target whether the target arrived before or
/// after it. Returns whether the movement was new.
///
/// One statement writes the row (new or not, with its final sync state and `voided_by`); the
/// level is updated in the transaction's `WriteCache` and written once per pair by `flush`.
pub(crate) fn insert_remote(tx: &Connection, cache: &mut WriteCache, movement: &Movement) -> Result<bool> {
    movement.validate()?;
    let voided_by = match movement.kind {
        MovementKind::Void => None,
        _ => void_waiting_for(tx, movement.id)?,
    };
    // The foreign keys check product and location; only a failure looks them up, to name what
    // is missing.
    match sql::insert_accepted_movement(tx, movement, voided_by) {
        Ok(true) => {}
        Ok(false) => return Ok(false),
        Err(e) => {
            // A product or location not held yet (the feed brings it later): the movement
            // waits outside the ledger until it comes.
            if !crate::waiting::catalog_known(tx, movement.product_id, &crate::waiting::movement_locations(movement))? {
                crate::waiting::park_movement(tx, movement)?;
                return Ok(false);
            }
            return Err(e);
        }
    }
    let (level, mut digest) = cache.level(tx, movement.product_id, movement.location_id)?;
    let after = match (movement.kind, voided_by) {
        (MovementKind::Void, _) => cancel_remote_target(tx, level, movement)?,
        (_, Some(_)) => level,
        (_, None) => level_with_stored(tx, level, movement)?,
    };
    digest.add(movement);
    cache.set_level(movement.product_id, movement.location_id, after, digest);
    Ok(true)
}

/// The level once `movement`, already written to the ledger, joins the set.
fn level_with_stored(tx: &Connection, level: Level, movement: &Movement) -> Result<Level> {
    let Some(entry) = movement.level_entry() else { return Ok(level) };
    let mut after = level;
    if after.apply(&entry)? == Applied::NeedsRecompute {
        after = level_of(&sql::pair_entries(tx, movement.product_id, movement.location_id)?)?;
    }
    Ok(after)
}

/// A void that arrived before the movement it cancels.
fn void_waiting_for(tx: &Connection, id: MovementId) -> Result<Option<MovementId>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id FROM movements WHERE kind = 'void' AND ref = ?1 AND sync_state <> 'rejected' LIMIT 1",
    )?;
    let found: Option<uuid::Uuid> =
        rusqlite::OptionalExtension::optional(stmt.query_row([id.to_string()], |r| r.get(0)))?;
    Ok(found.map(MovementId))
}

fn cancel_remote_target(tx: &Connection, level: Level, void: &Movement) -> Result<Level> {
    let target_id = void.voided_id()?;
    match sql::movement_by_id(tx, target_id)? {
        Some((target, None, state)) if state != "rejected" => {
            if (target.product_id, target.location_id) != (void.product_id, void.location_id) {
                return Err(smartstock_core::ValidationError::new(
                    "ref",
                    format!("void {} names movement {target_id} of another product or location", void.id),
                )
                .into());
            }
            let after = level_without(tx, level, &target)?;
            tx.prepare_cached("UPDATE movements SET voided_by = ?1 WHERE id = ?2")?
                .execute([void.id.0, target_id.0])?;
            Ok(after)
        }
        _ => Ok(level),
    }
}

impl Store {
    /// Applies movements pulled from the server (other devices' records), all in one
    /// transaction. Never refused for negative stock: they physically happened. Returns how many
    /// were new.
    #[tracing::instrument(skip_all, fields(movements = movements.len()))]
    pub fn apply_remote(&self, movements: &[Movement]) -> Result<u64> {
        let mut conn = self.write();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut cache = WriteCache::default();
        let mut added = 0;
        for movement in movements {
            added += u64::from(insert_remote(&tx, &mut cache, movement)?);
        }
        cache.flush(&tx)?;
        tx.commit()?;
        Ok(added)
    }
}
