//! The local side of the catalog merge: edits are stamped and queued gapless with a clock that
//! only moves forward, a new device identity renumbers them, and a movement's product changes
//! only from an alias to its kept row while the server has not answered it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Fixture;
use smartstock_core::ids::NewRandom;
use smartstock_core::DeviceId;

#[test]
fn edits_are_queued_in_order_with_a_clock_that_never_goes_back() {
    let f = Fixture::new();
    let id = f.product("Q-1");
    let mut p = f.store.product(id).unwrap();
    p.price_minor = 700;
    // The device clock goes back: the edit still orders after the creation.
    f.clock.set(smartstock_core::Timestamp(common::T0 - 60_000));
    assert_eq!(f.store.update_product(f.actor, &p).unwrap(), 1);
    let edits = f.store.pending_catalog_edits(100).unwrap();
    assert_eq!(edits.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert!(edits[0].created && !edits[1].created);
    assert_eq!(edits[1].fields, vec!["price".to_string()]);
    assert!(edits[1].hlc > edits[0].hlc);
    let stamps = f.store.catalog_stamps(id.0).unwrap();
    assert_eq!(stamps["price"].hlc, edits[1].hlc);
    assert_eq!(stamps["sku"].hlc, edits[0].hlc);
    // An unchanged save queues nothing.
    assert_eq!(f.store.update_product(f.actor, &p).unwrap(), 0);
    assert_eq!(f.store.pending_catalog_count().unwrap(), 2);

    // A new identity (restored database) numbers the unanswered edits from 1 again.
    f.location("Q-LOC");
    f.store.rebind_device(DeviceId::new_random()).unwrap();
    let seqs: Vec<i64> = f.store.pending_catalog_edits(100).unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[test]
fn a_movement_keeps_its_product_unless_moved_from_an_alias_before_the_server_answered() {
    let f = Fixture::new();
    let (a, b, loc) = (f.product("A-1"), f.product("B-1"), f.location("WH1"));
    let m = f.receive(a, loc, 2);
    let conn = rusqlite::Connection::open(f.db_path()).unwrap();
    let repoint = || conn.execute("UPDATE movements SET product_id = ?1 WHERE id = ?2", (b.0, m.id.0));
    let refused = repoint().unwrap_err().to_string();
    assert!(refused.contains("movements are immutable"), "{refused}");
    conn.execute("INSERT INTO catalog_aliases (alias_id, canonical_id, entity) VALUES (?1, ?2, 'product')", (a.0, b.0))
        .unwrap();
    assert_eq!(repoint().unwrap(), 1, "a pending movement of an alias may move to the kept row");
    conn.execute("UPDATE movements SET sync_state = 'accepted', server_seq = 1 WHERE id = ?1", [m.id.0]).unwrap();
    conn.execute("INSERT INTO catalog_aliases (alias_id, canonical_id, entity) VALUES (?1, ?2, 'product')", (b.0, a.0))
        .unwrap();
    let refused = repoint_back(&conn, a, m.id).unwrap_err().to_string();
    assert!(refused.contains("movements are immutable"), "an answered movement stays: {refused}");
}

fn repoint_back(
    conn: &rusqlite::Connection,
    to: smartstock_core::ProductId,
    id: smartstock_core::MovementId,
) -> rusqlite::Result<usize> {
    conn.execute("UPDATE movements SET product_id = ?1 WHERE id = ?2", (to.0, id.0))
}

#[test]
fn a_product_merged_into_another_leaves_low_stock_with_its_levels() {
    use smartstock_core::wire::{CatalogOutcome, CatalogRow, CatalogStatus};
    let f = Fixture::new();
    let wh1 = f.location("WH1");
    let kept = common::product("KEPT-1");
    f.store.create_product(f.actor, &kept).unwrap();
    let mut alias = common::product("DUP-1");
    alias.reorder_point = 10;
    f.store.create_product(f.actor, &alias).unwrap();
    f.receive(alias.id, wh1, 3);
    let low = |f: &Fixture| {
        let (kept, by_rule) = common::low_levels_kept_and_by_rule(&f.raw());
        assert_eq!(kept, by_rule, "the low levels the store keeps");
        kept
    };
    assert_eq!(low(&f), [("DUP-1".to_string(), "WH1".to_string())]);

    // The server answers DUP-1's creation: merged into KEPT-1 (no reorder point), whose level
    // now holds the 3 received.
    let created = f.store.pending_catalog_edits(10).unwrap().into_iter().find(|e| e.row.id() == alias.id.0).unwrap();
    let outcome = CatalogOutcome {
        seq: created.seq,
        status: CatalogStatus::Aliased { canonical_id: kept.id.0, alias_code: "DUP-1~alias".into() },
        row: Some(CatalogRow::Product(kept.clone())),
        stamps: Default::default(),
    };
    assert_eq!(f.store.acknowledge_catalog(&[outcome]).unwrap().aliased, 1);
    assert_eq!(f.store.level(kept.id, wh1).unwrap(), 3);
    assert!(low(&f).is_empty(), "the alias's level went, and with it its low row");
}
