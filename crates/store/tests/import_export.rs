//! CSV import (products, locations, opening stock) and export (stock, movements): good files
//! land with levels, audit and outbox right; every bad row names its physical line and column;
//! a refused file, a dry run and a bad header change nothing; exports quote what needs quoting.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Fixture;
use smartstock_core::{LocationKind, MovementIntent, ReasonCode};
use smartstock_store::export::MOVEMENT_COLUMNS;
use smartstock_store::import::{ImportOptions, ImportProgress, ImportReport, RowError};
use smartstock_store::StoreError;

const LOCATIONS: &str =
    "code,name,kind,parent_code\nWH1,Main warehouse,warehouse,\nSHOP,\"Shop, front\",store,\nBIN-1,Bin 1,bin,WH1\n";
const PRODUCTS: &str = "name,sku,unit,unit_scale,reorder_point,cost,price,barcode\n\
                        Widget,W-1,pcs,0,5,1.50,2.99,4006381333931\n\
                        Flour,F-1,kg,3,2.5,0.80,1.20,\n";
const OPENING: &str = "sku,location_code,quantity\nW-1,WH1,10\nF-1,WH1,12.345\nW-1,SHOP,0\n";
const STOCK_HEADER: &str = "sku,name,barcode,location_code,on_hand,unit,reorder_point\n";

const REFUSE: ImportOptions = ImportOptions { dry_run: false, skip_bad_rows: false };
const SKIP: ImportOptions = ImportOptions { dry_run: false, skip_bad_rows: true };
const DRY: ImportOptions = ImportOptions { dry_run: true, skip_bad_rows: false };

fn products(f: &Fixture, csv: impl AsRef<[u8]>, options: ImportOptions) -> ImportReport {
    f.store.import_products(f.actor, csv.as_ref(), &options, &mut |_| {}).unwrap()
}

fn locations(f: &Fixture, csv: impl AsRef<[u8]>, options: ImportOptions) -> ImportReport {
    f.store.import_locations(f.actor, csv.as_ref(), &options, &mut |_| {}).unwrap()
}

fn opening(f: &Fixture, csv: impl AsRef<[u8]>, options: ImportOptions) -> ImportReport {
    f.store.import_opening_stock(f.actor, csv.as_ref(), &options, &mut |_| {}).unwrap()
}

/// A store with the locations and products above (no stock yet).
fn seeded() -> Fixture {
    let f = Fixture::new();
    assert_clean(&locations(&f, LOCATIONS, REFUSE), 3);
    assert_clean(&products(&f, PRODUCTS, REFUSE), 2);
    f
}

fn assert_clean(report: &ImportReport, rows: u64) {
    assert_eq!(report.errors, Vec::<RowError>::new());
    assert_eq!((report.rows_total, report.rows_imported, report.rows_failed), (rows, rows, 0), "{report:?}");
}

/// Line and column of each error, for exact comparison.
fn at(report: &ImportReport) -> Vec<(u64, Option<&str>)> {
    report.errors.iter().map(|e| (e.line, e.column.as_deref())).collect()
}

fn message(report: &ImportReport, line: u64) -> &str {
    &report.errors.iter().find(|e| e.line == line).unwrap().message
}

fn stock_csv(f: &Fixture) -> String {
    let mut out = Vec::new();
    f.store.export_stock_csv(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn movements_csv(f: &Fixture) -> String {
    let mut out = Vec::new();
    f.store.export_movements_csv(&mut out, None).unwrap();
    String::from_utf8(out).unwrap()
}

/// The exported movements as maps from column to value.
fn movement_rows(f: &Fixture) -> Vec<std::collections::HashMap<String, String>> {
    let text = movements_csv(f);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect()).collect()
}

/// Everything an import could touch.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    stock: String,
    movements: String,
    products: i64,
    locations: usize,
    audit_rows: usize,
    pending: u64,
    next_seq: i64,
}

