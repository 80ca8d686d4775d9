//! Pull on PostgreSQL: movements of other devices, catalog rows and alerts with a feed number after
//! the cursor, merged in feed order, at most `limit` items; the same paging as the SQLite backend.
//! The next cursor is the last feed number examined, so a page that held only the device's own
//! movements still moves on. One statement (a `UNION ALL` of the five kinds (catalog rows with their field stamps, and
//! catalog notices, filtered to the pulling device by `page::assemble`), each row padded to
//! the same columns), so one round trip and one snapshot: the five parts see the same committed
//! prefix of the feed (writers commit feed numbers in order, `feed.rs`), and the cursor never
//! passes a number that a later pull could still find.
//!
//! Must not: write.

use super::db::Db;
use super::rows::{self, ALERT_COLUMNS, LOCATION_COLUMNS, MOVEMENT_COLUMNS, PRODUCT_COLUMNS};
use crate::storage::page::{assemble, FeedItem};
use crate::storage::stamps_memo::StampsMemo;
use crate::storage::{PageRequest, Result, SignedPage, StorageError};
use ::postgres::types::ToSql;
use ::postgres::Row;
use smartstock_core::wire::PullPage;
use smartstock_core::{DeviceId, Timestamp};
use std::sync::OnceLock;

/// Column types of each kind, in the order of its column list (`MOVEMENT_COLUMNS`, …).
const MOVEMENT_TYPES: [&str; 18] = [
    "uuid", "uuid", "bigint", "uuid", "text", "uuid", "uuid", "bigint", "bigint", "text", "text", "text", "uuid",
    "bigint", "bigint", "bigint", "bigint", "bigint",
];
/// A product's columns and then its field stamps (JSON text).
const PRODUCT_TYPES: [&str; 13] = [
    "uuid", "text", "text", "text", "text", "bigint", "bigint", "bigint", "bigint", "bigint", "boolean", "text", "text",
];
/// A location's columns and then its field stamps (JSON text).
const LOCATION_TYPES: [&str; 7] = ["uuid", "text", "text", "text", "uuid", "boolean", "text"];
/// A catalog notice: the device it is for and the notice (JSON text).
const NOTICE_TYPES: [&str; 2] = ["uuid", "text"];
const ALERT_TYPES: [&str; 10] = ["uuid", "text", "uuid", "uuid", "bigint", "uuid", "text", "bigint", "uuid", "bigint"];

/// Where each kind's columns start in a row of [`page_sql`] (after `kind` and `seq`).
const MOVEMENT_AT: usize = 2;
const PRODUCT_AT: usize = MOVEMENT_AT + MOVEMENT_TYPES.len();
const LOCATION_AT: usize = PRODUCT_AT + PRODUCT_TYPES.len();
const ALERT_AT: usize = LOCATION_AT + LOCATION_TYPES.len();
const NOTICE_AT: usize = ALERT_AT + ALERT_TYPES.len();

/// Typed nulls for another kind's columns (a `UNION` of untyped nulls would resolve them as text).
fn nulls<'t>(types: &'t [&'t str]) -> impl Iterator<Item = String> + 't {
    types.iter().map(|t| format!("NULL::{t}"))
}

/// Kind `kind`'s part: its rows after `{after}`, at most `{limit}` (parameters), padded to every
/// kind's columns.
fn part(kind: usize, table: &str, seq: &str, columns: &str, after: &str, limit: &str) -> String {
    let kinds: [&[&str]; 5] = [&MOVEMENT_TYPES, &PRODUCT_TYPES, &LOCATION_TYPES, &ALERT_TYPES, &NOTICE_TYPES];
    let mut select = vec![format!("{kind} AS kind"), format!("{seq} AS seq")];
    for (other, types) in kinds.iter().enumerate() {
        match other == kind {
            true => select.push(columns.to_owned()),
            false => select.extend(nulls(types)),
        }
    }
    format!("(SELECT {} FROM {table} WHERE {seq} > {after} ORDER BY {seq} LIMIT {limit})", select.join(", "))
}

/// The five kinds' parts after `after`, at most `limit` each (parameters).
fn parts(after: &str, limit: &str) -> String {
    let parts = [
        part(0, "movements", "server_seq", MOVEMENT_COLUMNS, after, limit),
        part(1, "products", "feed_seq", &format!("{PRODUCT_COLUMNS}, stamps"), after, limit),
        part(2, "locations", "feed_seq", &format!("{LOCATION_COLUMNS}, stamps"), after, limit),
        part(3, "alerts", "feed_seq", ALERT_COLUMNS, after, limit),
        part(4, "catalog_notices", "feed_seq", "device_id, body", after, limit),
    ];
    parts.join(" UNION ALL ")
}

/// The page query: `$1` the cursor, `$2` the most rows of each kind and of the whole answer (the
/// first `$2` of the kinds merged in feed order: only rows the page can hold leave the server).
fn page_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| format!("SELECT * FROM ({}) feed ORDER BY seq LIMIT $2", parts("$1", "$2")))
}

