//! The catalog: products and locations, and the audit record of an edit.
//!
//! Must not: hold stock levels (those come from the ledger) or decide how edits merge between
//! devices (sync's job, by hybrid logical clock).

use crate::ids::{DeviceId, LocationId, ProductId, UserId};
use crate::policy::NegativeStockPolicy;
use crate::time::Timestamp;
use crate::validate::{self, ValidationError, MAX_SCALE};
use serde::{Deserialize, Serialize};

/// A product. Quantities of it are integers in its base unit; `unit_scale` decimal places.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Stable id, made on the device that created the product.
    pub id: ProductId,
    /// Stock keeping unit, unique in the catalog.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// EAN/UPC or any scanned code; unique when present.
    pub barcode: Option<String>,
    /// Unit name shown to users (`pcs`, `kg`, `m`).
    pub unit: String,
    /// Decimal places of the unit: quantities are stored as value × 10^scale.
    pub unit_scale: u32,
    /// Level at or below which the product is low (base units).
    pub reorder_point: i64,
    /// Quantity suggested for a reorder (base units).
    pub reorder_qty: i64,
    /// Unit cost in minor currency units.
    pub cost_minor: i64,
    /// Unit price in minor currency units.
    pub price_minor: i64,
    /// Archived products stay in the ledger but are hidden from pickers.
    pub archived: bool,
    /// Per-product override of the global negative-stock policy.
    pub negative_stock: Option<NegativeStockPolicy>,
}

impl Product {
    /// Checks every field; the error names the first field that is wrong.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::code("sku", &self.sku, 64)?;
        validate::text("name", &self.name, 1, 200)?;
        if let Some(barcode) = &self.barcode {
            validate::code("barcode", barcode, 64)?;
        }
        validate::text("unit", &self.unit, 1, 16)?;
        if self.unit_scale > MAX_SCALE {
            return Err(ValidationError::new("unit_scale", format!("must be 0 to {MAX_SCALE}")));
        }
        validate::non_negative_quantity("reorder_point", self.reorder_point)?;
        validate::non_negative_quantity("reorder_qty", self.reorder_qty)?;
        validate::money("cost", self.cost_minor)?;
        validate::money("price", self.price_minor)
    }
}

/// What a location physically is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// A warehouse or stock room.
    #[default]
    Warehouse,
    /// A shop floor.
    Store,
    /// A bin or shelf inside another location.
    Bin,
    /// A van or truck.
    Vehicle,
    /// Anything else.
    Other,
}

impl LocationKind {
    /// All kinds, for pickers and error messages.
    pub const ALL: [LocationKind; 5] =
        [LocationKind::Warehouse, LocationKind::Store, LocationKind::Bin, LocationKind::Vehicle, LocationKind::Other];

    /// Text form as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::Warehouse => "warehouse",
            LocationKind::Store => "store",
            LocationKind::Bin => "bin",
            LocationKind::Vehicle => "vehicle",
            LocationKind::Other => "other",
        }
    }

    /// Parses the text form (case-insensitive).
    pub fn parse(field: &str, text: &str) -> Result<Self, ValidationError> {
        let lower = text.trim().to_ascii_lowercase();
        LocationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| ValidationError::new(field, "must be one of warehouse, store, bin, vehicle, other"))
    }
}

/// A place where stock is kept.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Stable id, made on the device that created the location.
    pub id: LocationId,
    /// Short unique code (`WH1`, `SHOP-2`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// What kind of place it is.
    pub kind: LocationKind,
    /// Enclosing location (a bin inside a warehouse).
    pub parent_id: Option<LocationId>,
    /// Archived locations keep their history but take no new movements.
    pub archived: bool,
}

impl Location {
    /// Checks every field; the error names the first field that is wrong.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate::code("code", &self.code, 32)?;
        validate::text("name", &self.name, 1, 200)?;
        if self.parent_id == Some(self.id) {
            return Err(ValidationError::new("parent", "must not be the location itself"));
        }
        Ok(())
    }
}

/// One audited catalog edit: which field of which entity changed from what to what, by whom.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogChange {
    /// `product`, `location`, `policy`.
    pub entity: String,
    /// The edited row's id (text form).
    pub entity_id: String,
    /// The field's name (`created` for a new row).
    pub field: String,
    /// Value before the edit (`None` for a creation).
    pub old_value: Option<String>,
    /// Value after the edit.
    pub new_value: Option<String>,
    /// Who made the edit.
    pub user_id: UserId,
    /// On which device.
    pub device_id: DeviceId,
    /// When (device clock, corrected).
    pub changed_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NewRandom;

    fn product() -> Product {
        Product {
            id: ProductId::new_random(),
            sku: "SKU-1".into(),
            name: "Widget".into(),
            barcode: Some("4006381333931".into()),
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

    #[test]
    fn product_validation_names_the_field() {
        assert!(product().validate().is_ok());
        let mut p = product();
        p.sku = String::new();
        assert_eq!(p.validate().unwrap_err().field, "sku");
        let mut p = product();
        p.unit_scale = 9;
        assert_eq!(p.validate().unwrap_err().field, "unit_scale");
        let mut p = product();
        p.price_minor = -1;
        assert_eq!(p.validate().unwrap_err().field, "price");
        let mut p = product();
        p.reorder_point = -1;
        assert_eq!(p.validate().unwrap_err().field, "reorder_point");
    }

    #[test]
    fn location_kind_parses_and_location_cannot_contain_itself() {
        assert_eq!(LocationKind::parse("kind", "Vehicle").unwrap(), LocationKind::Vehicle);
        assert!(LocationKind::parse("kind", "boat").is_err());
        let id = LocationId::new_random();
        let loc = Location {
            id,
            code: "WH1".into(),
            name: "Main".into(),
            kind: LocationKind::Warehouse,
            parent_id: Some(id),
            archived: false,
        };
        assert_eq!(loc.validate().unwrap_err().field, "parent");
    }

    #[test]
    fn unknown_fields_are_rejected_on_the_wire() {
        let mut json = serde_json::to_value(product()).unwrap();
        json["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Product>(json).is_err());
    }
}
