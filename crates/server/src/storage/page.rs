//! Assembling a pull page, once for every backend: the backend fetches up to `limit + 1` rows of
//! each kind after the cursor (movements, products, locations, alerts, each with its feed number);
//! this module merges them in feed order (with the catalog rows' field stamps, and the catalog notices
//! of the pulling device only), keeps the first `limit`, sets the next cursor to the
//! last feed number examined (so a page holding only the device's own movements still moves
//! on), and leaves the device's own movements out.
//!
//! Must not: run SQL.

use smartstock_core::merge::Stamps;
use smartstock_core::wire::{CatalogEntity, CatalogNotice, EntityStamps, PullPage, WIRE_VERSION};
use smartstock_core::{Alert, DeviceId, Location, Movement, Product};

/// One row of the feed.
pub enum FeedItem {
    /// A movement.
    Movement(Movement),
    /// A product created or changed, with its field stamps.
    Product(Product, Stamps),
    /// A location created or changed, with its field stamps.
    Location(Location, Stamps),
    /// An alert raised or resolved.
    Alert(Alert),
    /// A catalog notice for one device (left out of every other device's page).
    Notice(DeviceId, CatalogNotice),
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
        stamps: Vec::new(),
        notices: Vec::new(),
        next_after,
        has_more,
    };
    for (_, item) in items {
        match item {
            FeedItem::Movement(m) if m.device_id == device => {}
            FeedItem::Movement(m) => page.movements.push(m),
            FeedItem::Product(p, stamps) => {
                push_stamps(&mut page, CatalogEntity::Product, p.id.0, stamps);
                page.products.push(p);
            }
            FeedItem::Location(l, stamps) => {
                push_stamps(&mut page, CatalogEntity::Location, l.id.0, stamps);
                page.locations.push(l);
            }
            FeedItem::Alert(a) => page.alerts.push(a),
            FeedItem::Notice(to, notice) if to == device => page.notices.push(notice),
            FeedItem::Notice(..) => {}
        }
    }
    page
}

fn push_stamps(page: &mut PullPage, entity: CatalogEntity, id: uuid::Uuid, stamps: Stamps) {
    if !stamps.is_empty() {
        page.stamps.push(EntityStamps { entity, id, stamps });
    }
}