/// The kind of [`signed_page_sql`]'s row of the session.
const SESSION_KIND: i32 = -1;
/// Where that row's session columns (`AUTH_COLUMNS`) start, after every kind's columns.
const SESSION_AT: usize = NOTICE_AT + NOTICE_TYPES.len();

/// `authenticate` and the page query in one statement: the page's rows, then a row of kind
/// [`SESSION_KIND`] with the session (none for an unknown token, and then no page either). The
/// session's row comes last so that the user's rate-limit row, which the count locks until the
/// statement ends, is locked only after the page was read (every request of the user counts on
/// that row: a longer hold would make them queue). `$1`–`$3`
/// as in `AUTH_PARTS`, `$4` the cursor, `$5` the most rows. Every row has every kind's columns
/// and the session's.
fn signed_page_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let kinds: [&[&str]; 5] = [&MOVEMENT_TYPES, &PRODUCT_TYPES, &LOCATION_TYPES, &ALERT_TYPES, &NOTICE_TYPES];
        let kind_nulls: Vec<String> = kinds.iter().flat_map(|types| nulls(types)).collect();
        let session_nulls: Vec<String> = nulls(&super::users::AUTH_TYPES).collect();
        format!(
            "WITH {auth} (SELECT feed.*, {session_nulls} FROM ({parts}) feed WHERE EXISTS (SELECT 1 FROM found) \
             ORDER BY seq LIMIT $5) \
             UNION ALL (SELECT {SESSION_KIND} AS kind, 0::bigint AS seq, {kind_nulls}, {columns} FROM found f)",
            auth = super::users::AUTH_PARTS,
            kind_nulls = kind_nulls.join(", "),
            columns = super::users::AUTH_COLUMNS,
            session_nulls = session_nulls.join(", "),
            parts = parts("$4", "$5"),
        )
    })
}

/// The session check of [`signed_page`]: the access token's hash, now, the start of the
/// rate-limit window now falls in, and the most requests in a window.
pub(super) struct Check<'a> {
    pub(super) access_hash: &'a [u8; 32],
    pub(super) now: Timestamp,
    pub(super) window_start: i64,
    pub(super) max: i64,
}

/// `authenticate` and then `pull`, in one statement and one round trip: what `authenticate`
/// found, and the page (`None` for an unknown token).
pub(super) fn signed_page(
    db: &mut Db<'_>,
    stamps: &StampsMemo,
    check: &Check<'_>,
    page: PageRequest,
) -> Result<SignedPage> {
    let limit = page.limit.clamp(1, 10_000);
    let (hash, now, after) = (&check.access_hash[..], check.now.millis(), page.after);
    let params: [&(dyn ToSql + Sync); 5] = [&hash, &now, &check.window_start, &after, &(i64::from(limit) + 1)];
    let rows = db.query(signed_page_sql(), &params)?;
    let mut session = None;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        match row.try_get::<_, i32>(0)? {
            SESSION_KIND => session = Some(super::users::session_at(row, SESSION_AT, check.max)?),
            _ => items.push(item(row, stamps)?),
        }
    }
    let page = session.as_ref().map(|_| assemble(items, page.device, page.after, limit));
    Ok((session, page))
}

fn item(row: &Row, stamps: &StampsMemo) -> Result<(i64, FeedItem)> {
    let seq: i64 = row.try_get(1)?;
    let item = match row.try_get::<_, i32>(0)? {
        0 => FeedItem::Movement(rows::movement_from_row_at(row, MOVEMENT_AT)?),
        1 => FeedItem::Product(
            rows::product_from_row_at(row, PRODUCT_AT)?,
            stamps.parse(row.try_get(PRODUCT_AT + PRODUCT_TYPES.len() - 1)?)?,
        ),
        2 => FeedItem::Location(
            rows::location_from_row_at(row, LOCATION_AT)?,
            stamps.parse(row.try_get(LOCATION_AT + LOCATION_TYPES.len() - 1)?)?,
        ),
        3 => FeedItem::Alert(rows::alert_from_row_at(row, ALERT_AT)?),
        4 => FeedItem::Notice(
            DeviceId(row.try_get(NOTICE_AT)?),
            serde_json::from_str(row.try_get(NOTICE_AT + 1)?)
                .map_err(|e| StorageError::Database(format!("stored catalog notice: {e}")))?,
        ),
        other => return Err(StorageError::Database(format!("pull row of unknown kind {other}"))),
    };
    Ok((seq, item))
}

/// One page after `after` (one statement: run it outside a transaction or in any); catalog rows'
/// stamps parsed through `stamps`.
pub(super) fn pull(db: &mut Db<'_>, stamps: &StampsMemo, device: DeviceId, after: i64, limit: u32) -> Result<PullPage> {
    let limit = limit.clamp(1, 10_000);
    let rows = db.query(page_sql(), &[&after, &(i64::from(limit) + 1)])?;
    let items = rows.iter().map(|row| item(row, stamps)).collect::<Result<Vec<_>>>()?;
    Ok(assemble(items, device, after, limit))
}
