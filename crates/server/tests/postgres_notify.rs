//! PostgreSQL LISTEN/NOTIFY (DESIGN.md, "Scale"): a write committed through one server instance
//! wakes the event streams of another on the same database. Two `PgStorage` handles on one schema
//! stand for two instances. Also: a rolled-back write wakes no one, another schema's writes do not
//! count, and both backends list their catalog. Without `DATABASE_URL` the PostgreSQL tests print
//! a skip line and pass (`scripts/with-postgres.sh cargo test` provides a database).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use smartstock_core::wire::{Outcome, PushRequest, WIRE_VERSION};
use smartstock_core::{
    DeviceId, Location, LocationId, LocationKind, Movement, MovementId, MovementKind, Product, ProductId, Timestamp,
    UserId,
};
use smartstock_server::events::Events;
use smartstock_server::storage::postgres::PgStorage;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{NewUser, Pusher, Role, Storage};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::broadcast::Receiver;

const NOW: Timestamp = Timestamp(1_704_067_200_000);

/// A fresh schema in the database of `DATABASE_URL`, dropped at the end.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(test: &str) -> Option<Schema> {
        let url = std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))?;
        let mut name = format!("n{}_{test}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        name.truncate(63);
        Some(Schema { url, name })
    }

    fn open(&self) -> PgStorage {
        PgStorage::connect_in_schema(&self.url, &self.name).unwrap()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept schema {} of the failed test", self.name);
            return;
        }
        let mut client = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
        let sql: String = client
            .query_one("SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', $1::text)", &[&self.name])
            .unwrap()
            .get(0);
        client.batch_execute(&sql).unwrap();
    }
}

fn product(sku: &str) -> Product {
    Product {
        id: ProductId(uuid::Uuid::new_v4()),
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
    }
}

fn location(code: &str, parent: Option<LocationId>) -> Location {
    Location {
        id: LocationId(uuid::Uuid::new_v4()),
        code: code.into(),
        name: format!("Location {code}"),
        kind: LocationKind::Warehouse,
        parent_id: parent,
        archived: false,
    }
}

fn admin(storage: &dyn Storage) -> UserId {
    let user = NewUser {
        username: "admin".into(),
        password_hash: "not used".into(),
        role: Role::Admin,
        must_change_password: false,
        locations: Vec::new(),
    };
    storage.create_user(&user, NOW).unwrap()
}

/// Every head received within `within` (stops early once `until` is among them).
fn received(rx: &mut Receiver<i64>, within: Duration, until: Option<i64>) -> Vec<i64> {
    let deadline = Instant::now() + within;
    let mut heads = Vec::new();
    while Instant::now() < deadline {
        match rx.try_recv() {
            Ok(head) => {
                heads.push(head);
                if until == Some(head) {
                    break;
                }
            }
            Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("{e}"),
        }
    }
    heads
}

#[test]
fn a_write_through_one_instance_wakes_the_events_of_another() {
    let Some(schema) = Schema::new("notify") else {
        println!("skipped a_write_through_one_instance_wakes_the_events_of_another: set DATABASE_URL");
        return;
    };
    let writer = schema.open();
    let reader = schema.open();
    let actor = admin(&writer);
    let events = Events::default();
    let mut rx = events.subscribe();
    reader.subscribe_changes(events.clone()).unwrap();
    assert_eq!(received(&mut rx, Duration::from_millis(500), Some(0)), [0], "the head is published on connect");

    writer.save_product(actor, &product("A-1"), NOW).unwrap();
    let head = writer.head_seq().unwrap();
    assert_eq!(head, 1);
    assert_eq!(received(&mut rx, Duration::from_secs(2), Some(head)), [head], "woken within 2 s");

    // A refused write rolls back: its notice is never delivered.
    assert!(writer
        .save_product(actor, &Product { id: ProductId(uuid::Uuid::new_v4()), ..product("A-1") }, NOW)
        .is_err());
    assert_eq!(received(&mut rx, Duration::from_millis(500), None), Vec::<i64>::new());

    // A push (the feed counter moved by the push path) wakes it too.
    let wh = location("WH", None);
    writer.save_location(actor, &wh, NOW).unwrap();
    assert_eq!(received(&mut rx, Duration::from_secs(2), Some(2)), [2]);
    let device = DeviceId(uuid::Uuid::new_v4());
    writer.register_device(actor, device, "till", NOW).unwrap();
    let products = writer.products().unwrap();
    let receipt = Movement {
        id: MovementId::new_v7(),
        device_id: device,
        device_seq: 1,
        user_id: actor,
        kind: MovementKind::Receive,
        product_id: products[0].id,
        location_id: wh.id,
        delta: Some(5),
        counted_qty: None,
        reason: None,
        note: None,
        reference: None,
        peer_location_id: None,
        occurred_at: NOW,
        recorded_at: NOW,
        server_seq: None,
        qty_before: 0,
        qty_after: 5,
    };
    let pusher = Pusher { user_id: actor, role: Role::Admin, locations: Vec::new() };
    let request = PushRequest { v: WIRE_VERSION, device_id: device, movements: vec![receipt] };
    let outcomes = writer.push(&pusher, &request, NOW).unwrap();
    assert!(matches!(outcomes[0].outcome, Outcome::Accepted { .. }), "{outcomes:?}");
    let head = writer.head_seq().unwrap();
    assert_eq!(received(&mut rx, Duration::from_secs(2), Some(head)), [head], "a push wakes the other instance");

    // A replay moves nothing: no notice.
    writer.push(&pusher, &request, NOW).unwrap();
    assert_eq!(received(&mut rx, Duration::from_millis(500), None), Vec::<i64>::new());
}

