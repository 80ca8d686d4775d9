//! How concurrent catalog edits merge (DESIGN.md, "Catalog edits"): per field, the last writer
//! wins by (hybrid logical clock, device id). Every replica — the server and each desktop —
//! merges with these functions, so they all keep the same value whatever order edits arrive in:
//! the merge of one field is commutative, associative and idempotent (property tests below).
//!
//! A product or location is a set of named fields in text form (`CatalogFields`); each field
//! carries the stamp of the edit that wrote it (`FieldStamp`). A field nobody stamped (a row
//! imported before stamps existed) has the lowest stamp.
//!
//! Must not: read or write storage, or decide who is told (callers turn `Lost` into notices).

use crate::catalog::{Location, LocationKind, Product};
use crate::hlc::Hlc;
use crate::ids::{DeviceId, LocationId, UserId};
use crate::policy::NegativeStockPolicy;
use crate::validate::ValidationError;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Who wrote a field, and when by the hybrid logical clock.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldStamp {
    /// The edit's clock reading.
    pub hlc: Hlc,
    /// The device that made the edit (the nil UUID for an edit made on the server itself).
    pub device_id: DeviceId,
    /// The user who made it.
    pub user_id: UserId,
}

impl FieldStamp {
    /// The stamp of a field nobody stamped: every real edit wins over it.
    pub const UNSTAMPED: FieldStamp =
        FieldStamp { hlc: Hlc::ZERO, device_id: DeviceId(Uuid::nil()), user_id: UserId(Uuid::nil()) };

    /// The order of the rule: HLC, then device id as the tie-break.
    pub fn key(&self) -> (Hlc, DeviceId) {
        (self.hlc, self.device_id)
    }

    /// Whether the stamp names a device (an edit made on the server names none).
    pub fn from_device(&self) -> bool {
        !self.device_id.0.is_nil()
    }
}

/// The stamps of one product's or location's fields, by field name.
pub type Stamps = BTreeMap<String, FieldStamp>;

/// One field's value in text form (`None`: empty) with its stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamped {
    /// The value.
    pub value: Option<String>,
    /// Who wrote it, when.
    pub stamp: FieldStamp,
}

/// The rule for one field: the greater (HLC, device id) wins. Two writes with the same key are
/// the same edit; should their values differ anyway, the greater value wins, so the merge is a
/// total order and stays commutative.
pub fn merge_field(a: &Stamped, b: &Stamped) -> Stamped {
    match a.stamp.key().cmp(&b.stamp.key()).then_with(|| a.value.cmp(&b.value)) {
        Ordering::Less => b.clone(),
        Ordering::Equal | Ordering::Greater => a.clone(),
    }
}

/// A value that lost to another in a merge: who lost, what they wrote, and what was kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    /// The field.
    pub field: String,
    /// The value that lost.
    pub lost: Stamped,
    /// The value kept.
    pub kept: Stamped,
}

/// A catalog row seen as named text fields (the names the audit uses).
pub trait CatalogFields: Clone {
    /// Every field in text form, in a fixed order.
    fn fields(&self) -> Vec<(&'static str, Option<String>)>;
    /// Sets one field from its text form; the error names the field.
    fn set_field(&mut self, field: &str, value: Option<String>) -> Result<(), ValidationError>;
}

/// Merges `incoming` (an edit or a pulled row, with its stamps) into `current`, field by field:
/// only the fields `incoming` stamps take part. Returns the merged row and stamps, and each
/// value that lost (from either side, so the caller can tell its author; an unstamped value has
/// no author and is not reported).
pub fn merge_entity<E: CatalogFields>(
    current: (&E, &Stamps),
    incoming: (&E, &Stamps),
) -> Result<(E, Stamps, Vec<Lost>), ValidationError> {
    let (mut merged, mut stamps) = (current.0.clone(), current.1.clone());
    let ours: BTreeMap<&str, Option<String>> = current.0.fields().into_iter().collect();
    let mut lost = Vec::new();
    for (field, value) in incoming.0.fields() {
        let Some(stamp) = incoming.1.get(field) else { continue };
        let theirs = Stamped { value, stamp: *stamp };
        let mine = Stamped {
            value: ours.get(field).cloned().flatten(),
            stamp: current.1.get(field).copied().unwrap_or(FieldStamp::UNSTAMPED),
        };
        let winner = merge_field(&mine, &theirs);
        let loser = if winner == theirs { mine } else { theirs };
        // A value nobody stamped has no author to tell: overwriting it is no loss to report.
        if winner.value != loser.value && loser.stamp != winner.stamp && loser.stamp != FieldStamp::UNSTAMPED {
            lost.push(Lost { field: field.to_string(), lost: loser, kept: winner.clone() });
        }
        merged.set_field(field, winner.value)?;
        stamps.insert(field.to_string(), winner.stamp);
    }
    Ok((merged, stamps, lost))
}

/// Stamps every field of a row with one stamp (a creation, or an edit of those fields).
pub fn stamp_fields<'f>(fields: impl IntoIterator<Item = &'f str>, stamp: FieldStamp) -> Stamps {
    fields.into_iter().map(|f| (f.to_string(), stamp)).collect()
}

