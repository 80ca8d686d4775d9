//! The movement: one immutable row of the ledger, and the rules of each kind.
//!
//! Must not: change a movement after it is made. A wrong movement is cancelled by a `void` that
//! references it; nothing is updated or deleted.

use crate::ids::{DeviceId, LocationId, MovementId, ProductId, TransferId, UserId};
use crate::level::LevelEntry;
use crate::time::Timestamp;
use crate::validate::{self, ValidationError, MAX_QUANTITY};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What a movement does to a level.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Goods arrived from a supplier (delta > 0).
    Receive,
    /// Goods left: a sale or consumption (delta < 0).
    Issue,
    /// A correction with a reason code (delta ≠ 0).
    Adjust,
    /// Goods left this location for another (delta < 0, `ref` = transfer id).
    TransferOut,
    /// Goods arrived from another location (delta > 0, `ref` = transfer id).
    TransferIn,
    /// A stocktake: the absolute quantity on the shelf (`counted_qty`).
    Count,
    /// Cancels the movement whose id is in `ref`.
    Void,
}

impl MovementKind {
    /// All kinds.
    pub const ALL: [MovementKind; 7] = [
        MovementKind::Receive,
        MovementKind::Issue,
        MovementKind::Adjust,
        MovementKind::TransferOut,
        MovementKind::TransferIn,
        MovementKind::Count,
        MovementKind::Void,
    ];

    /// Text form as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Receive => "receive",
            MovementKind::Issue => "issue",
            MovementKind::Adjust => "adjust",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
            MovementKind::Count => "count",
            MovementKind::Void => "void",
        }
    }
}

impl FromStr for MovementKind {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MovementKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            ValidationError::new("kind", "must be receive, issue, adjust, transfer_out, transfer_in, count or void")
        })
    }
}

/// Why a quantity changed. Required for `adjust`; optional context for the other kinds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// Broken or unsellable.
    Damaged,
    /// Missing, cause unknown.
    Lost,
    /// Stolen.
    Theft,
    /// Turned up again.
    Found,
    /// Past its date.
    Expired,
    /// A data-entry correction.
    Correction,
    /// A customer returned it.
    Returned,
    /// Used internally (samples, staff use).
    InternalUse,
    /// Stock on hand when the system was started.
    Opening,
    /// A sale.
    Sale,
    /// Anything else (explain in the note).
    Other,
}

impl ReasonCode {
    /// All codes.
    pub const ALL: [ReasonCode; 11] = [
        ReasonCode::Damaged,
        ReasonCode::Lost,
        ReasonCode::Theft,
        ReasonCode::Found,
        ReasonCode::Expired,
        ReasonCode::Correction,
        ReasonCode::Returned,
        ReasonCode::InternalUse,
        ReasonCode::Opening,
        ReasonCode::Sale,
        ReasonCode::Other,
    ];

    /// Text form as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Damaged => "damaged",
            ReasonCode::Lost => "lost",
            ReasonCode::Theft => "theft",
            ReasonCode::Found => "found",
            ReasonCode::Expired => "expired",
            ReasonCode::Correction => "correction",
            ReasonCode::Returned => "returned",
            ReasonCode::InternalUse => "internal_use",
            ReasonCode::Opening => "opening",
            ReasonCode::Sale => "sale",
            ReasonCode::Other => "other",
        }
    }
}

impl FromStr for ReasonCode {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReasonCode::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let all: Vec<&str> = ReasonCode::ALL.iter().map(|r| r.as_str()).collect();
            ValidationError::new("reason", format!("must be one of {}", all.join(", ")))
        })
    }
}

