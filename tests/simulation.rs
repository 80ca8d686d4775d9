//! The seeded simulation (the promise of the product): N desktops record random movements of
//! every kind across several locations, sync through a proxy that drops connections, loses
//! answers, delays, answers 503 and cuts the link for periods, and restart from their SQLite file
//! alone. After healing, every desktop's levels and ledger checksums equal the server's, the
//! server's levels equal the level rule over its ledger, and every recorded movement is on the
//! server exactly once. Desktops also edit the catalog at random (price, name, reorder point)
//! and now and then two of them create the same new SKU offline: after healing, every desktop's
//! products and locations equal the server's, and each SKU created twice is kept once (the
//! newcomer's row is archived aside as an alias of the kept one).
//!
//! `SIM_SEEDS=N` runs seeds 1..=N (default 3); `SIM_SEED=S` runs one seed; `SIM_DEVICES` (default
//! 5) and `SIM_STEPS` (default 150) size each run. A failing seed prints the command that
//! reproduces it. `make soak SEEDS=1000` runs many.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_core::ids::NewRandom;
use smartstock_core::level::{entries_of, level_of};
use smartstock_core::{
    LedgerDigest, Location, LocationId, LocationKind, MovementIntent, Product, ProductId, ReasonCode, Timestamp, UserId,
};
use smartstock_server::api::{self, ApiSettings, AppState};
use smartstock_server::auth::hash_password;
use smartstock_server::events::Events;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{NewUser, Role, Storage};
use smartstock_store::{Actor, Store};
use smartstock_sync::{MemoryCredentials, ServerClient, SyncEngine};
use smartstock_system_tests::proxy::FaultProxy;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

const PASSWORD: &str = "Sim-Pass-1234";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Desktop {
    path: PathBuf,
    user: String,
    actor: Actor,
    credentials: Arc<MemoryCredentials>,
    store: Arc<Store>,
    engine: SyncEngine,
}

fn client(base: &str, credentials: Arc<MemoryCredentials>) -> ServerClient {
    // One connection per request, so every request meets its own fault.
    let builder = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(std::time::Duration::from_secs(5));
    ServerClient::with_http(base, credentials, builder).unwrap()
}

impl Desktop {
    /// Closes and reopens the ledger file (a restart with nothing but the SQLite file).
    fn restart(&mut self, base: &str) {
        let store = Arc::new(Store::open(&self.path).unwrap());
        self.engine = SyncEngine::new(store.clone(), client(base, self.credentials.clone()), &self.user);
        self.store = store;
    }
}

struct World {
    storage: Arc<SqliteStorage>,
    products: Vec<ProductId>,
    locations: Vec<LocationId>,
    _dir: tempfile::TempDir,
}

fn world(devices: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
    let admin = UserId::new_random();
    let locations: Vec<LocationId> = (0..3)
        .map(|i| {
            let l = Location {
                id: LocationId::new_random(),
                code: format!("L{i}"),
                name: format!("Location {i}"),
                kind: LocationKind::Warehouse,
                parent_id: None,
                archived: false,
            };
            storage.save_location(admin, &l, Timestamp(1)).unwrap();
            l.id
        })
        .collect();
    let products: Vec<ProductId> = (0..3)
        .map(|i| {
            let p = Product {
                id: ProductId::new_random(),
                sku: format!("P{i}"),
                name: format!("Product {i}"),
                barcode: None,
                unit: "pcs".into(),
                unit_scale: 0,
                reorder_point: 2,
                reorder_qty: 10,
                cost_minor: 0,
                price_minor: 0,
                archived: false,
                negative_stock: None,
            };
            storage.save_product(admin, &p, Timestamp(1)).unwrap();
            p.id
        })
        .collect();
    let hash = hash_password(PASSWORD).unwrap();
    for d in 0..devices {
        let user = NewUser {
            username: format!("desk{d}"),
            password_hash: hash.clone(),
            role: Role::Manager,
            must_change_password: false,
            locations: vec![],
        };
        storage.create_user(&user, Timestamp(1)).unwrap();
    }
    World { storage, products, locations, _dir: dir }
}

