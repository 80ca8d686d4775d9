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
    include_str!("../../../migrations/client/0004_short_search.sql"),
    include_str!("../../../migrations/client/0005_stamps_per_row.sql"),
    include_str!("../../../migrations/client/0006_pulled_waiting.sql"),
    include_str!("../../../migrations/client/0007_sku_prefix_covering.sql"),
    include_str!("../../../migrations/client/0008_rejected_index.sql"),
    include_str!("../../../migrations/client/0009_no_trigram_names.sql"),
    include_str!("../../../migrations/client/0010_low_levels.sql"),
    include_str!("../../../migrations/client/0011_name_order.sql"),
];

/// The migrations as `rusqlite_migration` applies them.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(CLIENT_MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// The schema version this build writes.
pub fn latest_version() -> usize {
    CLIENT_MIGRATIONS.len()
}

/// Page cache of the writer connection, KiB (the default is 2 MiB): bulk imports and catalog
/// syncs of large catalogs stay in memory.
const WRITER_CACHE_KIB: i64 = 65_536;

/// Page cache of the reader connection, KiB: what one keystroke's search reads on a catalog of
/// 100k products (the narrow search index, the name index, the per-product pair counts, a page
/// of rows) fits; the cache never shrinks, so a larger one only keeps the pages of full-table
/// reads (exports, reorder lists) resident for the app's lifetime. The OS file cache keeps the
/// rest one copy away.
const READER_CACHE_KIB: i64 = 16_384;

/// Sets the connection pragmas every SmartStock connection uses (the writer's page cache).
pub fn configure(conn: &Connection) -> Result<()> {
    configure_with_cache(conn, WRITER_CACHE_KIB)
}

/// Sets the pragmas of a connection that only reads (the reader's smaller page cache).
pub fn configure_reader(conn: &Connection) -> Result<()> {
    configure_with_cache(conn, READER_CACHE_KIB)?;
    // `rarray(:rowids)`: the products a short search matched, bound as one array (queries).
    rusqlite::vtab::array::load_module(conn)?;
    Ok(())
}

fn configure_with_cache(conn: &Connection, cache_kib: i64) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens (creating if needed) and migrates the database at `path`.
pub fn open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    migrate(&mut conn, path)?;
    // A migration may have read every table (a new index): its pages need not stay resident.
    conn.execute_batch("PRAGMA shrink_memory")?;
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