/// One immutable ledger row, exactly as DESIGN.md lists its fields.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Movement {
    /// UUIDv7 made on the recording device.
    pub id: MovementId,
    /// The device that recorded it.
    pub device_id: DeviceId,
    /// Gapless per-device sequence, assigned in the recording transaction.
    pub device_seq: i64,
    /// Who recorded it.
    pub user_id: UserId,
    /// What it does.
    pub kind: MovementKind,
    /// Which product.
    pub product_id: ProductId,
    /// At which location.
    pub location_id: LocationId,
    /// Signed change in base units (every kind but `count` and `void`).
    pub delta: Option<i64>,
    /// Absolute quantity found (`count` only).
    pub counted_qty: Option<i64>,
    /// Reason code (required for `adjust`).
    pub reason: Option<ReasonCode>,
    /// Free text.
    pub note: Option<String>,
    /// Order number, transfer id (transfers) or voided movement id (`void`).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The other end of a transfer: destination of `transfer_out`, source of `transfer_in`.
    pub peer_location_id: Option<LocationId>,
    /// When it happened (device clock corrected by the measured server offset).
    pub occurred_at: Timestamp,
    /// When the device wrote it.
    pub recorded_at: Timestamp,
    /// Global order on the server; `None` until the server accepted it.
    pub server_seq: Option<i64>,
    /// Level the recording device saw before.
    pub qty_before: i64,
    /// Level the recording device saw after.
    pub qty_after: i64,
}

impl Movement {
    /// Checks the fields and the rules of its kind. The error names the field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.device_seq < 1 {
            return Err(ValidationError::new("device_seq", "must be 1 or more"));
        }
        for (field, at) in [("occurred_at", self.occurred_at), ("recorded_at", self.recorded_at)] {
            if at < Timestamp::MIN_VALID || at > Timestamp::MAX_VALID {
                return Err(ValidationError::new(
                    field,
                    "must be between 2000-01-01 and 2200-01-01; check the device clock",
                ));
            }
        }
        if let Some(note) = &self.note {
            validate::free_text("note", note, 1000)?;
        }
        if let Some(reference) = &self.reference {
            validate::text("ref", reference, 1, 64)?;
        }
        self.validate_kind()
    }

    fn validate_kind(&self) -> Result<(), ValidationError> {
        use MovementKind::*;
        match self.kind {
            Count => {
                no_value("delta", self.delta, "must be empty for a count (use counted_qty)")?;
                let counted =
                    self.counted_qty.ok_or_else(|| ValidationError::new("counted_qty", "is required for a count"))?;
                validate::non_negative_quantity("counted_qty", counted)
            }
            Void => {
                no_value("delta", self.delta, "must be empty for a void")?;
                no_value("counted_qty", self.counted_qty, "must be empty for a void")?;
                self.voided_id().map(|_| ())
            }
            Receive | Issue | Adjust | TransferOut | TransferIn => {
                no_value("counted_qty", self.counted_qty, "is only for counts")?;
                let delta = self.delta.ok_or_else(|| ValidationError::new("delta", "is required"))?;
                check_delta_sign(self.kind, delta)?;
                if self.kind == Adjust && self.reason.is_none() {
                    return Err(ValidationError::new(
                        "reason",
                        "is required for an adjustment (damaged, lost, found, ...)",
                    ));
                }
                if matches!(self.kind, TransferOut | TransferIn) {
                    self.transfer_id()?;
                    let peer = self
                        .peer_location_id
                        .ok_or_else(|| ValidationError::new("peer_location_id", "is required for a transfer"))?;
                    if peer == self.location_id {
                        return Err(ValidationError::new("peer_location_id", "must differ from the location"));
                    }
                }
                Ok(())
            }
        }
    }

    /// The id this `void` cancels.
    pub fn voided_id(&self) -> Result<MovementId, ValidationError> {
        let text = self
            .reference
            .as_deref()
            .ok_or_else(|| ValidationError::new("ref", "must hold the id of the voided movement"))?;
        text.parse::<MovementId>().map_err(|_| ValidationError::new("ref", "must be the UUID of the voided movement"))
    }

    /// The transfer id of a `transfer_out` / `transfer_in`.
    pub fn transfer_id(&self) -> Result<TransferId, ValidationError> {
        let text = self.reference.as_deref().ok_or_else(|| ValidationError::new("ref", "must hold the transfer id"))?;
        text.parse::<TransferId>().map_err(|_| ValidationError::new("ref", "must be the transfer's UUID"))
    }

    /// This movement as the level rule sees it (`None` for a void, which has no effect of its own).
    pub fn level_entry(&self) -> Option<LevelEntry> {
        LevelEntry::from_parts(self.id, self.occurred_at, self.delta, self.counted_qty)
    }
}

