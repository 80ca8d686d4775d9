//! `make bench-store`: the store against raw rusqlite baselines measured in the same run.
//!
//! (a) Recording one movement: raw = one ledger INSERT + one level UPSERT per durable
//!     transaction, same schema and PRAGMAs (WAL, synchronous=FULL); store = `Store::record`.
//!     Rounds alternate raw and store so machine noise hits both alike; rates are medians of
//!     the rounds; latency percentiles are over every operation.
//! (b) Bulk import: raw = 100k products + 1M opening movements inserted with prepared
//!     statements in one transaction; store = `import_products` + `import_opening_stock` from
//!     CSV text (parsing, validation, levels, checksums and audit included).
//!
//! Prints `BENCH <name> <value> <unit> baseline=<value> ratio=<value>` lines.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use rusqlite::{params, Connection};
use smartstock_core::ids::NewRandom;
use smartstock_core::{DeviceId, LocationId, MovementId, MovementIntent, ProductId, UserId};
use smartstock_store::import::ImportOptions;
use smartstock_store::{schema, Actor, Store};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn percentile(latencies: &mut [Duration], p: f64) -> Duration {
    latencies.sort();
    latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
}

fn bench_line(name: &str, value: f64, unit: &str, baseline: f64) {
    println!("BENCH {name} {value:.3} {unit} baseline={baseline:.3} ratio={:.2}", value / baseline);
}

fn fresh_raw(path: &std::path::Path) -> Connection {
    let mut conn = Connection::open(path).unwrap();
    schema::configure(&conn).unwrap();
    schema::migrate(&mut conn, path).unwrap();
    conn
}

/// Raw baseline for one movement: the same two writes the store must do, nothing else.
struct RawLedger {
    conn: Connection,
    device: DeviceId,
    user: UserId,
    seq: i64,
}

impl RawLedger {
    fn record(&mut self, product: ProductId, location: LocationId, delta: i64) {
        self.seq += 1;
        let tx = self.conn.transaction().unwrap();
        tx.prepare_cached(
            "INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, location_id, delta, \
             occurred_at, recorded_at, qty_before, qty_after) VALUES (?1, ?2, ?3, ?4, 'receive', ?5, ?6, ?7, ?8, ?8, 0, 0)",
        )
        .unwrap()
        .execute(params![MovementId::new_v7().0, self.device.0, self.seq, self.user.0, product.0, location.0, delta, 1_700_000_000_000i64])
        .unwrap();
        tx.prepare_cached(
            "INSERT INTO levels (product_id, location_id, on_hand, movement_count, digest) VALUES (?1, ?2, ?3, 1, x'00') \
             ON CONFLICT (product_id, location_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand, \
             movement_count = movement_count + 1",
        )
        .unwrap()
        .execute(params![product.0, location.0, delta])
        .unwrap();
        tx.commit().unwrap();
    }
}

