//! Shared fixtures for the store's integration tests: a store in a temp dir with a manual clock,
//! a user, and helpers to make products and locations.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_core::ids::NewRandom;
use smartstock_core::{Location, LocationId, LocationKind, MovementIntent, Product, ProductId, Timestamp, UserId};
use smartstock_store::{Actor, ManualClock, Store};
use std::sync::Arc;

pub const T0: i64 = 1_700_000_000_000;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub actor: Actor,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp(T0)));
        let store = Store::open_with_clock(dir.path().join("ledger.db"), clock.clone()).unwrap();
        Fixture { dir, store, clock, actor: Actor { user_id: UserId::new_random() } }
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("ledger.db")
    }

    pub fn product(&self, sku: &str) -> ProductId {
        let p = product(sku);
        self.store.create_product(self.actor, &p).unwrap();
        p.id
    }

    pub fn location(&self, code: &str) -> LocationId {
        let l = location(code);
        self.store.create_location(self.actor, &l).unwrap();
        l.id
    }

    pub fn receive(&self, product: ProductId, location: LocationId, quantity: i64) -> smartstock_core::Movement {
        let intent = MovementIntent::Receive {
            product_id: product,
            location_id: location,
            quantity,
            reference: None,
            note: None,
        };
        self.store.record(self.actor, &intent).unwrap().movements.remove(0)
    }

    pub fn issue(
        &self,
        product: ProductId,
        location: LocationId,
        quantity: i64,
    ) -> smartstock_store::Result<smartstock_store::Recorded> {
        let intent = MovementIntent::Issue {
            product_id: product,
            location_id: location,
            quantity,
            reason: None,
            reference: None,
            note: None,
        };
        self.store.record(self.actor, &intent)
    }

    pub fn count(&self, product: ProductId, location: LocationId, counted_qty: i64) -> smartstock_core::Movement {
        let intent = MovementIntent::Count { product_id: product, location_id: location, counted_qty, note: None };
        self.store.record(self.actor, &intent).unwrap().movements.remove(0)
    }

    /// Opens a second raw connection to the same file (to tamper or inspect).
    pub fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db_path()).unwrap()
    }
}

/// (SKU, location code) pairs.
pub type Pairs = Vec<(String, String)>;

/// The low levels (SKU, location code) as the store keeps them (`low_levels`, by triggers) and as
/// the rule says (at or below a reorder point above 0), each sorted: equal when the triggers kept
/// up with every change.
pub fn low_levels_kept_and_by_rule(conn: &rusqlite::Connection) -> (Pairs, Pairs) {
    let pairs = |sql: &str| -> Pairs {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let kept = pairs(
        "SELECT p.sku, loc.code FROM low_levels s JOIN products p ON p.rowid = s.product_rowid \
         JOIN locations loc ON loc.id = s.location_id ORDER BY 1, 2",
    );
    let by_rule = pairs(
        "SELECT p.sku, loc.code FROM levels l JOIN products p ON p.id = l.product_id \
         JOIN locations loc ON loc.id = l.location_id \
         WHERE p.reorder_point > 0 AND l.on_hand <= p.reorder_point ORDER BY 1, 2",
    );
    (kept, by_rule)
}

pub fn product(sku: &str) -> Product {
    Product {
        id: ProductId::new_random(),
        sku: sku.into(),
        name: format!("Product {sku}"),
        barcode: None,
        unit: "pcs".into(),
        unit_scale: 0,
        reorder_point: 0,
        reorder_qty: 0,
        cost_minor: 100,
        price_minor: 250,
        archived: false,
        negative_stock: None,
    }
}

pub fn location(code: &str) -> Location {
    Location {
        id: LocationId::new_random(),
        code: code.into(),
        name: format!("Location {code}"),
        kind: LocationKind::Warehouse,
        parent_id: None,
        archived: false,
    }
}
