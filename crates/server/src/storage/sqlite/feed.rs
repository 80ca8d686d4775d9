//! The feed: one counter numbers every change other devices must pull. Taken inside the writing
//! transaction; SQLite's single writer means numbers become visible in order, so a pull after N
//! can never miss a row that commits later with a smaller number (DESIGN.md's sequence trap).
//!
//! Must not: be read outside a transaction that also writes what the number is for.

use crate::storage::Result;
use rusqlite::Connection;

/// The next feed number (call inside a write transaction).
pub(super) fn next_feed_seq(tx: &Connection) -> Result<i64> {
    Ok(tx
        .prepare_cached("UPDATE feed_counter SET last_seq = last_seq + 1 RETURNING last_seq")?
        .query_row([], |r| r.get(0))?)
}

/// The highest feed number committed.
pub(super) fn head(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("SELECT last_seq FROM feed_counter")?.query_row([], |r| r.get(0))?)
}

/// Records the last number handed out by a transaction that read the head under the write lock.
pub(super) fn set(tx: &Connection, last: i64) -> Result<()> {
    tx.prepare_cached("UPDATE feed_counter SET last_seq = ?1")?.execute([last])?;
    Ok(())
}
