//! The push, once for every backend (DESIGN.md, "Identity, ordering, exactly-once"), as plan then
//! act: the backend reads what the batch needs in a few set-based queries, this module decides
//! every movement in memory, and the backend writes the whole result in a few set-based
//! statements — all in the backend's one push transaction. Several pushes of distinct devices
//! can share that transaction ([`push_group`]): a backend whose commit is the costly part
//! (PostgreSQL's WAL flush) commits concurrent pushes together, with the result they would have
//! had one after the other.
//!
//! Per movement, in request order: a replay returns its stored outcome; a different movement
//! under a used sequence number refuses the batch (restored database); a gap refuses the batch; a
//! movement the server already holds under another number returns its stored outcome; anything
//! else is accepted (level by the core rule, alerts raised) or rejected with a reason (`rules`).
//! Every outcome is stored in the same transaction as its movement.
//!
//! Must not: refuse a movement for negative stock (it physically happened: it is flagged), or
//! commit (the backend does, after `push` returns).

use super::rules::{self, PushFacts};
use super::{Pusher, Result, Role, StorageError};
use smartstock_core::level::LevelEntry;
use smartstock_core::wire::{MovementOutcome, Outcome, PushRequest, WIRE_VERSION};
use smartstock_core::{
    Alert, AlertKind, DeviceId, LedgerDigest, Level, LocationId, Movement, MovementId, MovementKind, ProductId,
    Timestamp, UserId, ValidationError,
};
use std::collections::{HashMap, HashSet};

/// A product × location pair.
pub type Pair = (ProductId, LocationId);

/// Everything one push (or one group of pushes) writes, for the backend to store in set-based
/// statements.
#[derive(Debug, Default)]
pub struct PushWrites {
    /// The new last acknowledged sequence number of each device that pushed new movements.
    pub devices: Vec<(DeviceId, i64)>,
    /// Accepted movements, with `server_seq`, in feed order.
    pub movements: Vec<Movement>,
    /// Outcomes to keep in `received` under (device, seq): rejections, and movements the server
    /// already held arriving under a new number. (device, seq, movement id, outcome).
    pub received: Vec<(DeviceId, i64, MovementId, Outcome)>,
    /// (target, void) pairs: the target is cancelled by the void.
    pub voided: Vec<(MovementId, MovementId)>,
    /// Alerts raised, with their feed numbers.
    pub alerts: Vec<(Alert, i64)>,
    /// Changed levels and checksums, in key order.
    pub levels: Vec<(Pair, Level, LedgerDigest)>,
    /// The last feed number handed out, if any.
    pub feed_seq: Option<i64>,
}

/// A backend's reads and its one write inside its push transaction.
pub trait PushTx {
    /// Owner and last acknowledged sequence number of the devices among `ids` that exist (locking
    /// their rows, in id order, where the backend has concurrent writers).
    fn devices(&mut self, ids: &[DeviceId]) -> Result<Vec<(DeviceId, UserId, i64)>>;
    /// Outcomes stored under these (device, seq) keys: (device, seq, movement id, outcome) — of
    /// movements accepted under that number (from the movement row and the first alert it
    /// raised) and of the rows of `received`.
    fn received_by_seqs(&mut self, keys: &[(DeviceId, i64)]) -> Result<Vec<(DeviceId, i64, MovementId, Outcome)>>;
    /// Outcomes stored for these movement ids, under any (device, seq): accepted ones from their
    /// movement row, the others from `received`.
    fn received_by_ids(&mut self, ids: &[MovementId]) -> Result<Vec<(MovementId, Outcome)>>;
    /// Makes this transaction the only writer of the feed until it ends and returns the last
    /// feed number handed out (called before anything new is read or decided).
    fn lock_feed(&mut self) -> Result<i64>;
    /// SKU and reorder point of the products the catalog holds among `ids`.
    fn products(&mut self, ids: &[ProductId]) -> Result<Vec<(ProductId, String, i64)>>;
    /// Codes of the locations the catalog holds among `ids`.
    fn locations(&mut self, ids: &[LocationId]) -> Result<Vec<(LocationId, String)>>;
    /// Stored movements among `ids`, with the void that cancelled each.
    fn stored_movements(&mut self, ids: &[MovementId]) -> Result<Vec<(Movement, Option<MovementId>)>>;
    /// The stored level-rule entries of a pair: movements that are neither voids nor voided.
    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>>;
    /// Cached levels and checksums of the pairs that have one.
    fn levels(&mut self, pairs: &[Pair]) -> Result<Vec<(Pair, Level, LedgerDigest)>>;
    /// The kinds of alert open for each of the pairs.
    fn open_alerts(&mut self, pairs: &[Pair]) -> Result<Vec<(AlertKind, Pair)>>;
    /// The count-review window setting.
    fn count_review_window_ms(&mut self) -> Result<i64>;
    /// Stores everything the push decided.
    fn write(&mut self, writes: &PushWrites) -> Result<()>;

