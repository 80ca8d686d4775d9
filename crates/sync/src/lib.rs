//! The client sync engine (DESIGN.md, "Sync"): signs in, registers the device, pushes the store's
//! outbox in `device_seq` order and applies the outcomes, pulls pages and applies each with its
//! cursor in one transaction. Offline is normal: a failed exchange leaves everything recorded
//! and is retried later.
//!
//! Owns: the HTTP conversation with `smartstock-server` (`client`), where the refresh token is
//! kept (`credentials`, pluggable: the desktop plugs in the OS keyring), and one sync pass
//! (`engine`).
//!
//! Must not: write SQL (the store does) or decide UI matters (the app shows what the engine
//! reports).

pub mod client;
pub mod credentials;
pub mod engine;
pub mod error;

pub use client::ServerClient;
pub use credentials::{CredentialStore, MemoryCredentials};
pub use engine::{SyncEngine, SyncReport, SyncState, SyncStatus};
pub use error::SyncError;