fn snapshot(f: &Fixture) -> Snapshot {
    let raw = f.raw();
    Snapshot {
        stock: stock_csv(f),
        movements: movements_csv(f),
        products: raw.query_row("SELECT count(*) FROM products", [], |r| r.get(0)).unwrap(),
        locations: f.store.locations().unwrap().len(),
        audit_rows: f.store.catalog_audit(None, u32::MAX, 0).unwrap().len(),
        pending: f.store.pending_count().unwrap(),
        next_seq: raw.query_row("SELECT next_seq FROM device", [], |r| r.get(0)).unwrap(),
    }
}

#[test]
fn good_files_import_catalog_and_opening_stock_with_levels_audit_and_outbox() {
    let f = seeded();
    let flour = f.store.product_by_code("F-1").unwrap();
    assert_eq!((flour.unit.as_str(), flour.unit_scale, flour.reorder_point), ("kg", 3, 2500));
    assert_eq!((flour.cost_minor, flour.price_minor, flour.barcode.as_deref()), (80, 120, None));
    let widget = f.store.product_by_code("4006381333931").unwrap();
    assert_eq!((widget.sku.as_str(), widget.cost_minor, widget.price_minor, widget.reorder_qty), ("W-1", 150, 299, 0));
    let wh1 = f.store.location_by_code("WH1").unwrap();
    assert_eq!(f.store.location_by_code("BIN-1").unwrap().parent_id, Some(wh1.id));
    let shop = f.store.location_by_code("SHOP").unwrap();
    assert_eq!((shop.name.as_str(), shop.kind), ("Shop, front", LocationKind::Store));
    // Every created row is audited (one `created` row with every field), like create_product.
    let audit = f.store.catalog_audit(Some(widget.id.0), 100, 0).unwrap();
    assert_eq!((audit.len(), audit[0].field.as_str()), (1, "created"));
    assert!(audit[0].new_value.as_deref().unwrap().contains("\"barcode\":\"4006381333931\""), "{audit:?}");
    assert_eq!(f.store.catalog_audit(None, 1000, 0).unwrap().len(), 2 + 3);

    assert_clean(&opening(&f, OPENING, REFUSE), 3);
    assert_eq!(
        stock_csv(&f),
        format!(
            "{STOCK_HEADER}F-1,Flour,,WH1,12.345,kg,2.500\n\
             W-1,Widget,4006381333931,SHOP,0,pcs,5\n\
             W-1,Widget,4006381333931,WH1,10,pcs,5\n"
        )
    );
    let rows = movement_rows(&f);
    assert_eq!(rows.len(), 3);
    let mut seqs: Vec<&str> = rows.iter().map(|r| r["device_seq"].as_str()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, ["1", "2", "3"], "device_seq is gapless");
    for row in &rows {
        assert_eq!((row["kind"].as_str(), row["reason"].as_str(), row["delta"].as_str()), ("count", "opening", ""));
        assert_eq!(row["occurred_at"], "2023-11-14T22:13:20.000Z");
        assert!(["0", "0.000"].contains(&row["qty_before"].as_str()), "{row:?}");
        assert_eq!(row["sync_state"], "pending");
        assert_eq!(row["qty_after"], row["counted_qty"]);
    }
    let flour_row = rows.iter().find(|r| r["sku"] == "F-1").unwrap();
    assert_eq!((flour_row["counted_qty"].as_str(), flour_row["location_code"].as_str()), ("12.345", "WH1"));
    assert_eq!(f.store.pending_count().unwrap(), 3, "every movement is in the outbox");
    assert_eq!(f.store.level(flour.id, wh1.id).unwrap(), 12_345);
    let reconcile = f.store.reconcile(false).unwrap();
    assert!(reconcile.differences.is_empty(), "levels and checksums match the ledger: {reconcile:?}");
    assert_eq!(reconcile.pairs_checked, 3);
}

#[test]
fn unknown_location_refuses_the_whole_file_and_changes_nothing() {
    let f = seeded();
    let before = snapshot(&f);
    let report = opening(&f, "sku,location_code,quantity\nW-1,WH1,3\nW-1,WH9,4\nF-1,WH1,1\n", REFUSE);
    assert_eq!(at(&report), [(3, Some("location_code"))]);
    assert_eq!(message(&report, 3), "location code \"WH9\" does not exist; import locations first or fix the code");
    assert_eq!((report.rows_total, report.rows_imported, report.rows_failed), (3, 0, 1));
    assert_eq!(snapshot(&f), before);
}

