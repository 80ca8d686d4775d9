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
mod search_index;
pub mod sql;
mod waiting;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Result, StoreError};
pub use ledger::Recorded;

use rusqlite::Connection;
use search_index::{CatalogChanges, Matches, SearchIndex, SkuOrder};
use smartstock_core::ids::NewRandom;
use smartstock_core::{DeviceId, NegativeStockPolicy, UserId};
use std::ops::{Deref, DerefMut};
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
    /// Writes that changed the catalog (for `search_index`).
    catalog_changes: Arc<CatalogChanges>,
    /// The catalog's text in memory for the stock search, read at first use and again after a
    /// change.
    search_index: Mutex<Option<Arc<SearchIndex>>>,
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
        let catalog_changes = Arc::new(CatalogChanges::default());
        catalog_changes.watch(&writer)?;
        let reader = Connection::open(&path)?;
        schema::configure_reader(&reader)?;
        Ok(Store {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            clock,
            path,
            catalog_changes,
            search_index: Mutex::new(None),
        })
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

    pub(crate) fn write(&self) -> WriteGuard<'_> {
        // A poisoned lock means a panic mid-call; SQLite rolled the transaction back, so the
        // connection is still consistent and can be used.
        WriteGuard {
            conn: self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
            changes: &self.catalog_changes,
        }
    }

    /// Reads the catalog's text into memory for the stock search now (the app does it in the
    /// background after its first stock page, so that no keystroke waits for it).
    pub fn prepare_search(&self) -> Result<()> {
        self.search_index().map(drop)
    }

    /// The first `want` products the stock search `text` matches (see `search_index`).
    pub(crate) fn search_matches(
        &self,
        text: &str,
        include_archived: bool,
        order: SkuOrder,
        want: usize,
    ) -> Result<Matches> {
        let index = self.search_index()?;
        let barcode_rowid = catalog::product_rowid_by_barcode(&self.read(), text)?;
        Ok(index.matches(text, barcode_rowid, include_archived, order, want))
    }

    /// The catalog's text in memory, read again if the catalog changed since. Lock order: this
    /// slot, then the reader connection.
    fn search_index(&self) -> Result<Arc<SearchIndex>> {
        let mut slot = self.search_index.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let generation = self.catalog_changes.generation();
        if let Some(index) = slot.as_ref().filter(|index| index.is_current(generation)) {
            return Ok(Arc::clone(index));
        }
        // The old copy goes before the new one is read (the peak is one copy, not two).
        *slot = None;
        let index = Arc::new(SearchIndex::read(&self.read(), generation)?);
        *slot = Some(Arc::clone(&index));
        Ok(index)
    }

    pub(crate) fn read(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}

/// The writer connection, held: when it is released, a write that changed the catalog is over
/// (committed or rolled back) and the in-memory copy for short searches is known to be stale.
pub(crate) struct WriteGuard<'a> {
    conn: MutexGuard<'a, Connection>,
    changes: &'a CatalogChanges,
}

impl Deref for WriteGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.changes.write_ended();
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
