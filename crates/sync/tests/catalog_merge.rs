//! Catalog edits made offline on two desktops against a real server (in process): edits of
//! different fields are both kept; edits of the same field end with the later hybrid logical
//! clock on the server and both desktops, and the loser is told; a SKU created on both desktops
//! ends as one product whose level is the sum of both devices' stock, everywhere, with the merge
//! audited and both desktops told.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{desktop, serve, Desktop};
use smartstock_core::ids::NewRandom;
use smartstock_core::wire::NoticeKind;
use smartstock_core::{Location, LocationId, LocationKind, MovementIntent, Product, ProductId, Timestamp, UserId};
use smartstock_server::auth::hash_password;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{NewUser, Role, Storage};
use std::sync::Arc;

const PASSWORD: &str = "Manager-Pass-123";

struct Server {
    storage: Arc<SqliteStorage>,
    base: String,
    product: ProductId,
    location: LocationId,
    _dir: tempfile::TempDir,
}

fn product(sku: &str) -> Product {
    Product {
        id: ProductId::new_random(),
        sku: sku.into(),
        name: format!("Product {sku}"),
        barcode: None,
        unit: "pcs".into(),
        unit_scale: 0,
        reorder_point: 0,
        reorder_qty: 0,
        cost_minor: 100,
        price_minor: 250,
        archived: false,
        negative_stock: None,
    }
}

/// A server with one product at one location and two managers, anna and ben.
fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
    let admin = UserId::new_random();
    let place = Location {
        id: LocationId::new_random(),
        code: "WH1".into(),
        name: "Main".into(),
        kind: LocationKind::Warehouse,
        parent_id: None,
        archived: false,
    };
    storage.save_location(admin, &place, Timestamp(1)).unwrap();
    let item = product("P-1");
    storage.save_product(admin, &item, Timestamp(1)).unwrap();
    for name in ["anna", "ben"] {
        let user = NewUser {
            username: name.into(),
            password_hash: hash_password(PASSWORD).unwrap(),
            role: Role::Manager,
            must_change_password: false,
            locations: vec![],
        };
        storage.create_user(&user, Timestamp(1)).unwrap();
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    serve(storage.clone(), listener);
    Server { storage, base, product: item.id, location: place.id, _dir: dir }
}

fn on_server(server: &Server, id: ProductId) -> Product {
    server.storage.products().unwrap().into_iter().find(|p| p.id == id).unwrap()
}

async fn two_desktops(server: &Server) -> (Desktop, Desktop) {
    let (a, b) = (desktop(&server.base, "anna", PASSWORD).await, desktop(&server.base, "ben", PASSWORD).await);
    a.engine.sync_once().await.unwrap();
    b.engine.sync_once().await.unwrap();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_of_different_fields_made_offline_are_both_kept() {
    let server = start_server();
    let (a, b) = two_desktops(&server).await;
    let mut renamed = a.store.product(server.product).unwrap();
    renamed.name = "Renamed on A".into();
    a.store.update_product(a.actor, &renamed).unwrap();
    let mut repriced = b.store.product(server.product).unwrap();
    repriced.price_minor = 999;
    b.store.update_product(b.actor, &repriced).unwrap();

    a.engine.sync_once().await.unwrap();
    b.engine.sync_once().await.unwrap();
    a.engine.sync_once().await.unwrap();

    for seen in [
        on_server(&server, server.product),
        a.store.product(server.product).unwrap(),
        b.store.product(server.product).unwrap(),
    ] {
        assert_eq!((seen.name.as_str(), seen.price_minor), ("Renamed on A", 999));
    }
    assert!(a.store.catalog_notices().unwrap().is_empty());
    assert!(b.store.catalog_notices().unwrap().is_empty());
    assert_eq!(a.store.pending_catalog_count().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_later_edit_of_one_field_wins_everywhere_and_the_loser_is_told() {
    let server = start_server();
    let (a, b) = two_desktops(&server).await;
    let mut first = a.store.product(server.product).unwrap();
    first.price_minor = 111;
    a.store.update_product(a.actor, &first).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut later = b.store.product(server.product).unwrap();
    later.price_minor = 222;
    b.store.update_product(b.actor, &later).unwrap();

    // The later edit reaches the server first; the earlier one loses on arrival.
    b.engine.sync_once().await.unwrap();
    a.engine.sync_once().await.unwrap();
    b.engine.sync_once().await.unwrap();

    for seen in [
        on_server(&server, server.product),
        a.store.product(server.product).unwrap(),
        b.store.product(server.product).unwrap(),
    ] {
        assert_eq!(seen.price_minor, 222);
    }
    let told = a.store.catalog_notices().unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].kind, NoticeKind::EditLost);
    assert_eq!(told[0].message, "your edit of price of P-1 lost to ben on ben's laptop: kept 222");
    assert!(b.store.catalog_notices().unwrap().is_empty());
    let audit = server.storage.catalog_audit(Some(server.product.0)).unwrap();
    let lost = audit.iter().find(|c| c.field == "price:lost").expect("the losing value is audited");
    assert_eq!((lost.old_value.as_deref(), lost.new_value.as_deref()), (Some("111"), Some("222")));
    // The notice is stored once, and can be dismissed.
    a.engine.sync_once().await.unwrap();
    assert_eq!(a.store.catalog_notices().unwrap().len(), 1);
    a.store.dismiss_catalog_notice(told[0].id).unwrap();
    assert!(a.store.catalog_notices().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sku_created_on_two_desktops_offline_becomes_one_product_with_both_stocks() {
    let server = start_server();
    let (a, b) = two_desktops(&server).await;
    let (mine, theirs) = (product("NEW-1"), product("NEW-1"));
    a.store.create_product(a.actor, &mine).unwrap();
    b.store.create_product(b.actor, &theirs).unwrap();
    let receive = |p: ProductId, quantity| MovementIntent::Receive {
        product_id: p,
        location_id: server.location,
        quantity,
        reference: None,
        note: None,
    };
    a.store.record(a.actor, &receive(mine.id, 5)).unwrap();
    b.store.record(b.actor, &receive(theirs.id, 3)).unwrap();
    assert_eq!(b.store.level(theirs.id, server.location).unwrap(), 3);

    a.engine.sync_once().await.unwrap();
    b.engine.sync_once().await.unwrap();
    a.engine.sync_once().await.unwrap();

    let kept: Vec<Product> = server.storage.products().unwrap().into_iter().filter(|p| p.sku == "NEW-1").collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].id, mine.id, "the first to reach the server is kept");
    let level =
        server.storage.stock(Some(server.location)).unwrap().into_iter().find(|l| l.product_id == mine.id).unwrap();
    assert_eq!(level.on_hand, 8);
    for desk in [&a, &b] {
        assert_eq!(desk.store.level(mine.id, server.location).unwrap(), 8);
        assert_eq!(desk.store.product_by_code("NEW-1").unwrap().id, mine.id);
        let merged: Vec<_> =
            desk.store.catalog_notices().unwrap().into_iter().filter(|n| n.kind == NoticeKind::Merged).collect();
        assert_eq!(merged.len(), 1, "each desktop is told once");
    }
    assert!(b.store.product(theirs.id).unwrap().archived, "the newcomer stays only as an archived alias");
    assert_eq!(b.store.level(theirs.id, server.location).unwrap(), 0);
    let audit = server.storage.catalog_audit(Some(mine.id.0)).unwrap();
    assert!(audit.iter().any(|c| c.field == "alias" && c.old_value == Some(theirs.id.0.to_string())), "{audit:?}");
}