/// The names of the fields that differ between two versions of a row.
pub fn changed_fields<E: CatalogFields>(old: &E, new: &E) -> Vec<&'static str> {
    new.fields().into_iter().zip(old.fields()).filter(|((_, a), (_, b))| a != b).map(|((name, _), _)| name).collect()
}

fn required(field: &str, value: Option<String>) -> Result<String, ValidationError> {
    value.ok_or_else(|| ValidationError::new(field, "must not be empty"))
}

fn number<T: std::str::FromStr>(field: &str, value: Option<String>) -> Result<T, ValidationError> {
    required(field, value)?.parse().map_err(|_| ValidationError::new(field, "must be a whole number"))
}

fn flag(field: &str, value: Option<String>) -> Result<bool, ValidationError> {
    required(field, value)?.parse().map_err(|_| ValidationError::new(field, "must be true or false"))
}

fn unknown(field: &str) -> ValidationError {
    ValidationError::new(field, "is not a catalog field")
}

impl CatalogFields for Product {
    fn fields(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("sku", Some(self.sku.clone())),
            ("name", Some(self.name.clone())),
            ("barcode", self.barcode.clone()),
            ("unit", Some(self.unit.clone())),
            ("unit_scale", Some(self.unit_scale.to_string())),
            ("reorder_point", Some(self.reorder_point.to_string())),
            ("reorder_qty", Some(self.reorder_qty.to_string())),
            ("cost", Some(self.cost_minor.to_string())),
            ("price", Some(self.price_minor.to_string())),
            ("archived", Some(self.archived.to_string())),
            ("negative_stock", self.negative_stock.map(|n| n.as_str().to_string())),
        ]
    }

    fn set_field(&mut self, field: &str, value: Option<String>) -> Result<(), ValidationError> {
        match field {
            "sku" => self.sku = required(field, value)?,
            "name" => self.name = required(field, value)?,
            "barcode" => self.barcode = value,
            "unit" => self.unit = required(field, value)?,
            "unit_scale" => self.unit_scale = number(field, value)?,
            "reorder_point" => self.reorder_point = number(field, value)?,
            "reorder_qty" => self.reorder_qty = number(field, value)?,
            "cost" => self.cost_minor = number(field, value)?,
            "price" => self.price_minor = number(field, value)?,
            "archived" => self.archived = flag(field, value)?,
            "negative_stock" => {
                self.negative_stock = match value {
                    None => None,
                    Some(text) => Some(
                        NegativeStockPolicy::parse(&text)
                            .ok_or_else(|| ValidationError::new(field, "must be forbid or allow"))?,
                    ),
                }
            }
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

impl CatalogFields for Location {
    fn fields(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("code", Some(self.code.clone())),
            ("name", Some(self.name.clone())),
            ("kind", Some(self.kind.as_str().to_string())),
            ("parent_id", self.parent_id.map(|p| p.to_string())),
            ("archived", Some(self.archived.to_string())),
        ]
    }

    fn set_field(&mut self, field: &str, value: Option<String>) -> Result<(), ValidationError> {
        match field {
            "code" => self.code = required(field, value)?,
            "name" => self.name = required(field, value)?,
            "kind" => self.kind = LocationKind::parse(field, &required(field, value)?)?,
            "parent_id" => self.parent_id = value.map(|v| v.parse::<LocationId>()).transpose()?,
            "archived" => self.archived = flag(field, value)?,
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{NewRandom, ProductId};
    use proptest::prelude::*;

    fn stamp(wall: i64, counter: u32, device: u128) -> FieldStamp {
        FieldStamp {
            hlc: Hlc { wall, counter },
            device_id: DeviceId(Uuid::from_u128(device)),
            user_id: UserId(Uuid::nil()),
        }
    }

    fn product() -> Product {
        Product {
            id: ProductId::new_random(),
            sku: "SKU-1".into(),
            name: "Widget".into(),
            barcode: None,
            unit: "pcs".into(),
            unit_scale: 0,
            reorder_point: 5,
            reorder_qty: 20,
            cost_minor: 150,
            price_minor: 299,
            archived: false,
            negative_stock: None,
        }
    }

    fn stamped() -> impl Strategy<Value = Stamped> {
        // Few distinct clocks and devices, so ties and equal keys happen often.
        (0i64..4, 0u32..3, 0u128..3, prop::option::of("[a-c]"))
            .prop_map(|(wall, counter, device, value)| Stamped { value, stamp: stamp(wall, counter, device) })
    }

    #[test]
    fn the_later_clock_wins_then_the_greater_device() {
        let early = Stamped { value: Some("a".into()), stamp: stamp(10, 0, 9) };
        let late = Stamped { value: Some("b".into()), stamp: stamp(10, 1, 1) };
        assert_eq!(merge_field(&early, &late), late);
        let tie = Stamped { value: Some("c".into()), stamp: stamp(10, 1, 2) };
        assert_eq!(merge_field(&late, &tie), tie);
    }

    #[test]
    fn edits_of_different_fields_are_both_kept() {
        let base = product();
        let none = Stamps::new();
        let mut price = base.clone();
        price.price_minor = 500;
        let mut name = base.clone();
        name.name = "Gadget".into();
        let (merged, stamps, lost) = merge_entity((&base, &none), (&price, &stamp_fields(["price"], stamp(5, 0, 1))))
            .and_then(|(m, s, _)| merge_entity((&m, &s), (&name, &stamp_fields(["name"], stamp(4, 0, 2)))))
            .unwrap();
        assert_eq!((merged.price_minor, merged.name.as_str()), (500, "Gadget"));
        assert_eq!(stamps.len(), 2);
        assert!(lost.is_empty());
    }

    #[test]
    fn the_losing_value_of_one_field_is_reported() {
        let base = product();
        let mut first = base.clone();
        first.price_minor = 100;
        let mut second = base.clone();
        second.price_minor = 200;
        let (merged, stamps, _) =
            merge_entity((&base, &Stamps::new()), (&second, &stamp_fields(["price"], stamp(9, 0, 2)))).unwrap();
        let (merged, _, lost) =
            merge_entity((&merged, &stamps), (&first, &stamp_fields(["price"], stamp(3, 0, 1)))).unwrap();
        assert_eq!(merged.price_minor, 200);
        assert_eq!(lost.len(), 1);
        assert_eq!((lost[0].field.as_str(), lost[0].lost.value.as_deref()), ("price", Some("100")));
        assert_eq!(lost[0].kept.value.as_deref(), Some("200"));
    }

    #[test]
    fn a_field_value_that_does_not_parse_names_the_field() {
        let mut p = product();
        assert_eq!(p.set_field("price", Some("cheap".into())).unwrap_err().field, "price");
        assert_eq!(p.set_field("colour", None).unwrap_err().field, "colour");
        let mut l = Location {
            id: crate::ids::LocationId::new_random(),
            code: "WH1".into(),
            name: "Main".into(),
            kind: LocationKind::Warehouse,
            parent_id: None,
            archived: false,
        };
        assert_eq!(l.set_field("kind", Some("boat".into())).unwrap_err().field, "kind");
        assert!(l.set_field("kind", Some("store".into())).is_ok());
    }

    #[test]
    fn every_field_round_trips_through_its_text_form() {
        let mut p = product();
        p.barcode = Some("123".into());
        p.negative_stock = Some(NegativeStockPolicy::Allow);
        let mut copy = product();
        for (field, value) in p.fields() {
            copy.set_field(field, value).unwrap();
        }
        assert_eq!(copy.fields(), p.fields());
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in stamped(), b in stamped()) {
            prop_assert_eq!(merge_field(&a, &b), merge_field(&b, &a));
        }

        #[test]
        fn merge_is_associative(a in stamped(), b in stamped(), c in stamped()) {
            prop_assert_eq!(merge_field(&merge_field(&a, &b), &c), merge_field(&a, &merge_field(&b, &c)));
        }

        #[test]
        fn merge_is_idempotent(a in stamped(), b in stamped()) {
            prop_assert_eq!(merge_field(&a, &a), a.clone());
            let once = merge_field(&a, &b);
            prop_assert_eq!(merge_field(&once, &b), once.clone());
        }

        /// Whole rows: any arrival order of a set of edits gives the same row and stamps.
        #[test]
        fn rows_converge_whatever_the_order(
            edits in prop::collection::vec((0usize..4, 0i64..5, 0u32..2, 0u128..3, 0i64..50), 1..8),
            seed in any::<u64>(),
        ) {
            let base = product();
            let names = ["price", "cost", "name", "reorder_point"];
            let rows: Vec<(Product, Stamps)> = edits.iter().map(|&(f, wall, counter, device, value)| {
                let mut p = base.clone();
                let text = if names[f] == "name" { format!("N{value}") } else { value.to_string() };
                p.set_field(names[f], Some(text)).unwrap();
                (p, stamp_fields([names[f]], stamp(wall, counter, device)))
            }).collect();
            let apply = |order: &[usize]| {
                let mut state = (base.clone(), Stamps::new());
                for &i in order {
                    let (p, s, _) = merge_entity((&state.0, &state.1), (&rows[i].0, &rows[i].1)).unwrap();
                    state = (p, s);
                }
                state
            };
            let forward: Vec<usize> = (0..rows.len()).collect();
            let mut shuffled = forward.clone();
            let mut x = seed;
            for i in (1..shuffled.len()).rev() {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (x >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(apply(&forward), apply(&shuffled));
        }
    }
}