fn bench_single_movement(dir: &std::path::Path) {
    let rounds = env_usize("BENCH_ROUNDS", 7);
    let per_round = env_usize("BENCH_OPS", 400);
    let store = Store::open(dir.join("store.db")).unwrap();
    let actor = Actor { user_id: UserId::new_random() };
    let products: Vec<ProductId> = (0..20)
        .map(|i| {
            let mut p = bench_product(i);
            p.negative_stock = Some(smartstock_core::NegativeStockPolicy::Allow);
            store.create_product(actor, &p).unwrap();
            p.id
        })
        .collect();
    let location = LocationId::new_random();
    store.create_location(actor, &bench_location(location, "WH1")).unwrap();

    let raw_path = dir.join("raw.db");
    let raw_conn = fresh_raw(&raw_path);
    for (i, p) in products.iter().enumerate() {
        raw_conn
            .execute(
                "INSERT INTO products (id, sku, name, unit, unit_scale) VALUES (?1, ?2, 'x', 'pcs', 0)",
                params![p.0, format!("SKU-{i}")],
            )
            .unwrap();
    }
    raw_conn
        .execute("INSERT INTO locations (id, code, name, kind) VALUES (?1, 'WH1', 'x', 'warehouse')", [location.0])
        .unwrap();
    let mut raw = RawLedger { conn: raw_conn, device: DeviceId::new_random(), user: actor.user_id, seq: 0 };

    let (mut raw_rates, mut store_rates) = (Vec::new(), Vec::new());
    let (mut raw_lat, mut store_lat) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let start = Instant::now();
        for i in 0..per_round {
            let t = Instant::now();
            raw.record(products[i % products.len()], location, if i % 2 == 0 { 5 } else { -3 });
            raw_lat.push(t.elapsed());
        }
        raw_rates.push(per_round as f64 / start.elapsed().as_secs_f64());

        let start = Instant::now();
        for i in 0..per_round {
            let product_id = products[i % products.len()];
            let intent = if i % 2 == 0 {
                MovementIntent::Receive { product_id, location_id: location, quantity: 5, reference: None, note: None }
            } else {
                MovementIntent::Issue {
                    product_id,
                    location_id: location,
                    quantity: 3,
                    reason: None,
                    reference: None,
                    note: None,
                }
            };
            let t = Instant::now();
            store.record(actor, &intent).unwrap();
            store_lat.push(t.elapsed());
        }
        store_rates.push(per_round as f64 / start.elapsed().as_secs_f64());
        eprintln!("round {round}: raw {:.0}/s store {:.0}/s", raw_rates[round], store_rates[round]);
    }
    let (raw_rate, store_rate) = (median(&mut raw_rates), median(&mut store_rates));
    bench_line("store.record_movement", store_rate, "movements/s", raw_rate);
    let (raw_p99, store_p99) = (percentile(&mut raw_lat, 0.99), percentile(&mut store_lat, 0.99));
    let (raw_p50, store_p50) = (percentile(&mut raw_lat, 0.50), percentile(&mut store_lat, 0.50));
    bench_line("store.record_movement_p50", store_p50.as_secs_f64() * 1e3, "ms", raw_p50.as_secs_f64() * 1e3);
    bench_line("store.record_movement_p99", store_p99.as_secs_f64() * 1e3, "ms", raw_p99.as_secs_f64() * 1e3);
}

fn bench_product(i: usize) -> smartstock_core::Product {
    smartstock_core::Product {
        id: ProductId::new_random(),
        sku: format!("SKU-{i:06}"),
        name: format!("Product {i}"),
        barcode: None,
        unit: "pcs".into(),
        unit_scale: 0,
        reorder_point: 0,
        reorder_qty: 0,
        cost_minor: 0,
        price_minor: 0,
        archived: false,
        negative_stock: None,
    }
}

fn bench_location(id: LocationId, code: &str) -> smartstock_core::Location {
    smartstock_core::Location {
        id,
        code: code.into(),
        name: format!("Location {code}"),
        kind: smartstock_core::LocationKind::Warehouse,
        parent_id: None,
        archived: false,
    }
}

fn bench_bulk_import(dir: &std::path::Path) {
    let rounds = env_usize("BENCH_BULK_ROUNDS", 3);
    let (mut raw_rates, mut store_rates) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (rows, raw_secs, store_secs) = bulk_round(&dir.join(format!("bulk-{round}")));
        raw_rates.push(rows as f64 / raw_secs);
        store_rates.push(rows as f64 / store_secs);
    }
    bench_line("store.bulk_import", median(&mut store_rates), "rows/s", median(&mut raw_rates));
}

