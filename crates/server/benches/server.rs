//! `make bench-server`: the server's push path against a raw batched insert into the same backend,
//! in one run.
//!
//! - raw: the same 100k movement rows inserted into a fresh server database, 500 rows per
//!   statement, one transaction per batch (what a push batch would be at best): a multi-row
//!   INSERT; on PostgreSQL also an `INSERT … SELECT FROM UNNEST` of one array per column, and the
//!   faster of the two is the baseline;
//! - server: the same rows pushed as batches of 500 over loopback HTTPS (rustls, self-signed)
//!   from an in-process client through the real API, into a fresh database.
//! - load: N simulated devices (default 1,000), each pushing one movement per second for a
//!   while and pulling after each push from its own cursor (caught up with the catalog at the
//!   start); p50/p99 push latency; then the saturation rate (devices
//!   pushing as fast as they can).
//!
//! Prints `BENCH <name> <value> <unit> baseline=<value> ratio=<value>` lines. `BENCH_BACKENDS`
//! (default `sqlite,postgres`) picks the backends; PostgreSQL needs `DATABASE_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_core::ids::NewRandom;
use smartstock_core::wire::{PushRequest, PushResponse, WIRE_VERSION};
use smartstock_core::{
    DeviceId, Location, LocationId, LocationKind, Movement, MovementId, MovementKind, Product, ProductId, Timestamp,
    UserId,
};
use smartstock_server::api::{self, ApiSettings, AppState};
use smartstock_server::auth::hash_password;
use smartstock_server::events::Events;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{NewUser, Role, Storage};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "Bench-Pass-123";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bench_line(name: &str, value: f64, unit: &str, baseline: f64) {
    println!("BENCH {name} {value:.3} {unit} baseline={baseline:.3} ratio={:.2}", value / baseline);
}

struct Catalog {
    products: Vec<ProductId>,
    location: LocationId,
}

fn seed(storage: &dyn Storage, products: usize) -> Catalog {
    let admin = UserId::new_random();
    let location = Location {
        id: LocationId::new_random(),
        code: "WH1".into(),
        name: "Main".into(),
        kind: LocationKind::Warehouse,
        parent_id: None,
        archived: false,
    };
    storage.save_location(admin, &location, Timestamp(1)).unwrap();
    let products = (0..products)
        .map(|i| {
            let p = Product {
                id: ProductId::new_random(),
                sku: format!("SKU-{i:05}"),
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
            };
            storage.save_product(admin, &p, Timestamp(1)).unwrap();
            p.id
        })
        .collect();
    Catalog { products, location: location.id }
}

fn movements(catalog: &Catalog, device: DeviceId, user: UserId, count: usize, first_seq: i64) -> Vec<Movement> {
    (0..count)
        .map(|i| Movement {
            id: MovementId::new_v7(),
            device_id: device,
            device_seq: first_seq + i as i64,
            user_id: user,
            kind: MovementKind::Receive,
            product_id: catalog.products[i % catalog.products.len()],
            location_id: catalog.location,
            delta: Some(1 + (i % 7) as i64),
            counted_qty: None,
            reason: None,
            note: None,
            reference: None,
            peer_location_id: None,
            occurred_at: Timestamp(1_700_000_000_000 + i as i64),
            recorded_at: Timestamp(1_700_000_000_000 + i as i64),
            server_seq: None,
            qty_before: 0,
            qty_after: 0,
        })
        .collect()
}