#[test]
fn another_schemas_writes_do_not_wake_this_one() {
    let (Some(mine), Some(theirs)) = (Schema::new("mine"), Schema::new("theirs")) else {
        println!("skipped another_schemas_writes_do_not_wake_this_one: set DATABASE_URL");
        return;
    };
    let listening = mine.open();
    let other = theirs.open();
    let actor = admin(&other);
    let events = Events::default();
    let mut rx = events.subscribe();
    listening.subscribe_changes(events.clone()).unwrap();
    assert_eq!(received(&mut rx, Duration::from_millis(500), Some(0)), [0]);
    other.save_product(actor, &product("B-1"), NOW).unwrap();
    assert_eq!(received(&mut rx, Duration::from_millis(700), None), Vec::<i64>::new());

    // Dropping the storage stops its listener; a later write is not published.
    drop(listening);
    std::thread::sleep(Duration::from_millis(600));
    let again = mine.open();
    again.save_product(admin(&again), &product("C-1"), NOW).unwrap();
    assert_eq!(received(&mut rx, Duration::from_millis(700), None), Vec::<i64>::new());
}

/// The listener survives its connection being cut: it reconnects and later writes wake it again.
#[test]
fn the_listener_reconnects_after_its_connection_is_cut() {
    let Some(schema) = Schema::new("reconnect") else {
        println!("skipped the_listener_reconnects_after_its_connection_is_cut: set DATABASE_URL");
        return;
    };
    let writer = schema.open();
    let reader = schema.open();
    let actor = admin(&writer);
    let events = Events::default();
    let mut rx = events.subscribe();
    reader.subscribe_changes(events.clone()).unwrap();
    assert_eq!(received(&mut rx, Duration::from_millis(500), Some(0)), [0]);

    let mut admin_client = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    let cut: i64 = admin_client
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1) t",
            &[&format!("smartstock listener {}", schema.name)],
        )
        .unwrap()
        .get(0);
    assert_eq!(cut, 1, "the listener's session is named after its schema");
    // Back within the first pause; on reconnecting it publishes the head it may have missed.
    assert_eq!(received(&mut rx, Duration::from_secs(3), Some(0)), [0]);
    writer.save_product(actor, &product("R-1"), NOW).unwrap();
    assert_eq!(received(&mut rx, Duration::from_secs(2), Some(1)), [1]);
}

fn lists_the_catalog(storage: &dyn Storage) {
    assert!(storage.products().unwrap().is_empty() && storage.locations().unwrap().is_empty());
    let actor = admin(storage);
    let root = location("WH", None);
    let bin = Location { archived: true, ..location("A-01", Some(root.id)) };
    storage.save_location(actor, &bin, NOW).unwrap();
    storage.save_location(actor, &root, NOW).unwrap();
    let zeta = product("Z-9");
    let alpha = Product { barcode: Some("4006381333931".into()), archived: true, ..product("A-1") };
    storage.save_product(actor, &zeta, NOW).unwrap();
    storage.save_product(actor, &alpha, NOW).unwrap();
    assert_eq!(storage.products().unwrap(), [alpha, zeta], "every product, archived too, by SKU");
    assert_eq!(storage.locations().unwrap(), [bin, root], "every location, archived too, by code");
}

#[test]
fn sqlite_lists_its_catalog_and_has_nothing_to_listen_to() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("server.db")).unwrap();
    lists_the_catalog(&storage);
    storage.subscribe_changes(Events::default()).unwrap();
}

#[test]
fn postgres_lists_its_catalog() {
    let Some(schema) = Schema::new("lists") else {
        println!("skipped postgres_lists_its_catalog: set DATABASE_URL");
        return;
    };
    lists_the_catalog(&schema.open());
}
