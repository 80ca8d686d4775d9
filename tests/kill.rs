//! `kill -9` at random points, with the real `smartstock-server` binary:
//!
//! - a desktop's sync engine runs as its own process (`sync-client`) and is killed at least 20
//!   times at random moments while it pushes its outbox in small batches (the ledger keeps
//!   growing between runs); each restart starts from the SQLite file and the token file alone;
//! - the server process is killed at least 10 times at random moments while two desktops push,
//!   and restarted on the same file and port.
//!
//! After each, every movement the desktops recorded is on the server exactly once, nothing is
//! pending or rejected, and every desktop's levels and checksums equal the server's, which
//! equal the level rule over the server's ledger. `KILL_SEED` picks the random schedule.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_core::MovementId;
use smartstock_store::Actor;
use smartstock_store::Store;
use smartstock_sync::{ServerClient, SyncEngine};
use smartstock_system_tests::credentials::FileCredentials;
use smartstock_system_tests::fixture::{desk, record_some, verify, world, Desk, Rng, World};
use smartstock_system_tests::server_process::{ServerProcess, Transport};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn seed() -> u64 {
    std::env::var("KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_122)
}

/// Movements recorded before each client run (pushed two to a request).
const MOVEMENTS_PER_RUN: usize = 40;

fn client_process(desk: &Desk, base: &str, batch: u32) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sync-client"));
    command.arg(&desk.path).arg(base).arg(&desk.tokens).arg(batch.to_string());
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_killed_during_push_at_random_points_loses_and_repeats_nothing() {
    let world = world(&["kim"]);
    let server = tokio::task::block_in_place(|| ServerProcess::start(&world.database, Transport::Http));
    let base = server.base();
    let desk = desk(&world, &base, "kim").await;
    let mut rng = Rng(seed());
    let mut recorded = HashSet::new();
    // How long one run takes to push its movements uninterrupted on this machine, so that the
    // kills land inside pushes whether the machine is fast or loaded.
    let push_time = {
        let store = Store::open(&desk.path).unwrap();
        recorded.extend(record_some(&store, desk.actor, &world, &mut rng, MOVEMENTS_PER_RUN));
        drop(store);
        let started = Instant::now();
        assert!(client_process(&desk, &base, 2).status().unwrap().success(), "an uninterrupted push failed");
        started.elapsed()
    };
    let window = (push_time.as_millis() as u64 * 9 / 10).max(20);
    eprintln!("one uninterrupted push run takes {push_time:?}; kills land within {window} ms");
    let (mut kills, mut runs) = (0, 0);
    while kills < 20 {
        runs += 1;
        assert!(runs <= 80, "only {kills} of {runs} runs were still pushing when killed");
        {
            let store = Store::open(&desk.path).unwrap();
            recorded.extend(record_some(&store, desk.actor, &world, &mut rng, MOVEMENTS_PER_RUN));
        }
        let mut child = client_process(&desk, &base, 2).spawn().unwrap();
        let delay = Duration::from_millis(5 + rng.below(window));
        tokio::time::sleep(delay).await;
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    let status = client_process(&desk, &base, 50).status().unwrap();
    assert!(status.success(), "the last run did not empty the outbox");
    let store = Arc::new(Store::open(&desk.path).unwrap());
    let client = ServerClient::new(&base, Arc::new(FileCredentials::new(&desk.tokens))).unwrap();
    SyncEngine::new(store.clone(), client, "check").sync_once().await.unwrap();
    eprintln!("client killed {kills} times in {runs} runs; {} movements recorded", recorded.len());
    tokio::task::block_in_place(|| verify(&world.database, &recorded, &[&store]));
}

/// One in-process desktop that records a few movements and pushes them in small batches, over
/// and over, so the server is always committing, until told to stop and its outbox is empty.
/// Returns the ids it recorded.
fn pusher(
    world: Arc<World>,
    desk: (Arc<Store>, Actor, PathBuf),
    base: String,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<MovementId>> {
    let (store, actor, tokens) = desk;
    tokio::spawn(async move {
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(5));
        let client = ServerClient::with_http(&base, Arc::new(FileCredentials::new(tokens)), http).unwrap();
        let engine = SyncEngine::new(store.clone(), client, "kill-test desktop").with_batch_sizes(3, 1000);
        let (mut rng, mut recorded) = (Rng(seed), Vec::new());
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            if !stopping {
                recorded.extend(record_some(&store, actor, &world, &mut rng, 4));
            }
            let pass = engine.sync_once().await;
            if stopping && pass.is_ok() && store.pending_count().unwrap() == 0 {
                return recorded;
            }
            assert!(Instant::now() < deadline, "the desktop did not converge: {pass:?}");
            if pass.is_err() {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_during_commits_at_random_points_loses_and_repeats_nothing() {
    let world = Arc::new(world(&["ada", "bob"]));
    let mut server = tokio::task::block_in_place(|| ServerProcess::start(&world.database, Transport::Http));
    let base = server.base();
    let desks = [desk(&world, &base, "ada").await, desk(&world, &base, "bob").await];
    let stores: Vec<Arc<Store>> = desks.iter().map(|d| Arc::new(Store::open(&d.path).unwrap())).collect();
    let mut rng = Rng(seed() ^ 0x5eed);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = desks
        .iter()
        .zip(&stores)
        .enumerate()
        .map(|(i, (desk, store))| {
            let desk = (store.clone(), desk.actor, desk.tokens.clone());
            pusher(world.clone(), desk, base.clone(), seed() + i as u64, stop.clone())
        })
        .collect();
    let (mut kills, mut attempts) = (0, 0);
    while kills < 10 {
        attempts += 1;
        assert!(attempts <= 40, "only {kills} of {attempts} kills found pushes in flight");
        tokio::time::sleep(Duration::from_millis(10 + rng.below(150))).await;
        let pushing = stores.iter().any(|s| s.pending_count().unwrap() > 0);
        tokio::task::block_in_place(|| {
            server.kill();
            std::thread::sleep(Duration::from_millis(rng.below(100)));
            server.restart();
        });
        kills += u32::from(pushing);
    }
    stop.store(true, Ordering::SeqCst);
    let mut recorded = HashSet::new();
    for task in tasks {
        recorded.extend(task.await.unwrap());
    }
    // Every push is in: one more pass each brings the other desktop's last movements.
    for (desk, store) in desks.iter().zip(&stores) {
        let client = ServerClient::new(&base, Arc::new(FileCredentials::new(&desk.tokens))).unwrap();
        SyncEngine::new(store.clone(), client, "check").sync_once().await.unwrap();
    }
    eprintln!("server killed {attempts} times, {kills} with pushes in flight; {} movements recorded", recorded.len());
    let stores: Vec<&Store> = stores.iter().map(|s| s.as_ref()).collect();
    tokio::task::block_in_place(|| verify(&world.database, &recorded, &stores));
}
