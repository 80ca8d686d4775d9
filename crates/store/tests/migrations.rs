//! Schema migrations: from an empty file, re-run on an existing one (idempotent, data kept), and
//! a database from a newer build refused without being touched.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Fixture;
use smartstock_store::{schema, Store, StoreError};

fn table_names(conn: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

/// Writes a product row straight into a ledger of an older schema (no store to write it).
fn insert_raw_product(conn: &rusqlite::Connection, id: uuid::Uuid, sku: &str, name: &str, archived: bool) {
    conn.execute(
        smartstock_store::catalog::INSERT_PRODUCT,
        rusqlite::params![id, sku, name, None::<String>, "pcs", 0, 0, 0, 0, 0, archived, None::<String>],
    )
    .unwrap();
}

#[test]
fn from_empty_the_latest_schema_is_created() {
    let f = Fixture::new();
    let raw = f.raw();
    assert_eq!(schema::user_version(&raw).unwrap(), schema::latest_version());
    let tables = table_names(&raw);
    for t in ["alerts", "catalog_audit", "device", "levels", "locations", "movements", "products", "settings"] {
        assert!(tables.iter().any(|n| n == t), "missing table {t} in {tables:?}");
    }
    let mode: String = raw.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn reopening_is_idempotent_and_keeps_everything() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 4);
    let device = f.store.device_id().unwrap();
    let path = f.db_path();
    drop(f.store);
    for _ in 0..2 {
        let again = Store::open(&path).unwrap();
        assert_eq!(again.level(p, l).unwrap(), 4);
        assert_eq!(again.device_id().unwrap(), device, "the device keeps its identity");
        assert_eq!(again.pending_count().unwrap(), 1);
    }
}

#[test]
fn a_database_from_a_newer_build_is_refused_untouched() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 4);
    let path = f.db_path();
    drop(f.store);
    let newer = schema::latest_version() as i64 + 1;
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", newer).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::DatabaseTooNew { .. }), "{err:?}");
    assert!(err.to_string().contains("update the app"), "{err}");
    let raw = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(schema::user_version(&raw).unwrap() as i64, newer);
    let count: i64 = raw.query_row("SELECT COUNT(*) FROM movements", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 1, "the offline movements are still there");
}

#[test]
fn a_ledger_of_the_previous_release_is_upgraded_with_its_data_searchable() {
    // Version 1 is the first release's schema; opening its file with this build migrates it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrations().to_version(&mut conn, 1).unwrap();
        assert_eq!(schema::user_version(&conn).unwrap(), 1);
        insert_raw_product(&conn, uuid::Uuid::now_v7(), "OLD-1", "Galvanised bucket", false);
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(schema::user_version(&rusqlite::Connection::open(&path).unwrap()).unwrap(), schema::latest_version());
    let query =
        smartstock_store::queries::StockQuery { search: Some("bucket".into()), limit: 10, ..Default::default() };
    let rows = store.stock(&query).unwrap();
    assert_eq!(rows.iter().map(|r| r.sku.as_str()).collect::<Vec<_>>(), ["OLD-1"], "found by name");
    assert_eq!(store.stock_count(&query).unwrap(), 1);
}

#[test]
fn a_ledger_of_schema_6_finds_sku_prefixes_through_the_covering_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrations().to_version(&mut conn, 6).unwrap();
        for (sku, archived) in [("HW-2", false), ("hw-1", true), ("HW-3", false), ("EL-1", false)] {
            insert_raw_product(&conn, uuid::Uuid::now_v7(), sku, "Part", archived);
        }
    }
    let store = Store::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_index_info('products_sku_nocase') ORDER BY seqno")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(columns, ["sku", "archived"]);
    let page = |include_archived: bool| {
        let query = smartstock_store::queries::StockQuery {
            search: Some("hw-".into()),
            limit: 10,
            include_archived,
            ..Default::default()
        };
        store.stock(&query).unwrap().into_iter().map(|r| r.sku).collect::<Vec<_>>()
    };
    assert_eq!(page(false), ["HW-2", "HW-3"]);
    assert_eq!(page(true), ["HW-2", "HW-3", "hw-1"], "SKU order (binary), the archived one shown when asked");
}

