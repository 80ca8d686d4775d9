//! The stock table's search, answered from the store's in-memory copy of the catalog's text: the
//! same rows, in the same order, as the SQL test of the text in every view, and never an answer
//! from before a catalog change.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{product, Fixture};
use smartstock_core::{LocationId, MovementIntent};
use smartstock_store::queries::{StockFilter, StockQuery, StockSort};

/// Products whose SKUs, names and barcodes exercise the match: case, non-ASCII letters, LIKE
/// metacharacters, short barcodes, archived products; stock at two locations, some negative, some
/// at or below a reorder point, some in transit.
fn catalog(f: &Fixture) -> [LocationId; 2] {
    let locations = [f.location("WH1"), f.location("SHOP")];
    f.store.set_negative_stock_policy(smartstock_core::NegativeStockPolicy::Allow).unwrap();
    let items: [(&str, &str, Option<&str>, bool); 10] = [
        ("TL-001", "Torx driver T20", Some("7"), false),
        ("tl-002", "Ball-end hex key", None, false),
        ("AB-100", "Flat washer M6", Some("4006381333931"), false),
        ("AB-101", "Élan strap 20%", None, false),
        ("HW-9", "Old drill bit", Some("xy"), true),
        ("CB-5", "Cable tie_black", Some("X"), false),
        ("ZZ-1", "Zinc plate", None, false),
        ("éA-1", "Accent first", None, false),
        ("M6", "Hex nut m6", None, false),
        ("7-UP", "Seven-up crate", None, false),
    ];
    for (i, (sku, name, barcode, archived)) in items.into_iter().enumerate() {
        let mut p = product(sku);
        p.name = name.into();
        p.barcode = barcode.map(str::to_owned);
        p.reorder_point = if i % 2 == 0 { 9 } else { 0 };
        f.store.create_product(f.actor, &p).unwrap();
        let id = p.id;
        if i % 3 != 2 {
            f.receive(id, locations[i % 2], 5 + i as i64);
        }
        if i % 4 == 0 {
            f.issue(id, locations[1], 3).unwrap();
        }
        if i % 5 == 1 {
            let intent = MovementIntent::Dispatch {
                product_id: id,
                from: locations[1],
                to: locations[0],
                quantity: 1,
                note: None,
            };
            f.store.record(f.actor, &intent).unwrap();
        }
        if archived {
            p.archived = true;
            f.store.update_product(f.actor, &p).unwrap();
        }
    }
    locations
}

