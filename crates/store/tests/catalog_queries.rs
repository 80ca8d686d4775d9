//! The catalog (unique codes, audit of every edit, text stored verbatim) and the queries the UI
//! needs (stock search and filters, history paging, reorder suggestions).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{product, Fixture};
use smartstock_core::{MovementIntent, ReasonCode};
use smartstock_store::queries::{StockFilter, StockQuery, StockSort};
use smartstock_store::StoreError;

#[test]
fn unique_sku_barcode_and_code_are_refused_with_the_value_named() {
    let f = Fixture::new();
    f.product("SKU-1");
    let err = f.store.create_product(f.actor, &product("SKU-1")).unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { field: "sku", .. }), "{err:?}");
    assert!(err.to_string().contains("\"SKU-1\""), "{err}");
    let mut with_barcode = product("SKU-2");
    with_barcode.barcode = Some("4006381333931".into());
    f.store.create_product(f.actor, &with_barcode).unwrap();
    let mut clash = product("SKU-3");
    clash.barcode = Some("4006381333931".into());
    assert!(matches!(f.store.create_product(f.actor, &clash), Err(StoreError::Duplicate { field: "barcode", .. })));
    f.location("WH1");
    assert!(matches!(
        f.store.create_location(f.actor, &common::location("WH1")),
        Err(StoreError::Duplicate { field: "code", .. })
    ));
}

#[test]
fn every_catalog_edit_is_audited_field_by_field() {
    let f = Fixture::new();
    let id = f.product("SKU-1");
    let mut p = f.store.product(id).unwrap();
    p.name = "Blue widget".into();
    p.reorder_point = 12;
    assert_eq!(f.store.update_product(f.actor, &p).unwrap(), 2);
    assert_eq!(f.store.update_product(f.actor, &p).unwrap(), 0, "an edit that changes nothing records nothing");
    let audit = f.store.catalog_audit(Some(id.0), 100, 0).unwrap();
    let name = audit.iter().find(|c| c.field == "name" && c.old_value.is_some()).unwrap();
    assert_eq!((name.old_value.as_deref(), name.new_value.as_deref()), (Some("Product SKU-1"), Some("Blue widget")));
    assert_eq!(name.user_id, f.actor.user_id);
    assert_eq!(name.device_id, f.store.device_id().unwrap());
    assert!(audit.iter().any(|c| c.field == "reorder_point" && c.new_value.as_deref() == Some("12")));
    let created = audit.iter().find(|c| c.field == "created").expect("creation is audited too");
    assert!(created.new_value.as_deref().unwrap().contains("\"sku\":\"SKU-1\""), "{created:?}");
}

#[test]
fn sql_metacharacters_are_stored_verbatim() {
    let f = Fixture::new();
    let mut p = product("X'; DROP TABLE products; --");
    p.name = "Robert'); DELETE FROM movements;-- \"%_\\".into();
    f.store.create_product(f.actor, &p).unwrap();
    let back = f.store.product_by_code("X'; DROP TABLE products; --").unwrap();
    assert_eq!(back.name, p.name);
    let found = f.store.stock(&StockQuery { search: Some("%_".into()), limit: 10, ..Default::default() }).unwrap();
    assert_eq!(found.len(), 1, "LIKE wildcards in the search text match literally");
}

