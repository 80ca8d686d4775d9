//! The shapes that cross the IPC besides the store's and the core's own types. TypeScript
//! declarations for all of them are generated into `ui/src/lib/bindings/` (see
//! `tests/ipc_bindings.rs` in this package and `make bindings`).
//!
//! Must not: compute anything; these are plain data.

use crate::secrets::SecretStore;
use serde::{Deserialize, Serialize};
use smartstock_core::{
    Alert, DeviceId, Location, LocationId, LocationKind, NegativeStockPolicy, Permission, Product, ProductId, Role,
    UserId,
};
use smartstock_store::queries::StockRow;
use ts_rs::TS;

/// Who is signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct SessionInfo {
    /// Server URL (`None` in offline-only mode).
    pub server_url: Option<String>,
    /// Login name (`local` in offline-only mode).
    pub username: String,
    /// User id.
    pub user_id: UserId,
    /// Role.
    pub role: Role,
    /// What the role allows.
    pub permissions: Vec<Permission>,
    /// The server refuses everything but a password change until this is done.
    pub must_change_password: bool,
    /// Working without a server.
    pub offline_only: bool,
}

/// What the app shows at start: whether to ask for sign-in, and the sync indicator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct AppStatus {
    /// The session, or `None` on first run or after sign-out.
    pub session: Option<SessionInfo>,
    /// The server URL to propose on the sign-in screen (last used or the fleet preset).
    pub suggested_server_url: Option<String>,
    /// The last user name, for the sign-in screen.
    pub suggested_username: Option<String>,
    /// Where the refresh token is kept.
    pub secret_store: SecretStore,
    /// This desktop's id.
    pub device_id: DeviceId,
    /// App version.
    pub version: String,
    /// The sync indicator.
    pub sync: SyncView,
}

/// The always-visible sync indicator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct SyncView {
    /// `local_only`, `idle`, `syncing`, `online`, `offline`, `signed_out` or `error`.
    pub state: String,
    /// Why (offline, signed out, error).
    pub reason: Option<String>,
    /// Movements and catalog edits waiting for the server.
    pub pending: u64,
    /// Movements the server refused (kept, shown in the inbox).
    pub rejected: u64,
    /// When a sync last succeeded (ms since the epoch).
    pub last_success_ms: Option<i64>,
    /// The pull cursor.
    pub cursor: i64,
}

/// One page of the stock table, with the total for the virtual scroll bar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct StockPage {
    /// The rows asked for.
    pub rows: Vec<StockRow>,
    /// Rows matching the query in all; when `total_exact` is false, at least this many (a search
    /// counts up to a bound past the page).
    pub total: u64,
    /// Whether `total` is the whole count.
    pub total_exact: bool,
}

/// A product with its levels per location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ProductDetail {
    /// The product.
    pub product: Product,
    /// One row per location holding (or having held) it.
    pub levels: Vec<StockRow>,
}

/// What a stocktake count would change, shown before confirming.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct CountPreview {
    /// On hand now (this device's view).
    pub on_hand: i64,
    /// Counted.
    pub counted: i64,
    /// Counted minus on hand.
    pub variance: i64,
}

/// An alert with the names the inbox shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct AlertView {
    /// The alert.
    pub alert: Alert,
    /// Product SKU.
    pub sku: String,
    /// Product name.
    pub product_name: String,
    /// Location code.
    pub location_code: String,
    /// Decimal places of the product's unit (to show `alert.quantity`).
    pub unit_scale: u32,
}

/// The catalog the record form offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct Catalog {
    /// Locations, by code.
    pub locations: Vec<Location>,
}

/// Which CSV an import or export is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CsvKind {
    /// Products.
    Products,
    /// Locations.
    Locations,
    /// Opening stock (receipts).
    OpeningStock,
    /// The stock table (export only).
    Stock,
    /// The movement ledger (export only).
    Movements,
}

/// Progress of an import, sent as the `import-progress` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct ImportProgressEvent {
    /// Data rows read so far.
    pub rows_done: u64,
}

/// A movement recorded: what the form shows after saving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, TS)]
pub struct RecordedView {
    /// The movements written (two for a one-step transfer).
    pub movements: Vec<smartstock_core::Movement>,
}

/// The user's changeable preferences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Preferences {
    /// Raise OS notifications for low stock too.
    pub notify_low_stock: bool,
    /// This desktop's name on the server.
    pub device_name: String,
}

/// A new product as the form sends it; the desktop gives it its id (made here, so the product
/// exists offline and syncs under that id).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, TS)]
pub struct NewProduct {
    /// Stock keeping unit, unique in the catalog.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// EAN/UPC or any scanned code; unique when present.
    pub barcode: Option<String>,
    /// Unit name (`pcs`, `kg`).
    pub unit: String,
    /// Decimal places of the unit (quantities are stored as value × 10^scale).
    pub unit_scale: u32,
    /// Level at or below which the product is low (base units).
    pub reorder_point: i64,
    /// Quantity suggested for a reorder (base units).
    pub reorder_qty: i64,
    /// Unit cost in minor currency units.
    pub cost_minor: i64,
    /// Unit price in minor currency units.
    pub price_minor: i64,
    /// Per-product override of the negative-stock policy (`None`: the company's).
    pub negative_stock: Option<NegativeStockPolicy>,
}

impl NewProduct {
    /// The product with this id (not archived).
    pub fn with_id(self, id: ProductId) -> Product {
        Product {
            id,
            sku: self.sku,
            name: self.name,
            barcode: self.barcode,
            unit: self.unit,
            unit_scale: self.unit_scale,
            reorder_point: self.reorder_point,
            reorder_qty: self.reorder_qty,
            cost_minor: self.cost_minor,
            price_minor: self.price_minor,
            archived: false,
            negative_stock: self.negative_stock,
        }
    }
}

/// A new location as the form sends it; the desktop gives it its id.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, TS)]
pub struct NewLocation {
    /// Short unique code (`WH1`, `SHOP-2`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// What kind of place it is.
    pub kind: LocationKind,
    /// Enclosing location (a bin inside a warehouse).
    pub parent_id: Option<LocationId>,
}

impl NewLocation {
    /// The location with this id (not archived).
    pub fn with_id(self, id: LocationId) -> Location {
        Location { id, code: self.code, name: self.name, kind: self.kind, parent_id: self.parent_id, archived: false }
    }
}