fn random_intent(rng: &mut Rng, world: &World, products: &[ProductId], store: &Store) -> Option<MovementIntent> {
    let product_id = products[rng.below(products.len() as u64) as usize];
    let location_id = world.locations[rng.below(3) as usize];
    Some(match rng.below(10) {
        0..=2 => MovementIntent::Receive {
            product_id,
            location_id,
            quantity: 1 + rng.below(5) as i64,
            reference: None,
            note: None,
        },
        3..=4 => MovementIntent::Issue {
            product_id,
            location_id,
            quantity: 1 + rng.below(3) as i64,
            reason: None,
            reference: None,
            note: None,
        },
        5 => MovementIntent::Adjust {
            product_id,
            location_id,
            delta: if rng.below(2) == 0 { 1 } else { -1 },
            reason: ReasonCode::Correction,
            note: None,
        },
        6 => MovementIntent::Count { product_id, location_id, counted_qty: rng.below(8) as i64, note: None },
        7 => {
            let to = world.locations
                [((rng.below(2) + 1 + world.locations.iter().position(|l| *l == location_id)? as u64) % 3) as usize];
            MovementIntent::Transfer { product_id, from: location_id, to, quantity: 1, note: None }
        }
        8 => {
            let history = store.history(product_id, Some(location_id), None, 20).ok()?;
            let target = history
                .iter()
                .find(|h| h.voided_by.is_none() && h.movement.kind != smartstock_core::MovementKind::Void)?;
            MovementIntent::Void { movement_id: target.movement.id, note: "simulated mistake".into() }
        }
        _ => MovementIntent::Dispatch {
            product_id,
            from: location_id,
            to: world.locations[(rng.below(3)) as usize],
            quantity: 1,
            note: None,
        },
    })
}

/// A product a desktop created during the run (its own id; it may end up an alias).
struct Created {
    desktop: usize,
    id: ProductId,
    sku: String,
}

/// Edits one field of a product this desktop may know (unknown ones are skipped: a product
/// another desktop created may not have reached it yet).
fn random_edit(rng: &mut Rng, desktop: &Desktop, candidates: &[ProductId]) {
    let id = candidates[rng.below(candidates.len() as u64) as usize];
    let Ok(mut product) = desktop.store.product(id) else { return };
    match rng.below(3) {
        0 => product.price_minor = rng.below(10_000) as i64,
        1 => product.name = format!("Product {} rev {}", product.sku, rng.below(1_000)),
        _ => product.reorder_point = rng.below(20) as i64,
    }
    desktop.store.update_product(desktop.actor, &product).unwrap();
}

/// Two different desktops create the product `N{k}`, each under its own id and fields.
fn create_twice(rng: &mut Rng, desktops: &[Desktop], k: usize, created: &mut Vec<Created>) {
    let n = desktops.len() as u64;
    let first = rng.below(n);
    let second = (first + 1 + rng.below(n - 1)) % n;
    for d in [first as usize, second as usize] {
        let product = Product {
            id: ProductId::new_random(),
            sku: format!("N{k}"),
            name: format!("New {k} by desk{d}"),
            barcode: None,
            unit: "pcs".into(),
            unit_scale: 0,
            reorder_point: rng.below(5) as i64,
            reorder_qty: 10,
            cost_minor: 0,
            price_minor: rng.below(1_000) as i64,
            archived: false,
            negative_stock: None,
        };
        // The second desktop may already have pulled the first one's: then it is a duplicate.
        if desktops[d].store.create_product(desktops[d].actor, &product).is_ok() {
            created.push(Created { desktop: d, id: product.id, sku: product.sku });
        }
    }
}

async fn run_seed(seed: u64, devices: usize, steps: usize) -> Result<(), String> {
    let world = world(devices);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let settings = ApiSettings {
        login_attempts_per_minute: 100_000,
        api_requests_per_minute: 1_000_000,
        ..ApiSettings::default()
    };
    let state = AppState {
        storage: world.storage.clone(),
        events: Events::default(),
        settings: Arc::new(settings),
        metrics: Default::default(),
    };
    let app = api::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let proxy = FaultProxy::start(upstream, seed, 25).await;
    let base = format!("http://{}", proxy.address);
    let files = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);

    let mut desktops = Vec::new();
    for d in 0..devices {
        let path = files.path().join(format!("desk{d}.db"));
        let credentials = Arc::new(MemoryCredentials::default());
        let store = Arc::new(Store::open(&path).unwrap());
        let engine = SyncEngine::new(store.clone(), client(&base, credentials.clone()), &format!("desk{d}"));
        // Sign in directly (not through the faults) once; refreshes go through the proxy.
        let direct = ServerClient::new(&format!("http://{upstream}"), credentials.clone()).unwrap();
        let user = direct.sign_in(&format!("desk{d}"), PASSWORD).await.map_err(|e| e.to_string())?;
        desktops.push(Desktop {
            path,
            user: format!("desk{d}"),
            actor: Actor { user_id: user.id },
            credentials,
            store,
            engine,
        });
    }

    let mut created: Vec<Created> = Vec::new();
    for _ in 0..steps {
        let d = rng.below(devices as u64) as usize;
        // Products created during the run take movements too (a desktop that has not seen one
        // yet is refused, like a typo): a newcomer's stock must count toward the kept product.
        let candidates: Vec<ProductId> = world.products.iter().copied().chain(created.iter().map(|c| c.id)).collect();
        match rng.below(24) {
            0..=11 => {
                if let Some(intent) = random_intent(&mut rng, &world, &candidates, &desktops[d].store) {
                    // Refusals (negative stock, conflicts) are part of the game.
                    let _ = desktops[d].store.record(desktops[d].actor, &intent);
                }
            }
            12..=16 => {
                let _ = desktops[d].engine.sync_once().await;
            }
            17 => desktops[d].restart(&base),
            18 | 19 => proxy.set_offline(rng.below(2) == 0),
            20..=22 => random_edit(&mut rng, &desktops[d], &candidates),
            _ => {
                let k = created.len();
                create_twice(&mut rng, &desktops, k, &mut created);
            }
        }
    }

    // Heal: no faults, everyone syncs until nothing moves.
    proxy.set_offline(false);
    proxy.set_fault_percent(0);
    for _ in 0..3 {
        for desktop in &desktops {
            desktop.engine.sync_once().await.map_err(|e| format!("healed sync failed: {e}"))?;
        }
    }
    desktops.push(newcomer(&proxy, &base, upstream, files.path()).await?);
    let products: Vec<ProductId> = world.products.iter().copied().chain(created.iter().map(|c| c.id)).collect();
    let result = check(&world, &products, &desktops).and_then(|()| check_catalog(&world, &desktops, &created));
    server.abort();
    result
}

