//! `make bench-sync`: the sync engine against the real `smartstock-server` process over loopback
//! HTTPS (self-signed), each figure beside a raw SQLite baseline measured in the same run.
//!
//! - pull: a fresh desktop's first sync of 100k products, 4 locations and 1M movements of other
//!   devices (receipts, sales, adjustments and stocktakes over 400k product × location pairs),
//!   through `SyncEngine::sync_once`. Raw: the same rows inserted into a fresh ledger file with
//!   prepared statements in one transaction (no levels, no checks). Rounds alternate raw and
//!   engine; medians.
//! - push: 100k queued movements (opening-stock counts) sent by `SyncEngine::push_pending`,
//!   outcomes applied. Raw: the same 100k rows inserted into a fresh ledger file in durable
//!   transactions of one push batch each. Medians of the rounds.
//! - apply one: one remote movement applied as a pull page (`Store::apply_pull`, its cursor and
//!   level in one transaction) to a desktop that holds the rows of the pull and the pushes.
//!   Raw: one movement INSERT in one transaction on the same file, with the same durability as
//!   a pull transaction (`synchronous=NORMAL`: pulled rows can be fetched again; local records
//!   keep `FULL`). Medians of the samples.
//!
//! The server database is seeded in-process (`SqliteStorage`, on /dev/shm when present: seeding
//! is setup, not measured) before the server process opens it. Sizes: `BENCH_PRODUCTS`,
//! `BENCH_MOVEMENTS`, `BENCH_PUSH`, `BENCH_ROUNDS`; `BENCH_LOG` (a tracing filter) for diagnostics. Prints
//! `BENCH <name> <value> <unit> baseline=<value> ratio=<value>` lines.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_core::ids::NewRandom;
use smartstock_core::wire::{PullPage, PushRequest, WIRE_VERSION};
use smartstock_core::{
    DeviceId, Location, LocationId, LocationKind, Movement, MovementId, MovementKind, Product, ProductId, ReasonCode,
    Timestamp, UserId,
};
use smartstock_server::auth::hash_password;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{NewUser, Pusher, Role, Storage};
use smartstock_store::import::ImportOptions;
use smartstock_store::{catalog, schema, sql, Actor, Store};
use smartstock_sync::engine::PUSH_BATCH;
use smartstock_sync::{MemoryCredentials, ServerClient, SyncEngine};
use smartstock_system_tests::server_process::{ServerProcess, Transport};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const PASSWORD: &str = "Bench-Pass-123";
const LOCATIONS: usize = 4;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn bench_line(name: &str, value: f64, unit: &str, baseline: f64) {
    println!("BENCH {name} {value:.3} {unit} baseline={baseline:.3} ratio={:.2}", value / baseline);
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// What the server holds: its catalog and every movement as a fresh desktop pulls it.
struct Seeded {
    locations: Vec<Location>,
    products: Vec<Product>,
    movements: Vec<Movement>,
}

fn location(i: usize) -> Location {
    Location {
        id: LocationId::new_random(),
        code: format!("WH{i}"),
        name: format!("Warehouse {i}"),
        kind: LocationKind::Warehouse,
        parent_id: None,
        archived: false,
    }
}

fn product(i: usize) -> Product {
    Product {
        id: ProductId::new_random(),
        sku: format!("SKU-{i:06}"),
        name: format!("Product {i}"),
        barcode: Some(format!("400{i:010}")),
        unit: "pcs".into(),
        unit_scale: 0,
        reorder_point: 0,
        reorder_qty: 0,
        cost_minor: 150,
        price_minor: 299,
        archived: false,
        negative_stock: None,
    }
}

/// Movements of one field device in time order: receipts, sales and adjustments that never take
/// a level below zero, and a stocktake now and then.
fn field_movements(
    count: usize,
    products: &[Product],
    locations: &[Location],
    device: DeviceId,
    user: UserId,
) -> Vec<Movement> {
    let mut rng = Rng(7);
    let mut levels = vec![0i64; products.len() * locations.len()];
    let start = 1_750_000_000_000i64;
    (0..count)
        .map(|i| {
            let (p, l) = (rng.below(products.len() as u64) as usize, rng.below(locations.len() as u64) as usize);
            let level = &mut levels[p * locations.len() + l];
            let roll = rng.below(100);
            let (kind, delta, counted, reason) = if roll < 3 {
                let counted = rng.below(40) as i64;
                (MovementKind::Count, None, Some(counted), None)
            } else if roll < 8 && *level > 0 {
                (MovementKind::Adjust, Some(-1), None, Some(ReasonCode::Damaged))
            } else if roll < 45 && *level > 0 {
                (
                    MovementKind::Issue,
                    Some(-(1 + rng.below((*level).min(3) as u64) as i64)),
                    None,
                    Some(ReasonCode::Sale),
                )
            } else {
                (MovementKind::Receive, Some(1 + rng.below(24) as i64), None, None)
            };
            let before = *level;
            *level = counted.unwrap_or(before + delta.unwrap_or(0));
            let at = Timestamp(start + i as i64 * 10);
            Movement {
                id: MovementId::new_v7(),
                device_id: device,
                device_seq: i as i64 + 1,
                user_id: user,
                kind,
                product_id: products[p].id,
                location_id: locations[l].id,
                delta,
                counted_qty: counted,
                reason,
                note: None,
                reference: None,
                peer_location_id: None,
                occurred_at: at,
                recorded_at: at,
                server_seq: None,
                qty_before: before,
                qty_after: *level,
            }
        })
        .collect()
}

/// Seeds the server database: the catalog, a clerk-free field device with `movements` movements
/// pushed through the server's own push path, and the bench user. Returns what a desktop pulls.
fn seed_server(path: &Path, products: usize, movements: usize) -> Seeded {
    let storage = SqliteStorage::open(path).unwrap();
    let admin = UserId::new_random();
    let locations: Vec<Location> = (0..LOCATIONS).map(location).collect();
    for l in &locations {
        storage.save_location(admin, l, Timestamp(1)).unwrap();
    }
    let products: Vec<Product> = (0..products).map(product).collect();
    for p in &products {
        storage.save_product(admin, p, Timestamp(1)).unwrap();
    }
    let hash = hash_password(PASSWORD).unwrap();
    let new_user = |name: &str| NewUser {
        username: name.into(),
        password_hash: hash.clone(),
        role: Role::Manager,
        must_change_password: false,
        locations: vec![],
    };
    let field_user = storage.create_user(&new_user("field"), Timestamp(1)).unwrap();
    storage.create_user(&new_user("bench"), Timestamp(1)).unwrap();
    let field = DeviceId::new_random();
    storage.register_device(field_user, field, "field", Timestamp(1)).unwrap();
    let pusher = Pusher { user_id: field_user, role: Role::Manager, locations: vec![] };
    let rows = field_movements(movements, &products, &locations, field, field_user);
    for batch in rows.chunks(10_000) {
        let request = PushRequest { v: WIRE_VERSION, device_id: field, movements: batch.to_vec() };
        let outcomes = storage.push(&pusher, &request, Timestamp(1_760_000_000_000)).unwrap();
        assert!(outcomes.iter().all(|o| !matches!(o.outcome, smartstock_core::wire::Outcome::Rejected { .. })));
    }
    // Exactly what a fresh desktop receives (server numbers included), for the raw baseline.
    let reader = DeviceId::new_random();
    let (mut after, mut pulled) = (0, Vec::with_capacity(movements));
    loop {
        let page = storage.pull(reader, after, 10_000).unwrap();
        pulled.extend(page.movements);
        after = page.next_after;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pulled.len(), movements);
    Seeded { locations, products, movements: pulled }
}

/// The raw baseline of the pull: the same rows into a fresh ledger file (the client's schema,
/// its indexes and triggers), one transaction, prepared statements of 256 rows each (one
/// statement per row is several times slower for products: the name index flushes at every
/// statement), the movements' pair index dropped before and built after (three times faster than
/// inserting into it), SQLite's foreign-key and CHECK constraints off (as the first pull writes).
/// No levels, no stamps, no checks in Rust.
fn raw_pull(path: &Path, seeded: &Seeded) -> f64 {
    let conn = schema::open(path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA ignore_check_constraints = ON").unwrap();
    let start = Instant::now();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    for l in &seeded.locations {
        conn.execute(
            &format!("INSERT INTO locations ({}) VALUES (?1, ?2, ?3, ?4, NULL, 0)", catalog::LOCATION_COLUMNS),
            (&l.id.as_bytes()[..], &l.code, &l.name, l.kind.as_str()),
        )
        .unwrap();
    }
    raw_rows(&conn, &format!("INSERT INTO products ({})", catalog::PRODUCT_COLUMNS), 12, &seeded.products, |p| {
        vec![
            Box::new(p.id.0),
            Box::new(p.sku.clone()),
            Box::new(p.name.clone()),
            Box::new(p.barcode.clone()),
            Box::new(p.unit.clone()),
            Box::new(p.unit_scale),
            Box::new(p.reorder_point),
            Box::new(p.reorder_qty),
            Box::new(p.cost_minor),
            Box::new(p.price_minor),
            Box::new(p.archived),
            Box::new(p.negative_stock.map(|n| n.as_str())),
        ]
    });
    let pair_index: String =
        conn.query_row("SELECT sql FROM sqlite_schema WHERE name = 'movements_pair'", [], |r| r.get(0)).unwrap();
    conn.execute_batch("DROP INDEX movements_pair").unwrap();
    raw_rows(&conn, &format!("INSERT INTO movements ({})", sql::MOVEMENT_COLUMNS), 18, &seeded.movements, |m| {
        vec![
            Box::new(m.id.0),
            Box::new(m.device_id.0),
            Box::new(m.device_seq),
            Box::new(m.user_id.0),
            Box::new(m.kind.as_str()),
            Box::new(m.product_id.0),
            Box::new(m.location_id.0),
            Box::new(m.delta),
            Box::new(m.counted_qty),
            Box::new(m.reason.map(|r| r.as_str())),
            Box::new(m.note.clone()),
            Box::new(m.reference.clone()),
            Box::new(m.peer_location_id.map(|l| l.0)),
            Box::new(m.occurred_at.millis()),
            Box::new(m.recorded_at.millis()),
            Box::new(m.server_seq),
            Box::new(m.qty_before),
            Box::new(m.qty_after),
        ]
    });
    conn.execute_batch(&pair_index).unwrap();
    conn.execute_batch("COMMIT").unwrap();
    rows(seeded) as f64 / start.elapsed().as_secs_f64()
}

/// Inserts `items` with `insert` (`INSERT INTO t (columns)`) in statements of 256 rows, then of
/// one row for the rest.
fn raw_rows<T>(
    conn: &rusqlite::Connection,
    insert: &str,
    columns: usize,
    items: &[T],
    values: impl Fn(&T) -> Vec<Box<dyn rusqlite::ToSql + '_>>,
) {
    let row = format!("({})", vec!["?"; columns].join(", "));
    let chunks = items.chunks_exact(256);
    let rest = chunks.remainder();
    let mut many = conn.prepare(&format!("{insert} VALUES {}", vec![row.as_str(); 256].join(", "))).unwrap();
    for chunk in chunks {
        let bound: Vec<_> = chunk.iter().flat_map(&values).collect();
        many.execute(rusqlite::params_from_iter(bound.iter())).unwrap();
    }
    let mut one = conn.prepare(&format!("{insert} VALUES {row}")).unwrap();
    for item in rest {
        one.execute(rusqlite::params_from_iter(values(item).iter())).unwrap();
    }
}

/// Diagnostic (stderr only): the same rows applied by the store in-process, as pull pages of
/// 10,000 taken by a first pull, without the server, TLS or JSON.
fn store_apply(path: &Path, seeded: &Seeded) -> f64 {
    let store = Store::open(path).unwrap();
    let page = |movements: Vec<Movement>, products: Vec<Product>, locations: Vec<Location>| PullPage {
        v: WIRE_VERSION,
        stamps: Vec::new(),
        notices: Vec::new(),
        next_after: 0,
        has_more: true,
        movements,
        products,
        locations,
        alerts: vec![],
    };
    let mut pages = vec![page(vec![], vec![], seeded.locations.clone())];
    pages.extend(seeded.products.chunks(10_000).map(|c| page(vec![], c.to_vec(), vec![])));
    pages.extend(seeded.movements.chunks(10_000).map(|c| page(c.to_vec(), vec![], vec![])));
    let start = Instant::now();
    store.apply_first_pull(&mut pages.into_iter()).unwrap();
    rows(seeded) as f64 / start.elapsed().as_secs_f64()
}

fn rows(seeded: &Seeded) -> usize {
    seeded.locations.len() + seeded.products.len() + seeded.movements.len()
}

fn http() -> reqwest::ClientBuilder {
    reqwest::Client::builder().danger_accept_invalid_certs(true)
}

async fn desktop(path: &Path, base: &str) -> (Arc<Store>, SyncEngine, Actor) {
    let store = Arc::new(Store::open(path).unwrap());
    let client = ServerClient::with_http(base, Arc::new(MemoryCredentials::default()), http()).unwrap();
    let user = client.sign_in("bench", PASSWORD).await.unwrap();
    let engine = SyncEngine::new(store.clone(), client, "bench desktop");
    (store, engine, Actor { user_id: user.id })
}

/// One engine pull into a fresh desktop: rows per second.
async fn engine_pull(path: &Path, base: &str, seeded: &Seeded) -> (f64, Arc<Store>, SyncEngine, Actor) {
    let (store, engine, actor) = desktop(path, base).await;
    let start = Instant::now();
    let report = engine.sync_once().await.unwrap();
    let rate = rows(seeded) as f64 / start.elapsed().as_secs_f64();
    assert_eq!(report.pulled as usize, seeded.movements.len(), "every movement pulled once");
    (rate, store, engine, actor)
}

/// Queues one opening-stock count per product at the first location: `count` pending movements.
fn queue_counts(store: &Store, actor: Actor, seeded: &Seeded, count: usize, round: usize) {
    let mut csv = String::from("sku,location_code,quantity\n");
    for p in seeded.products.iter().cycle().take(count) {
        csv.push_str(&format!("{},{},{}\n", p.sku, seeded.locations[0].code, 10 + round));
    }
    let report = store.import_opening_stock(actor, csv.as_bytes(), &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(report.rows_imported as usize, count);
}

/// The raw baseline of the push: the same rows in durable transactions of one push batch each.
fn raw_push(path: &Path, seeded: &Seeded, rows: &[Movement]) -> f64 {
    let conn = schema::open(path).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    conn.execute(
        &format!("INSERT INTO locations ({}) VALUES (?1, ?2, 'x', 'warehouse', NULL, 0)", catalog::LOCATION_COLUMNS),
        (&seeded.locations[0].id.as_bytes()[..], &seeded.locations[0].code),
    )
    .unwrap();
    let mut insert = conn.prepare(catalog::INSERT_PRODUCT).unwrap();
    for p in &seeded.products {
        catalog::execute_product(&mut insert, p).unwrap();
    }
    drop(insert);
    conn.execute_batch("COMMIT").unwrap();
    let start = Instant::now();
    for batch in rows.chunks(PUSH_BATCH as usize) {
        conn.execute_batch("BEGIN").unwrap();
        for m in batch {
            sql::insert_movement(&conn, m).unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    rows.len() as f64 / start.elapsed().as_secs_f64()
}

fn remote_movement(seeded: &Seeded, i: usize, device: DeviceId, server_seq: i64) -> Movement {
    let at = Timestamp(1_770_000_000_000 + i as i64);
    Movement {
        id: MovementId::new_v7(),
        device_id: device,
        device_seq: i as i64 + 1,
        user_id: UserId::new_random(),
        kind: MovementKind::Receive,
        product_id: seeded.products[(i * 7919) % seeded.products.len()].id,
        location_id: seeded.locations[i % LOCATIONS].id,
        delta: Some(3),
        counted_qty: None,
        reason: None,
        note: None,
        reference: None,
        peer_location_id: None,
        occurred_at: at,
        recorded_at: at,
        server_seq: Some(server_seq),
        qty_before: 0,
        qty_after: 3,
    }
}

/// Applying one remote movement (a one-movement pull page) vs one raw durable INSERT, alternated.
fn apply_one(store: &Store, seeded: &Seeded, samples: usize) -> (f64, f64) {
    let raw = schema::open(store.path()).unwrap();
    // The same durability as a pull transaction (pulled rows can be fetched again).
    raw.pragma_update(None, "synchronous", "NORMAL").unwrap();
    let (engine_device, raw_device) = (DeviceId::new_random(), DeviceId::new_random());
    let mut cursor = store.pull_cursor().unwrap();
    let (mut applied, mut baseline) = (Vec::new(), Vec::new());
    for i in 0..samples {
        cursor += 1;
        let page = PullPage {
            v: WIRE_VERSION,
            stamps: Vec::new(),
            notices: Vec::new(),
            movements: vec![remote_movement(seeded, i, engine_device, cursor)],
            products: vec![],
            locations: vec![],
            alerts: vec![],
            next_after: cursor,
            has_more: false,
        };
        let t = Instant::now();
        assert_eq!(store.apply_pull(&page).unwrap().movements, 1);
        applied.push(t.elapsed().as_secs_f64() * 1e3);

        let m = Movement { server_seq: None, ..remote_movement(seeded, i, raw_device, 0) };
        let t = Instant::now();
        raw.execute_batch("BEGIN IMMEDIATE").unwrap();
        sql::insert_movement(&raw, &m).unwrap();
        raw.execute_batch("COMMIT").unwrap();
        baseline.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (median(&mut applied), median(&mut baseline))
}

fn scratch_dir(base: Option<String>, prefix: &str) -> tempfile::TempDir {
    let base = base.unwrap_or_else(|| std::env::temp_dir().display().to_string());
    tempfile::Builder::new().prefix(prefix).tempdir_in(base).unwrap()
}

fn main() {
    // `BENCH_LOG=smartstock_store=info` shows where a first pull's time went.
    let filter = tracing_subscriber::EnvFilter::try_from_env("BENCH_LOG").unwrap_or_else(|_| "off".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let products = env_usize("BENCH_PRODUCTS", 100_000);
    let movements = env_usize("BENCH_MOVEMENTS", 1_000_000);
    let push_count = env_usize("BENCH_PUSH", 100_000);
    let rounds = env_usize("BENCH_ROUNDS", 3).max(1);
    let dir = scratch_dir(std::env::var("BENCH_DIR").ok(), "smartstock-bench-sync-");
    let shm = Path::new("/dev/shm").is_dir().then(|| "/dev/shm".to_string());
    let server_dir = scratch_dir(shm, "smartstock-bench-sync-server-");
    let server_db = server_dir.path().join("server.db");

    let t = Instant::now();
    let seeded = seed_server(&server_db, products, movements);
    eprintln!(
        "bench-sync: server seeded with {products} products and {movements} movements in {:.1} s; desktops in {}",
        t.elapsed().as_secs_f64(),
        dir.path().display()
    );
    let server = ServerProcess::start(&server_db, Transport::Https);
    let base = server.base();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    let (mut raw_rates, mut pull_rates) = (Vec::new(), Vec::new());
    let mut last: Option<(Arc<Store>, SyncEngine, Actor, std::path::PathBuf)> = None;
    for round in 0..rounds {
        let raw_path = dir.path().join(format!("raw-{round}.db"));
        raw_rates.push(raw_pull(&raw_path, &seeded));
        remove_db(&raw_path);
        if round == 0 {
            let apply_path = dir.path().join("store-apply.db");
            eprintln!("store apply alone (no server): {:.0} rows/s", store_apply(&apply_path, &seeded));
            remove_db(&apply_path);
        }
        let path = dir.path().join(format!("desktop-{round}.db"));
        if let Some((_, _, _, old_path)) = last.take() {
            remove_db(old_path.as_path());
        }
        let (rate, store, engine, actor) = runtime.block_on(engine_pull(&path, &base, &seeded));
        eprintln!("pull round {round}: engine {rate:.0} rows/s, raw {:.0} rows/s", raw_rates[round]);
        pull_rates.push(rate);
        last = Some((store, engine, actor, path));
    }
    bench_line("sync.initial_pull", median(&mut pull_rates), "rows/s", median(&mut raw_rates));

    let (store, engine, actor, _) = last.unwrap();
    let (mut push_rates, mut raw_push_rates) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        queue_counts(&store, actor, &seeded, push_count, round);
        let queued = store.pending(push_count as u32).unwrap();
        let start = Instant::now();
        let report = runtime.block_on(engine.push_pending()).unwrap();
        let rate = push_count as f64 / start.elapsed().as_secs_f64();
        assert_eq!((report.pushed as usize, report.accepted as usize), (push_count, push_count));
        assert_eq!(store.pending_count().unwrap(), 0);
        let raw_path = dir.path().join(format!("raw-push-{round}.db"));
        let raw = raw_push(&raw_path, &seeded, &queued);
        remove_db(&raw_path);
        eprintln!("push round {round}: engine {rate:.0} movements/s, raw {raw:.0} movements/s");
        push_rates.push(rate);
        raw_push_rates.push(raw);
    }
    bench_line("sync.push", median(&mut push_rates), "movements/s", median(&mut raw_push_rates));

    let held = movements + rounds * push_count;
    let (applied, raw) = apply_one(&store, &seeded, env_usize("BENCH_APPLY_SAMPLES", 200));
    eprintln!("apply one: the desktop holds {held} movements; target < 1 ms");
    bench_line("sync.apply_one_remote", applied, "ms", raw);
    drop(server);
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
