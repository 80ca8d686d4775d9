//! The level rule — the one function every replica uses to turn a set of movements into the
//! quantity on hand of one product × location (DESIGN.md, "Level rule").
//!
//! Take the latest `count` by (`occurred_at`, `id`); the level is its `counted_qty` plus the
//! deltas of every movement that occurred after it (all deltas if there is no count). Voided
//! movements are left out by the caller (`entries_of` does it for a slice of movements). Because
//! the answer depends only on the *set* of entries, every arrival order gives the same level.
//!
//! `Level::apply` / `Level::remove` maintain the same answer incrementally for a cached level and
//! say when they cannot (then the caller recomputes with `level_of`). Property tests prove both
//! paths agree for every arrival order.
//!
//! Must not: read or write storage, or decide policy (see `policy`).

use crate::ids::MovementId;
use crate::movement::{Movement, MovementKind};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The ordering key of the level rule: (`occurred_at`, `id`); ties break by id.
pub type OrderKey = (Timestamp, MovementId);

/// What one movement does to a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Adds a signed quantity.
    Delta(i64),
    /// Sets the absolute quantity found by a stocktake.
    Count(i64),
}

/// One movement as the level rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelEntry {
    /// The movement's id (the tie-breaker).
    pub id: MovementId,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// Its effect.
    pub effect: Effect,
}

impl LevelEntry {
    /// Builds an entry from stored columns: a count has `counted_qty`, every other kind with an
    /// effect has `delta`; a void has neither and yields `None`.
    pub fn from_parts(
        id: MovementId,
        occurred_at: Timestamp,
        delta: Option<i64>,
        counted_qty: Option<i64>,
    ) -> Option<Self> {
        let effect = match (counted_qty, delta) {
            (Some(counted), _) => Effect::Count(counted),
            (None, Some(d)) => Effect::Delta(d),
            (None, None) => return None,
        };
        Some(LevelEntry { id, occurred_at, effect })
    }

    /// The ordering key.
    pub fn key(&self) -> OrderKey {
        (self.occurred_at, self.id)
    }
}

/// The count that a level starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountAnchor {
    /// The count movement's id.
    pub id: MovementId,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// What was counted.
    pub counted: i64,
}

impl CountAnchor {
    /// The ordering key.
    pub fn key(&self) -> OrderKey {
        (self.occurred_at, self.id)
    }
}

/// A level and what it was computed from, enough to update it incrementally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Level {
    /// Quantity on hand in base units.
    pub on_hand: i64,
    /// The latest count, if any.
    pub anchor: Option<CountAnchor>,
    /// The greatest key of any entry applied (may be stale-high after a removal, never low).
    pub latest: Option<OrderKey>,
}

/// The level rule could not produce a number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// The sum left the range of an `i64`.
    #[error("the level overflowed while adding {delta} to {on_hand}")]
    Overflow {
        /// Level before.
        on_hand: i64,
        /// Delta that did not fit.
        delta: i64,
    },
}

/// What an incremental update did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The level changed (or stayed) and is right.
    Updated,
    /// The entry occurred before the latest count: the shelf already showed it. The level is
    /// unchanged; the count's variance changes.
    Absorbed,
    /// The cached state cannot answer: recompute with `level_of` over the ledger.
    NeedsRecompute,
}

/// The level rule over a set of entries (voided ones already left out).
pub fn level_of(entries: &[LevelEntry]) -> Result<Level, LevelError> {
    let anchor = entries
        .iter()
        .filter_map(|e| match e.effect {
            Effect::Count(counted) => Some(CountAnchor { id: e.id, occurred_at: e.occurred_at, counted }),
            Effect::Delta(_) => None,
        })
        .max_by_key(CountAnchor::key);
    let mut on_hand = anchor.map_or(0, |a| a.counted);
    for entry in entries {
        if let Effect::Delta(delta) = entry.effect {
            if anchor.is_none_or(|a| entry.key() > a.key()) {
                on_hand = on_hand.checked_add(delta).ok_or(LevelError::Overflow { on_hand, delta })?;
            }
        }
    }
    let latest = entries.iter().map(LevelEntry::key).max();
    Ok(Level { on_hand, anchor, latest })
}

