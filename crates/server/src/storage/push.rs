//! The push, once for every backend (DESIGN.md, "Identity, ordering, exactly-once"). A backend
//! supplies its primitive reads and writes inside its push transaction (`PushTx`); this module
//! decides. Per movement, in request order: a replay returns its stored outcome; a different
//! movement under a used sequence number refuses the batch (restored database); a gap refuses
//! the batch; a movement the server already holds under another number returns its stored
//! outcome; anything else is accepted (level by the core rule, alerts raised) or rejected with a
//! reason (`rules`). Every outcome is stored in the same transaction as its movement.
//!
//! Within one batch, product and location facts are read once and the changed levels are written
//! once, in key order, at the end.
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
use std::collections::HashMap;

/// A backend's reads and writes inside its push transaction.
pub trait PushTx {
    /// The device's owner and last acknowledged sequence number (locking its row where the
    /// backend has concurrent writers).
    fn device(&mut self, id: DeviceId) -> Result<Option<(UserId, i64)>>;
    /// Records the device's new last acknowledged sequence number.
    fn set_device_last_seq(&mut self, id: DeviceId, seq: i64) -> Result<()>;
    /// The movement id and outcome stored under (device, seq).
    fn received_by_seq(&mut self, device: DeviceId, seq: i64) -> Result<Option<(MovementId, Outcome)>>;
    /// The outcome stored for a movement id, under any (device, seq).
    fn received_by_id(&mut self, id: MovementId) -> Result<Option<Outcome>>;
    /// Stores an outcome under (device, seq).
    fn insert_received(&mut self, device: DeviceId, seq: i64, id: MovementId, outcome: &Outcome) -> Result<()>;
    /// Makes this transaction the only writer of the feed until it ends and returns the last
    /// feed number handed out (called before the first new movement).
    fn lock_feed(&mut self) -> Result<i64>;
    /// Records the last feed number this transaction handed out (called once, at the end).
    fn set_feed_seq(&mut self, last: i64) -> Result<()>;
    /// A product's SKU and reorder point, if the catalog holds it.
    fn product(&mut self, id: ProductId) -> Result<Option<(String, i64)>>;
    /// A location's code, if the catalog holds it.
    fn location_code(&mut self, id: LocationId) -> Result<Option<String>>;
    /// A stored movement and the void that cancelled it.
    fn stored_movement(&mut self, id: MovementId) -> Result<Option<(Movement, Option<MovementId>)>>;
    /// The level-rule entries of a pair: stored movements that are neither voids nor voided.
    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>>;
    /// Whether an alert of this kind is open for the pair.
    fn open_alert(&mut self, kind: AlertKind, product: ProductId, location: LocationId) -> Result<bool>;
    /// The count-review window setting.
    fn count_review_window_ms(&mut self) -> Result<i64>;
    /// The cached level and checksum of a pair.
    fn level(&mut self, product: ProductId, location: LocationId) -> Result<Option<(Level, LedgerDigest)>>;
    /// Writes the cached level and checksum of a pair.
    fn save_level(
        &mut self,
        product: ProductId,
        location: LocationId,
        level: &Level,
        digest: &LedgerDigest,
    ) -> Result<()>;
    /// Stores an accepted movement (with its `server_seq`).
    fn insert_movement(&mut self, movement: &Movement) -> Result<()>;
    /// Marks `target` as cancelled by `void`.
    fn set_voided_by(&mut self, target: MovementId, void: MovementId) -> Result<()>;
    /// Stores an alert under a feed number.
    fn insert_alert(&mut self, alert: &Alert, feed_seq: i64) -> Result<()>;
}

/// Applies a push inside the backend's transaction.
pub fn push(
    tx: &mut dyn PushTx,
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
    let acknowledged = match tx.device(request.device_id)? {
        None => {
            return Err(StorageError::NotFound {
                what: "device",
                key: format!("{} (register it first)", request.device_id),
            })
        }
        Some((owner, _)) if owner != pusher.user_id => {
            return Err(StorageError::Forbidden(format!("device {} is registered to another user", request.device_id)))
        }
        Some((_, last)) => last,
    };
    let mut batch = Batch::new(tx);
    let mut last_seq = acknowledged;
    let mut outcomes = Vec::with_capacity(request.movements.len());
    for movement in &request.movements {
        if movement.device_id != request.device_id {
            return Err(ValidationError::new("device_id", "every movement must carry the pushing device's id").into());
        }
        // Only numbers the server has acknowledged can hold an outcome already.
        if movement.device_seq <= acknowledged {
            if let Some((stored_id, outcome)) = batch.tx.received_by_seq(request.device_id, movement.device_seq)? {
                if stored_id != movement.id {
                    return Err(StorageError::DeviceRestored { device_seq: movement.device_seq });
                }
                outcomes.push(MovementOutcome { id: movement.id, device_seq: movement.device_seq, outcome });
                continue;
            }
        }
        if movement.device_seq != last_seq + 1 {
            // The whole batch rolls back: the server holds what it held before this push.
            return Err(StorageError::SequenceGap { last_acknowledged: acknowledged });
        }
        batch.lock_feed()?;
        let outcome = match batch.tx.received_by_id(movement.id)? {
            Some(stored) => stored,
            None => batch.accept_or_reject(pusher, movement, now)?,
        };
        batch.tx.insert_received(request.device_id, movement.device_seq, movement.id, &outcome)?;
        last_seq = movement.device_seq;
        outcomes.push(MovementOutcome { id: movement.id, device_seq: movement.device_seq, outcome });
    }
    batch.finish()?;
    batch.tx.set_device_last_seq(request.device_id, last_seq)?;
    Ok(outcomes)
}

