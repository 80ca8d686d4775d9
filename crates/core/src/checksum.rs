//! The ledger checksum: an order-independent digest of the set of movements of one
//! product × location, so a client and the server can tell in one comparison whether they hold
//! the same movements.
//!
//! Each movement hashes (BLAKE3) its immutable content in a canonical byte form; the digest is the
//! count and the wrapping sum of those 128-bit hashes. A sum (not XOR) means a movement counted
//! twice changes the digest instead of cancelling out. Fields that legitimately differ between
//! replicas (`device_id`/`device_seq` after a device registers anew, `server_seq`, `recorded_at`, `qty_before/after`)
//! are left out.
//!
//! Must not: depend on arrival order or on anything but the movement's content.

use crate::movement::Movement;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Digest version, mixed into every hash so a future change of the canonical form cannot
/// collide with this one.
const CANONICAL_VERSION: u8 = 1;

/// Order-independent digest of a set of movements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct LedgerDigest {
    /// How many movements.
    pub count: u64,
    /// Wrapping sum of their 128-bit hashes.
    pub sum: u128,
}

impl LedgerDigest {
    /// The digest of one movement.
    pub fn of(movement: &Movement) -> LedgerDigest {
        LedgerDigest { count: 1, sum: movement_hash(movement) }
    }

    /// Adds one movement.
    pub fn add(&mut self, movement: &Movement) {
        *self = self.combine(LedgerDigest::of(movement));
    }

    /// Takes one movement out (the server rejected it, so it is no longer in the set).
    pub fn remove(&mut self, movement: &Movement) {
        let one = LedgerDigest::of(movement);
        self.count = self.count.wrapping_sub(one.count);
        self.sum = self.sum.wrapping_sub(one.sum);
    }

    /// The digest of the union of two disjoint sets.
    pub fn combine(self, other: LedgerDigest) -> LedgerDigest {
        LedgerDigest { count: self.count.wrapping_add(other.count), sum: self.sum.wrapping_add(other.sum) }
    }

    /// The digest of a slice, in any order.
    pub fn of_all<'a>(movements: impl IntoIterator<Item = &'a Movement>) -> LedgerDigest {
        movements.into_iter().fold(LedgerDigest::default(), |acc, m| acc.combine(LedgerDigest::of(m)))
    }

    /// The 16 bytes of the sum (little-endian), as stored.
    pub fn sum_bytes(&self) -> [u8; 16] {
        self.sum.to_le_bytes()
    }

    /// Rebuilds a digest from stored parts.
    pub fn from_parts(count: u64, sum_bytes: [u8; 16]) -> LedgerDigest {
        LedgerDigest { count, sum: u128::from_le_bytes(sum_bytes) }
    }
}

impl fmt::Display for LedgerDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:032x}", self.count, self.sum)
    }
}

fn movement_hash(m: &Movement) -> u128 {
    let mut h = blake3::Hasher::new();
    h.update(&[CANONICAL_VERSION]);
    h.update(m.id.as_bytes());
    h.update(m.user_id.as_bytes());
    put_str(&mut h, m.kind.as_str());
    h.update(m.product_id.as_bytes());
    h.update(m.location_id.as_bytes());
    put_opt_i64(&mut h, m.delta);
    put_opt_i64(&mut h, m.counted_qty);
    put_opt_str(&mut h, m.reason.map(|r| r.as_str()));
    put_opt_str(&mut h, m.note.as_deref());
    put_opt_str(&mut h, m.reference.as_deref());
    match m.peer_location_id {
        Some(peer) => {
            h.update(&[1]);
            h.update(peer.as_bytes());
        }
        None => {
            h.update(&[0]);
        }
    }
    h.update(&m.occurred_at.millis().to_le_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    u128::from_le_bytes(out)
}

fn put_opt_i64(h: &mut blake3::Hasher, v: Option<i64>) {
    match v {
        Some(v) => {
            h.update(&[1]);
            h.update(&v.to_le_bytes());
        }
        None => {
            h.update(&[0]);
        }
    }
}

fn put_str(h: &mut blake3::Hasher, s: &str) {
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

fn put_opt_str(h: &mut blake3::Hasher, s: Option<&str>) {
    match s {
        Some(s) => {
            h.update(&[1]);
            put_str(h, s);
        }
        None => {
            h.update(&[0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::movement::tests::movement;
    use crate::movement::MovementKind;

    #[test]
    fn order_independent_and_sensitive_to_duplicates_and_content() {
        let a = movement(MovementKind::Receive, Some(5));
        let b = movement(MovementKind::Issue, Some(-2));
        assert_eq!(LedgerDigest::of_all([&a, &b]), LedgerDigest::of_all([&b, &a]));
        assert_ne!(LedgerDigest::of_all([&a, &a]), LedgerDigest::of_all([&a]));
        let mut changed = b.clone();
        changed.delta = Some(-3);
        assert_ne!(LedgerDigest::of_all([&a, &b]), LedgerDigest::of_all([&a, &changed]));
        // Replica-local fields do not change it.
        let mut resequenced = b.clone();
        resequenced.device_seq = 99;
        resequenced.device_id = crate::ids::DeviceId(uuid::Uuid::from_u128(9));
        resequenced.server_seq = Some(7);
        assert_eq!(LedgerDigest::of(&b), LedgerDigest::of(&resequenced));
        let mut both = LedgerDigest::of_all([&a, &b]);
        both.remove(&b);
        assert_eq!(both, LedgerDigest::of(&a));
    }

    #[test]
    fn stored_parts_round_trip() {
        let d = LedgerDigest::of(&movement(MovementKind::Receive, Some(1)));
        assert_eq!(LedgerDigest::from_parts(d.count, d.sum_bytes()), d);
    }
}
