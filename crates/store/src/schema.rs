//! Opening the database file: pragmas, then the versioned migrations of `migrations/client/`
//! applied by `rusqlite_migration` (schema version in `user_version`). A database newer than
//! this code is refused, never "repaired": the local file may hold the only copy of offline
//! movements.
//!
//! Durability: WAL with `synchronous=FULL`. In WAL mode `NORMAL` syncs only at checkpoints, so
//! a power cut could lose movements the UI already showed as recorded; `FULL` syncs the WAL at
//! every commit, which is the promise the app makes to the user.

use crate::error::{Result, StoreError};
use rusqlite::Connection;
use rusqlite_migration::{MigrationDefinitionError, Migrations, M};
use std::path::Path;
use std::time::Duration;

/// How long a writer waits for another connection's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The client schema migrations, in order. Append only; never edit a released one.
const CLIENT_MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/client/0001_ledger.sql"),
    include_str!("../../../migrations/client/0002_stock_search.sql"),
    include_str!("../../../migrations/client/0003_catalog_merge.sql"),
];

/// The migrations as `rusqlite_migration` applies them.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(CLIENT_MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// The schema version this build writes.
pub fn latest_version() -> usize {
    CLIENT_MIGRATIONS.len()
}

/// Sets the connection pragmas every SmartStock connection uses.
pub fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // 64 MiB of page cache (the default is 2 MiB): bulk imports and large catalogs stay in memory.
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens (creating if needed) and migrates the database at `path`.
pub fn open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Applies every pending migration, refusing a database from a newer build.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    match migrations().to_latest(conn) {
        Ok(()) => Ok(()),
        Err(rusqlite_migration::Error::MigrationDefinition(MigrationDefinitionError::DatabaseTooFarAhead)) => {
            Err(StoreError::DatabaseTooNew { path: path.display().to_string() })
        }
        Err(e) => Err(e.into()),
    }
}

/// The schema version stored in the file.
pub fn user_version(conn: &Connection) -> Result<usize> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))? as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_list_is_valid_and_counted() {
        assert!(migrations().validate().is_ok());
        let mut conn = Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), latest_version());
    }
}
