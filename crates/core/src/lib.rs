//! SmartStock's domain, shared by the desktop app and the server.
//!
//! Owns: the types of products, locations, movements, alerts and catalog changes; the level rule
//! (`level`), the ledger checksum (`checksum`), validation of every field (`validate`), the
//! negative-stock policy (`policy`) and the versioned wire types (`wire`).
//!
//! Must not: do IO of any kind (no clock, no files, no network, no database). Callers pass in the
//! time and the data; every function here is deterministic, so every replica computes the same
//! answer from the same set of movements.

pub mod alert;
pub mod catalog;
pub mod checksum;
pub mod hlc;
pub mod ids;
pub mod intent;
pub mod level;
pub mod merge;
pub mod movement;
pub mod policy;
pub mod quantity;
pub mod role;
pub mod time;
pub mod validate;
pub mod wire;

pub use alert::{Alert, AlertKind};
pub use catalog::{CatalogChange, Location, LocationKind, Product};
pub use checksum::LedgerDigest;
pub use hlc::Hlc;
pub use ids::{AlertId, DeviceId, LocationId, MovementId, ProductId, TransferId, UserId};
pub use intent::MovementIntent;
pub use level::{Level, LevelEntry, LevelError};
pub use merge::{CatalogFields, FieldStamp, Stamps};
pub use movement::{Movement, MovementKind, ReasonCode};
pub use policy::NegativeStockPolicy;
pub use role::{Permission, Role};
pub use time::Timestamp;
pub use validate::ValidationError;
