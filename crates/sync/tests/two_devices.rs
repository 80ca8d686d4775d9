//! Two desktops against a real server: each syncs its own movements and sees the other's; both
//! sell the last unit while offline (server down), reconnect, and end with both sales kept, one
//! negative-stock alert on both, and the same level and checksum as the server.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{desktop, serve};
use smartstock_core::ids::NewRandom;
use smartstock_core::{
    AlertKind, Location, LocationId, LocationKind, MovementIntent, Product, ProductId, Timestamp, UserId,
};
use smartstock_server::auth::hash_password;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{NewUser, Role, Storage};
use smartstock_store::Store;
use smartstock_sync::{MemoryCredentials, ServerClient, SyncEngine, SyncError};
use std::sync::Arc;

const PASSWORD: &str = "Clerk-Pass-123";

/// A server database with one product at one location and clerks `users` assigned there.
struct ServerWorld {
    storage: Arc<SqliteStorage>,
    product: ProductId,
    location: LocationId,
    _dir: tempfile::TempDir,
}

fn server_world(sku: &str, users: &[&str]) -> ServerWorld {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
    let (product, location) = (ProductId::new_random(), LocationId::new_random());
    let manager = UserId::new_random();
    let place = Location {
        id: location,
        code: "WH1".into(),
        name: "Main".into(),
        kind: LocationKind::Warehouse,
        parent_id: None,
        archived: false,
    };
    storage.save_location(manager, &place, Timestamp(1)).unwrap();
    let item = Product {
        id: product,
        sku: sku.into(),
        name: format!("Product {sku}"),
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
    storage.save_product(manager, &item, Timestamp(1)).unwrap();
    for name in users {
        let user = NewUser {
            username: (*name).into(),
            password_hash: hash_password(PASSWORD).unwrap(),
            role: Role::Clerk,
            must_change_password: false,
            locations: vec![location],
        };
        storage.create_user(&user, Timestamp(1)).unwrap();
    }
    ServerWorld { storage, product, location, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_offline_desktops_sell_the_last_unit_and_converge() {
    let world = server_world("LAST-1", &["anna", "ben"]);
    let (storage, product, location) = (world.storage.clone(), world.product, world.location);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let server = serve(storage.clone(), listener);

    let (a, b) = (desktop(&base, "anna", PASSWORD).await, desktop(&base, "ben", PASSWORD).await);
    // Both learn the catalog; Anna receives one unit and syncs; Ben sees it.
    a.engine.sync_once().await.unwrap();
    let receive = MovementIntent::Receive {
        product_id: product,
        location_id: location,
        quantity: 1,
        reference: None,
        note: None,
    };
    a.store.record(a.actor, &receive).unwrap();
    assert_eq!(a.engine.sync_once().await.unwrap().accepted, 1);
    assert_eq!(b.engine.sync_once().await.unwrap().pulled, 1);
    assert_eq!(b.store.level(product, location).unwrap(), 1);

    // The server goes down; both sell the last unit offline.
    server.abort();
    let _ = server.await;
    let sale = MovementIntent::Issue {
        product_id: product,
        location_id: location,
        quantity: 1,
        reason: None,
        reference: None,
        note: None,
    };
    a.store.record(a.actor, &sale).unwrap();
    b.store.record(b.actor, &sale).unwrap();
    assert!(matches!(a.engine.sync_once().await, Err(SyncError::Offline(_))), "offline is reported, nothing lost");
    assert_eq!(a.store.pending_count().unwrap(), 1);

    // Back online on the same address.
    let server = serve(storage.clone(), std::net::TcpListener::bind(address).unwrap());
    for _ in 0..2 {
        a.engine.sync_once().await.unwrap();
        b.engine.sync_once().await.unwrap();
    }
    let server_level = storage.stock(Some(location)).unwrap()[0].clone();
    assert_eq!(server_level.on_hand, -1, "both sales kept");
    for desktop in [&a, &b] {
        assert_eq!(desktop.store.level(product, location).unwrap(), -1);
        assert_eq!(desktop.store.checksum(product, location).unwrap().to_string(), server_level.checksum);
        assert_eq!(desktop.store.pending_count().unwrap(), 0);
        let alerts = desktop.store.open_alerts().unwrap();
        assert_eq!(alerts.iter().filter(|al| al.kind == AlertKind::NegativeStock).count(), 1, "{alerts:?}");
    }
    assert_eq!(storage.alerts(true).unwrap().len(), 1);
    // The offset was measured on the exchanges and stored; same machine, so within a round trip
    // of zero.
    let measured = a.engine.client().clock_offset_ms().expect("every answer carries x-server-time");
    assert_eq!(a.store.clock_offset_ms().unwrap(), measured);
    assert!(measured.abs() < 1000);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_loop_reports_offline_then_online_and_syncs_when_kicked() {
    use smartstock_sync::SyncState;
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
    let user = NewUser {
        username: "anna".into(),
        password_hash: hash_password(PASSWORD).unwrap(),
        role: Role::Clerk,
        must_change_password: false,
        locations: vec![],
    };
    storage.create_user(&user, Timestamp(1)).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = serve(storage.clone(), listener);
    let desktop = Arc::new(desktop(&format!("http://{address}"), "anna", PASSWORD).await);
    server.abort();
    let _ = server.await;

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut status = desktop.engine.status();
    let runner = desktop.clone();
    let loop_task = tokio::spawn(async move { runner.engine.run(stop, std::time::Duration::from_secs(3600)).await });
    let offline = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        status.wait_for(|s| matches!(s.state, SyncState::Offline { .. })),
    )
    .await
    .expect("offline reported");
    drop(offline);

    let server = serve(storage.clone(), std::net::TcpListener::bind(address).unwrap());
    desktop.engine.kick();
    tokio::time::timeout(std::time::Duration::from_secs(10), status.wait_for(|s| s.state == SyncState::Online))
        .await
        .expect("online after the server is back")
        .unwrap();
    assert!(status.borrow().last_success_ms.is_some());
    stop_tx.send(true).unwrap();
    loop_task.await.unwrap();
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_on_one_desktop_reaches_the_other_through_the_event_stream() {
    let world = server_world("EV-1", &["anna", "ben"]);
    let (storage, product, location) = (world.storage.clone(), world.product, world.location);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = serve(storage.clone(), listener);
    let a = desktop(&base, "anna", PASSWORD).await;
    let b = Arc::new(desktop(&base, "ben", PASSWORD).await);
    a.engine.sync_once().await.unwrap();
    b.engine.sync_once().await.unwrap();

    // Ben's engine polls only once an hour: only the event stream can bring Anna's receipt quickly.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let (runner, listener_engine) = (b.clone(), b.clone());
    let stop_listen = stop.clone();
    let run = tokio::spawn(async move { runner.engine.run(stop, std::time::Duration::from_secs(3600)).await });
    let listen = tokio::spawn(async move { listener_engine.engine.listen(stop_listen).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let receive = MovementIntent::Receive {
        product_id: product,
        location_id: location,
        quantity: 7,
        reference: None,
        note: None,
    };
    a.store.record(a.actor, &receive).unwrap();
    a.engine.sync_once().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.store.level(product, location).unwrap() != 7 {
        assert!(std::time::Instant::now() < deadline, "the event stream did not bring the receipt");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop_tx.send(true).unwrap();
    run.await.unwrap();
    listen.await.unwrap();
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_desktop_refreshes_once_however_many_tasks_need_a_token() {
    // A restarted desktop has a refresh token (from the keyring) and no access token; its sync
    // loop and its event stream both need one at once. The refresh token is single-use: two
    // refreshes with it would have the server refuse the second and end the session.
    let world = server_world("R-1", &["rita"]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let _server = serve(world.storage.clone(), listener);
    let credentials = Arc::new(MemoryCredentials::default());
    let first = ServerClient::new(&base, credentials.clone()).unwrap();
    first.sign_in("rita", PASSWORD).await.unwrap();
    drop(first);

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("ledger.db")).unwrap());
    let restarted = ServerClient::new(&base, credentials.clone()).unwrap();
    let engine = Arc::new(SyncEngine::new(store, restarted, "restarted"));
    let passes: Vec<_> = (0..4)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.sync_once().await })
        })
        .collect();
    for pass in passes {
        pass.await.unwrap().unwrap();
    }
    use smartstock_sync::CredentialStore;
    assert!(credentials.refresh_token().is_some(), "the session survived");
    engine.client().refresh().await.unwrap();
}
