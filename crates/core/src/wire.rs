//! Versioned wire types of the sync protocol (DESIGN.md, "Sync"). Every request and response
//! carries `v`; a peer refuses a version it does not speak instead of guessing.
//!
//! Must not: hold transport detail (URLs, headers, retries): that is the sync client's and the
//! server's.

use crate::alert::Alert;
use crate::catalog::{Location, Product};
use crate::hlc::Hlc;
use crate::ids::{DeviceId, MovementId};
use crate::merge::Stamps;
use crate::movement::Movement;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The protocol version this build speaks.
pub const WIRE_VERSION: u32 = 1;

/// `POST /api/v1/sync/push`: a device's outbox, in `device_seq` order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// Protocol version.
    pub v: u32,
    /// The pushing device.
    pub device_id: DeviceId,
    /// Movements in ascending `device_seq`, no gaps.
    pub movements: Vec<Movement>,
}

/// What the server did with one pushed movement.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored at `server_seq`.
    Accepted {
        /// Global position.
        server_seq: i64,
    },
    /// Stored, and it raised an alert (e.g. negative stock after a merge).
    AcceptedFlagged {
        /// Global position.
        server_seq: i64,
        /// The alert raised.
        alert: Alert,
    },
    /// Not stored; the reason is for the user, who can fix and re-record.
    Rejected {
        /// Stable code the UI branches on.
        code: String,
        /// A sentence naming the problem and the fix.
        message: String,
    },
}

/// One movement's outcome in a push response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementOutcome {
    /// The movement.
    pub id: MovementId,
    /// Its device sequence number.
    pub device_seq: i64,
    /// What happened.
    pub outcome: Outcome,
}

/// The answer to a push.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Protocol version.
    pub v: u32,
    /// One outcome per movement, in request order.
    pub outcomes: Vec<MovementOutcome>,
}

/// `GET /api/v1/sync/pull`: one page of what other devices did, in `server_seq` order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullPage {
    /// Protocol version.
    pub v: u32,
    /// Movements with `server_seq` set.
    pub movements: Vec<Movement>,
    /// Products created or changed.
    pub products: Vec<Product>,
    /// Locations created or changed.
    pub locations: Vec<Location>,
    /// Alerts raised or resolved.
    pub alerts: Vec<Alert>,
    /// The field stamps of the products and locations on this page that have any (the per-field
    /// merge needs them: `merge::merge_entity`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stamps: Vec<EntityStamps>,
    /// Notices for the pulling device: its catalog edits that lost, its products merged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<CatalogNotice>,
    /// The cursor to pull after next time.
    pub next_after: i64,
    /// Whether more pages wait.
    pub has_more: bool,
}

/// Which catalog table a row belongs to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogEntity {
    /// A product (unique SKU).
    Product,
    /// A location (unique code).
    Location,
}

impl CatalogEntity {
    /// Text form as stored and audited.
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogEntity::Product => "product",
            CatalogEntity::Location => "location",
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Option<CatalogEntity> {
        [CatalogEntity::Product, CatalogEntity::Location].into_iter().find(|e| e.as_str() == text)
    }
}

/// A product or a location as a catalog edit carries it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "entity", content = "row", rename_all = "snake_case", deny_unknown_fields)]
pub enum CatalogRow {
    /// A product.
    Product(Product),
    /// A location.
    Location(Location),
}

impl CatalogRow {
    /// Its table.
    pub fn entity(&self) -> CatalogEntity {
        match self {
            CatalogRow::Product(_) => CatalogEntity::Product,
            CatalogRow::Location(_) => CatalogEntity::Location,
        }
    }

    /// Its id.
    pub fn id(&self) -> Uuid {
        match self {
            CatalogRow::Product(p) => p.id.0,
            CatalogRow::Location(l) => l.id.0,
        }
    }

    /// Its unique code: the SKU of a product, the code of a location.
    pub fn code(&self) -> &str {
        match self {
            CatalogRow::Product(p) => &p.sku,
            CatalogRow::Location(l) => &l.code,
        }
    }
}

