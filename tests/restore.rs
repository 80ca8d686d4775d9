//! The server restored from an older backup (the real `smartstock-server` binary's `backup` and
//! `restore` commands): it has lost movements it had acknowledged. The next push of each desktop
//! meets `sequence_gap`; the desktop queues the lost movements again and resends them, and the
//! server ends with every movement exactly once — including movements another desktop had
//! already pulled under the feed numbers the restored server hands out anew. A desktop that had
//! nothing to resend learns of the restore from the event stream (the announced head is behind
//! its pull cursor) and pulls again from there, so it skips none of the renumbered rows.
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
    engine: Arc<SyncEngine>,
}

fn desktop(desk: Desk, base: &str) -> Desktop {
    let store = Arc::new(Store::open(&desk.path).unwrap());
    let client = ServerClient::new(base, Arc::new(FileCredentials::new(&desk.tokens))).unwrap();
    let engine = SyncEngine::new(store.clone(), client, "restore-test desktop").with_batch_sizes(4, 1000);
    Desktop { desk, store, engine: Arc::new(engine) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktops_resend_what_a_restored_server_lost() {
    let world = world(&["ann", "ben", "cy"]);
    let mut server = tokio::task::block_in_place(|| ServerProcess::start(&world.database, Transport::Http));
    let base = server.base();
    let ann = desktop(desk(&world, &base, "ann").await, &base);
    let ben = desktop(desk(&world, &base, "ben").await, &base);
    let cy = desktop(desk(&world, &base, "cy").await, &base);
    let mut rng = Rng(42);
    let mut recorded = HashSet::new();

    // Both record and sync; the backup is taken.
    for d in [&ann, &ben] {
        recorded.extend(record_some(&d.store, d.desk.actor, &world, &mut rng, 10));
        d.engine.sync_once().await.unwrap();
    }
    // Cy's session must be in the backup too (sessions rotated after it are lost with it).
    cy.engine.sync_once().await.unwrap();
    let backup = world.dir.path().join("backup.db");
    tokio::task::block_in_place(|| server.admin(&["backup", backup.to_str().unwrap()]));

    // After the backup: more movements, acknowledged by the server and pulled by the other.
    for d in [&ann, &ben, &ann] {
        recorded.extend(record_some(&d.store, d.desk.actor, &world, &mut rng, 12));
        d.engine.sync_once().await.unwrap();
    }
    assert_eq!(ann.store.pending_count().unwrap() + ben.store.pending_count().unwrap(), 0);
    // Cy only reads: it has pulled everything, and follows the event stream from now on.
    cy.engine.sync_once().await.unwrap();
    let cy_cursor = cy.store.pull_cursor().unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let listener = tokio::spawn({
        let engine = cy.engine.clone();
        async move { engine.listen(stopped).await }
    });

    // The server dies and comes back from the backup: the later movements are gone from it.
    tokio::task::block_in_place(|| {
        server.kill();
        server.admin(&["restore", backup.to_str().unwrap()]);
        server.restart();
    });
    // Cy's event stream reconnects and announces a head behind Cy's cursor: Cy pulls again
    // from there (before anyone resends, so the renumbered rows come after it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cy.store.pull_cursor().unwrap() >= cy_cursor {
        assert!(std::time::Instant::now() < deadline, "Cy never noticed the restored server");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // What Cy's background loop does when the stream kicks it.
        cy.engine.sync_once().await.unwrap();
    }
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
    stop.send(true).unwrap();
    listener.await.unwrap();
    cy.engine.sync_once().await.unwrap();
    tokio::task::block_in_place(|| verify(&world.database, &recorded, &[&ann.store, &ben.store, &cy.store]));
}