/// A desktop that joins after everything happened: its first sync takes the bulk path (an
/// empty ledger, pages of 5 items, so many of them) through a faulty link, then syncs until done.
/// It must end up holding what everyone holds.
async fn newcomer(
    proxy: &FaultProxy,
    base: &str,
    upstream: std::net::SocketAddr,
    dir: &std::path::Path,
) -> Result<Desktop, String> {
    let path = dir.join("newcomer.db");
    let credentials = Arc::new(MemoryCredentials::default());
    let store = Arc::new(Store::open(&path).unwrap());
    let engine = SyncEngine::new(store.clone(), client(base, credentials.clone()), "newcomer")
        .with_batch_sizes(smartstock_sync::engine::PUSH_BATCH, 5);
    let direct = ServerClient::new(&format!("http://{upstream}"), credentials.clone()).unwrap();
    let user = direct.sign_in("desk0", PASSWORD).await.map_err(|e| e.to_string())?;
    proxy.set_fault_percent(25);
    let _ = engine.sync_once().await;
    proxy.set_fault_percent(0);
    for _ in 0..2 {
        engine.sync_once().await.map_err(|e| format!("the newcomer's sync failed: {e}"))?;
    }
    Ok(Desktop { path, user: "desk0".into(), actor: Actor { user_id: user.id }, credentials, store, engine })
}

fn check(world: &World, products: &[ProductId], desktops: &[Desktop]) -> Result<(), String> {
    let server_levels: HashMap<(ProductId, LocationId), (i64, String)> = world
        .storage
        .stock(None)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|s| ((s.product_id, s.location_id), (s.on_hand, s.checksum)))
        .collect();
    // Every movement any desktop recorded (and the server did not reject) is on the server once.
    let mut recorded = HashSet::new();
    for (i, desktop) in desktops.iter().enumerate() {
        if desktop.store.pending_count().map_err(|e| e.to_string())? != 0 {
            return Err(format!("desk{i} still has unsent movements after healing"));
        }
        if desktop.store.pulled_waiting().map_err(|e| e.to_string())? != 0 {
            return Err(format!("desk{i} still holds pulled rows waiting for their product after healing"));
        }
        // Two desktops voiding the same movement offline is a real conflict: the second void is
        // rejected, kept and shown. Any other rejection is a bug.
        let rejected = desktop.store.rejected_movements().map_err(|e| e.to_string())?;
        if let Some(bad) = rejected.iter().find(|r| r.code != "void_refused") {
            return Err(format!("desk{i}: the server rejected {:?}", bad.message));
        }
        for (pair, (on_hand, checksum)) in &server_levels {
            let local = desktop.store.level(pair.0, pair.1).map_err(|e| e.to_string())?;
            let digest = desktop.store.checksum(pair.0, pair.1).map_err(|e| e.to_string())?.to_string();
            if local != *on_hand || digest != *checksum {
                return Err(format!(
                    "desk{i} shows {local} ({digest}) where the server has {on_hand} ({checksum}) for {pair:?}"
                ));
            }
        }
        for product in products {
            for row in desktop.store.history(*product, None, None, 100_000).map_err(|e| e.to_string())? {
                if row.sync_state == "accepted" {
                    recorded.insert(row.movement.id);
                }
            }
        }
    }
    // The server's levels are the level rule over its own ledger (pulled whole by a fresh device).
    let page = world.storage.pull(smartstock_core::DeviceId::new_random(), 0, 10_000).map_err(|e| e.to_string())?;
    if page.has_more {
        return Err("the simulation outgrew one pull page".into());
    }
    let server_ids: HashSet<_> = page.movements.iter().map(|m| m.id).collect();
    if server_ids.len() != page.movements.len() {
        return Err("a movement is on the server twice".into());
    }
    if server_ids != recorded {
        return Err(format!(
            "the server holds {} movements, the desktops recorded {}",
            server_ids.len(),
            recorded.len()
        ));
    }
    let mut by_pair: HashMap<(ProductId, LocationId), Vec<smartstock_core::Movement>> = HashMap::new();
    for m in page.movements {
        by_pair.entry((m.product_id, m.location_id)).or_default().push(m);
    }
    for (pair, movements) in by_pair {
        let rule = level_of(&entries_of(&movements)).map_err(|e| e.to_string())?.on_hand;
        let (on_hand, checksum) = server_levels.get(&pair).cloned().unwrap_or_default();
        if rule != on_hand || LedgerDigest::of_all(&movements).to_string() != checksum {
            return Err(format!("server level {on_hand} differs from the level rule {rule} for {pair:?}"));
        }
    }
    Ok(())
}

