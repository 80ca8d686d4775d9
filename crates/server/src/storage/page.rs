//! Assembling a pull page, once for every backend: the backend fetches up to `limit + 1` rows of
//! each kind after the cursor (movements, products, locations, alerts, each with its feed number);
//! this module merges them in feed order, keeps the first `limit`, sets the next cursor to the
//! last feed number examined (so a page holding only the device's own movements still moves
//! on), and leaves the device's own movements out.
//!
//! Must not: run SQL.

use smartstock_core::wire::{PullPage, WIRE_VERSION};
use smartstock_core::{Alert, DeviceId, Location, Movement, Product};

/// One row of the feed.
pub enum FeedItem {
    /// A movement.
    Movement(Movement),
    /// A product created or changed.
    Product(Product),
    /// A location created or changed.
    Location(Location),
    /// An alert raised or resolved.
    Alert(Alert),
}

/// The page of `device` after `after` from rows fetched per kind (each `(feed number, row)`).
pub fn assemble(mut items: Vec<(i64, FeedItem)>, device: DeviceId, after: i64, limit: u32) -> PullPage {
    items.sort_by_key(|(seq, _)| *seq);
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_after = items.last().map_or(after, |(seq, _)| *seq);
    let mut page = PullPage {
        v: WIRE_VERSION,
        movements: Vec::new(),
        products: Vec::new(),
        locations: Vec::new(),
        alerts: Vec::new(),
        next_after,
        has_more,
    };
    for (_, item) in items {
        match item {
            FeedItem::Movement(m) if m.device_id == device => {}
            FeedItem::Movement(m) => page.movements.push(m),
            FeedItem::Product(p) => page.products.push(p),
            FeedItem::Location(l) => page.locations.push(l),
            FeedItem::Alert(a) => page.alerts.push(a),
        }
    }
    page
}