#[test]
fn a_ledger_of_schema_7_finds_its_rejected_movements_through_the_new_index() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 4);
    let rejected = f.receive(p, l, 2);
    let path = f.db_path();
    drop(f.store);
    {
        // Schema 8 only adds an index, 9 drops one (if there) and 10 adds a table, its triggers
        // and two indexes: without them, and numbered 7, this is a schema-7 ledger.
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute(
            "UPDATE movements SET sync_state = 'rejected', reject_code = 'negative_stock', \
             reject_message = 'no stock' WHERE id = ?1",
            [rejected.id.0],
        )
        .unwrap();
        raw.execute_batch(
            "DROP INDEX movements_rejected; DROP INDEX levels_negative; DROP INDEX movements_transfer_out; \
             DROP TRIGGER low_levels_insert; DROP TRIGGER low_levels_update; DROP TRIGGER low_levels_delete; \
             DROP TRIGGER low_levels_reorder_point; DROP TRIGGER low_levels_product_delete; \
             DROP TABLE low_levels; PRAGMA user_version = 7;",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.open_rejection_count().unwrap(), 1);
    let open: Vec<_> = store.open_rejections().unwrap().into_iter().map(|r| r.movement.id).collect();
    assert_eq!(open, [rejected.id]);
    assert_eq!(store.pending_count().unwrap(), 1, "the other movement is still to send");
    let raw = rusqlite::Connection::open(&path).unwrap();
    let plan: Vec<String> = raw
        .prepare("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM movements m WHERE m.sync_state = 'rejected'")
        .unwrap()
        .query_map([], |r| r.get(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let plan = plan.join("; ");
    assert!(plan.contains("movements_rejected"), "{plan}");
}

#[test]
fn a_ledger_of_schema_8_loses_its_trigram_index_and_still_finds_and_renames_products() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v8.db");
    let id = uuid::Uuid::now_v7();
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrations().to_version(&mut conn, 8).unwrap();
        insert_raw_product(&conn, id, "ZB-1", "Galvanised pail", false);
        let indexed: i64 = conn
            .query_row("SELECT COUNT(*) FROM product_names WHERE product_names MATCH '\"pail\"'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexed, 1, "schema 8 indexed the name");
    }
    let store = Store::open(&path).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let left: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'product_names%' OR sql LIKE '%product_names%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");

    let mut product = store.product(smartstock_core::ProductId(id)).unwrap();
    product.name = "Zinc bucket".into();
    let actor =
        smartstock_store::Actor { user_id: <smartstock_core::UserId as smartstock_core::ids::NewRandom>::new_random() };
    store.update_product(actor, &product).unwrap();
    let query = |text: &str| smartstock_store::queries::StockQuery {
        search: Some(text.into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.stock(&query("bucket")).unwrap().len(), 1);
    assert!(store.stock(&query("pail")).unwrap().is_empty());
}

#[test]
fn a_ledger_of_schema_9_finds_its_low_levels_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v9.db");
    let (low, ok, plain) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let location = uuid::Uuid::now_v7();
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrations().to_version(&mut conn, 9).unwrap();
        insert_raw_product(&conn, low, "LOW-1", "Below its point", false);
        insert_raw_product(&conn, ok, "OK-1", "Above its point", false);
        insert_raw_product(&conn, plain, "NONE-1", "No point", false);
        conn.execute("UPDATE products SET reorder_point = 10 WHERE id IN (?1, ?2)", (low, ok)).unwrap();
        conn.execute(
            "INSERT INTO locations (id, code, name, kind, archived) VALUES (?1, 'WH1', 'Main', 'warehouse', 0)",
            [location],
        )
        .unwrap();
        for (product, on_hand) in [(low, 3), (ok, 30), (plain, 0)] {
            conn.execute(
                "INSERT INTO levels (product_id, location_id, on_hand, digest) VALUES (?1, ?2, ?3, zeroblob(32))",
                (product, location, on_hand),
            )
            .unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    let low_stock = smartstock_store::queries::StockQuery {
        filter: smartstock_store::queries::StockFilter::Low,
        limit: 10,
        ..Default::default()
    };
    let skus = |store: &Store| store.stock(&low_stock).unwrap().into_iter().map(|r| r.sku).collect::<Vec<_>>();
    assert_eq!(skus(&store), ["LOW-1"], "filled from the levels already there");
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE levels SET on_hand = 2 WHERE product_id = ?1", [ok]).unwrap();
    assert_eq!(skus(&store), ["LOW-1", "OK-1"], "and kept by its triggers from then on");
}

#[test]
fn field_stamps_of_schema_4_are_kept_one_row_per_product() {
    use smartstock_core::merge::FieldStamp;
    use smartstock_core::{DeviceId, Hlc, UserId};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    let id = uuid::Uuid::now_v7();
    let created = FieldStamp {
        hlc: Hlc { wall: 1_700_000_000_000, counter: 2 },
        device_id: DeviceId(uuid::Uuid::now_v7()),
        user_id: UserId(uuid::Uuid::now_v7()),
    };
    let renamed = FieldStamp { hlc: Hlc { wall: 1_700_000_500_000, counter: 0 }, ..created };
    let expected: smartstock_core::Stamps =
        [("sku", created), ("unit", created), ("name", renamed)].map(|(f, s)| (f.to_string(), s)).into();
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        schema::migrations().to_version(&mut conn, 4).unwrap();
        for (field, s) in &expected {
            conn.execute(
                "INSERT INTO catalog_stamps (entity_id, field, hlc_wall, hlc_counter, device_id, user_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![id, field, s.hlc.wall, s.hlc.counter, s.device_id.0, s.user_id.0],
            )
            .unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.catalog_stamps(id).unwrap(), expected);
    let rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM catalog_row_stamps", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}
