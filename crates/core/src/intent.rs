//! What a user asks to record, before it becomes movements. The store turns an intent into one
//! or two movements (a one-step transfer is a `transfer_out` and a `transfer_in`) after checking
//! it against the local ledger and the negative-stock policy.
//!
//! Must not: assign ids, sequence numbers or times; the store does, in its transaction.

use crate::ids::{LocationId, MovementId, ProductId, TransferId};
use crate::movement::ReasonCode;
use crate::validate::{self, ValidationError, MAX_QUANTITY};
use serde::{Deserialize, Serialize};

/// A request to record stock movement(s). Quantities are positive base units; the kind gives
/// the sign.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MovementIntent {
    /// Goods arrived from a supplier.
    Receive {
        /// Product.
        product_id: ProductId,
        /// Where they arrived.
        location_id: LocationId,
        /// How many (positive).
        quantity: i64,
        /// Purchase order or delivery note.
        reference: Option<String>,
        /// Free text.
        note: Option<String>,
    },
    /// Goods left: a sale or consumption.
    Issue {
        /// Product.
        product_id: ProductId,
        /// From where.
        location_id: LocationId,
        /// How many (positive).
        quantity: i64,
        /// `sale` (default), `internal_use`, ...
        reason: Option<ReasonCode>,
        /// Order or receipt number.
        reference: Option<String>,
        /// Free text.
        note: Option<String>,
    },
    /// A correction up or down with a reason.
    Adjust {
        /// Product.
        product_id: ProductId,
        /// Where.
        location_id: LocationId,
        /// Signed change (not zero).
        delta: i64,
        /// Why (damaged, lost, found, ...).
        reason: ReasonCode,
        /// Free text.
        note: Option<String>,
    },
    /// A transfer done in one step: out of `from` and into `to` at once.
    Transfer {
        /// Product.
        product_id: ProductId,
        /// Source.
        from: LocationId,
        /// Destination.
        to: LocationId,
        /// How many (positive).
        quantity: i64,
        /// Free text.
        note: Option<String>,
    },
    /// The first step of a two-step transfer: the goods leave `from` and are in transit.
    Dispatch {
        /// Product.
        product_id: ProductId,
        /// Source.
        from: LocationId,
        /// Destination.
        to: LocationId,
        /// How many (positive).
        quantity: i64,
        /// Free text.
        note: Option<String>,
    },
    /// The second step: the dispatched goods arrive. `quantity` defaults to what was sent; less
    /// records a shortfall.
    ReceiveTransfer {
        /// The dispatch's transfer id.
        transfer_id: TransferId,
        /// How many arrived (defaults to all).
        quantity: Option<i64>,
        /// Free text.
        note: Option<String>,
    },
    /// A stocktake: the absolute quantity on the shelf.
    Count {
        /// Product.
        product_id: ProductId,
        /// Where.
        location_id: LocationId,
        /// What was counted (zero or more).
        counted_qty: i64,
        /// Free text.
        note: Option<String>,
    },
    /// Cancels a movement recorded by mistake.
    Void {
        /// The movement to cancel.
        movement_id: MovementId,
        /// Why (required: a void is an audit event).
        note: String,
    },
}

impl MovementIntent {
    /// Checks quantities, texts and shapes; the error names the field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            MovementIntent::Receive { quantity, reference, note, .. } => {
                validate::positive_quantity("quantity", *quantity)?;
                optional_text("reference", reference.as_deref(), 64)?;
                optional_note(note.as_deref())
            }
            MovementIntent::Issue { quantity, reference, note, .. } => {
                validate::positive_quantity("quantity", *quantity)?;
                optional_text("reference", reference.as_deref(), 64)?;
                optional_note(note.as_deref())
            }
            MovementIntent::Adjust { delta, note, .. } => {
                if *delta == 0 || delta.unsigned_abs() > MAX_QUANTITY as u64 {
                    return Err(ValidationError::new(
                        "delta",
                        format!("must be a non-zero change of at most {MAX_QUANTITY} either way (got {delta})"),
                    ));
                }
                optional_note(note.as_deref())
            }
            MovementIntent::Transfer { from, to, quantity, note, .. }
            | MovementIntent::Dispatch { from, to, quantity, note, .. } => {
                validate::positive_quantity("quantity", *quantity)?;
                if from == to {
                    return Err(ValidationError::new("to", "must be a different location than from"));
                }
                optional_note(note.as_deref())
            }
            MovementIntent::ReceiveTransfer { quantity, note, .. } => {
                if let Some(q) = quantity {
                    validate::positive_quantity("quantity", *q)?;
                }
                optional_note(note.as_deref())
            }
            MovementIntent::Count { counted_qty, note, .. } => {
                validate::non_negative_quantity("counted_qty", *counted_qty)?;
                optional_note(note.as_deref())
            }
            MovementIntent::Void { note, .. } => validate::text("note", note.trim(), 1, 1000).map_err(|_| {
                ValidationError::new("note", "must say why the movement is voided (1 to 1000 characters)")
            }),
        }
    }
}

fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<(), ValidationError> {
    value.map_or(Ok(()), |v| validate::text(field, v, 1, max))
}

fn optional_note(value: Option<&str>) -> Result<(), ValidationError> {
    value.map_or(Ok(()), |v| validate::free_text("note", v, 1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NewRandom;

    #[test]
    fn quantities_and_shapes() {
        let p = ProductId::new_random();
        let l = LocationId::new_random();
        let receive =
            |quantity| MovementIntent::Receive { product_id: p, location_id: l, quantity, reference: None, note: None };
        assert!(receive(1).validate().is_ok());
        assert_eq!(receive(0).validate().unwrap_err().field, "quantity");
        assert_eq!(receive(-4).validate().unwrap_err().field, "quantity");
        assert_eq!(receive(i64::MAX).validate().unwrap_err().field, "quantity");
        let same = MovementIntent::Transfer { product_id: p, from: l, to: l, quantity: 1, note: None };
        assert_eq!(same.validate().unwrap_err().field, "to");
        let void = MovementIntent::Void { movement_id: MovementId::new_v7(), note: "  ".into() };
        assert_eq!(void.validate().unwrap_err().field, "note");
        let adjust = MovementIntent::Adjust {
            product_id: p,
            location_id: l,
            delta: i64::MIN,
            reason: ReasonCode::Lost,
            note: None,
        };
        assert_eq!(adjust.validate().unwrap_err().field, "delta");
    }

    #[test]
    fn wire_form_is_tagged_and_strict() {
        let json = r#"{"kind":"count","product_id":"0190c1f2-7a3b-7c4d-8e5f-0123456789ab","location_id":"0190c1f2-7a3b-7c4d-8e5f-0123456789ac","counted_qty":4,"note":null}"#;
        let intent: MovementIntent = serde_json::from_str(json).unwrap();
        assert!(matches!(intent, MovementIntent::Count { counted_qty: 4, .. }));
        let extra = json.replace("\"note\":null", "\"note\":null,\"x\":1");
        assert!(serde_json::from_str::<MovementIntent>(&extra).is_err());
    }
}
