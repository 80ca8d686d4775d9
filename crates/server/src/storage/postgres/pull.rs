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
use crate::storage::{Result, StorageError};
use ::postgres::Row;
use smartstock_core::wire::PullPage;
use smartstock_core::DeviceId;
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

/// Kind `kind`'s part: its rows after `$1`, at most `$2`, padded to every kind's columns.
fn part(kind: usize, table: &str, seq: &str, columns: &str) -> String {
    let kinds: [&[&str]; 5] = [&MOVEMENT_TYPES, &PRODUCT_TYPES, &LOCATION_TYPES, &ALERT_TYPES, &NOTICE_TYPES];
    let mut select = vec![format!("{kind} AS kind"), format!("{seq} AS seq")];
    for (other, types) in kinds.iter().enumerate() {
        match other == kind {
            true => select.push(columns.to_owned()),
            false => select.extend(nulls(types)),
        }
    }
    format!("(SELECT {} FROM {table} WHERE {seq} > $1 ORDER BY {seq} LIMIT $2)", select.join(", "))
}

/// The page query: `$1` the cursor, `$2` the most rows of each kind and of the whole answer (the
/// first `$2` of the kinds merged in feed order: only rows the page can hold leave the server).
fn page_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let parts = [
            part(0, "movements", "server_seq", MOVEMENT_COLUMNS),
            part(1, "products", "feed_seq", &format!("{PRODUCT_COLUMNS}, stamps")),
            part(2, "locations", "feed_seq", &format!("{LOCATION_COLUMNS}, stamps")),
            part(3, "alerts", "feed_seq", ALERT_COLUMNS),
            part(4, "catalog_notices", "feed_seq", "device_id, body"),
        ];
        format!("SELECT * FROM ({}) feed ORDER BY seq LIMIT $2", parts.join(" UNION ALL "))
    })
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