/// Every desktop's catalog equals the server's (as a fresh device pulls it), nothing waits to
/// be sent, and a product created on two desktops is kept once: the desktop whose row lost
/// keeps it archived aside, under another SKU.
fn check_catalog(world: &World, desktops: &[Desktop], created: &[Created]) -> Result<(), String> {
    let page = world.storage.pull(smartstock_core::DeviceId::new_random(), 0, 10_000).map_err(|e| e.to_string())?;
    let products: HashMap<ProductId, Product> = page.products.into_iter().map(|p| (p.id, p)).collect();
    let locations: HashMap<LocationId, Location> = page.locations.into_iter().map(|l| (l.id, l)).collect();
    let mut skus = HashSet::new();
    if !products.values().all(|p| skus.insert(p.sku.clone())) {
        return Err("the server holds a SKU twice".into());
    }
    for c in created {
        if !skus.contains(&c.sku) {
            return Err(format!("{} was created on desk{} but is not on the server", c.sku, c.desktop));
        }
    }
    for (i, desktop) in desktops.iter().enumerate() {
        let waiting = desktop.store.pending_catalog_count().map_err(|e| e.to_string())?;
        if waiting != 0 {
            return Err(format!("desk{i} still has {waiting} catalog edits unsent after healing"));
        }
        for (id, kept) in &products {
            let local = desktop.store.product(*id).map_err(|e| format!("desk{i} lacks {}: {e}", kept.sku))?;
            if local != *kept {
                return Err(format!("desk{i} holds {local:?} where the server has {kept:?}"));
            }
        }
        for (id, kept) in &locations {
            let local = desktop.store.location(*id).map_err(|e| format!("desk{i} lacks {}: {e}", kept.code))?;
            if local != *kept {
                return Err(format!("desk{i} holds {local:?} where the server has {kept:?}"));
            }
        }
        for alias in created.iter().filter(|c| c.desktop == i && !products.contains_key(&c.id)) {
            let local = desktop.store.product(alias.id).map_err(|e| e.to_string())?;
            if !local.archived || local.sku == alias.sku {
                return Err(format!("desk{i} kept its {} merged into another as {local:?}", alias.sku));
            }
        }
        let local_locations = desktop.store.locations().map_err(|e| e.to_string())?;
        if local_locations.len() != locations.len() {
            return Err(format!("desk{i} has {} locations, the server {}", local_locations.len(), locations.len()));
        }
    }
    Ok(())
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let count: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    (1..=count).collect()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_converges() {
    let (devices, steps) = (env_usize("SIM_DEVICES", 5), env_usize("SIM_STEPS", 150));
    let seeds = seeds();
    let mut failed = Vec::new();
    for seed in &seeds {
        if let Err(why) = run_seed(*seed, devices, steps).await {
            eprintln!(
                "seed {seed} did not converge: {why}\n  reproduce: SIM_SEED={seed} SIM_DEVICES={devices} SIM_STEPS={steps} cargo test -p smartstock-system-tests --test simulation -- --nocapture"
            );
            failed.push(*seed);
        }
    }
    println!(
        "simulation: {}/{} seeds converged ({devices} devices, {steps} steps each)",
        seeds.len() - failed.len(),
        seeds.len()
    );
    assert!(failed.is_empty(), "seeds that did not converge: {failed:?}");
}
