//! Pull on SQLite: movements of other devices, catalog rows (with their field stamps), alerts and this
//! device's catalog notices with a feed number after
//! the cursor, merged in feed order, at most `limit` items. The next cursor is the last feed
//! number examined, so a page that held only the device's own movements still moves on.
//!
//! Must not: write.

use super::{alert_from_row, ALERT_COLUMNS};
use crate::storage::page::{assemble, FeedItem};
use crate::storage::stamps_memo::StampsMemo;
use crate::storage::Result;
use rusqlite::{params, Connection};
use smartstock_core::wire::PullPage;
use smartstock_core::DeviceId;
use smartstock_store::sql;

fn fetch<T>(
    conn: &Connection,
    sql_text: &str,
    after: i64,
    limit: u32,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<(i64, T)>> {
    let mut stmt = conn.prepare_cached(sql_text)?;
    let rows = stmt.query_map(params![after, limit + 1], |r| Ok((r.get::<_, i64>("seq")?, map(r)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn json<T: serde::de::DeserializeOwned>(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

fn stamps(row: &rusqlite::Row<'_>, idx: usize, memo: &StampsMemo) -> rusqlite::Result<smartstock_core::Stamps> {
    memo.parse(row.get_ref(idx)?.as_str()?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

/// One page after `after`; catalog rows' stamps parsed through `memo`.
pub(super) fn pull(conn: &Connection, memo: &StampsMemo, device: DeviceId, after: i64, limit: u32) -> Result<PullPage> {
    let limit = limit.clamp(1, 10_000);
    let movements = format!(
        "SELECT {}, server_seq AS seq FROM movements WHERE server_seq > ?1 ORDER BY server_seq LIMIT ?2",
        sql::MOVEMENT_COLUMNS
    );
    let mut items: Vec<(i64, FeedItem)> = Vec::new();
    items.extend(fetch(conn, &movements, after, limit, |r| sql::movement_from_row(r).map(FeedItem::Movement))?);
    items.extend(fetch(
        conn,
        &format!(
            "SELECT {}, stamps, feed_seq AS seq FROM products WHERE feed_seq > ?1 ORDER BY feed_seq LIMIT ?2",
            super::PRODUCT_COLUMNS
        ),
        after,
        limit,
        |r| Ok(FeedItem::Product(super::product_from_row(r)?, stamps(r, 12, memo)?)),
    )?);
    items.extend(fetch(
        conn,
        &format!(
            "SELECT {}, stamps, feed_seq AS seq FROM locations WHERE feed_seq > ?1 ORDER BY feed_seq LIMIT ?2",
            super::LOCATION_COLUMNS
        ),
        after,
        limit,
        |r| Ok(FeedItem::Location(super::location_from_row(r)?, stamps(r, 6, memo)?)),
    )?);
    items.extend(fetch(
        conn,
        "SELECT device_id, body, feed_seq AS seq FROM catalog_notices WHERE feed_seq > ?1 ORDER BY feed_seq LIMIT ?2",
        after,
        limit,
        |r| Ok(FeedItem::Notice(DeviceId(r.get(0)?), json(r, 1)?)),
    )?);
    items.extend(fetch(
        conn,
        &format!("SELECT {ALERT_COLUMNS}, feed_seq AS seq FROM alerts WHERE feed_seq > ?1 ORDER BY feed_seq LIMIT ?2"),
        after,
        limit,
        |r| alert_from_row(r).map(FeedItem::Alert),
    )?);
    Ok(assemble(items, device, after, limit))
}
