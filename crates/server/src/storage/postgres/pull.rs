//! Pull on PostgreSQL: movements of other devices, catalog rows and alerts with a feed number after
//! the cursor, merged in feed order, at most `limit` items; the same paging as the SQLite backend.
//! The next cursor is the last feed number examined, so a page that held only the device's own
//! movements still moves on. The caller runs it in one REPEATABLE READ snapshot: the four queries
//! see the same committed prefix of the feed (writers commit feed numbers in order, `feed.rs`), so
//! the cursor never passes a number that a later pull could still find.
//!
//! Must not: write.

use super::db::Db;
use super::rows::{self, ALERT_COLUMNS, LOCATION_COLUMNS, MOVEMENT_COLUMNS, PRODUCT_COLUMNS};
use crate::storage::page::{assemble, FeedItem};
use crate::storage::Result;
use ::postgres::Row;
use smartstock_core::wire::PullPage;
use smartstock_core::DeviceId;

/// Rows after `after`, at most `limit + 1`, each with its feed number (column `seq`).
fn fetch(
    db: &mut Db<'_>,
    sql: &str,
    after: i64,
    limit: u32,
    map: fn(&Row) -> Result<FeedItem>,
) -> Result<Vec<(i64, FeedItem)>> {
    let rows = db.query(sql, &[&after, &(i64::from(limit) + 1)])?;
    rows.iter().map(|r| Ok((r.try_get::<_, i64>("seq")?, map(r)?))).collect()
}

/// One page after `after`.
pub(super) fn pull(db: &mut Db<'_>, device: DeviceId, after: i64, limit: u32) -> Result<PullPage> {
    let limit = limit.clamp(1, 10_000);
    let mut items: Vec<(i64, FeedItem)> = Vec::new();
    items.extend(fetch(
        db,
        &format!(
            "SELECT {MOVEMENT_COLUMNS}, server_seq AS seq FROM movements WHERE server_seq > $1 \
             ORDER BY server_seq LIMIT $2"
        ),
        after,
        limit,
        |r| rows::movement_from_row(r).map(FeedItem::Movement),
    )?);
    items.extend(fetch(
        db,
        &format!(
            "SELECT {PRODUCT_COLUMNS}, feed_seq AS seq FROM products WHERE feed_seq > $1 ORDER BY feed_seq LIMIT $2"
        ),
        after,
        limit,
        |r| rows::product_from_row(r).map(FeedItem::Product),
    )?);
    items.extend(fetch(
        db,
        &format!(
            "SELECT {LOCATION_COLUMNS}, feed_seq AS seq FROM locations WHERE feed_seq > $1 ORDER BY feed_seq LIMIT $2"
        ),
        after,
        limit,
        |r| rows::location_from_row(r).map(FeedItem::Location),
    )?);
    items.extend(fetch(
        db,
        &format!("SELECT {ALERT_COLUMNS}, feed_seq AS seq FROM alerts WHERE feed_seq > $1 ORDER BY feed_seq LIMIT $2"),
        after,
        limit,
        |r| rows::alert_from_row(r).map(FeedItem::Alert),
    )?);
    Ok(assemble(items, device, after, limit))
}