/// One raw and one store import of the same rows into fresh databases; returns (rows, raw s, store s).
fn bulk_round(dir: &std::path::Path) -> (usize, f64, f64) {
    std::fs::create_dir_all(dir).unwrap();
    let products = env_usize("BENCH_PRODUCTS", 100_000);
    let locations = env_usize("BENCH_LOCATIONS", 10);
    let rows = products + products * locations;
    let codes: Vec<String> = (0..locations).map(|l| format!("WH{l:02}")).collect();

    // Raw: the same rows, prepared statements, one transaction.
    let raw_path = dir.join("bulk-raw.db");
    let mut raw = fresh_raw(&raw_path);
    let device = DeviceId::new_random();
    let user = UserId::new_random();
    let location_ids: Vec<LocationId> = codes.iter().map(|_| LocationId::new_random()).collect();
    let start = Instant::now();
    {
        let tx = raw.transaction().unwrap();
        for (id, code) in location_ids.iter().zip(&codes) {
            tx.execute(
                "INSERT INTO locations (id, code, name, kind) VALUES (?1, ?2, ?2, 'warehouse')",
                params![id.0, code],
            )
            .unwrap();
        }
        let mut product_stmt =
            tx.prepare("INSERT INTO products (id, sku, name, unit, unit_scale) VALUES (?1, ?2, ?3, 'pcs', 0)").unwrap();
        let mut movement_stmt = tx
            .prepare(
                "INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, location_id, counted_qty, \
                 reason, occurred_at, recorded_at, qty_before, qty_after) \
                 VALUES (?1, ?2, ?3, ?4, 'count', ?5, ?6, ?7, 'opening', ?8, ?8, 0, ?7)",
            )
            .unwrap();
        let mut seq = 0i64;
        for i in 0..products {
            let id = ProductId::new_random();
            product_stmt.execute(params![&id.as_bytes()[..], format!("SKU-{i:06}"), format!("Product {i}")]).unwrap();
            for location in &location_ids {
                seq += 1;
                movement_stmt
                    .execute(params![
                        &MovementId::new_v7().as_bytes()[..],
                        &device.as_bytes()[..],
                        seq,
                        &user.as_bytes()[..],
                        &id.as_bytes()[..],
                        &location.as_bytes()[..],
                        (i % 50) as i64,
                        1_700_000_000_000i64
                    ])
                    .unwrap();
            }
        }
        drop(product_stmt);
        drop(movement_stmt);
        tx.commit().unwrap();
    }
    let raw_secs = start.elapsed().as_secs_f64();

    // Store: CSV text made before the clock starts.
    let mut product_csv = String::from("sku,name\n");
    let mut stock_csv = String::from("sku,location_code,quantity\n");
    let mut location_csv = String::from("code,name\n");
    for code in &codes {
        location_csv.push_str(&format!("{code},{code}\n"));
    }
    for i in 0..products {
        product_csv.push_str(&format!("SKU-{i:06},Product {i}\n"));
        for code in &codes {
            stock_csv.push_str(&format!("SKU-{i:06},{code},{}\n", i % 50));
        }
    }
    let store = Store::open(dir.join("bulk-store.db")).unwrap();
    let actor = Actor { user_id: user };
    let options = ImportOptions { dry_run: false, skip_bad_rows: false };
    let start = Instant::now();
    let report = store.import_locations(actor, location_csv.as_bytes(), &options, &mut |_| {}).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let report = store.import_products(actor, product_csv.as_bytes(), &options, &mut |_| {}).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let products_secs = start.elapsed().as_secs_f64();
    let report = store.import_opening_stock(actor, stock_csv.as_bytes(), &options, &mut |_| {}).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    eprintln!(
        "bulk: products {products_secs:.2}s, opening stock {:.2}s",
        start.elapsed().as_secs_f64() - products_secs
    );
    let store_secs = start.elapsed().as_secs_f64();
    eprintln!("bulk: {rows} rows; raw {raw_secs:.2}s store {store_secs:.2}s");
    drop(store);
    drop(raw);
    std::fs::remove_dir_all(dir).unwrap();
    (rows, raw_secs, store_secs)
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is ignored.
    let dir = tempfile::Builder::new()
        .prefix("smartstock-bench-")
        .tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string()))
        .unwrap();
    eprintln!(
        "bench-store: synchronous=FULL (a recorded movement survives a power cut), data in {}",
        dir.path().display()
    );
    bench_single_movement(dir.path());
    bench_bulk_import(dir.path());
}
