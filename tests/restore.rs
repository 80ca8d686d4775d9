//! The server restored from an older backup (the real `smartstock-server` binary's `backup` and
//! `restore` commands): it has lost movements it had acknowledged. The next push of each desktop
//! meets `sequence_gap`; the desktop queues the lost movements again and resends them, and the
//! server ends with every movement exactly once — including movements another desktop had
//! already pulled under the feed numbers the restored server hands out anew.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_store::Store;
use smartstock_sync::{ServerClient, SyncEngine};
use smartstock_system_tests::credentials::FileCredentials;
use smartstock_system_tests::fixture::{desk, record_some, verify, world, Desk, Rng};
use smartstock_system_tests::server_process::{ServerProcess, Transport};
use std::collections::HashSet;
use std::sync::Arc;

struct Desktop {
    desk: Desk,
    store: Arc<Store>,
    engine: SyncEngine,
}

fn desktop(desk: Desk, base: &str) -> Desktop {
    let store = Arc::new(Store::open(&desk.path).unwrap());
    let client = ServerClient::new(base, Arc::new(FileCredentials::new(&desk.tokens))).unwrap();
    let engine = SyncEngine::new(store.clone(), client, "restore-test desktop").with_batch_sizes(4, 1000);
    Desktop { desk, store, engine }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktops_resend_what_a_restored_server_lost() {
    let world = world(&["ann", "ben"]);
    let mut server = tokio::task::block_in_place(|| ServerProcess::start(&world.database, Transport::Http));
    let base = server.base();
    let ann = desktop(desk(&world, &base, "ann").await, &base);
    let ben = desktop(desk(&world, &base, "ben").await, &base);
    let mut rng = Rng(42);
    let mut recorded = HashSet::new();

    // Both record and sync; the backup is taken.
    for d in [&ann, &ben] {
        recorded.extend(record_some(&d.store, d.desk.actor, &world, &mut rng, 10));
        d.engine.sync_once().await.unwrap();
    }
    let backup = world.dir.path().join("backup.db");
    tokio::task::block_in_place(|| server.admin(&["backup", backup.to_str().unwrap()]));

    // After the backup: more movements, acknowledged by the server and pulled by the other.
    for d in [&ann, &ben, &ann] {
        recorded.extend(record_some(&d.store, d.desk.actor, &world, &mut rng, 12));
        d.engine.sync_once().await.unwrap();
    }
    assert_eq!(ann.store.pending_count().unwrap() + ben.store.pending_count().unwrap(), 0);

    // The server dies and comes back from the backup: the later movements are gone from it.
    tokio::task::block_in_place(|| {
        server.kill();
        server.admin(&["restore", backup.to_str().unwrap()]);
        server.restart();
    });
    for d in [&ann, &ben] {
        recorded.extend(record_some(&d.store, d.desk.actor, &world, &mut rng, 5));
    }
    let resent = ann.engine.sync_once().await.unwrap();
    assert!(resent.pushed > 5, "Ann resent what the server lost, then her new movements: {resent:?}");
    for _ in 0..2 {
        for d in [&ben, &ann] {
            d.engine.sync_once().await.unwrap();
        }
    }
    tokio::task::block_in_place(|| verify(&world.database, &recorded, &[&ann.store, &ben.store]));
}
