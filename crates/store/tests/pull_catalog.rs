//! Pulled catalog rows: products new to this device are written many to a statement (the bulk
//! path of a first sync), products it stamped itself merge field by field, and a unique-code
//! clash still names the product, whatever the chunk it came in.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{product, Fixture, T0};
use smartstock_core::merge::{stamp_fields, CatalogFields, FieldStamp, Stamps};
use smartstock_core::wire::{CatalogEntity, EntityStamps, PullPage, WIRE_VERSION};
use smartstock_core::{DeviceId, Hlc, Product, UserId};
use uuid::Uuid;

fn server_stamps(p: &Product, wall: i64) -> Stamps {
    let stamp =
        FieldStamp { hlc: Hlc { wall, counter: 0 }, device_id: DeviceId(Uuid::nil()), user_id: UserId(Uuid::nil()) };
    stamp_fields(p.fields().into_iter().map(|(f, _)| f), stamp)
}

fn page(products: Vec<(Product, Stamps)>, next_after: i64) -> PullPage {
    PullPage {
        v: WIRE_VERSION,
        movements: vec![],
        stamps: products
            .iter()
            .map(|(p, s)| EntityStamps { entity: CatalogEntity::Product, id: p.id.0, stamps: s.clone() })
            .collect(),
        products: products.into_iter().map(|(p, _)| p).collect(),
        locations: vec![],
        alerts: vec![],
        notices: vec![],
        next_after,
        has_more: false,
    }
}

/// SQLite finds every index consistent with its table (nothing half-written).
fn the_ledger_is_consistent(f: &Fixture) {
    let verdict: String = f.raw().query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(verdict, "ok");
}

/// The SKUs the stock search finds for `text`.
fn searched(f: &Fixture, text: &str) -> Vec<String> {
    let query = smartstock_store::queries::StockQuery { search: Some(text.into()), limit: 10, ..Default::default() };
    f.store.stock(&query).unwrap().into_iter().map(|row| row.sku).collect()
}

#[test]
fn many_new_products_are_stored_with_their_stamps_and_found_by_name() {
    let f = Fixture::new();
    // 300 = 256 + 2 × 16 + 12 × 1: every chunk size.
    let products: Vec<(Product, Stamps)> = (0..300)
        .map(|i| {
            let mut p = product(&format!("BULK-{i:04}"));
            p.barcode = Some(format!("900{i:010}"));
            let stamps = server_stamps(&p, T0 - 1000 + i);
            (p, stamps)
        })
        .collect();
    let applied = f.store.apply_pull(&page(products.clone(), 7)).unwrap();
    assert_eq!((applied.products, applied.cursor), (300, 7));
    for (p, stamps) in &products {
        assert_eq!(&f.store.product(p.id).unwrap(), p);
        assert_eq!(&f.store.catalog_stamps(p.id.0).unwrap(), stamps);
    }
    assert_eq!(f.store.product_by_code("9000000000123").unwrap().sku, "BULK-0123");
    assert_eq!(searched(&f, "product bulk-0123"), ["BULK-0123"], "found by name");
    the_ledger_is_consistent(&f);

    // The same rows again (a page fetched twice) change nothing.
    f.store.apply_pull(&page(products.clone(), 8)).unwrap();
    assert_eq!(&f.store.product(products[299].0.id).unwrap(), &products[299].0);
    the_ledger_is_consistent(&f);
}

#[test]
fn a_product_this_device_stamped_merges_per_field_beside_new_ones() {
    let f = Fixture::new();
    let mut local = product("MINE-1");
    f.store.create_product(f.actor, &local).unwrap();
    local.name = "Named here".into();
    f.store.update_product(f.actor, &local).unwrap();

    // The server has an older name and a newer price for it, and 40 products this device never saw.
    let mut server = local.clone();
    server.name = "Named on the server".into();
    server.price_minor = 999;
    let mut stamps = server_stamps(&server, T0 - 60_000);
    stamps.get_mut("price").unwrap().hlc = Hlc { wall: T0 + 60_000, counter: 0 };
    let mut rows: Vec<(Product, Stamps)> = (0..40)
        .map(|i| {
            let p = product(&format!("NEW-{i:02}"));
            let s = server_stamps(&p, T0);
            (p, s)
        })
        .collect();
    rows.insert(17, (server, stamps));
    assert_eq!(f.store.apply_pull(&page(rows.clone(), 3)).unwrap().products, 41);

    let merged = f.store.product(local.id).unwrap();
    assert_eq!((merged.name.as_str(), merged.price_minor), ("Named here", 999));
    for (p, _) in rows.iter().filter(|(p, _)| p.id != local.id) {
        assert_eq!(&f.store.product(p.id).unwrap(), p);
    }
    the_ledger_is_consistent(&f);
}