#[test]
fn duplicate_skus_and_barcodes_in_the_file_or_the_catalog_are_refused() {
    let f = seeded();
    let before = snapshot(&f);
    let report = products(
        &f,
        "sku,name,barcode\nW-1,Widget again,\nN-1,New,\nN-1,New again,\nN-2,Other,4006381333931\nN-3,Third,111\nN-4,Fourth,111\n",
        REFUSE,
    );
    assert_eq!(at(&report), [(2, Some("sku")), (4, Some("sku")), (5, Some("barcode")), (7, Some("barcode"))]);
    assert_eq!(message(&report, 2), "sku \"W-1\" is already used by another product; choose another sku");
    assert_eq!(message(&report, 4), "sku \"N-1\" is repeated in this file (first on line 3); keep one row per sku");
    assert!(message(&report, 5).contains("barcode \"4006381333931\" is already used"), "{report:?}");
    assert!(message(&report, 7).contains("first on line 6"), "{report:?}");
    assert_eq!(report.rows_imported, 0);
    assert_eq!(snapshot(&f), before);
    assert!(matches!(f.store.product_by_code("N-1"), Err(StoreError::NotFound { .. })));
}

#[test]
fn bad_quantities_are_refused_with_their_line_and_column() {
    let f = seeded();
    let before = snapshot(&f);
    let report = opening(
        &f,
        "sku,location_code,quantity\n\
         W-1,WH1,ten\n\
         W-1,SHOP,-3\n\
         F-1,WH1,1.2345\n\
         F-1,SHOP,99999999999999999999\n\
         W-1,BIN-1,\n\
         F-1,BIN-1,2.5\n",
        REFUSE,
    );
    let quantity = Some("quantity");
    assert_eq!(at(&report), [(2, quantity), (3, quantity), (4, quantity), (5, quantity), (6, quantity)]);
    assert_eq!(message(&report, 2), "quantity must be a number like 12 or 1.5 (got \"ten\")");
    assert!(message(&report, 3).contains("must be 0 or more"), "{report:?}");
    assert!(message(&report, 4).contains("more than 3 decimal places"), "{report:?}");
    assert!(message(&report, 5).contains("too large"), "{report:?}");
    assert!(message(&report, 6).contains("empty"), "{report:?}");
    assert_eq!((report.rows_total, report.rows_imported, report.rows_failed), (6, 0, 5));
    assert_eq!(snapshot(&f), before);
}

#[test]
fn wrong_column_count_is_a_row_error() {
    let f = seeded();
    let before = snapshot(&f);
    let report = opening(&f, "sku,location_code,quantity\nW-1,WH1\nW-1,SHOP,1,extra\nF-1,WH1,1\n", REFUSE);
    assert_eq!(at(&report), [(2, None), (3, None)]);
    assert!(message(&report, 2).starts_with("expected 3 columns, found 2;"), "{report:?}");
    assert!(message(&report, 3).starts_with("expected 3 columns, found 4;"), "{report:?}");
    assert_eq!(snapshot(&f), before);
}

#[test]
fn invalid_utf8_names_the_line_and_column() {
    let f = seeded();
    let before = snapshot(&f);
    let report = locations(&f, b"code,name\nOK1,Fine\nBAD,Caf\xe9 corner\n", REFUSE);
    assert_eq!(at(&report), [(3, Some("name"))]);
    assert!(message(&report, 3).contains("not valid UTF-8"), "{report:?}");
    assert_eq!(snapshot(&f), before);
    let report = products(&f, b"sku,name\nSK\xff\xfe,Thing\n", REFUSE);
    assert_eq!(at(&report), [(2, Some("sku"))]);
    assert_eq!(snapshot(&f), before);
}