/// The raw baseline: multi-row INSERTs of 500, one transaction each.
fn raw_insert(path: &Path, rows: &[Movement]) -> f64 {
    let storage = SqliteStorage::open(path).unwrap();
    let catalog = seed(&storage, 100);
    drop(storage);
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    let start = Instant::now();
    for (b, batch) in rows.chunks(500).enumerate() {
        let tx = conn.transaction().unwrap();
        let placeholders = vec!["(?, ?, ?, ?, 'receive', ?, ?, ?, ?, ?, 0, 0, ?)"; batch.len()].join(", ");
        let sql = format!(
            "INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, location_id, delta, \
             occurred_at, recorded_at, qty_before, qty_after, server_seq) VALUES {placeholders}"
        );
        let mut values: Vec<Box<dyn rusqlite::ToSql>> = Vec::with_capacity(batch.len() * 10);
        for (i, m) in batch.iter().enumerate() {
            values.push(Box::new(m.id.as_bytes().to_vec()));
            values.push(Box::new(m.device_id.as_bytes().to_vec()));
            values.push(Box::new(m.device_seq));
            values.push(Box::new(m.user_id.as_bytes().to_vec()));
            values.push(Box::new(catalog.products[i % catalog.products.len()].as_bytes().to_vec()));
            values.push(Box::new(catalog.location.as_bytes().to_vec()));
            values.push(Box::new(m.delta));
            values.push(Box::new(m.occurred_at.millis()));
            values.push(Box::new(m.recorded_at.millis()));
            values.push(Box::new((b * 500 + i + 1_000) as i64));
        }
        tx.execute(&sql, rusqlite::params_from_iter(values.iter().map(|v| v.as_ref()))).unwrap();
        tx.commit().unwrap();
    }
    rows.len() as f64 / start.elapsed().as_secs_f64()
}

struct Server {
    base: String,
    http: reqwest::Client,
    storage: Arc<dyn Storage>,
}

/// Thread-name prefixes: the server's runtime (its workers and blocking pool, where storage calls
/// run) and the clients' (the load generator), so the CPU each uses can be told apart.
const SERVER_THREADS: &str = "bench-server";
const CLIENT_THREADS: &str = "bench-client";

