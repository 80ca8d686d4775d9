//! The hybrid logical clock that orders catalog edits (DESIGN.md, "Catalog edits"): physical
//! time in milliseconds (the device clock corrected by the offset measured against the server)
//! plus a logical counter, so an edit made after seeing another always orders after it, even
//! when the clocks disagree.
//!
//! Must not: read a clock. Callers pass the physical time in; every function here is pure.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A hybrid logical clock reading: compared by `wall`, then `counter`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hlc {
    /// Milliseconds since the epoch: the greatest physical time seen.
    pub wall: i64,
    /// Events at the same `wall`, in order.
    pub counter: u32,
}

impl Hlc {
    /// Before every real reading (a value nobody stamped: rows made before stamps existed).
    pub const ZERO: Hlc = Hlc { wall: 0, counter: 0 };

    /// The reading for a local event at physical time `now`: later than `self` and than `now`.
    pub fn tick(self, now: Timestamp) -> Hlc {
        if now.millis() > self.wall {
            Hlc { wall: now.millis(), counter: 0 }
        } else {
            self.bump()
        }
    }

    /// The reading after receiving `remote` at physical time `now`: later than both clocks, so
    /// whatever this device does next orders after what it has seen.
    pub fn observe(self, remote: Hlc, now: Timestamp) -> Hlc {
        let wall = self.wall.max(remote.wall).max(now.millis());
        match (wall == self.wall, wall == remote.wall) {
            (true, true) => Hlc { wall, counter: self.counter.max(remote.counter) }.bump(),
            (true, false) => self.bump(),
            (false, true) => remote.bump(),
            (false, false) => Hlc { wall, counter: 0 },
        }
    }

    /// The next reading at the same wall time (moving the wall on by 1 ms if the counter is full).
    fn bump(self) -> Hlc {
        match self.counter.checked_add(1) {
            Some(counter) => Hlc { wall: self.wall, counter },
            None => Hlc { wall: self.wall.saturating_add(1), counter: 0 },
        }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.wall, self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hlc() -> impl Strategy<Value = Hlc> {
        (0i64..2_000, prop_oneof![0u32..4, Just(u32::MAX)]).prop_map(|(wall, counter)| Hlc { wall, counter })
    }

    #[test]
    fn a_clock_behind_the_physical_time_jumps_to_it() {
        assert_eq!(Hlc { wall: 5, counter: 3 }.tick(Timestamp(9)), Hlc { wall: 9, counter: 0 });
        assert_eq!(Hlc { wall: 9, counter: 3 }.tick(Timestamp(5)), Hlc { wall: 9, counter: 4 });
    }

    #[test]
    fn observing_a_clock_ahead_orders_after_it() {
        let seen = Hlc { wall: 100, counter: 7 };
        assert_eq!(Hlc { wall: 10, counter: 0 }.observe(seen, Timestamp(50)), Hlc { wall: 100, counter: 8 });
        assert_eq!(Hlc { wall: 100, counter: 9 }.observe(seen, Timestamp(50)), Hlc { wall: 100, counter: 10 });
        assert_eq!(Hlc { wall: 10, counter: 0 }.observe(seen, Timestamp(200)), Hlc { wall: 200, counter: 0 });
    }

    #[test]
    fn a_full_counter_moves_the_wall_on() {
        assert_eq!(Hlc { wall: 9, counter: u32::MAX }.tick(Timestamp(1)), Hlc { wall: 10, counter: 0 });
    }

    proptest! {
        /// Every local event orders after the previous reading and is not behind physical time.
        #[test]
        fn tick_is_monotonic(start in hlc(), times in prop::collection::vec(0i64..2_000, 1..40)) {
            let mut clock = start;
            for t in times {
                let next = clock.tick(Timestamp(t));
                prop_assert!(next > clock);
                prop_assert!(next.wall >= t);
                clock = next;
            }
        }

        /// Receiving a reading orders after both clocks.
        #[test]
        fn observe_orders_after_both(local in hlc(), remote in hlc(), now in 0i64..2_000) {
            let next = local.observe(remote, Timestamp(now));
            prop_assert!(next > local);
            prop_assert!(next > remote);
            prop_assert!(next.wall >= now);
        }

        /// Events and receipts interleaved: the clock never goes back.
        #[test]
        fn the_clock_never_goes_back(
            steps in prop::collection::vec((any::<bool>(), hlc(), 0i64..2_000), 1..60),
        ) {
            let mut clock = Hlc::ZERO;
            for (receive, remote, now) in steps {
                let next = if receive { clock.observe(remote, Timestamp(now)) } else { clock.tick(Timestamp(now)) };
                prop_assert!(next > clock);
                clock = next;
            }
        }
    }
}