#[test]
fn a_new_product_whose_sku_another_local_product_holds_is_refused_by_name_and_nothing_is_written() {
    let f = Fixture::new();
    f.product("TAKEN-1");
    let mut rows: Vec<(Product, Stamps)> = (0..20)
        .map(|i| {
            let p = product(&format!("FINE-{i:02}"));
            let s = server_stamps(&p, T0);
            (p, s)
        })
        .collect();
    let clash = product("TAKEN-1");
    rows.insert(5, (clash.clone(), server_stamps(&clash, T0)));

    let error = f.store.apply_pull(&page(rows.clone(), 9)).unwrap_err().to_string();
    assert!(error.contains("\"TAKEN-1\"") && error.contains("catalog merge"), "{error}");
    assert_eq!(f.store.pull_cursor().unwrap(), 0);
    assert!(f.store.product(rows[0].0.id).is_err(), "the page is written whole or not at all");
    assert!(f.store.catalog_stamps(rows[0].0.id.0).unwrap().is_empty());
    the_ledger_is_consistent(&f);
}

#[test]
fn a_pulled_product_the_table_would_refuse_is_refused_by_name_on_the_bulk_path_too() {
    // A first sync writes with SQLite's CHECK constraints off; the same rules are checked in Rust.
    let bad = |change: fn(&mut Product)| {
        let mut p = product("BAD-1");
        change(&mut p);
        let s = server_stamps(&p, T0);
        (p, s)
    };
    for (field, change) in [
        ("price", (|p: &mut Product| p.price_minor = -1) as fn(&mut Product)),
        ("reorder_point", |p| p.reorder_point = -5),
        ("unit_scale", |p| p.unit_scale = 9),
    ] {
        let f = Fixture::new();
        let fine = product("FINE-1");
        let first = page(vec![(fine.clone(), server_stamps(&fine, T0))], 1);
        let pages = vec![PullPage { has_more: true, ..first }, page(vec![bad(change)], 2)];
        let error = f.store.apply_first_pull(&mut pages.into_iter()).unwrap_err().to_string();
        assert!(error.contains(field) && error.contains("BAD-1"), "{field}: {error}");
        assert_eq!(f.store.pull_cursor().unwrap(), 0, "{field}: the load is rolled back whole");
        assert!(f.store.product(fine.id).is_err());

        // The usual path refuses it the same way, and afterwards the table checks again.
        let error = f.store.apply_pull(&page(vec![bad(change)], 3)).unwrap_err().to_string();
        assert!(error.contains(field), "{field}: {error}");
    }
}

#[test]
fn a_pulled_reorder_point_moves_the_products_levels_in_and_out_of_low_stock() {
    let f = Fixture::new();
    let mut p = product("PULL-1");
    f.store.apply_pull(&page(vec![(p.clone(), server_stamps(&p, T0 - 5000))], 1)).unwrap();
    let (w1, w2) = (f.location("WH1"), f.location("WH2"));
    f.receive(p.id, w1, 4);
    f.receive(p.id, w2, 9);
    let low = |f: &Fixture| {
        let (kept, by_rule) = common::low_levels_kept_and_by_rule(&f.raw());
        assert_eq!(kept, by_rule, "the low levels the store keeps");
        kept.into_iter().map(|(_, code)| code).collect::<Vec<_>>()
    };
    assert!(low(&f).is_empty(), "no reorder point yet");
    p.reorder_point = 5;
    f.store.apply_pull(&page(vec![(p.clone(), server_stamps(&p, T0 - 4000))], 2)).unwrap();
    assert_eq!(low(&f), ["WH1"]);
    p.reorder_point = 9;
    f.store.apply_pull(&page(vec![(p.clone(), server_stamps(&p, T0 - 3000))], 3)).unwrap();
    assert_eq!(low(&f), ["WH1", "WH2"]);
    p.reorder_point = 0;
    f.store.apply_pull(&page(vec![(p.clone(), server_stamps(&p, T0 - 2000))], 4)).unwrap();
    assert!(low(&f).is_empty());
    the_ledger_is_consistent(&f);
}
