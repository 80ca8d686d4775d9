//! SmartStock's local ledger on SQLite: the catalog, the immutable movement ledger, cached levels
//! kept by the level rule of `smartstock-core`, the outbox of movements the server has not
//! acknowledged, alerts, the catalog audit, CSV import/export, and the queries the UI needs.
//!
//! Owns: every SQL statement of the desktop app (SQL lives nowhere else), and the rule that a
//! multi-statement write is one transaction.
//!
//! Must not: talk to the network (the sync crate does), decide UI matters, or re-implement a
//! domain rule that `smartstock-core` already has.
//!
//! Thread safety: `Store` is `Send + Sync`. Writes go through one connection behind a mutex
//! (SQLite has one writer anyway); reads use a second WAL connection so a long sync write does
//! not block the stock table.

pub mod alerts;
pub mod catalog;
pub mod catalog_sync;
pub mod clock;
pub mod error;
pub mod export;
pub mod first_pull;
pub mod import;
mod ledger;
pub mod outbox;
pub mod queries;
pub mod reconcile;
pub mod rejections;
pub mod remote;
pub mod schema;
pub mod sql;
mod waiting;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Result, StoreError};
pub use ledger::Recorded;

use rusqlite::Connection;
use smartstock_core::ids::NewRandom;
use smartstock_core::{DeviceId, NegativeStockPolicy, UserId};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Who is acting: every movement and catalog edit records its user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The signed-in user (or the local offline user).
    pub user_id: UserId,
}

/// The local ledger.
pub struct Store {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    clock: Arc<dyn Clock>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the ledger at `path` with the system clock, creating and migrating it as needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with_clock(path, Arc::new(SystemClock))
    }

    /// Opens the ledger with the given clock.
    #[tracing::instrument(skip_all, fields(path = %path.as_ref().display()))]
    pub fn open_with_clock(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let writer = schema::open(&path)?;
        ensure_device(&writer)?;
        let reader = Connection::open(&path)?;
        schema::configure_reader(&reader)?;
        Ok(Store { writer: Mutex::new(writer), reader: Mutex::new(reader), clock, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This device's id (stamped on every movement it records).
    pub fn device_id(&self) -> Result<DeviceId> {
        let conn = self.read();
        Ok(conn.query_row("SELECT device_id FROM device", [], |r| r.get(0).map(DeviceId))?)
    }

    /// The global negative-stock policy (products may override it).
    pub fn negative_stock_policy(&self) -> Result<NegativeStockPolicy> {
        sql::global_policy(&self.read())
    }

    /// Sets the global negative-stock policy (from the server's config, or the offline admin).
    pub fn set_negative_stock_policy(&self, policy: NegativeStockPolicy) -> Result<()> {
        self.write()
            .execute("UPDATE settings SET value = ?1 WHERE key = 'negative_stock_policy'", [policy.as_str()])?;
        Ok(())
    }

    /// Records the clock offset measured against the server (added to the device clock for
    /// every movement's `occurred_at`).
    pub fn set_clock_offset_ms(&self, offset_ms: i64) -> Result<()> {
        self.write().execute("UPDATE device SET clock_offset_ms = ?1", [offset_ms])?;
        Ok(())
    }

    /// The clock offset in force (server minus device clock, ms).
    pub fn clock_offset_ms(&self) -> Result<i64> {
        Ok(self.read().query_row("SELECT clock_offset_ms FROM device", [], |r| r.get(0))?)
    }

    pub(crate) fn write(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock means a panic mid-call; SQLite rolled the transaction back, so the
        // connection is still consistent and can be used.
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn read(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}

/// Gives a new database its device identity (a provisional id until the server registers it).
fn ensure_device(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT INTO device (singleton, device_id, next_seq) VALUES (1, ?1, 1) ON CONFLICT (singleton) DO NOTHING",
        [DeviceId::new_random().0],
    )?;
    Ok(())
}