/// The entries of one product × location's movements that count: voids and the movements they
/// cancel are left out. `movements` may hold other pairs' voids; only ids matter.
pub fn entries_of(movements: &[Movement]) -> Vec<LevelEntry> {
    let voided: HashSet<MovementId> =
        movements.iter().filter(|m| m.kind == MovementKind::Void).filter_map(|m| m.voided_id().ok()).collect();
    movements.iter().filter(|m| !voided.contains(&m.id)).filter_map(Movement::level_entry).collect()
}

/// A count's variance: what was counted minus what the ledger said just before the count.
/// Late movements that occurred before the count change this, not the level.
pub fn count_variance(entries: &[LevelEntry], count: &CountAnchor) -> Result<i64, LevelError> {
    let before: Vec<LevelEntry> = entries.iter().copied().filter(|e| e.key() < count.key()).collect();
    let expected = level_of(&before)?.on_hand;
    count.counted.checked_sub(expected).ok_or(LevelError::Overflow { on_hand: count.counted, delta: expected })
}

/// Whether a movement at `movement_at` lies so close to a count at `count_at` that the clocks
/// cannot tell which came first: such a movement raises a `count_review` alert.
pub fn needs_count_review(count_at: Timestamp, movement_at: Timestamp, window_millis: u64) -> bool {
    count_at.distance_millis(movement_at) <= window_millis
}

impl Level {
    /// Adds one entry that was not in the set before.
    pub fn apply(&mut self, entry: &LevelEntry) -> Result<Applied, LevelError> {
        let key = entry.key();
        if self.anchor.is_some_and(|a| key < a.key()) {
            self.bump_latest(key);
            return Ok(Applied::Absorbed);
        }
        match entry.effect {
            Effect::Delta(delta) => {
                self.on_hand =
                    self.on_hand.checked_add(delta).ok_or(LevelError::Overflow { on_hand: self.on_hand, delta })?;
            }
            Effect::Count(counted) => {
                if self.latest.is_some_and(|latest| latest > key) {
                    return Ok(Applied::NeedsRecompute);
                }
                self.on_hand = counted;
                self.anchor = Some(CountAnchor { id: entry.id, occurred_at: entry.occurred_at, counted });
            }
        }
        self.bump_latest(key);
        Ok(Applied::Updated)
    }

    /// Takes one entry out of the set (it was voided, or the server rejected it).
    pub fn remove(&mut self, entry: &LevelEntry) -> Result<Applied, LevelError> {
        if self.anchor.is_some_and(|a| a.id == entry.id) {
            return Ok(Applied::NeedsRecompute);
        }
        if self.anchor.is_some_and(|a| entry.key() < a.key()) {
            return Ok(Applied::Absorbed);
        }
        match entry.effect {
            Effect::Delta(delta) => {
                let negated = delta.checked_neg().ok_or(LevelError::Overflow { on_hand: self.on_hand, delta })?;
                self.on_hand = self
                    .on_hand
                    .checked_add(negated)
                    .ok_or(LevelError::Overflow { on_hand: self.on_hand, delta: negated })?;
                Ok(Applied::Updated)
            }
            // A count that is not the anchor and not before it cannot exist: recompute to be safe.
            Effect::Count(_) => Ok(Applied::NeedsRecompute),
        }
    }