/// One push's caches over the backend.
struct Batch<'t> {
    tx: &'t mut dyn PushTx,
    /// The last feed number handed out, once the feed is locked.
    feed: Option<i64>,
    products: HashMap<ProductId, Option<(String, i64)>>,
    locations: HashMap<LocationId, Option<String>>,
    levels: HashMap<(ProductId, LocationId), (Level, LedgerDigest)>,
    window: Option<i64>,
}

impl<'t> Batch<'t> {
    fn new(tx: &'t mut dyn PushTx) -> Batch<'t> {
        Batch {
            tx,
            feed: None,
            products: HashMap::new(),
            locations: HashMap::new(),
            levels: HashMap::new(),
            window: None,
        }
    }

    fn lock_feed(&mut self) -> Result<()> {
        if self.feed.is_none() {
            self.feed = Some(self.tx.lock_feed()?);
        }
        Ok(())
    }

    /// The next feed number (the feed is locked by this transaction, so numbers are handed out
    /// in memory and written back once by `finish`).
    fn next_feed_seq(&mut self) -> Result<i64> {
        let last = match self.feed {
            Some(last) => last,
            None => self.tx.lock_feed()?,
        };
        self.feed = Some(last + 1);
        Ok(last + 1)
    }

    /// Writes the changed levels (in key order) and the feed counter.
    fn finish(&mut self) -> Result<()> {
        self.flush_levels()?;
        if let Some(last) = self.feed {
            self.tx.set_feed_seq(last)?;
        }
        Ok(())
    }

    fn level(&mut self, product: ProductId, location: LocationId) -> Result<(Level, LedgerDigest)> {
        if let Some(cached) = self.levels.get(&(product, location)) {
            return Ok(*cached);
        }
        Ok(self.tx.level(product, location)?.unwrap_or_default())
    }

    fn flush_levels(&mut self) -> Result<()> {
        let mut changed: Vec<_> = self.levels.drain().collect();
        changed.sort_unstable_by_key(|(key, _)| *key);
        for ((product, location), (level, digest)) in changed {
            self.tx.save_level(product, location, &level, &digest)?;
        }
        Ok(())
    }

    fn accept_or_reject(&mut self, pusher: &Pusher, m: &Movement, now: Timestamp) -> Result<Outcome> {
        if let Some(rejection) = rules::rejection(self, pusher, m)? {
            return Ok(rejection);
        }
        let server_seq = self.next_feed_seq()?;
        let stored = Movement { server_seq: Some(server_seq), ..m.clone() };
        let (before, mut digest) = self.level(m.product_id, m.location_id)?;
        let after = rules::level_after(self, before, m)?;
        self.tx.insert_movement(&stored)?;
        if m.kind == MovementKind::Void {
            self.tx.set_voided_by(m.voided_id()?, m.id)?;
        }
        digest.add(&stored);
        self.levels.insert((m.product_id, m.location_id), (after, digest));
        let alerts = rules::alerts_raised(self, m, &before, &after, now)?;
        for alert in &alerts {
            let seq = self.next_feed_seq()?;
            self.tx.insert_alert(alert, seq)?;
        }
        Ok(rules::accepted(server_seq, alerts))
    }

    fn product(&mut self, id: ProductId) -> Result<Option<(String, i64)>> {
        if let Some(cached) = self.products.get(&id) {
            return Ok(cached.clone());
        }
        let found = self.tx.product(id)?;
        self.products.insert(id, found.clone());
        Ok(found)
    }

    fn location(&mut self, id: LocationId) -> Result<Option<String>> {
        if let Some(cached) = self.locations.get(&id) {
            return Ok(cached.clone());
        }
        let found = self.tx.location_code(id)?;
        self.locations.insert(id, found.clone());
        Ok(found)
    }
}

fn missing(what: &'static str, key: impl ToString) -> StorageError {
    StorageError::NotFound { what, key: key.to_string() }
}

impl PushFacts for Batch<'_> {
    fn product_exists(&mut self, id: ProductId) -> Result<bool> {
        Ok(self.product(id)?.is_some())
    }

    fn location_exists(&mut self, id: LocationId) -> Result<bool> {
        Ok(self.location(id)?.is_some())
    }

    fn stored_movement(&mut self, id: MovementId) -> Result<Option<(Movement, Option<MovementId>)>> {
        self.tx.stored_movement(id)
    }

    fn pair_entries(&mut self, product: ProductId, location: LocationId) -> Result<Vec<LevelEntry>> {
        self.tx.pair_entries(product, location)
    }

    fn product_sku_and_reorder_point(&mut self, id: ProductId) -> Result<(String, i64)> {
        self.product(id)?.ok_or_else(|| missing("product", id))
    }

    fn location_code(&mut self, id: LocationId) -> Result<String> {
        self.location(id)?.ok_or_else(|| missing("location", id))
    }

    fn open_alert(&mut self, kind: AlertKind, product: ProductId, location: LocationId) -> Result<bool> {
        self.tx.open_alert(kind, product, location)
    }

    fn count_review_window_ms(&mut self) -> Result<i64> {
        match self.window {
            Some(window) => Ok(window),
            None => Ok(*self.window.insert(self.tx.count_review_window_ms()?)),
        }
    }
}
