//! smartstock-server: the HTTPS system of record (DESIGN.md, "Parts", "Sync", "Security").
//!
//! Owns: the HTTP API (`api`), authentication (`auth`), storage behind one trait (`storage`, with
//! the embedded SQLite backend), the event stream that tells clients new data exists (`events`),
//! TLS (`tls`), configuration (`config`), CORS (`cors`) and the CSV import of the catalog and
//! opening stock (`import`).
//!
//! Must not: hold state outside its database (several instances may share one PostgreSQL), or
//! re-implement a domain rule of `smartstock-core` (the level rule, checksum and validation are
//! called, never copied).

pub mod api;
pub mod auth;
pub mod config;
pub mod cors;
pub mod demo;
pub mod events;
pub mod import;
pub mod metrics;
pub mod storage;
pub mod tls;
pub mod updates;
