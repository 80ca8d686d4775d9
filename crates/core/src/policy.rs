//! The negative-stock policy: may a device record a movement that takes its own view of a level
//! below zero? Global (server config, `ALLOW_NEGATIVE_STOCK`) with a per-product override.
//!
//! Must not: apply to the server's merge. A movement that physically happened is never refused
//! there; a negative level after a merge is flagged instead (DESIGN.md, Conflicts).

use serde::{Deserialize, Serialize};

/// Whether a level may go below zero by a locally recorded movement.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NegativeStockPolicy {
    /// Refuse the movement (the default, like `ALLOW_NEGATIVE_STOCK=false`).
    #[default]
    Forbid,
    /// Record it; the level shows negative.
    Allow,
}

impl NegativeStockPolicy {
    /// The policy in force: the product's override if it has one, else the global one.
    pub fn effective(global: NegativeStockPolicy, product_override: Option<NegativeStockPolicy>) -> Self {
        product_override.unwrap_or(global)
    }

    /// Text form as stored and shown (`forbid`, `allow`).
    pub fn as_str(self) -> &'static str {
        match self {
            NegativeStockPolicy::Forbid => "forbid",
            NegativeStockPolicy::Allow => "allow",
        }
    }

    /// Parses `forbid` / `allow` (and `true`/`false` as `ALLOW_NEGATIVE_STOCK` spells it).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "forbid" | "false" | "0" | "no" => Some(NegativeStockPolicy::Forbid),
            "allow" | "true" | "1" | "yes" => Some(NegativeStockPolicy::Allow),
            _ => None,
        }
    }

    /// Whether a level of `after` is refused under this policy when it was `before`.
    /// Movements that do not lower the level (or keep it at or above zero) always pass, so a
    /// correction that brings a negative level closer to zero is never blocked.
    pub fn refuses(self, before: i64, after: i64) -> bool {
        self == NegativeStockPolicy::Forbid && after < 0 && after < before
    }
}

#[cfg(test)]
mod tests {
    use super::NegativeStockPolicy::*;
    use super::*;

    #[test]
    fn override_wins_and_forbid_blocks_only_going_lower_below_zero() {
        assert_eq!(NegativeStockPolicy::effective(Forbid, Some(Allow)), Allow);
        assert_eq!(NegativeStockPolicy::effective(Allow, None), Allow);
        assert!(Forbid.refuses(1, -1));
        assert!(!Forbid.refuses(1, 0));
        assert!(!Forbid.refuses(-5, -2), "a movement that raises a negative level is allowed");
        assert!(!Allow.refuses(1, -1));
        assert_eq!(NegativeStockPolicy::parse("TRUE"), Some(Allow));
        assert_eq!(NegativeStockPolicy::parse("maybe"), None);
    }
}
