//! Alerts: conditions a person must look at (negative stock after a merge, low stock, a count
//! that a late movement makes doubtful, a movement the server rejected).
//!
//! Must not: decide how an alert is shown (native notification, inbox): that is the app's.

use crate::ids::{AlertId, LocationId, MovementId, ProductId, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What an alert is about.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A level is below zero (usually after two offline devices sold the same units).
    NegativeStock,
    /// A level is at or below the product's reorder point.
    LowStock,
    /// A movement occurred so close to a count that the order is uncertain.
    CountReview,
    /// The server rejected a movement; it is kept and can be fixed.
    RejectedMovement,
}

impl AlertKind {
    /// Text form as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NegativeStock => "negative_stock",
            AlertKind::LowStock => "low_stock",
            AlertKind::CountReview => "count_review",
            AlertKind::RejectedMovement => "rejected_movement",
        }
    }
}

impl FromStr for AlertKind {
    type Err = crate::ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [AlertKind::NegativeStock, AlertKind::LowStock, AlertKind::CountReview, AlertKind::RejectedMovement]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                crate::ValidationError::new(
                    "kind",
                    "must be negative_stock, low_stock, count_review or rejected_movement",
                )
            })
    }
}

/// One alert about one product × location.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id (made by whoever raised it).
    pub id: AlertId,
    /// What it is about.
    pub kind: AlertKind,
    /// Which product.
    pub product_id: ProductId,
    /// At which location.
    pub location_id: LocationId,
    /// The level (or variance) that raised it.
    pub quantity: i64,
    /// The movement that raised it, if one did.
    pub movement_id: Option<MovementId>,
    /// A sentence for people.
    pub message: String,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// Who acknowledged or resolved it.
    pub resolved_by: Option<UserId>,
    /// When.
    pub resolved_at: Option<Timestamp>,
}