#[test]
fn skip_bad_rows_imports_the_good_rows_and_reports_physical_lines() {
    let f = seeded();
    // CRLF line ends, blank lines, and no line break at the end: lines stay physical lines.
    let csv = "sku,location_code,quantity\r\n\
               W-1,WH1,7\r\n\
               \r\n\
               W-1,WH9,1\r\n\
               \n\
               F-1,WH1,abc\r\n\
               ,,\r\n\
               F-1,SHOP,0.5\r\n\
               NOPE,WH1,1\r\n\
               W-1,WH1,8";
    let report = opening(&f, csv, SKIP);
    assert_eq!(at(&report), [(4, Some("location_code")), (6, Some("quantity")), (9, Some("sku")), (10, None)]);
    assert_eq!(message(&report, 9), "sku \"NOPE\" does not exist; import products first or fix the sku");
    assert!(message(&report, 10).contains("already on line 2"), "{report:?}");
    assert_eq!((report.rows_total, report.rows_imported, report.rows_failed), (6, 2, 4));
    assert_eq!(
        stock_csv(&f),
        format!("{STOCK_HEADER}F-1,Flour,,SHOP,0.500,kg,2.500\nW-1,Widget,4006381333931,WH1,7,pcs,5\n")
    );
    let mut seqs: Vec<String> = movement_rows(&f).into_iter().map(|r| r["device_seq"].clone()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, ["1", "2"], "refused rows use no device_seq");
    assert!(f.store.reconcile(false).unwrap().differences.is_empty());

    // A quoted value spanning two lines moves the following lines down.
    let report = products(&f, "sku,name,price\nQ-1,\"two\nlines\",1\nQ-2,Fine,1.999\nQ-3,Good,2\n", SKIP);
    assert_eq!(at(&report), [(2, Some("name")), (4, Some("price"))]);
    assert!(message(&report, 4).contains("more than 2 decimal places"), "{report:?}");
    assert_eq!((report.rows_total, report.rows_imported, report.rows_failed), (3, 1, 2));
    assert_eq!(f.store.product_by_code("Q-3").unwrap().price_minor, 200);
    assert!(f.store.product_by_code("Q-2").is_err());
}

#[test]
fn dry_run_checks_everything_and_writes_nothing() {
    let f = seeded();
    let before = snapshot(&f);
    let report = opening(&f, "sku,location_code,quantity\nW-1,WH1,1\nF-1,WH9,2\nF-1,WH1,3\n", DRY);
    assert!(report.dry_run);
    assert_eq!((report.rows_total, report.rows_imported, report.rows_failed), (3, 0, 1));
    assert_eq!(at(&report), [(3, Some("location_code"))]);
    let report = opening(&f, OPENING, ImportOptions { dry_run: true, skip_bad_rows: true });
    assert_eq!((report.rows_total, report.rows_imported, report.rows_failed), (3, 0, 0));
    // Catalog checks need no writes: a parent on an earlier line resolves, the database
    // uniques are still checked.
    let report = locations(&f, "code,name,parent_code\nA,Area A,\nA1,Shelf A1,A\nWH1,Clash,\n", DRY);
    assert_eq!(at(&report), [(4, Some("code"))]);
    let report = products(&f, "sku,name\nNEW,New\nW-1,Clash\n", DRY);
    assert_eq!(at(&report), [(3, Some("sku"))]);
    assert_eq!(snapshot(&f), before);
}

#[test]
fn bad_header_is_refused_even_when_skipping_bad_rows() {
    let f = seeded();
    let before = snapshot(&f);
    let report = products(&f, "sku,name,colour\nN-1,New,red\n", SKIP);
    assert_eq!(
        report.errors,
        [RowError {
            line: 1,
            column: Some("colour".into()),
            message: "unknown column \"colour\"; the known columns are \
                      sku,name,barcode,unit,unit_scale,reorder_point,reorder_qty,cost,price; rename or remove it"
                .into(),
        }]
    );
    assert_eq!((report.rows_total, report.rows_imported), (0, 0));
    let report = opening(&f, "SKU,quantity,quantity\nW-1,1,1\n", SKIP);
    assert_eq!(at(&report), [(1, Some("quantity")), (1, Some("location_code"))]);
    assert!(message(&report, 1).contains("appears twice"), "{report:?}");
    let report = opening(&f, "", SKIP);
    assert_eq!(at(&report), [(1, None)]);
    assert!(message(&report, 1).contains("the file is empty"), "{report:?}");
    assert_eq!(snapshot(&f), before);
}