fn no_value(field: &str, value: Option<i64>, rule: &str) -> Result<(), ValidationError> {
    match value {
        Some(_) => Err(ValidationError::new(field, rule)),
        None => Ok(()),
    }
}

fn check_delta_sign(kind: MovementKind, delta: i64) -> Result<(), ValidationError> {
    let magnitude = delta.checked_abs().unwrap_or(i64::MAX);
    if magnitude == 0 || magnitude > MAX_QUANTITY {
        return Err(ValidationError::new(
            "delta",
            format!("must be non-zero and at most {MAX_QUANTITY} in size (got {delta})"),
        ));
    }
    let ok = match kind {
        MovementKind::Receive | MovementKind::TransferIn => delta > 0,
        MovementKind::Issue | MovementKind::TransferOut => delta < 0,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        let want = if delta > 0 { "negative" } else { "positive" };
        Err(ValidationError::new("delta", format!("must be {want} for {}", kind.as_str())))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ids::NewRandom;

    pub(crate) fn movement(kind: MovementKind, delta: Option<i64>) -> Movement {
        Movement {
            id: MovementId::new_v7(),
            device_id: DeviceId::new_random(),
            device_seq: 1,
            user_id: UserId::new_random(),
            kind,
            product_id: ProductId::new_random(),
            location_id: LocationId::new_random(),
            delta,
            counted_qty: None,
            reason: None,
            note: None,
            reference: None,
            peer_location_id: None,
            occurred_at: Timestamp(1_700_000_000_000),
            recorded_at: Timestamp(1_700_000_000_000),
            server_seq: None,
            qty_before: 0,
            qty_after: delta.unwrap_or(0),
        }
    }

    #[test]
    fn delta_signs_per_kind() {
        assert!(movement(MovementKind::Receive, Some(5)).validate().is_ok());
        assert_eq!(movement(MovementKind::Receive, Some(-5)).validate().unwrap_err().field, "delta");
        assert_eq!(movement(MovementKind::Issue, Some(5)).validate().unwrap_err().field, "delta");
        assert_eq!(movement(MovementKind::Issue, Some(0)).validate().unwrap_err().field, "delta");
        assert_eq!(movement(MovementKind::Issue, Some(i64::MIN)).validate().unwrap_err().field, "delta");
        assert_eq!(movement(MovementKind::Adjust, Some(-2)).validate().unwrap_err().field, "reason");
    }

    #[test]
    fn count_and_void_shape() {
        let mut count = movement(MovementKind::Count, None);
        assert_eq!(count.validate().unwrap_err().field, "counted_qty");
        count.counted_qty = Some(3);
        assert!(count.validate().is_ok());
        let mut void = movement(MovementKind::Void, None);
        assert_eq!(void.validate().unwrap_err().field, "ref");
        void.reference = Some(MovementId::new_v7().to_string());
        assert!(void.validate().is_ok());
    }

    #[test]
    fn transfer_needs_id_and_other_location() {
        let mut out = movement(MovementKind::TransferOut, Some(-1));
        assert_eq!(out.validate().unwrap_err().field, "ref");
        out.reference = Some(TransferId::new_random().to_string());
        assert_eq!(out.validate().unwrap_err().field, "peer_location_id");
        out.peer_location_id = Some(out.location_id);
        assert_eq!(out.validate().unwrap_err().field, "peer_location_id");
        out.peer_location_id = Some(LocationId::new_random());
        assert!(out.validate().is_ok());
    }

    #[test]
    fn bad_clock_is_named() {
        let mut m = movement(MovementKind::Receive, Some(1));
        m.occurred_at = Timestamp(0);
        assert_eq!(m.validate().unwrap_err().field, "occurred_at");
    }

    #[test]
    fn kinds_round_trip_as_text() {
        for k in MovementKind::ALL {
            assert_eq!(k.as_str().parse::<MovementKind>().unwrap(), k);
        }
        for r in ReasonCode::ALL {
            assert_eq!(r.as_str().parse::<ReasonCode>().unwrap(), r);
        }
    }
}