    /// Everything a group reads before deciding, in this order: the devices (locked), the
    /// outcomes stored under the pushed (device, seq) keys they already acknowledged, the feed
    /// lock, then the rest. A backend that can send several statements at once may override it.
    fn read(&mut self, keys: &Keys) -> Result<Facts> {
        let devices = self.devices(&keys.devices)?;
        let acknowledged: HashMap<DeviceId, i64> = devices.iter().map(|(id, _, last)| (*id, *last)).collect();
        let old: Vec<(DeviceId, i64)> =
            keys.seqs.iter().copied().filter(|(d, s)| acknowledged.get(d).is_some_and(|last| s <= last)).collect();
        let replays = if old.is_empty() { Vec::new() } else { self.received_by_seqs(&old)? };
        if keys.ids.is_empty() {
            return Ok(Facts { devices, replays, ..Facts::default() });
        }
        let feed = self.lock_feed()?;
        Ok(Facts {
            devices,
            replays,
            feed,
            outcomes: self.received_by_ids(&keys.ids)?,
            products: self.products(&keys.products)?,
            locations: self.locations(&keys.locations)?,
            targets: if keys.targets.is_empty() { Vec::new() } else { self.stored_movements(&keys.targets)? },
            levels: self.levels(&keys.pairs)?,
            open_alerts: self.open_alerts(&keys.pairs)?,
        })
    }
}

/// What a group of pushes reads up front, from every movement of every push.
#[derive(Debug, Default)]
pub struct Keys {
    /// The pushing devices.
    pub devices: Vec<DeviceId>,
    /// Every pushed (device, seq).
    pub seqs: Vec<(DeviceId, i64)>,
    /// Every pushed movement id.
    pub ids: Vec<MovementId>,
    /// Their products.
    pub products: Vec<ProductId>,
    /// Their locations (and transfer peers).
    pub locations: Vec<LocationId>,
    /// The movements their voids cancel.
    pub targets: Vec<MovementId>,
    /// Their product × location pairs.
    pub pairs: Vec<Pair>,
}

impl Keys {
    fn of(jobs: &[PushJob<'_>]) -> Keys {
        let all = || jobs.iter().flat_map(|j| j.request.movements.iter());
        Keys {
            devices: unique(jobs.iter().map(|j| j.request.device_id)),
            seqs: unique(all().map(|m| (m.device_id, m.device_seq))),
            ids: unique(all().map(|m| m.id)),
            products: unique(all().map(|m| m.product_id)),
            locations: unique(all().flat_map(|m| std::iter::once(m.location_id).chain(m.peer_location_id))),
            targets: unique(all().filter(|m| m.kind == MovementKind::Void).filter_map(|m| m.voided_id().ok())),
            pairs: unique(all().map(|m| (m.product_id, m.location_id))),
        }
    }
}

/// What [`PushTx::read`] found (the feed part empty when no movement was pushed).
#[derive(Debug, Default)]
pub struct Facts {
    /// Owner and last acknowledged number of the devices that exist.
    pub devices: Vec<(DeviceId, UserId, i64)>,
    /// Outcomes stored under pushed (device, seq) keys.
    pub replays: Vec<(DeviceId, i64, MovementId, Outcome)>,
    /// The last feed number handed out (read under the feed lock).
    pub feed: i64,
    /// Outcomes stored for pushed movement ids.
    pub outcomes: Vec<(MovementId, Outcome)>,
    /// SKU and reorder point of the known products.
    pub products: Vec<(ProductId, String, i64)>,
    /// Codes of the known locations.
    pub locations: Vec<(LocationId, String)>,
    /// Stored void targets, with the void that cancelled each.
    pub targets: Vec<(Movement, Option<MovementId>)>,
    /// Cached levels of the pairs that have one.
    pub levels: Vec<(Pair, Level, LedgerDigest)>,
    /// Open alert kinds per pair.
    pub open_alerts: Vec<(AlertKind, Pair)>,
}

/// One push of a group: who pushes what, and when the server received it.
#[derive(Clone, Copy, Debug)]
pub struct PushJob<'a> {
    /// The authenticated user.
    pub pusher: &'a Pusher,
    /// The batch.
    pub request: &'a PushRequest,
    /// Reception time (alerts are raised at it).
    pub now: Timestamp,
}