#[test]
fn parent_codes_resolve_in_the_file_or_the_catalog() {
    let f = seeded();
    let report = locations(
        &f,
        "code,name,parent_code\nZ1,Zone 1,WH1\nZ1-A,Shelf,Z1\nZ2,Zone 2,NOPE\nZ3,Zone 3,Z2\nZ4,Zone 4,Z4\n",
        SKIP,
    );
    assert_eq!(at(&report), [(4, Some("parent_code")), (5, Some("parent_code")), (6, Some("parent_code"))]);
    assert!(message(&report, 4).contains("\"NOPE\" does not exist"), "{report:?}");
    assert!(message(&report, 5).contains("line 4, which has an error"), "{report:?}");
    assert_eq!(report.rows_imported, 2);
    let z1 = f.store.location_by_code("Z1").unwrap();
    assert_eq!(z1.parent_id, Some(f.store.location_by_code("WH1").unwrap().id));
    assert_eq!(f.store.location_by_code("Z1-A").unwrap().parent_id, Some(z1.id));
    assert_eq!(z1.kind, LocationKind::Warehouse, "kind defaults to warehouse");
}

#[test]
fn progress_every_thousand_rows_and_at_the_end() {
    let f = Fixture::new();
    let mut csv = String::from("code,name\n");
    for i in 0..2500 {
        csv.push_str(&format!("L{i},Location {i}\n"));
    }
    let mut seen = Vec::new();
    let report = f
        .store
        .import_locations(f.actor, csv.as_bytes(), &REFUSE, &mut |p: ImportProgress| seen.push(p.rows_done))
        .unwrap();
    assert_eq!(seen, [1000, 2000, 2500]);
    assert_eq!(report.rows_imported, 2500);
}

#[test]
fn errors_are_kept_up_to_a_thousand_and_all_counted() {
    let f = seeded();
    let mut csv = String::from("sku,location_code,quantity\n");
    for i in 0..1500 {
        csv.push_str(&format!("MISSING-{i},WH1,1\n"));
    }
    let report = opening(&f, csv, SKIP);
    assert_eq!((report.rows_total, report.rows_failed, report.errors.len()), (1500, 1500, 1000));
    assert_eq!(report.errors.last().unwrap().line, 1001);
}

#[test]
fn exports_quote_commas_quotes_and_line_breaks() {
    let f = seeded();
    let name = "Bolt, \"hex\" M8";
    let report = products(&f, "sku,name\nB-8,\"Bolt, \"\"hex\"\" M8\"\n", REFUSE);
    assert_clean(&report, 1);
    let bolt = f.store.product_by_code("B-8").unwrap();
    assert_eq!(bolt.name, name);
    let wh1 = f.store.location_by_code("WH1").unwrap().id;
    let note = "fragile, \"top\" shelf\nsecond line";
    let intent = MovementIntent::Receive {
        product_id: bolt.id,
        location_id: wh1,
        quantity: 4,
        reference: Some("PO-1, part 2".into()),
        note: Some(note.into()),
    };
    f.store.record(f.actor, &intent).unwrap();

    let stock = stock_csv(&f);
    let mut reader = csv::Reader::from_reader(stock.as_bytes());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!((&row[0], &row[1], &row[3], &row[4]), ("B-8", name, "WH1", "4"));

    let rows = movement_rows(&f);
    assert_eq!((rows[0]["note"].as_str(), rows[0]["ref"].as_str()), (note, "PO-1, part 2"));
}