#[test]
fn stock_search_filters_and_sorts() {
    let f = Fixture::new();
    let (a, b, c) = (f.product("ABC-1"), f.product("XYZ-2"), f.product("ABD-3"));
    let mut with_barcode = f.store.product(b).unwrap();
    with_barcode.barcode = Some("5012345678900".into());
    with_barcode.reorder_point = 5;
    f.store.update_product(f.actor, &with_barcode).unwrap();
    let (w1, w2) = (f.location("WH1"), f.location("WH2"));
    f.receive(a, w1, 10);
    f.receive(a, w2, 3);
    f.receive(b, w1, 4);
    let page = |q: StockQuery| f.store.stock(&StockQuery { limit: 50, ..q }).unwrap();

    let all = page(StockQuery::default());
    assert_eq!(all.len(), 4, "three stocked pairs and one product with no stock: {all:?}");
    assert!(all.iter().any(|r| r.product_id == c && r.location_id.is_none() && r.on_hand == 0));
    let by_sku = page(StockQuery { search: Some("ab".into()), ..Default::default() });
    assert_eq!(by_sku.iter().map(|r| r.sku.as_str()).collect::<Vec<_>>(), vec!["ABC-1", "ABC-1", "ABD-3"]);
    let by_barcode = page(StockQuery { search: Some("5012345678900".into()), ..Default::default() });
    assert_eq!(by_barcode.len(), 1);
    assert_eq!(by_barcode[0].product_id, b);
    let by_name = page(StockQuery { search: Some("product xyz".into()), ..Default::default() });
    assert_eq!(by_name.len(), 1);
    let at_wh2 = page(StockQuery { location_id: Some(w2), ..Default::default() });
    assert_eq!((at_wh2.len(), at_wh2[0].on_hand), (1, 3));
    let low = page(StockQuery { filter: StockFilter::Low, ..Default::default() });
    assert_eq!(low.iter().map(|r| r.sku.as_str()).collect::<Vec<_>>(), vec!["XYZ-2"]);
    let by_qty = page(StockQuery { sort: StockSort::OnHand, descending: true, ..Default::default() });
    assert_eq!(by_qty[0].on_hand, 10);
    let second = f.store.stock(&StockQuery { limit: 1, offset: 1, ..Default::default() }).unwrap();
    assert_eq!(second[0], all[1]);
    let count = |q: StockQuery| f.store.stock_count(&StockQuery { limit: 1, offset: 3, ..q }).unwrap();
    assert_eq!(count(StockQuery::default()), 4, "the count ignores paging");
    assert_eq!(count(StockQuery { search: Some("ab".into()), ..Default::default() }), 3);
    assert_eq!(count(StockQuery { location_id: Some(w2), ..Default::default() }), 1);
    assert_eq!(count(StockQuery { filter: StockFilter::Low, ..Default::default() }), 1);

    f.store.set_negative_stock_policy(smartstock_core::NegativeStockPolicy::Allow).unwrap();
    f.issue(b, w1, 6).unwrap();
    let negative = page(StockQuery { filter: StockFilter::Negative, ..Default::default() });
    assert_eq!((negative.len(), negative[0].on_hand), (1, -2));
    let dispatch = MovementIntent::Dispatch { product_id: a, from: w1, to: w2, quantity: 1, note: None };
    f.store.record(f.actor, &dispatch).unwrap();
    let transit = page(StockQuery { filter: StockFilter::InTransit, ..Default::default() });
    assert_eq!(transit.len(), 2, "both ends of the transfer: {transit:?}");
}

/// (SKU, location code) of every row the stock table shows with `filter`, and its count.
fn filtered(f: &Fixture, filter: StockFilter) -> (Vec<(String, String)>, u64) {
    let query = StockQuery { filter, limit: 100, ..Default::default() };
    let rows = f.store.stock(&query).unwrap();
    let shown = rows.into_iter().map(|r| (r.sku, r.location_code.unwrap())).collect();
    (shown, f.store.stock_count(&query).unwrap())
}

fn pairs(of: &[(&str, &str)]) -> (Vec<(String, String)>, u64) {
    (of.iter().map(|(s, l)| (s.to_string(), l.to_string())).collect(), of.len() as u64)
}

#[test]
fn the_low_stock_filter_follows_every_change_of_level_and_reorder_point() {
    let f = Fixture::new();
    let (w1, w2) = (f.location("WH1"), f.location("WH2"));
    let mut a = product("A-1");
    a.reorder_point = 10;
    f.store.create_product(f.actor, &a).unwrap();
    let b = f.product("B-1"); // no reorder point: never low
    let low = |f: &Fixture| {
        let (kept, by_rule) = common::low_levels_kept_and_by_rule(&f.raw());
        assert_eq!(kept, by_rule, "the low levels the store keeps");
        filtered(f, StockFilter::Low)
    };

    f.receive(a.id, w1, 20);
    f.receive(b, w1, 1);
    assert_eq!(low(&f), pairs(&[]));
    let issued = f.issue(a.id, w1, 12).unwrap().movements.remove(0);
    assert_eq!(low(&f), pairs(&[("A-1", "WH1")]), "down to 8");
    f.receive(a.id, w2, 10);
    assert_eq!(low(&f), pairs(&[("A-1", "WH1"), ("A-1", "WH2")]), "at the point is low");
    let void = MovementIntent::Void { movement_id: issued.id, note: "keyed twice".into() };
    f.store.record(f.actor, &void).unwrap();
    assert_eq!(low(&f), pairs(&[("A-1", "WH2")]), "the void brings WH1 back to 20");
    f.count(a.id, w2, 11);
    assert_eq!(low(&f), pairs(&[]), "counted above the point");

    a.reorder_point = 25;
    f.store.update_product(f.actor, &a).unwrap();
    assert_eq!(low(&f), pairs(&[("A-1", "WH1"), ("A-1", "WH2")]), "a higher point");
    a.archived = true;
    f.store.update_product(f.actor, &a).unwrap();
    assert_eq!(low(&f), pairs(&[]), "archived products are hidden");
    let archived = StockQuery { filter: StockFilter::Low, include_archived: true, limit: 100, ..Default::default() };
    assert_eq!(f.store.stock_count(&archived).unwrap(), 2, "unless asked for");
    a.archived = false;
    a.reorder_point = 0;
    f.store.update_product(f.actor, &a).unwrap();
    assert_eq!(low(&f), pairs(&[]), "no reorder point");
    a.reorder_point = 11;
    f.store.update_product(f.actor, &a).unwrap();
    let at_wh2 = StockQuery { filter: StockFilter::Low, location_id: Some(w2), limit: 100, ..Default::default() };
    assert_eq!(f.store.stock(&at_wh2).unwrap().len(), 1, "11 at WH2");
    assert_eq!(f.store.stock_count(&at_wh2).unwrap(), 1);
    assert_eq!(f.store.below_reorder_point().unwrap().len(), 1, "the reorder list reads the same levels");
}