/// The server's own runtime, apart from the clients' one.
fn server_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name(SERVER_THREADS)
            // Idle blocking threads stay, so their CPU time stays countable (`CpuProbe`).
            .thread_keep_alive(Duration::from_secs(3600))
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Serves `storage` over HTTPS on a free loopback port, on the server's runtime.
async fn start_server(storage: Arc<dyn Storage>) -> Server {
    let settings =
        ApiSettings { login_attempts_per_minute: 1_000_000, body_limit_bytes: 16 << 20, ..ApiSettings::default() };
    let state = AppState {
        storage: storage.clone(),
        events: Events::default(),
        settings: Arc::new(settings),
        metrics: Default::default(),
    };
    let identity = smartstock_server::tls::self_signed().unwrap();
    let tls =
        axum_server::tls_rustls::RustlsConfig::from_config(smartstock_server::tls::server_config(identity).unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let app = api::app(state).into_make_service_with_connect_info::<SocketAddr>();
    server_runtime()
        .spawn(async move { axum_server::from_tcp_rustls(listener, tls).unwrap().serve(app).await.unwrap() });
    let http =
        reqwest::Client::builder().danger_accept_invalid_certs(true).pool_max_idle_per_host(2048).build().unwrap();
    Server { base: format!("https://{address}"), http, storage }
}

/// A user with a session (made directly in storage: a thousand argon2 sign-ins would measure
/// argon2) and a device registered over HTTP.
async fn device(server: &Server, name: &str, role: Role, password_hash: &str) -> (String, DeviceId, UserId) {
    let user = NewUser {
        username: name.into(),
        password_hash: password_hash.into(),
        role,
        must_change_password: false,
        locations: vec![],
    };
    // Storage calls block (the PostgreSQL client must not run on a runtime thread).
    let (user_id, tokens) = tokio::task::block_in_place(|| {
        let user_id = server.storage.create_user(&user, Timestamp(1)).unwrap();
        let tokens = smartstock_server::auth::new_tokens(api::now(), 3_600_000, 3_600_000);
        server.storage.create_session(user_id, &tokens.hashes, api::now()).unwrap();
        (user_id, tokens)
    });
    let token = tokens.access_token;
    let device = DeviceId::new_random();
    let response = server
        .http
        .post(format!("{}/api/v1/devices", server.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "device_id": device, "name": name }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    (token, device, user_id)
}

async fn push(server: &Server, token: &str, device: DeviceId, batch: &[Movement]) {
    let request = PushRequest { v: WIRE_VERSION, device_id: device, movements: batch.to_vec() };
    let response = server
        .http
        .post(format!("{}/api/v1/sync/push", server.base))
        .bearer_auth(token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.text().await.unwrap());
    let _: PushResponse = response.json().await.unwrap();
}

/// What a device reads of a pull page to go on: where the next pull starts.
#[derive(serde::Deserialize)]
struct PageCursor {
    next_after: i64,
}

/// One pull of up to 50 items after `after`, as the sync engine pulls (with 1,000 devices
/// pushing, a full page of the others' movements every time); returns the next cursor. The body
/// is read as a device would, which also lets the connection be used again (a response dropped
/// unread closes it, and the next request would pay for a new TLS handshake).
async fn pull_page(server: &Server, token: &str, device: DeviceId, after: i64) -> i64 {
    let response = server
        .http
        .get(format!("{}/api/v1/sync/pull?device_id={device}&after={after}&limit=50", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert!(status.is_success(), "pull: {status} {}", String::from_utf8_lossy(&body));
    serde_json::from_slice::<PageCursor>(&body).unwrap().next_after
}

async fn server_push_rate(storage: Arc<dyn Storage>, catalog: &Catalog, count: usize) -> f64 {
    let server = start_server(storage).await;
    let (token, device_id, user) = device(&server, "bench", Role::Manager, &hash_password(PASSWORD).unwrap()).await;
    let rows = movements(catalog, device_id, user, count, 1);
    let start = Instant::now();
    for batch in rows.chunks(500) {
        push(&server, &token, device_id, batch).await;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)]
}

/// What a load run measured.
struct LoadResult {
    p50: Duration,
    p99: Duration,
    /// Pushes per second achieved.
    rate: f64,
    /// Pushes made (each followed by a pull).
    pushes: usize,
    /// CPU used from the first push to the last.
    cpu: CpuUse,
}

/// `devices` devices push one movement every `interval` and pull after each, for `rounds` rounds.
async fn load(
    storage: Arc<dyn Storage>,
    catalog: Catalog,
    devices: usize,
    rounds: usize,
    interval: Duration,
    probe: &CpuProbe,
) -> LoadResult {
    // Every device has synced the catalog already: it pulls on from the feed's head.
    let caught_up = tokio::task::block_in_place(|| storage.head_seq()).unwrap();
    let server = Arc::new(start_server(storage).await);
    let catalog = Arc::new(catalog);
    let hash = hash_password(PASSWORD).unwrap();
    let mut clients = Vec::new();
    for i in 0..devices {
        clients.push(device(&server, &format!("device{i}"), Role::Manager, &hash).await);
    }
    let before = tokio::task::block_in_place(|| probe.sample());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (token, device_id, user) in clients {
        let (server, catalog) = (server.clone(), catalog.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut after = caught_up;
            let offset = Duration::from_millis(rand_offset(device_id, interval));
            tokio::time::sleep(offset).await;
            for round in 0..rounds {
                let batch = movements(&catalog, device_id, user, 1, round as i64 + 1);
                let t = Instant::now();
                push(&server, &token, device_id, &batch).await;
                latencies.push(t.elapsed());
                after = pull_page(&server, &token, device_id, after).await;
                tokio::time::sleep(interval.saturating_sub(t.elapsed())).await;
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    let cpu = tokio::task::block_in_place(|| probe.sample()).since(&before);
    LoadResult {
        p50: percentile(&mut all, 0.5),
        p99: percentile(&mut all, 0.99),
        rate: all.len() as f64 / elapsed.as_secs_f64(),
        pushes: all.len(),
        cpu,
    }
}

/// Reports a load run's CPU: per push (with its pull) for the server, the load generator and the
/// PostgreSQL backends, and how busy the machine's cores were (everything else on it included).
fn report_cpu(name: &str, result: &LoadResult) {
    let per_push = |ns: u64| ns as f64 / 1e6 / result.pushes.max(1) as f64;
    let cpu = &result.cpu;
    let ours = (cpu.server + cpu.client + cpu.postgres) as f64 / 1e9;
    let seconds = cpu.wall.as_secs_f64();
    eprintln!(
        "{name}: {} pushes in {seconds:.1} s; CPU per push+pull: server {:.2} ms, load generator {:.2} ms, \
         PostgreSQL backends {:.2} ms; cores busy {:.2} of {} (this run {:.2}, everything else {:.2})",
        result.pushes,
        per_push(cpu.server),
        per_push(cpu.client),
        per_push(cpu.postgres),
        cpu.machine_busy_cores,
        cpu.cores,
        ours / seconds,
        (cpu.machine_busy_cores - ours / seconds).max(0.0),
    );
}

/// CPU time counters: this process's threads by runtime, the PostgreSQL backends of the run (found
/// by the application name their connection string sets), and the machine (`/proc/stat`). Linux
/// only; elsewhere every counter reads zero.
struct CpuProbe {
    /// Database URL and application name of the run's PostgreSQL connections.
    postgres: Option<(String, String)>,
}

/// CPU used since an earlier sample (nanoseconds of CPU time).
#[derive(Clone, Copy, Debug, Default)]
struct CpuUse {
    server: u64,
    client: u64,
    postgres: u64,
    wall: Duration,
    machine_busy_cores: f64,
    cores: usize,
}

/// Raw counters at one instant.
struct CpuSample {
    at: Instant,
    threads: std::collections::HashMap<u64, (String, u64)>,
    backends: std::collections::HashMap<u64, u64>,
    /// (busy, total) ticks of all cores.
    machine: (u64, u64),
}

impl CpuSample {
    fn since(&self, before: &CpuSample) -> CpuUse {
        let mut used = CpuUse { wall: self.at - before.at, ..CpuUse::default() };
        for (tid, (name, ns)) in &self.threads {
            let delta = ns - before.threads.get(tid).map_or(0, |(_, b)| *b).min(*ns);
            if name.starts_with(SERVER_THREADS) {
                used.server += delta;
            } else if name.starts_with(CLIENT_THREADS) {
                used.client += delta;
            }
        }
        for (pid, ns) in &self.backends {
            used.postgres += ns - before.backends.get(pid).copied().unwrap_or(0).min(*ns);
        }
        let (busy, total) = (self.machine.0 - before.machine.0, self.machine.1 - before.machine.1);
        used.cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        used.machine_busy_cores = busy as f64 / total.max(1) as f64 * used.cores as f64;
        used
    }
}

/// Nanoseconds on CPU of a task or process (`/proc/.../schedstat`, first field).
fn schedstat_ns(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.split_whitespace().next()?.parse().ok()
}

impl CpuProbe {
    fn sample(&self) -> CpuSample {
        let mut threads = std::collections::HashMap::new();
        for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
            let Ok(tid) = task.file_name().to_string_lossy().parse::<u64>() else { continue };
            let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if let Some(ns) = schedstat_ns(&task.path().join("schedstat")) {
                threads.insert(tid, (name.trim().to_owned(), ns));
            }
        }
        let backends = self
            .backend_pids()
            .into_iter()
            .filter_map(|pid| schedstat_ns(Path::new(&format!("/proc/{pid}/schedstat"))).map(|ns| (pid, ns)));
        CpuSample { at: Instant::now(), threads, backends: backends.collect(), machine: machine_ticks() }
    }

    fn backend_pids(&self) -> Vec<u64> {
        let Some((url, name)) = &self.postgres else { return Vec::new() };
        let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) else { return Vec::new() };
        let rows = client.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", &[name]);
        rows.into_iter().flatten().map(|r| r.get::<_, i32>(0) as u64).collect()
    }
}

/// (busy, total) ticks of all cores since boot.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else { return (0, 0) };
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn rand_offset(device: DeviceId, interval: Duration) -> u64 {
    let bytes = device.as_bytes();
    (u64::from(bytes[15]) << 8 | u64::from(bytes[14])) % (interval.as_millis().max(1) as u64)
}

/// A fresh server schema with a seeded catalog, and a plain client working in it.
fn raw_postgres_schema(url: &str, schema: &str) -> (postgres::Client, Catalog) {
    let storage = smartstock_server::storage::postgres::PgStorage::connect_in_schema(url, schema).unwrap();
    let catalog = seed(&storage, 100);
    drop(storage);
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client.batch_execute(&format!("SET search_path TO {schema}")).unwrap();
    (client, catalog)
}

/// A raw PostgreSQL baseline: the same rows in multi-row INSERTs of 500, one transaction each,
/// into a fresh server schema.
fn raw_insert_postgres(url: &str, schema: &str, rows: &[Movement]) -> f64 {
    let (mut client, catalog) = raw_postgres_schema(url, schema);
    let start = Instant::now();
    for (b, batch) in rows.chunks(500).enumerate() {
        let mut tx = client.transaction().unwrap();
        let mut placeholders = Vec::with_capacity(batch.len());
        let mut values: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::with_capacity(batch.len() * 10);
        for (i, m) in batch.iter().enumerate() {
            let n = i * 10;
            placeholders.push(format!(
                "(${}, ${}, ${}, ${}, 'receive', ${}, ${}, ${}, ${}, ${}, 0, 0, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6,
                n + 7,
                n + 8,
                n + 9,
                n + 10
            ));
            values.push(Box::new(m.id.0));
            values.push(Box::new(m.device_id.0));
            values.push(Box::new(m.device_seq));
            values.push(Box::new(m.user_id.0));
            values.push(Box::new(catalog.products[i % catalog.products.len()].0));
            values.push(Box::new(catalog.location.0));
            values.push(Box::new(m.delta));
            values.push(Box::new(m.occurred_at.millis()));
            values.push(Box::new(m.recorded_at.millis()));
            values.push(Box::new((b * 500 + i + 1_000) as i64));
        }
        let sql = format!(
            "INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, location_id, delta, \
             occurred_at, recorded_at, qty_before, qty_after, server_seq) VALUES {}",
            placeholders.join(", ")
        );
        let params: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        tx.execute(&sql, &params).unwrap();
        tx.commit().unwrap();
    }
    rows.len() as f64 / start.elapsed().as_secs_f64()
}

/// The same rows as `raw_insert_postgres`, 500 to an `INSERT … SELECT FROM UNNEST(arrays)`
/// (one array per column: fewer parameters to bind and parse than a multi-row `VALUES`), one
/// transaction each, into a fresh server schema.
fn raw_unnest_postgres(url: &str, schema: &str, rows: &[Movement]) -> f64 {
    let (mut client, catalog) = raw_postgres_schema(url, schema);
    let sql = "INSERT INTO movements (id, device_id, device_seq, user_id, kind, product_id, location_id, delta, \
               occurred_at, recorded_at, qty_before, qty_after, server_seq) \
               SELECT id, device_id, device_seq, user_id, 'receive', product_id, location_id, delta, occurred_at, \
               recorded_at, 0, 0, server_seq FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::uuid[], \
               $5::uuid[], $6::uuid[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[]) \
               AS r(id, device_id, device_seq, user_id, product_id, location_id, delta, occurred_at, recorded_at, \
               server_seq)";
    let start = Instant::now();
    for (b, batch) in rows.chunks(500).enumerate() {
        let mut tx = client.transaction().unwrap();
        let column = |f: &dyn Fn(usize, &Movement) -> uuid::Uuid| -> Vec<uuid::Uuid> {
            batch.iter().enumerate().map(|(i, m)| f(i, m)).collect()
        };
        let number = |f: &dyn Fn(usize, &Movement) -> i64| -> Vec<i64> {
            batch.iter().enumerate().map(|(i, m)| f(i, m)).collect()
        };
        let ids = column(&|_, m| m.id.0);
        let devices = column(&|_, m| m.device_id.0);
        let seqs = number(&|_, m| m.device_seq);
        let users = column(&|_, m| m.user_id.0);
        let products = column(&|i, _| catalog.products[i % catalog.products.len()].0);
        let locations = column(&|_, _| catalog.location.0);
        let deltas = number(&|_, m| m.delta.unwrap_or_default());
        let occurred = number(&|_, m| m.occurred_at.millis());
        let recorded = number(&|_, m| m.recorded_at.millis());
        let server_seqs = number(&|i, _| (b * 500 + i + 1_000) as i64);
        tx.execute(
            sql,
            &[&ids, &devices, &seqs, &users, &products, &locations, &deltas, &occurred, &recorded, &server_seqs],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    rows.len() as f64 / start.elapsed().as_secs_f64()
}

/// `url` with `application_name` set (a connection string parameter).
fn with_application_name(url: &str, name: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={name}")
}

fn drop_schema(url: &str, schema: &str) {
    if let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

fn sample_rows(count: usize) -> Vec<Movement> {
    let catalog = Catalog { products: vec![ProductId::new_random()], location: LocationId::new_random() };
    movements(&catalog, DeviceId::new_random(), UserId::new_random(), count, 1)
}

fn main() {
    let dir = tempfile::Builder::new()
        .prefix("smartstock-bench-server-")
        .tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| std::env::temp_dir().display().to_string()))
        .unwrap();
    let count = env_usize("BENCH_MOVEMENTS", 100_000);
    let devices = env_usize("BENCH_DEVICES", 1000);
    let rounds = env_usize("BENCH_LOAD_ROUNDS", 10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(CLIENT_THREADS)
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()
        .unwrap();
    let rows = sample_rows(count);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    if backends.split(',').any(|b| b.trim() == "sqlite") {
        bench_sqlite(&runtime, dir.path(), &rows, devices, rounds);
    }
    if backends.split(',').any(|b| b.trim() == "postgres") {
        bench_postgres(&runtime, &rows, devices, rounds);
    }
}

fn bench_sqlite(runtime: &tokio::runtime::Runtime, dir: &Path, rows: &[Movement], devices: usize, rounds: usize) {
    let count = rows.len();
    eprintln!("bench-server: SQLite backend (synchronous=FULL), data in {}", dir.display());
    let raw = raw_insert(&dir.join("raw.db"), rows);
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.join("server.db")).unwrap());
    let catalog = seed(storage.as_ref(), 100);
    let served = runtime.block_on(server_push_rate(storage, &catalog, count));
    bench_line("server.sqlite.push", served, "movements/s", raw);
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.join("load.db")).unwrap());
    let catalog = seed(storage.as_ref(), 100);
    let probe = CpuProbe { postgres: None };
    let result = runtime.block_on(load(storage, catalog, devices, rounds, Duration::from_secs(1), &probe));
    eprintln!("load: {devices} devices x {rounds} pushes, {:.0} pushes/s achieved", result.rate);
    report_cpu("load (SQLite)", &result);
    bench_line("server.sqlite.load_push_p50", result.p50.as_secs_f64() * 1e3, "ms", 50.0);
    bench_line("server.sqlite.load_push_p99", result.p99.as_secs_f64() * 1e3, "ms", 50.0);
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.join("saturation.db")).unwrap());
    let catalog = seed(storage.as_ref(), 100);
    let saturation = runtime.block_on(load(storage, catalog, 64, 50, Duration::ZERO, &probe));
    report_cpu("saturation (SQLite)", &saturation);
    bench_line("server.sqlite.saturation", saturation.rate, "pushes/s", devices as f64);
}