#[test]
fn movement_export_has_every_column_and_filters_by_product() {
    let f = seeded();
    assert_clean(&opening(&f, OPENING, REFUSE), 3);
    let widget = f.store.product_by_code("W-1").unwrap().id;
    let (wh1, shop) = (f.store.location_by_code("WH1").unwrap().id, f.store.location_by_code("SHOP").unwrap().id);
    f.clock.advance(1_000);
    f.store
        .record(f.actor, &MovementIntent::Transfer { product_id: widget, from: wh1, to: shop, quantity: 2, note: None })
        .unwrap();
    f.clock.advance(1_000);
    let adjust = MovementIntent::Adjust {
        product_id: widget,
        location_id: shop,
        delta: -1,
        reason: ReasonCode::Damaged,
        note: None,
    };
    let adjusted = f.store.record(f.actor, &adjust).unwrap().movements.remove(0);
    f.clock.advance(1_000);
    let void = MovementIntent::Void { movement_id: adjusted.id, note: "typo".into() };
    let voided = f.store.record(f.actor, &void).unwrap().movements.remove(0);

    let mut out = Vec::new();
    let written = f.store.export_movements_csv(&mut out, Some(widget)).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().next().unwrap(), MOVEMENT_COLUMNS.join(","));
    assert_eq!(written, 6, "2 opening counts, 2 transfer legs, the adjustment and its void");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(rows.iter().all(|r| &r[3] == "W-1"));
    let kinds: Vec<&str> = rows.iter().map(|r| &r[2]).collect();
    assert_eq!(&kinds[2..], ["transfer_out", "transfer_in", "adjust", "void"]);
    let out_leg = &rows[2];
    assert_eq!((&out_leg[1], &out_leg[5], &out_leg[10]), ("2023-11-14T22:13:21.000Z", "-2", "SHOP"));
    assert_eq!((&out_leg[14], &out_leg[15]), ("10", "8"));
    assert_eq!(&rows[4][17], voided.id.to_string().as_str(), "the adjustment names its void");
    assert_eq!((&rows[5][9], &rows[5][8]), (adjusted.id.to_string().as_str(), "typo"));
    assert_eq!(&rows[5][11], f.store.device_id().unwrap().to_string().as_str());
    assert_eq!(&rows[5][13], f.actor.user_id.to_string().as_str());
    assert_eq!(movements_csv(&f).lines().count(), 1 + 7, "unfiltered: the flour count too");
}

#[test]
fn a_row_the_database_refuses_is_a_row_error_and_never_half_written() {
    let f = seeded();
    let raw = f.raw();
    // Tamper: the ledger refuses a count of 13; the audit refuses the creation of SKU BAD-2
    // (after its product row is already in the transaction); the level cache refuses a level of 14.
    raw.execute_batch(
        "CREATE TRIGGER refuse_13 BEFORE INSERT ON movements WHEN NEW.counted_qty = 13 \
           BEGIN SELECT RAISE(ABORT, 'no thirteen'); END; \
         CREATE TRIGGER refuse_bad_2 BEFORE INSERT ON catalog_audit WHEN NEW.new_value LIKE '%BAD-2%' \
           BEGIN SELECT RAISE(ABORT, 'no audit'); END; \
         CREATE TRIGGER refuse_14 BEFORE INSERT ON levels WHEN NEW.on_hand = 14 \
           BEGIN SELECT RAISE(ABORT, 'no fourteen'); END;",
    )
    .unwrap();
    let report = opening(&f, "sku,location_code,quantity\nW-1,WH1,13\nW-1,SHOP,2\n", SKIP);
    assert_eq!(at(&report), [(2, None)]);
    assert!(message(&report, 2).contains("no thirteen"), "{report:?}");
    assert_eq!((report.rows_imported, report.rows_failed), (1, 1));
    let rows = movement_rows(&f);
    assert_eq!((rows.len(), rows[0]["device_seq"].as_str()), (1, "1"), "the refused row used no device_seq");

    let before = snapshot(&f);
    let report = products(&f, "sku,name\nBAD-1,One\nBAD-2,Two\nBAD-3,Three\n", SKIP);
    assert_eq!(at(&report), [(3, None)]);
    assert!(message(&report, 3).contains("partly written, so nothing was imported"), "{report:?}");
    assert_eq!((report.rows_imported, report.rows_failed), (0, 1));
    assert_eq!(snapshot(&f), before, "even with skip_bad_rows, a half-written row refuses the file");

    // Levels are written once at the end of the import: a failure there refuses the whole file.
    let err = f
        .store
        .import_opening_stock(
            f.actor,
            "sku,location_code,quantity\nF-1,SHOP,1\nW-1,BIN-1,14\n".as_bytes(),
            &SKIP,
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("no fourteen"), "{err}");
    assert_eq!(snapshot(&f), before, "nothing of the refused file was kept");
}