#[test]
fn the_in_transit_filter_shows_both_ends_of_each_live_dispatch_once() {
    let f = Fixture::new();
    let (w1, w2, w3) = (f.location("WH1"), f.location("WH2"), f.location("WH3"));
    let a = f.product("A-1");
    for at in [w1, w2, w3] {
        f.receive(a, at, 20);
    }
    let dispatch = |to, quantity| {
        let intent = MovementIntent::Dispatch { product_id: a, from: w1, to, quantity, note: None };
        f.store.record(f.actor, &intent).unwrap().movements.remove(0)
    };
    dispatch(w2, 1);
    dispatch(w2, 2);
    assert_eq!(
        filtered(&f, StockFilter::InTransit),
        pairs(&[("A-1", "WH1"), ("A-1", "WH2")]),
        "two dispatches, one row each end"
    );
    let to_wh3 = dispatch(w3, 3);
    assert_eq!(filtered(&f, StockFilter::InTransit).1, 3);
    let void = MovementIntent::Void { movement_id: to_wh3.id, note: "wrong van".into() };
    f.store.record(f.actor, &void).unwrap();
    assert_eq!(filtered(&f, StockFilter::InTransit).1, 2, "a voided dispatch is not in transit");
    for transit in f.store.in_transit().unwrap() {
        let receive = MovementIntent::ReceiveTransfer { transfer_id: transit.transfer_id, quantity: None, note: None };
        f.store.record(f.actor, &receive).unwrap();
    }
    assert_eq!(filtered(&f, StockFilter::InTransit), pairs(&[]), "all received");
}

#[test]
fn history_pages_newest_first_without_overlap() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    for _ in 0..25 {
        f.receive(p, l, 1);
        f.clock.advance(1000);
    }
    let adjust =
        MovementIntent::Adjust { product_id: p, location_id: l, delta: -1, reason: ReasonCode::Damaged, note: None };
    f.store.record(f.actor, &adjust).unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = f.store.history(p, None, before, 10).unwrap();
        if page.is_empty() {
            break;
        }
        let last = &page[page.len() - 1].movement;
        before = Some((last.occurred_at, last.id));
        seen.extend(page.into_iter().map(|r| r.movement));
    }
    assert_eq!(seen.len(), 26);
    assert_eq!(seen[0].reason, Some(ReasonCode::Damaged), "newest first");
    assert!(seen.windows(2).all(|w| (w[0].occurred_at, w[0].id) > (w[1].occurred_at, w[1].id)));
}

#[test]
fn reorder_suggestions_list_levels_at_or_below_the_point() {
    let f = Fixture::new();
    let id = f.product("SKU-1");
    let mut p = f.store.product(id).unwrap();
    (p.reorder_point, p.reorder_qty) = (10, 50);
    f.store.update_product(f.actor, &p).unwrap();
    let (w1, w2) = (f.location("WH1"), f.location("WH2"));
    f.receive(id, w1, 10);
    f.receive(id, w2, 11);
    let rows = f.store.below_reorder_point().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].location_code.as_str(), rows[0].on_hand, rows[0].suggested_qty), ("WH1", 10, 50));
}

