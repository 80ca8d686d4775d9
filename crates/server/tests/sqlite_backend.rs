//! The storage backend suite (`common/backend_suite/`) against the embedded SQLite backend:
//! the same functions that run against PostgreSQL, so both backends give the same answers.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[macro_use]
#[path = "common/backend_suite/mod.rs"]
mod backend_suite;

use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::Storage;

/// A `SqliteStorage` in a temp dir that lives as long as it does.
struct TestDb {
    storage: SqliteStorage,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestDb {
    type Target = dyn Storage;
    fn deref(&self) -> &(dyn Storage + 'static) {
        &self.storage
    }
}

fn open(_test: &str) -> Option<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("server.db")).unwrap();
    Some(TestDb { storage, _dir: dir })
}

/// Restores `backup` over a wiped database file in a new temp dir and opens it.
fn restore(_test: &str, backup: &std::path::Path) -> Box<dyn std::ops::Deref<Target = dyn Storage>> {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("server.db");
    std::fs::write(&target, b"wiped").unwrap();
    SqliteStorage::restore(backup, &target).unwrap();
    Box::new(TestDb { storage: SqliteStorage::open(&target).unwrap(), _dir: dir })
}

backend_tests!(open, restore);
