//! `make bench-app` helper (tests/bench-app/run.sh): the local store the desktop app benchmark
//! opens, and the raw SQLite baseline of its stock search.
//!
//! `seed-bench-store seed DIR [PRODUCTS] [LOCATIONS]` makes `DIR/ledger.sqlite3` (100,000
//! products × 5 locations by default) through the store's own CSV import (locations, products,
//! opening stock: one count per product × location), and `DIR/settings.json` with
//! `offline_only: true`, so that the app opens on the Stock screen.
//!
//! `seed-bench-store query DIR ROUNDS SEARCH...` times, for each search text (an empty one is the
//! unfiltered table), what one keystroke costs below the app: (a) `raw`: a hand-written rusqlite
//! query of the same filter on the same file (first page of 100 rows sorted by SKU and location,
//! plus the count of matching rows); (b) `store`: `Store::stock_page`, what the app's `stock_page`
//! command calls (the page, and the count unless the page is the last one; searches of one or two
//! characters count only up to a bound, so `store` does less than `raw` for them). Prints one
//! JSON object: per-search median milliseconds, and the exact number of matching rows.
//!
//! `seed-bench-store views DIR ROUNDS` times `Store::stock_page` for searches in other views
//! (sorted by name, level or location; filtered by level): one line per view.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rusqlite::{named_params, Connection, OpenFlags};
use smartstock_core::ids::NewRandom;
use smartstock_core::UserId;
use smartstock_store::import::ImportOptions;
use smartstock_store::queries::{StockFilter, StockQuery, StockSort};
use smartstock_store::{schema, Actor, Store};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// The stock page the UI asks for first (`PAGE` in ui/src/screens/Stock.svelte).
const PAGE: u32 = 50;

const LOCATIONS: [(&str, &str, &str); 5] = [
    ("WH1", "Central warehouse", "warehouse"),
    ("WH2", "North warehouse", "warehouse"),
    ("SHOP1", "High Street shop", "store"),
    ("SHOP2", "Market Square shop", "store"),
    ("VAN1", "Delivery van", "vehicle"),
];

/// Product families like the server's demo company (SKU prefix, unit, items, variants).
const FAMILIES: [(&str, &str, &[&str], &[&str]); 6] = [
    ("HW", "pcs", &["Hex bolt", "Wood screw", "Wall plug", "Washer", "Hinge", "Bracket"], &["M6", "M8", "M10", "M12"]),
    (
        "EL",
        "pcs",
        &["LED bulb", "Cable tie", "Socket", "Switch", "Fuse", "Junction box"],
        &["5 W", "9 W", "13 A", "2-gang"],
    ),
    ("PT", "l", &["Wall paint", "Primer", "Varnish", "Wood stain", "Thinner"], &["white", "grey", "oak", "clear"]),
    ("PL", "pcs", &["Elbow", "Tee", "Valve", "Pipe clip", "Coupling"], &["15 mm", "22 mm", "28 mm"]),
    (
        "TL",
        "pcs",
        &["Hammer", "Screwdriver", "Tape measure", "Utility knife", "Spirit level"],
        &["small", "large", "pro"],
    ),
    ("CB", "m", &["Copper cable", "Speaker cable", "Garden hose", "Chain"], &["1.5 mm2", "2.5 mm2", "heavy"]),
];

