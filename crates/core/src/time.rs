//! Points in time as milliseconds since the Unix epoch (UTC).
//!
//! Must not: read a clock. The caller (store, server) reads its clock and applies the offset it
//! measured against the server; this module only orders and compares.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Earliest accepted time: 2000-01-01T00:00:00Z. Anything earlier is a wrong clock.
    pub const MIN_VALID: Timestamp = Timestamp(946_684_800_000);
    /// Latest accepted time: 2200-01-01T00:00:00Z.
    pub const MAX_VALID: Timestamp = Timestamp(7_258_118_400_000);

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This time moved by `ms` milliseconds (saturating).
    pub fn plus_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Absolute distance between two times in milliseconds.
    pub fn distance_millis(self, other: Timestamp) -> u64 {
        self.0.abs_diff(other.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