/// Applies one push inside the backend's transaction.
pub fn push(
    tx: &mut dyn PushTx,
    pusher: &Pusher,
    request: &PushRequest,
    now: Timestamp,
) -> Result<Vec<MovementOutcome>> {
    let mut results = push_group(tx, &[PushJob { pusher, request, now }])?;
    results.pop().unwrap_or_else(|| Err(StorageError::Database("a push group lost its only push".into())))
}

/// Applies several pushes, each of another device, inside one backend transaction, exactly as if
/// they ran one after the other in the order given: one result per job. A refused job (gap,
/// restored database, unknown device, …) gets its error and writes nothing; the others go on.
/// `Err` means the group failed as a whole (a database error, or a level that left the range of
/// an `i64` while deciding): the caller rolls the transaction back and may run each job alone.
pub fn push_group(tx: &mut dyn PushTx, jobs: &[PushJob<'_>]) -> Result<Vec<Result<Vec<MovementOutcome>>>> {
    if unique(jobs.iter().map(|j| j.request.device_id)).len() != jobs.len() {
        return Err(StorageError::Database("a push group holds two pushes of one device".into()));
    }
    let mut facts = tx.read(&Keys::of(jobs))?;
    let plans = plan_all(&mut facts, jobs);
    let any_fresh = plans.iter().flatten().any(|plan| plan.steps.iter().any(|s| matches!(s, Step::Fresh)));
    let mut batch = match any_fresh {
        true => Some(Batch::new(tx, facts)),
        false => None,
    };
    let mut writes = PushWrites::default();
    let mut results = Vec::with_capacity(jobs.len());
    for (plan, job) in plans.into_iter().zip(jobs) {
        results.push(match (plan, batch.as_mut()) {
            (Err(refused), _) => Err(refused),
            (Ok(plan), Some(batch)) => Ok(decide(batch, job, plan, &mut writes)?),
            (Ok(plan), None) => Ok(plan.replayed_outcomes(job.request)),
        });
    }
    if let Some(batch) = batch {
        writes.feed_seq = Some(batch.feed);
        writes.levels = batch.changed_levels();
        tx.write(&writes)?;
    }
    Ok(results)
}

/// What a push does with each of its movements, known before anything is decided.
enum Step {
    /// A replay: the outcome stored under its (device, seq).
    Stored(Outcome),
    /// A new movement, to accept or reject.
    Fresh,
}

/// A push that passed every check that can refuse it as a whole.
struct Plan {
    steps: Vec<Step>,
}

impl Plan {
    /// The outcomes of a push made only of replays.
    fn replayed_outcomes(self, request: &PushRequest) -> Vec<MovementOutcome> {
        request
            .movements
            .iter()
            .zip(self.steps)
            .filter_map(|(m, step)| match step {
                Step::Stored(outcome) => Some(MovementOutcome { id: m.id, device_seq: m.device_seq, outcome }),
                Step::Fresh => None,
            })
            .collect()
    }
}

/// Checks every job (wire version, role, device, sequence numbers) against the device rows and
/// the outcomes stored under its sequence numbers.
fn plan_all(facts: &mut Facts, jobs: &[PushJob<'_>]) -> Vec<Result<Plan>> {
    let devices: HashMap<DeviceId, (UserId, i64)> =
        facts.devices.drain(..).map(|(id, owner, last)| (id, (owner, last))).collect();
    let replays: HashMap<(DeviceId, i64), (MovementId, Outcome)> =
        facts.replays.drain(..).map(|(d, s, id, o)| ((d, s), (id, o))).collect();
    jobs.iter()
        .map(|job| check(job, devices.get(&job.request.device_id)).and_then(|ack| plan(job.request, ack, &replays)))
        .collect()
}

/// The checks that refuse a push before its movements are looked at; the device's last
/// acknowledged sequence number.
fn check(job: &PushJob<'_>, device: Option<&(UserId, i64)>) -> Result<i64> {
    let request = job.request;
    if request.v != WIRE_VERSION {
        return Err(ValidationError::new("v", format!("this server speaks wire version {WIRE_VERSION}")).into());
    }
    if job.pusher.role == Role::Viewer {
        return Err(StorageError::Forbidden("viewers cannot record movements".into()));
    }
    let id = request.device_id;
    let acknowledged = match device {
        None => return Err(StorageError::NotFound { what: "device", key: format!("{id} (register it first)") }),
        Some((owner, _)) if *owner != job.pusher.user_id => {
            return Err(StorageError::Forbidden(format!("device {id} is registered to another user")))
        }
        Some((_, last)) => *last,
    };
    if let Some(m) = request.movements.iter().find(|m| m.device_id != id) {
        return Err(ValidationError::new("device_id", format!("movement {} carries another device's id", m.id)).into());
    }
    Ok(acknowledged)
}

/// Each movement a replay (its stored outcome; a different movement under the number refuses the
/// push: restored database) or the next new one; a gap refuses the push.
fn plan(
    request: &PushRequest,
    acknowledged: i64,
    replays: &HashMap<(DeviceId, i64), (MovementId, Outcome)>,
) -> Result<Plan> {
    let mut last = acknowledged;
    let mut steps = Vec::with_capacity(request.movements.len());
    for m in &request.movements {
        if m.device_seq <= acknowledged {
            match replays.get(&(m.device_id, m.device_seq)) {
                Some((stored_id, outcome)) if *stored_id == m.id => steps.push(Step::Stored(outcome.clone())),
                Some(_) => return Err(StorageError::DeviceRestored { device_seq: m.device_seq }),
                None => return Err(StorageError::SequenceGap { last_acknowledged: acknowledged }),
            }
        } else if m.device_seq == last + 1 {
            // A gap would refuse the whole batch: the server holds what it held before this push.
            last = m.device_seq;
            steps.push(Step::Fresh);
        } else {
            return Err(StorageError::SequenceGap { last_acknowledged: acknowledged });
        }
    }
    Ok(Plan { steps })
}

/// Decides the new movements of one planned push, in request order.
fn decide(
    batch: &mut Batch<'_>,
    job: &PushJob<'_>,
    plan: Plan,
    writes: &mut PushWrites,
) -> Result<Vec<MovementOutcome>> {
    let mut outcomes = Vec::with_capacity(plan.steps.len());
    let mut last_fresh = None;
    for (m, step) in job.request.movements.iter().zip(plan.steps) {
        let outcome = match step {
            Step::Stored(outcome) => outcome,
            Step::Fresh => {
                let (outcome, stored_here) = match batch.known_outcome(m.id) {
                    Some(stored) => (stored, false),
                    None => (batch.accept_or_reject(job.pusher, m, job.now, writes)?, true),
                };
                batch.outcomes.insert(m.id, outcome.clone());
                // An accepted movement's row holds its (device, seq) and outcome; `received` keeps
                // the rest: rejections, and known movements arriving under another number.
                if !stored_here || matches!(outcome, Outcome::Rejected { .. }) {
                    writes.received.push((m.device_id, m.device_seq, m.id, outcome.clone()));
                }
                last_fresh = Some(m.device_seq);
                outcome
            }
        };
        outcomes.push(MovementOutcome { id: m.id, device_seq: m.device_seq, outcome });
    }
    if let Some(last) = last_fresh {
        writes.devices.push((job.request.device_id, last));
    }
    Ok(outcomes)
}

/// What one push knows, read up front and kept up to date as it decides.
struct Batch<'t> {
    tx: &'t mut dyn PushTx,
    /// The last feed number handed out.
    feed: i64,
    /// Outcomes of movement ids: stored earlier, or decided in this batch.
    outcomes: HashMap<MovementId, Outcome>,
    products: HashMap<ProductId, (String, i64)>,
    locations: HashMap<LocationId, String>,
    /// Movements read from storage or accepted in this batch, with the void cancelling each.
    movements: HashMap<MovementId, (Movement, Option<MovementId>)>,
    /// Movements accepted in this batch, by pair (for recomputations).
    accepted_by_pair: HashMap<Pair, Vec<MovementId>>,
    /// Movements cancelled in this batch.
    voided_here: HashSet<MovementId>,
    levels: HashMap<Pair, (Level, LedgerDigest)>,
    changed: HashSet<Pair>,
    open_alerts: HashSet<(AlertKind, Pair)>,
    window: Option<i64>,
}

impl<'t> Batch<'t> {
    /// A batch over what the group read.
    fn new(tx: &'t mut dyn PushTx, facts: Facts) -> Batch<'t> {
        Batch {
            tx,
            feed: facts.feed,
            outcomes: facts.outcomes.into_iter().collect(),
            products: facts.products.into_iter().map(|(id, sku, rp)| (id, (sku, rp))).collect(),
            locations: facts.locations.into_iter().collect(),
            movements: facts.targets.into_iter().map(|(m, v)| (m.id, (m, v))).collect(),
            accepted_by_pair: HashMap::new(),
            voided_here: HashSet::new(),
            levels: facts.levels.into_iter().map(|(pair, level, digest)| (pair, (level, digest))).collect(),
            changed: HashSet::new(),
            open_alerts: facts.open_alerts.into_iter().collect(),
            window: None,
        }
    }

    fn known_outcome(&self, id: MovementId) -> Option<Outcome> {
        self.outcomes.get(&id).cloned()
    }

    fn next_feed_seq(&mut self) -> i64 {
        self.feed += 1;
        self.feed
    }

    fn accept_or_reject(
        &mut self,
        pusher: &Pusher,
        m: &Movement,
        now: Timestamp,
        writes: &mut PushWrites,
    ) -> Result<Outcome> {
        if let Some(rejection) = rules::rejection(self, pusher, m)? {
            return Ok(rejection);
        }
        let pair = (m.product_id, m.location_id);
        let server_seq = self.next_feed_seq();
        let stored = Movement { server_seq: Some(server_seq), ..m.clone() };
        let (before, mut digest) = self.levels.get(&pair).copied().unwrap_or_default();
        let after = rules::level_after(self, before, m)?;
        if m.kind == MovementKind::Void {
            let target = m.voided_id()?;
            self.voided_here.insert(target);
            if let Some(entry) = self.movements.get_mut(&target) {
                entry.1 = Some(m.id);
            }
            writes.voided.push((target, m.id));
        }
        digest.add(&stored);
        self.levels.insert(pair, (after, digest));
        self.changed.insert(pair);
        self.movements.insert(m.id, (stored.clone(), None));
        self.accepted_by_pair.entry(pair).or_default().push(m.id);
        writes.movements.push(stored);
        let alerts = rules::alerts_raised(self, m, &before, &after, now)?;
        for alert in &alerts {
            self.open_alerts.insert((alert.kind, pair));
            let seq = self.next_feed_seq();
            writes.alerts.push((alert.clone(), seq));
        }
        Ok(rules::accepted(server_seq, alerts))
    }

    fn changed_levels(&self) -> Vec<(Pair, Level, LedgerDigest)> {
        let mut changed: Vec<_> =
            self.changed.iter().filter_map(|pair| self.levels.get(pair).map(|(l, d)| (*pair, *l, *d))).collect();
        changed.sort_unstable_by_key(|(pair, _, _)| *pair);
        changed
    }
}

fn unique<T: std::hash::Hash + Eq + Copy>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items.filter(|item| seen.insert(*item)).collect()
}

fn missing(what: &'static str, key: impl ToString) -> StorageError {
    StorageError::NotFound { what, key: key.to_string() }
}

impl PushFacts for Batch<'_> {
    fn product_exists(&mut self, id: ProductId) -> Result<bool> {
        Ok(self.products.contains_key(&id))
    }

    fn location_exists(&mut self, id: LocationId) -> Result<bool> {
        Ok(self.locations.contains_key(&id))
    }

    fn stored_movement(&mut self, id: MovementId) -> Result<Option<(Movement, Option<MovementId>)>> {
        if let Some(known) = self.movements.get(&id) {
            return Ok(Some(known.clone()));
        }
        let found = self.tx.stored_movements(&[id])?.into_iter().next();
        if let Some((m, voided_by)) = &found {
            self.movements.insert(m.id, (m.clone(), *voided_by));
        }
        Ok(found)
    }

    /// The stored entries (less those voided in this batch) and this batch's accepted ones.
    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>> {
        let mut entries: Vec<LevelEntry> = self
            .tx
            .pair_entries(product, location)?
            .into_iter()
            .filter(|e| !self.voided_here.contains(&e.id))
            .collect();
        for id in self.accepted_by_pair.get(&(product, location)).into_iter().flatten() {
            if self.voided_here.contains(id) {
                continue;
            }
            if let Some((m, _)) = self.movements.get(id) {
                entries.extend(m.level_entry());
            }
        }
        Ok(entries)
    }

    fn product_sku_and_reorder_point(&mut self, id: ProductId) -> Result<(String, i64)> {
        self.products.get(&id).cloned().ok_or_else(|| missing("product", id))
    }

    fn location_code(&mut self, id: LocationId) -> Result<String> {
        self.locations.get(&id).cloned().ok_or_else(|| missing("location", id))
    }

    fn open_alert(&mut self, kind: AlertKind, product: ProductId, location: LocationId) -> Result<bool> {
        Ok(self.open_alerts.contains(&(kind, (product, location))))
    }

    fn count_review_window_ms(&mut self) -> Result<i64> {
        match self.window {
            Some(window) => Ok(window),
            None => Ok(*self.window.insert(self.tx.count_review_window_ms()?)),
        }
    }
}