fn seed(dir: &Path, products: usize, locations: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for name in ["ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm", "settings.json", "notified.json"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let codes: Vec<&(&str, &str, &str)> = LOCATIONS.iter().cycle().take(locations).collect();
    let mut location_csv = String::from("code,name,kind\n");
    for (i, (code, name, kind)) in codes.iter().enumerate() {
        let suffix = if i < LOCATIONS.len() { String::new() } else { format!("-{i}") };
        writeln!(location_csv, "{code}{suffix},{name}{suffix},{kind}").unwrap();
    }
    let codes: Vec<String> = location_csv.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect();
    let mut product_csv = String::from("sku,name,barcode,unit,unit_scale,reorder_point,reorder_qty\n");
    let mut stock_csv = String::from("sku,location_code,quantity\n");
    for i in 0..products {
        let (prefix, unit, items, variants) = FAMILIES[i % FAMILIES.len()];
        let item = items[(i / FAMILIES.len()) % items.len()];
        let variant = variants[(i / (FAMILIES.len() * items.len())) % variants.len()];
        let scale = if unit == "pcs" { 0 } else { 2 };
        let sku = format!("{prefix}-{:06}", i + 1);
        writeln!(
            product_csv,
            "{sku},{item} {variant} #{},{},{unit},{scale},{},{}",
            i / 30 + 1,
            4_000_000_000_000u64 + i as u64 * 7,
            2 + i % 13,
            20 + i % 40
        )
        .unwrap();
        for (l, code) in codes.iter().enumerate() {
            // Whole units in the product's unit; some levels at or below the reorder point.
            let quantity = (i * 7 + l * 13) % 120;
            let quantity = if scale == 0 { quantity.to_string() } else { format!("{quantity}.50") };
            writeln!(stock_csv, "{sku},{code},{quantity}").unwrap();
        }
    }
    let start = Instant::now();
    let store = Store::open(dir.join("ledger.sqlite3")).unwrap();
    let actor = Actor { user_id: UserId::new_random() };
    let options = ImportOptions { dry_run: false, skip_bad_rows: false };
    for (what, csv) in [("locations", &location_csv), ("products", &product_csv), ("opening stock", &stock_csv)] {
        let t = Instant::now();
        let report = match what {
            "locations" => store.import_locations(actor, csv.as_bytes(), &options, &mut |_| {}),
            "products" => store.import_products(actor, csv.as_bytes(), &options, &mut |_| {}),
            _ => store.import_opening_stock(actor, csv.as_bytes(), &options, &mut |_| {}),
        }
        .unwrap();
        assert!(report.errors.is_empty(), "{what}: {:?}", &report.errors[..report.errors.len().min(5)]);
        eprintln!("seed: {} {what} in {:.1}s", report.rows_imported, t.elapsed().as_secs_f64());
    }
    let rows = store.stock_count(&StockQuery::default()).unwrap();
    drop(store);
    // A checkpoint so that the app starts on a plain file, as after any normal close.
    let conn = Connection::open(dir.join("ledger.sqlite3")).unwrap();
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE").unwrap();
    drop(conn);
    std::fs::write(dir.join("settings.json"), "{\"offline_only\": true, \"device_name\": \"bench\"}\n").unwrap();
    eprintln!("seed: {rows} stock rows in {} ({:.1}s)", dir.display(), start.elapsed().as_secs_f64());
}

/// The raw baseline: the same filter (SKU prefix, barcode exactly, or name containing the text,
/// ASCII case-insensitive; archived products hidden) written directly in SQL.
struct Raw {
    conn: Connection,
}

impl Raw {
    fn open(path: &Path) -> Raw {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        // Configured as the app's reader connection (the same page cache).
        schema::configure_reader(&conn).ok();
        Raw { conn }
    }

    fn page_and_count(&self, search: &str) -> (usize, i64) {
        let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let (prefix, contains) = (format!("{escaped}%"), format!("%{escaped}%"));
        let filter = "p.archived = 0 AND (:search = '' OR p.sku LIKE :prefix ESCAPE '\\' OR p.barcode = :search \
                      OR p.name LIKE :contains ESCAPE '\\')";
        let mut page = self
            .conn
            .prepare_cached(&format!(
                "SELECT p.id, p.sku, p.name, p.barcode, p.unit, p.unit_scale, l.location_id, loc.code, l.on_hand, \
                 p.reorder_point FROM products p JOIN levels l ON l.product_id = p.id \
                 JOIN locations loc ON loc.id = l.location_id WHERE {filter} ORDER BY p.sku, loc.code LIMIT {PAGE}"
            ))
            .unwrap();
        let rows = page
            .query_map(named_params! {":search": search, ":prefix": prefix, ":contains": contains}, |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Vec<u8>>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, i64>(9)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        let mut count = self
            .conn
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM products p JOIN levels l ON l.product_id = p.id \
                 JOIN locations loc ON loc.id = l.location_id WHERE {filter}"
            ))
            .unwrap();
        let total = count
            .query_row(named_params! {":search": search, ":prefix": prefix, ":contains": contains}, |r| r.get(0))
            .unwrap();
        (rows.len(), total)
    }
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn query(dir: &Path, rounds: usize, searches: &[String]) {
    let path = dir.join("ledger.sqlite3");
    let raw = Raw::open(&path);
    let store = Store::open(&path).unwrap();
    // As the app does in the background after its first stock page.
    let t = Instant::now();
    store.prepare_search().unwrap();
    eprintln!("catalog text read into memory for the stock search in {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut out = String::from("{\"searches\":[");
    for (n, search) in searches.iter().enumerate() {
        let query = StockQuery {
            search: if search.trim().is_empty() { None } else { Some(search.clone()) },
            limit: PAGE,
            ..Default::default()
        };
        let (mut raw_ms, mut store_ms) = (Vec::new(), Vec::new());
        let (mut raw_total, mut store_total) = (0, 0);
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            let (_, total) = raw.page_and_count(search.trim());
            raw_ms.push(t.elapsed().as_secs_f64() * 1e3);
            raw_total = total;
            let t = Instant::now();
            let (rows, total) = store.stock_page(&query).unwrap();
            store_ms.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(rows.len() <= PAGE as usize);
            store_total = store.stock_count(&query).unwrap();
            assert!(total.rows <= store_total && (total.rows == store_total || !total.exact), "{search:?}: {total:?}");
        }
        if raw_total as u64 != store_total {
            eprintln!("warning: {search:?}: raw counts {raw_total} rows, the store {store_total}");
        }
        let sep = if n == 0 { "" } else { "," };
        write!(
            out,
            "{sep}{{\"search\":{},\"raw_ms\":{:.4},\"store_ms\":{:.4},\"total\":{store_total}}}",
            serde_json::to_string(search).unwrap(),
            median_ms(raw_ms),
            median_ms(store_ms)
        )
        .unwrap();
    }
    out.push_str("]}");
    println!("{out}");
}

/// Other views than the default, with and without a search: sorted by name, level or location,
/// filtered by level or at one location (`views` prints the store's median per view; `true`: at
/// the first location).
const VIEWS: [(&str, StockSort, StockFilter, bool); 19] = [
    ("cable", StockSort::Name, StockFilter::All, false),
    ("cable", StockSort::OnHand, StockFilter::All, false),
    ("cable", StockSort::Sku, StockFilter::Low, false),
    ("cable", StockSort::Sku, StockFilter::Negative, false),
    ("HW-", StockSort::Name, StockFilter::All, false),
    ("paint", StockSort::Location, StockFilter::All, false),
    ("e", StockSort::Name, StockFilter::All, false),
    ("e", StockSort::OnHand, StockFilter::All, false),
    ("e", StockSort::Sku, StockFilter::Low, false),
    ("", StockSort::Sku, StockFilter::Low, false),
    ("", StockSort::OnHand, StockFilter::Low, false),
    ("", StockSort::Name, StockFilter::Low, true),
    ("", StockSort::Sku, StockFilter::Negative, false),
    ("", StockSort::Sku, StockFilter::InTransit, false),
    ("", StockSort::Name, StockFilter::All, true),
    ("", StockSort::OnHand, StockFilter::All, false),
    ("e", StockSort::Sku, StockFilter::All, true),
    ("cable", StockSort::Sku, StockFilter::All, true),
    ("xyz", StockSort::Sku, StockFilter::All, true),
];

fn views(dir: &Path, rounds: usize) {
    let store = Store::open(dir.join("ledger.sqlite3")).unwrap();
    store.prepare_search().unwrap();
    let first_location = store.locations().unwrap().first().map(|l| l.id);
    for (text, sort, filter, at_one) in VIEWS {
        let search = (!text.is_empty()).then(|| text.to_owned());
        let location_id = if at_one { first_location } else { None };
        let query = StockQuery { search, sort, filter, location_id, limit: PAGE, ..Default::default() };
        let mut ms = Vec::new();
        let mut total = None;
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            total = Some(store.stock_page(&query).unwrap().1);
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let place = if at_one { ", one location" } else { "" };
        println!("view {text:?} by {sort:?}, {filter:?}{place}: {:.1} ms (median), total {total:?}", median_ms(ms));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seed") if args.len() >= 2 => {
            let products = args.get(2).map_or(100_000, |v| v.parse().expect("PRODUCTS is a number"));
            let locations = args.get(3).map_or(5, |v| v.parse().expect("LOCATIONS is a number"));
            seed(Path::new(&args[1]), products, locations);
        }
        Some("query") if args.len() >= 3 => {
            let rounds = args[2].parse().expect("ROUNDS is a number");
            query(Path::new(&args[1]), rounds, &args[3..]);
        }
        Some("views") if args.len() >= 3 => views(Path::new(&args[1]), args[2].parse().expect("ROUNDS is a number")),
        _ => {
            eprintln!("usage: seed-bench-store seed DIR [PRODUCTS] [LOCATIONS] | query DIR ROUNDS SEARCH... | views DIR ROUNDS");
            std::process::exit(2);
        }
    }
}