/// One catalog edit made on a device: the row as the device saved it, the fields the edit
/// changed (every field for a creation) and the edit's hybrid logical clock reading.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEdit {
    /// The device's catalog edit number: gapless from 1, its own sequence (not `device_seq`).
    pub seq: i64,
    /// When, by the device's hybrid logical clock.
    pub hlc: Hlc,
    /// Whether the edit created the row.
    pub created: bool,
    /// The fields it changed (names as in `merge::CatalogFields`).
    pub fields: Vec<String>,
    /// The row after the edit.
    pub row: CatalogRow,
}

/// `POST /api/v1/sync/catalog`: a device's queued catalog edits, in `seq` order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogPushRequest {
    /// Protocol version.
    pub v: u32,
    /// The pushing device.
    pub device_id: DeviceId,
    /// Edits in ascending `seq`, no gaps.
    pub edits: Vec<CatalogEdit>,
}

/// What the server did with one catalog edit.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum CatalogStatus {
    /// Merged field by field; `lost` names the fields where a later edit was kept instead.
    Merged {
        /// Fields of this edit that lost.
        lost: Vec<String>,
    },
    /// A creation of a SKU (or location code) the catalog already held under another id: the
    /// row was recorded as an alias of `canonical_id`, and movements of the alias count toward
    /// it. The edit's fields merged into the kept row like any edit.
    Aliased {
        /// The row kept.
        canonical_id: Uuid,
        /// The code the alias row keeps locally (its SKU or code with the alias id's prefix), so
        /// the kept row can take the code.
        alias_code: String,
    },
    /// Not applied; the reason is for the user.
    Rejected {
        /// Stable code the UI branches on.
        code: String,
        /// A sentence naming the problem and the fix.
        message: String,
    },
}

/// One edit's outcome: the status, and the row as the server now holds it (with its stamps),
/// which the device merges by the per-field rule.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogOutcome {
    /// The edit's `seq`.
    pub seq: i64,
    /// What happened.
    pub status: CatalogStatus,
    /// The row the edit reached (the kept one for an alias), as the server holds it now.
    pub row: Option<CatalogRow>,
    /// Its field stamps.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub stamps: Stamps,
}

/// The answer to a catalog push.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogPushResponse {
    /// Protocol version.
    pub v: u32,
    /// One outcome per edit, in request order.
    pub outcomes: Vec<CatalogOutcome>,
}

/// The field stamps of one pulled product or location.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityStamps {
    /// Its table.
    pub entity: CatalogEntity,
    /// Its id.
    pub id: Uuid,
    /// Stamp per field name.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub stamps: Stamps,
}

/// What a notice tells a device.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// An edit of this device lost to a later one.
    EditLost,
    /// A row this device created was merged into one of the same code (or one of the same code
    /// was merged into the row this device created).
    Merged,
    /// The server refused an edit of this device (the message says why and what to do).
    Rejected,
}

impl NoticeKind {
    /// Text form as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::EditLost => "edit_lost",
            NoticeKind::Merged => "merged",
            NoticeKind::Rejected => "rejected",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<NoticeKind> {
        [NoticeKind::EditLost, NoticeKind::Merged, NoticeKind::Rejected].into_iter().find(|k| k.as_str() == text)
    }
}

/// A per-device notice about the catalog merge, pulled by the device it is for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogNotice {
    /// Stable id (a re-pulled notice is stored once).
    pub id: Uuid,
    /// What happened.
    pub kind: NoticeKind,
    /// The table.
    pub entity: CatalogEntity,
    /// The row (the kept one).
    pub entity_id: Uuid,
    /// Its SKU or code.
    pub code: String,
    /// The field (`created` for a merge).
    pub field: String,
    /// The value that lost.
    pub lost_value: Option<String>,
    /// The value kept.
    pub kept_value: Option<String>,
    /// The sentence shown: "your edit of price of SKU-1 lost to anna on Laptop 2: kept 5.00".
    pub message: String,
    /// When the server decided.
    pub at: Timestamp,
}