    fn bump_latest(&mut self, key: OrderKey) {
        if self.latest.is_none_or(|latest| key > latest) {
            self.latest = Some(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn id(n: u128) -> MovementId {
        MovementId(Uuid::from_u128(n))
    }
    fn delta(n: u128, at: i64, d: i64) -> LevelEntry {
        LevelEntry { id: id(n), occurred_at: Timestamp(at), effect: Effect::Delta(d) }
    }
    fn count(n: u128, at: i64, c: i64) -> LevelEntry {
        LevelEntry { id: id(n), occurred_at: Timestamp(at), effect: Effect::Count(c) }
    }

    #[test]
    fn no_count_sums_every_delta() {
        assert_eq!(level_of(&[delta(1, 10, 5), delta(2, 20, -2)]).unwrap().on_hand, 3);
        assert_eq!(level_of(&[]).unwrap().on_hand, 0);
    }

    #[test]
    fn late_movement_before_count_is_absorbed_and_changes_variance() {
        let entries = [delta(1, 10, 10), count(2, 50, 7), delta(3, 60, -1)];
        let level = level_of(&entries).unwrap();
        assert_eq!(level.on_hand, 6);
        let anchor = level.anchor.unwrap();
        assert_eq!(count_variance(&entries, &anchor).unwrap(), -3);
        // A sale that occurred before the count arrives late: the level stays, the variance shows it.
        let mut with_late = entries.to_vec();
        with_late.push(delta(4, 40, -3));
        assert_eq!(level_of(&with_late).unwrap().on_hand, 6);
        assert_eq!(count_variance(&with_late, &anchor).unwrap(), 0);
        let mut cached = level;
        assert_eq!(cached.apply(&delta(4, 40, -3)).unwrap(), Applied::Absorbed);
        assert_eq!(cached.on_hand, 6);
    }

    #[test]
    fn ties_break_by_id() {
        // Same instant: the delta with the greater id counts after the count.
        let entries = [count(5, 100, 10), delta(4, 100, -1), delta(6, 100, -2)];
        assert_eq!(level_of(&entries).unwrap().on_hand, 8);
    }

    #[test]
    fn latest_count_wins_over_earlier_count() {
        let entries = [count(1, 10, 100), count(2, 20, 3), delta(3, 15, 50)];
        assert_eq!(level_of(&entries).unwrap().on_hand, 3);
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert!(level_of(&[delta(1, 1, i64::MAX), delta(2, 2, 1)]).is_err());
    }

    #[test]
    fn count_review_window() {
        assert!(needs_count_review(Timestamp(1000), Timestamp(1500), 500));
        assert!(!needs_count_review(Timestamp(1000), Timestamp(1501), 500));
    }

    fn arb_entries() -> impl Strategy<Value = Vec<LevelEntry>> {
        // Small time range so ties and near-ties are common; unique ids.
        prop::collection::vec((0i64..20, prop::bool::weighted(0.2), -50i64..50), 0..40).prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(i, (at, is_count, q))| {
                    let n = (i as u128 * 7919) % 1000 + i as u128 * 1000;
                    if is_count {
                        count(n, at, q.abs())
                    } else {
                        delta(n, at, if q == 0 { 1 } else { q })
                    }
                })
                .collect()
        })
    }

    /// Applies entries one by one as a cache would, falling back to the rule when told to.
    fn incremental(order: &[LevelEntry]) -> Level {
        let mut level = Level::default();
        let mut seen = Vec::new();
        for e in order {
            seen.push(*e);
            if level.apply(e).unwrap() == Applied::NeedsRecompute {
                level = level_of(&seen).unwrap();
            }
        }
        level
    }

    proptest! {
        #[test]
        fn every_arrival_order_gives_the_rules_level(entries in arb_entries(), seed in any::<u64>()) {
            let expected = level_of(&entries).unwrap();
            let mut shuffled = entries.clone();
            // Deterministic shuffle from the seed (Fisher–Yates with an LCG).
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(level_of(&shuffled).unwrap().on_hand, expected.on_hand);
            prop_assert_eq!(incremental(&shuffled).on_hand, expected.on_hand);
            prop_assert_eq!(incremental(&entries).on_hand, expected.on_hand);
        }

        #[test]
        fn removing_an_entry_matches_the_rule_without_it(entries in arb_entries(), pick in any::<prop::sample::Index>()) {
            prop_assume!(!entries.is_empty());
            let victim = entries[pick.index(entries.len())];
            let mut level = level_of(&entries).unwrap();
            let rest: Vec<LevelEntry> = entries.iter().copied().filter(|e| e.id != victim.id).collect();
            if level.remove(&victim).unwrap() == Applied::NeedsRecompute {
                level = level_of(&rest).unwrap();
            }
            prop_assert_eq!(level.on_hand, level_of(&rest).unwrap().on_hand);
        }
    }
}