fn bench_postgres(runtime: &tokio::runtime::Runtime, rows: &[Movement], devices: usize, rounds: usize) {
    let count = rows.len();

    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("bench-server: DATABASE_URL unset, PostgreSQL skipped (make bench-server sets it)");
        return;
    };
    let tag = std::process::id();
    let (raw_schema, server_schema) = (format!("bench_raw_{tag}"), format!("bench_server_{tag}"));
    eprintln!("bench-server: PostgreSQL backend, schemas {raw_schema} and {server_schema}");
    // The baseline is the faster of two raw batched inserts of the same rows.
    let unnest_schema = format!("bench_raw_unnest_{tag}");
    let values = raw_insert_postgres(&url, &raw_schema, rows);
    let unnest = raw_unnest_postgres(&url, &unnest_schema, rows);
    drop_schema(&url, &unnest_schema);
    eprintln!("raw PostgreSQL: multi-row VALUES {values:.0} movements/s, UNNEST {unnest:.0} movements/s");
    let raw = values.max(unnest);
    let storage: Arc<dyn Storage> =
        Arc::new(smartstock_server::storage::postgres::PgStorage::connect_in_schema(&url, &server_schema).unwrap());
    let catalog = seed(storage.as_ref(), 100);
    let served = runtime.block_on(server_push_rate(storage.clone(), &catalog, count));
    bench_line("server.postgres.push", served, "movements/s", raw);
    std::thread::spawn(move || drop(storage)).join().unwrap();
    let load_schema = format!("bench_load_{tag}");
    // The load runs' connections carry an application name, so their backends' CPU can be counted.
    let app_name = format!("smartstock_bench_{tag}");
    let load_url = with_application_name(&url, &app_name);
    let probe = CpuProbe { postgres: Some((url.clone(), app_name)) };
    let storage: Arc<dyn Storage> =
        Arc::new(smartstock_server::storage::postgres::PgStorage::connect_in_schema(&load_url, &load_schema).unwrap());
    let catalog = seed(storage.as_ref(), 100);
    let result = runtime.block_on(load(storage.clone(), catalog, devices, rounds, Duration::from_secs(1), &probe));
    eprintln!("load (PostgreSQL): {devices} devices x {rounds} pushes, {:.0} pushes/s achieved", result.rate);
    report_cpu("load (PostgreSQL)", &result);
    bench_line("server.postgres.load_push_p50", result.p50.as_secs_f64() * 1e3, "ms", 50.0);
    bench_line("server.postgres.load_push_p99", result.p99.as_secs_f64() * 1e3, "ms", 50.0);
    std::thread::spawn(move || drop(storage)).join().unwrap();
    drop_schema(&url, &load_schema);
    let saturation_schema = format!("bench_saturation_{tag}");
    let storage: Arc<dyn Storage> = Arc::new(
        smartstock_server::storage::postgres::PgStorage::connect_in_schema(&load_url, &saturation_schema).unwrap(),
    );
    let catalog = seed(storage.as_ref(), 100);
    let saturation = runtime.block_on(load(storage.clone(), catalog, 64, 50, Duration::ZERO, &probe));
    report_cpu("saturation (PostgreSQL)", &saturation);
    bench_line("server.postgres.saturation", saturation.rate, "pushes/s", devices as f64);
    std::thread::spawn(move || drop(storage)).join().unwrap();
    drop_schema(&url, &saturation_schema);
    drop_schema(&url, &raw_schema);
    drop_schema(&url, &server_schema);
}