/// The stock table by the plain SQL test of the text, every row, in the query's order.
fn reference(f: &Fixture, query: &StockQuery) -> Vec<(String, Option<String>)> {
    let text = query.search.as_deref().unwrap().trim();
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let order = match query.sort {
        StockSort::Sku => "p.sku",
        StockSort::Name => "p.name COLLATE NOCASE",
        StockSort::Location => "loc.code",
        StockSort::OnHand => "COALESCE(l.on_hand, 0)",
    };
    let direction = if query.descending { "DESC" } else { "ASC" };
    let unfiltered = query.filter == StockFilter::All && query.location_id.is_none();
    let join = if unfiltered { "LEFT JOIN" } else { "JOIN" };
    let filter = match query.filter {
        StockFilter::All => "1",
        StockFilter::Low => "p.reorder_point > 0 AND l.on_hand <= p.reorder_point",
        StockFilter::Negative => "l.on_hand < 0",
        StockFilter::InTransit => {
            "EXISTS (SELECT 1 FROM movements o WHERE o.product_id = l.product_id \
             AND (o.location_id = l.location_id OR o.peer_location_id = l.location_id) \
             AND o.kind = 'transfer_out' AND o.voided_by IS NULL \
             AND NOT EXISTS (SELECT 1 FROM movements i WHERE i.kind = 'transfer_in' AND i.ref = o.ref))"
        }
    };
    let sql = format!(
        "SELECT p.sku, loc.code FROM products p {join} levels l ON l.product_id = p.id \
         {join} locations loc ON loc.id = l.location_id \
         WHERE (?4 OR p.archived = 0) AND (?5 IS NULL OR l.location_id = ?5) AND {filter} \
         AND (p.sku LIKE ?1 ESCAPE '\\' OR p.barcode = ?3 OR p.name LIKE ?2 ESCAPE '\\') \
         ORDER BY {order} {direction}, p.sku, loc.code"
    );
    let conn = f.raw();
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map(
        rusqlite::params![
            format!("{escaped}%"),
            format!("%{escaped}%"),
            text,
            query.include_archived,
            query.location_id.map(|l| l.0)
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn shown(f: &Fixture, query: &StockQuery) -> Vec<(String, Option<String>)> {
    f.store.stock(query).unwrap().into_iter().map(|r| (r.sku, r.location_code)).collect()
}

#[test]
fn searches_show_what_the_sql_test_of_the_text_shows_in_every_view() {
    let f = Fixture::new();
    let [wh1, _] = catalog(&f);
    let texts = [
        "t",
        "T",
        "tl",
        "é",
        "éa",
        "É",
        "%",
        "_",
        "m6",
        "M",
        "7",
        "x",
        "X",
        "xy",
        "zq",
        "-",
        " h ",
        "tl-",
        "TL-00",
        "driver",
        "DRIVER t2",
        "hex",
        "4006381333931",
        "400638",
        "tie_b",
        "20%",
        "élan",
        "ÉLAN",
        "7-up",
        "zzz",
    ];
    let sorts = [StockSort::Sku, StockSort::Name, StockSort::Location, StockSort::OnHand];
    let filters = [StockFilter::All, StockFilter::Negative, StockFilter::Low, StockFilter::InTransit];
    let mut compared = 0;
    for text in texts {
        for sort in sorts {
            for filter in filters {
                for (descending, include_archived, location_id) in
                    [(false, false, None), (true, false, None), (false, true, None), (true, true, Some(wh1))]
                {
                    let query = StockQuery {
                        search: Some(text.into()),
                        sort,
                        filter,
                        descending,
                        include_archived,
                        location_id,
                        limit: 100,
                        offset: 0,
                    };
                    let expected = reference(&f, &query);
                    assert_eq!(shown(&f, &query), expected, "{query:?}");
                    let (rows, total) = f.store.stock_page(&query).unwrap();
                    assert_eq!((total.rows, total.exact), (expected.len() as u64, true), "{query:?}");
                    assert_eq!(rows.len(), expected.len());
                    assert_eq!(f.store.stock_count(&query).unwrap(), expected.len() as u64, "{query:?}");
                    // Paged two rows at a time, the same rows.
                    let paged: Vec<_> = (0..expected.len().div_ceil(2) as u32)
                        .flat_map(|page| shown(&f, &StockQuery { limit: 2, offset: page * 2, ..query.clone() }))
                        .collect();
                    assert_eq!(paged, expected, "{query:?} by pages of 2");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, texts.len() * 4 * 4 * 4);
    assert!(!shown(&f, &StockQuery { search: Some("h".into()), limit: 100, ..Default::default() }).is_empty());
}

#[test]
fn a_catalog_change_is_searchable_at_once() {
    let f = Fixture::new();
    catalog(&f);
    let search = |text: &str| StockQuery { search: Some(text.into()), limit: 100, ..Default::default() };
    let skus = |text: &str| {
        let mut skus: Vec<String> = shown(&f, &search(text)).into_iter().map(|(sku, _)| sku).collect();
        skus.dedup();
        skus
    };
    f.store.prepare_search().unwrap();
    assert!(skus("qz").is_empty());

    // Renamed.
    let mut zinc = f.store.product_by_code("ZZ-1").unwrap();
    zinc.name = "Zinc plate QZ".into();
    f.store.update_product(f.actor, &zinc).unwrap();
    assert_eq!(skus("qz"), ["ZZ-1"], "a rename");

    // Created, then archived.
    let mut new = product("QZ-9");
    new.name = "Quartz lamp".into();
    f.store.create_product(f.actor, &new).unwrap();
    assert_eq!(skus("qz"), ["QZ-9", "ZZ-1"], "a new product");
    let mut lamp = f.store.product_by_code("QZ-9").unwrap();
    lamp.archived = true;
    f.store.update_product(f.actor, &lamp).unwrap();
    assert_eq!(skus("qz"), ["ZZ-1"], "archived");

    // Imported.
    let csv = "sku,name,barcode,unit,unit_scale,reorder_point,reorder_qty\nIM-1,Imported qz,,pcs,0,0,0\n";
    let options = smartstock_store::import::ImportOptions { dry_run: false, skip_bad_rows: false };
    let report = f.store.import_products(f.actor, csv.as_bytes(), &options, &mut |_| {}).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(skus("qz"), ["IM-1", "ZZ-1"], "an import");

    // A movement is not a catalog change, and the search still sees its level.
    let wh1 = f.store.location_by_code("WH1").unwrap().id;
    f.receive(f.store.product_by_code("IM-1").unwrap().id, wh1, 4);
    let rows = f.store.stock(&search("qz")).unwrap();
    assert_eq!(rows.iter().find(|r| r.sku == "IM-1").map(|r| r.on_hand), Some(4));
}

#[test]
fn a_search_matching_many_products_pages_and_counts_in_every_view() {
    let f = Fixture::new();
    let mut csv = String::from("sku,name,barcode,unit,unit_scale,reorder_point,reorder_qty\n");
    // 6,000 products named "Widget …" (more than are handed to SQL as rowids), in an order
    // where SKU, name and the match disagree.
    for i in 0..6000 {
        csv.push_str(&format!(
            "S-{:05},{} widget {i},,pcs,0,0,0\n",
            (i * 7919) % 6000,
            ["Blue", "red", "Green"][i % 3]
        ));
    }
    let options = smartstock_store::import::ImportOptions { dry_run: false, skip_bad_rows: false };
    let report = f.store.import_products(f.actor, csv.as_bytes(), &options, &mut |_| {}).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    for sort in [StockSort::Sku, StockSort::Name, StockSort::OnHand] {
        for descending in [false, true] {
            for text in ["wi", "re", "n ", "widget", "red w", "S-0"] {
                let query = StockQuery {
                    search: Some(text.into()),
                    sort,
                    descending,
                    limit: 50,
                    offset: 2950,
                    ..Default::default()
                };
                let expected = reference(&f, &query);
                let page = &expected[2950.min(expected.len())..3000.min(expected.len())];
                assert_eq!(shown(&f, &query), page, "{query:?}");
                let (_, total) = f.store.stock_page(&query).unwrap();
                let bounded = if expected.len() <= 4000 { (expected.len() as u64, true) } else { (4000, false) };
                assert_eq!((total.rows, total.exact), bounded, "{query:?}: counted up to 4000 rows");
            }
        }
    }
}
