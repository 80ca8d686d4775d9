//! The feed on PostgreSQL: one counter row numbers every change other devices must pull
//! (movements, catalog rows, alerts), taken inside the transaction that writes the change.
//!
//! DESIGN.md's sequence trap: numbers handed out by concurrent transactions can commit out of
//! order, so "pull after N" could skip a row that commits later with a smaller number. Here every
//! number comes from `UPDATE feed_counter SET last_seq = last_seq + 1 RETURNING last_seq`: the row
//! lock that UPDATE takes is held until the transaction ends, so the next writer waits at its own
//! UPDATE until this one has committed (or rolled back) and then reads the committed value. Numbers
//! are therefore handed out and committed in the same order; a snapshot that sees number N sees
//! every number below N, and a pull (one REPEATABLE READ snapshot, see `pull.rs`) never skips.
//! A sequence (`nextval`) would not do this: it is not transactional and does not serialize.
//!
//! Every transaction that moves the counter also sends a notice on [`CHANNEL`] with the new head
//! (`pg_notify`, delivered only when the transaction commits, so a rolled-back write wakes no
//! one); `listen.rs` turns the notices into event-stream wake-ups on every server instance. The
//! payload is `<schema>:<head>`: schemas of one database share the channel, and each listener
//! keeps only its own schema's notices.
//!
//! Must not: be read outside a transaction that also writes what the number is for, be replaced
//! by a sequence or an identity column, or move the counter without notifying.

use super::db::Db;
use crate::storage::Result;

/// Takes the feed lock and returns the last number handed out (the push's statement) (the same row lock the UPDATE in
/// [`next_feed_seq`] takes). A push takes it before its first new movement so that the checks and
/// the level read-modify-write that follow also see every earlier writer's commit, exactly as
/// SQLite's single writer would; it then hands out numbers in memory and writes the last one back
/// with [`set_ctes`] before it commits, still holding the lock.
pub(super) const LOCK: &str = "SELECT last_seq FROM feed_counter WHERE singleton = 1 FOR UPDATE";

/// The end of a statement (its last `WITH` parts and its `SELECT`) that records the last number
/// handed out by a transaction holding the feed lock, from parameter `$param` (null: unchanged),
/// and notifies the new head at commit when it moved. Both parts read the counter as it was
/// before the update (one statement, one snapshot).
pub(super) fn set_ctes(param: usize) -> String {
    format!(
        "before_update AS (SELECT last_seq FROM feed_counter WHERE singleton = 1), \
         after_update AS (UPDATE feed_counter SET last_seq = COALESCE(${param}::bigint, last_seq) \
         WHERE singleton = 1 RETURNING last_seq) \
         SELECT pg_notify('{CHANNEL}', current_schema() || ':' || a.last_seq::text) \
         FROM before_update b, after_update a WHERE a.last_seq > b.last_seq"
    )
}

/// The next feed number (call inside a write transaction; holds the feed lock until it ends).
/// Notifies it at commit (one statement).
pub(super) fn next_feed_seq(db: &mut Db<'_>) -> Result<i64> {
    Ok(db
        .query_one(
            "WITH taken AS (UPDATE feed_counter SET last_seq = last_seq + 1 WHERE singleton = 1 RETURNING last_seq) \
             SELECT last_seq, pg_notify('smartstock_feed', current_schema() || ':' || last_seq::text) FROM taken",
            &[],
        )?
        .try_get(0)?)
}

/// The channel every feed notice goes to.
pub(super) const CHANNEL: &str = "smartstock_feed";

/// The highest feed number committed.
pub(super) fn head(db: &mut Db<'_>) -> Result<i64> {
    Ok(db.query_one("SELECT last_seq FROM feed_counter WHERE singleton = 1", &[])?.try_get(0)?)
}