#[test]
fn ledger_filters_by_kind_product_and_time_and_pages_newest_first() {
    use smartstock_core::MovementKind;
    use smartstock_store::queries::{LedgerCursor, LedgerQuery};
    let f = Fixture::new();
    let (a, b) = (f.product("LED-1"), f.product("LED-2"));
    let w1 = f.location("WH1");
    for _ in 0..3 {
        f.receive(a, w1, 5);
    }
    f.receive(b, w1, 2);
    f.issue(a, w1, 1).unwrap();
    let all = f.store.ledger(&LedgerQuery { limit: 100, ..Default::default() }).unwrap();
    assert_eq!(all.len(), 5);
    assert!(all
        .windows(2)
        .all(|w| (w[0].movement.occurred_at, w[0].movement.id) > (w[1].movement.occurred_at, w[1].movement.id)));
    let issues =
        f.store.ledger(&LedgerQuery { kind: Some(MovementKind::Issue), limit: 100, ..Default::default() }).unwrap();
    assert_eq!(issues.len(), 1);
    let of_b = f.store.ledger(&LedgerQuery { product_id: Some(b), limit: 100, ..Default::default() }).unwrap();
    assert_eq!(of_b.len(), 1);
    let first = f.store.ledger(&LedgerQuery { limit: 2, ..Default::default() }).unwrap();
    let last = &first[1].movement;
    let next = f
        .store
        .ledger(&LedgerQuery {
            limit: 100,
            before: Some(LedgerCursor { occurred_at: last.occurred_at, id: last.id }),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(next.len(), 3, "the rest, no overlap");
    assert!(next.iter().all(|r| first.iter().all(|f| f.movement.id != r.movement.id)));
    let future = f
        .store
        .ledger(&LedgerQuery { from: Some(smartstock_core::Timestamp(i64::MAX / 2)), limit: 10, ..Default::default() })
        .unwrap();
    assert!(future.is_empty());
}

/// A catalog of `n` products `W-0001`.. named "Widget 1".. (and one "Bracket"), no stock: one
/// row each in the unfiltered table.
fn widgets(f: &Fixture, n: usize) {
    use smartstock_store::import::ImportOptions;
    let mut csv = String::from("sku,name,barcode,unit,unit_scale,reorder_point,reorder_qty\n");
    for i in 1..=n {
        csv.push_str(&format!("W-{i:04},Widget {i},,pcs,0,0,0\n"));
    }
    csv.push_str("B-0001,Bracket,4006381333931,pcs,0,0,0\n");
    let options = ImportOptions { dry_run: false, skip_bad_rows: false };
    let report = f.store.import_products(f.actor, csv.as_bytes(), &options, &mut |_| {}).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

#[test]
fn short_searches_count_up_to_a_bound_past_the_page_and_say_so() {
    let f = Fixture::new();
    widgets(&f, 1500);
    let search =
        |text: &str, offset: u32| StockQuery { search: Some(text.into()), limit: 100, offset, ..Default::default() };

    let (rows, total) = f.store.stock_page(&search("w", 0)).unwrap();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows.first().map(|r| r.sku.as_str()), Some("W-0001"), "SKU order");
    assert_eq!((total.rows, total.exact), (1000, false), "one letter: at least 1000 rows, not all 1500 counted");
    assert_eq!(f.store.stock_count(&search("w", 0)).unwrap(), 1500, "the full count is still there");

    let (rows, total) = f.store.stock_page(&search("W", 900)).unwrap();
    assert_eq!(rows.first().map(|r| r.sku.as_str()), Some("W-0901"));
    assert_eq!((total.rows, total.exact), (1500, true), "scrolled to row 900: counted to 2000, found the end");

    let (rows, total) = f.store.stock_page(&search("w", 1400)).unwrap();
    assert_eq!((rows.len(), total.rows, total.exact), (100, 1500, true));

    let descending = StockQuery { descending: true, ..search("wi", 0) };
    let (rows, total) = f.store.stock_page(&descending).unwrap();
    assert_eq!(rows.first().map(|r| r.sku.as_str()), Some("W-1500"), "descending SKU order");
    assert!(!total.exact && total.rows == 1000);

    // Names, barcodes and SKUs all match short texts, case-insensitively, like long ones.
    let skus = |text: &str| {
        let (rows, total) = f.store.stock_page(&search(text, 0)).unwrap();
        assert!(total.exact && total.rows == rows.len() as u64, "{text:?}: a last page is its own count");
        rows.into_iter().map(|r| r.sku).collect::<Vec<_>>()
    };
    assert_eq!(skus("aC"), ["B-0001"], "name contains");
    assert_eq!(skus("b-"), ["B-0001"], "SKU prefix");
    assert!(skus("zq").is_empty(), "nothing matches");
    assert_eq!(skus("Bracket"), ["B-0001"]);
    assert_eq!(skus("4006381333931"), ["B-0001"], "barcode");
    assert_eq!(skus("widget 1499"), ["W-1499"]);

    // A page past the end says nothing about the end: the count does.
    let (rows, total) = f.store.stock_page(&search("widget", 5000)).unwrap();
    assert_eq!((rows.len(), total.rows, total.exact), (0, 1500, true));
    let (rows, total) = f.store.stock_page(&search("w", 5000)).unwrap();
    assert_eq!((rows.len(), total.rows, total.exact), (0, 1500, true), "a bound past the end is the exact count");
}

#[test]
fn long_searches_read_a_sku_prefix_only_as_far_as_the_page_and_count_up_to_a_bound() {
    let f = Fixture::new();
    widgets(&f, 1500);
    let search =
        |text: &str, offset: u32| StockQuery { search: Some(text.into()), limit: 100, offset, ..Default::default() };

    // "W-" matches 1500 SKUs, "widget" 1500 names: counted up to the bound past the page;
    // "W-0" matches 999, below the bound: counted exactly.
    for (text, counted) in [("w-", (1000, false)), ("widget", (1000, false)), ("W-0", (999, true))] {
        let (rows, total) = f.store.stock_page(&search(text, 0)).unwrap();
        assert_eq!(rows.iter().map(|r| r.sku.as_str()).take(2).collect::<Vec<_>>(), ["W-0001", "W-0002"], "{text}");
        assert_eq!((total.rows, total.exact), counted, "{text}");
    }
    assert_eq!(f.store.stock_count(&search("widget", 0)).unwrap(), 1500, "the full count is still there");
    let (rows, total) = f.store.stock_page(&search("w-", 900)).unwrap();
    assert_eq!(rows.first().map(|r| r.sku.as_str()), Some("W-0901"), "the SKU prefix is read past the offset");
    assert_eq!((rows.len(), total.rows, total.exact), (100, 1500, true), "counted to 2000, found the end");
    let descending = StockQuery { descending: true, ..search("W-1", 0) };
    let (rows, _) = f.store.stock_page(&descending).unwrap();
    assert_eq!(rows.first().map(|r| r.sku.as_str()), Some("W-1500"), "the prefix read from its end");
    assert_eq!(rows.last().map(|r| r.sku.as_str()), Some("W-1401"));

    // Archived products among the first SKUs do not push unarchived ones off the page.
    for sku in ["W-0001", "W-0002", "W-0003"] {
        let mut p = f.store.product_by_code(sku).unwrap();
        p.archived = true;
        f.store.update_product(f.actor, &p).unwrap();
    }
    let (rows, total) = f.store.stock_page(&StockQuery { limit: 3, ..search("W-000", 0) }).unwrap();
    assert_eq!(rows.iter().map(|r| r.sku.as_str()).collect::<Vec<_>>(), ["W-0004", "W-0005", "W-0006"]);
    assert_eq!((total.rows, total.exact), (6, true), "W-0004..W-0009");
    let with_archived = StockQuery { include_archived: true, limit: 3, ..search("W-000", 0) };
    let (rows, total) = f.store.stock_page(&with_archived).unwrap();
    assert_eq!(rows.first().map(|r| r.sku.as_str()), Some("W-0001"));
    assert_eq!((total.rows, total.exact), (9, true));

    // A name match and a SKU match of one product count once; a barcode matches exactly.
    let (rows, total) = f.store.stock_page(&search("bracket", 0)).unwrap();
    assert_eq!((rows.len(), total.rows, total.exact), (1, 1, true));
    let (rows, total) = f.store.stock_page(&StockQuery { limit: 1, ..search("4006381333931", 0) }).unwrap();
    assert_eq!((rows.len(), total.rows, total.exact), (1, 1, true));
}

#[test]
fn short_searches_bound_the_count_in_filtered_views_too() {
    let f = Fixture::new();
    widgets(&f, 1200);
    let l = f.location("WH1");
    for sku in ["W-0001", "W-0002", "B-0001"] {
        let p = f.store.product_by_code(sku).unwrap();
        f.receive(p.id, l, 3);
    }
    let at =
        |text: &str| StockQuery { search: Some(text.into()), location_id: Some(l), limit: 2, ..Default::default() };
    let (rows, total) = f.store.stock_page(&at("w")).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((total.rows, total.exact), (2, true), "two levels at WH1 match: counted below the bound");
    let capped = f.store.stock_count_up_to(&StockQuery { search: Some("w".into()), ..Default::default() }, 10).unwrap();
    assert_eq!((capped.rows, capped.exact), (10, false));
}
