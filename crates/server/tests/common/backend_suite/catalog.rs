//! Catalog edits pushed by devices (`Storage::catalog_push`): per-field merge by (HLC, device),
//! the loser audited and told, exactly once, and a SKU or location code created twice offline
//! kept once with the newcomer as an alias.

use super::*;
use smartstock_core::wire::{CatalogEdit, CatalogOutcome, CatalogPushRequest, CatalogRow, CatalogStatus, NoticeKind};
use smartstock_core::Hlc;

fn hlc(ms: i64) -> Hlc {
    Hlc { wall: NOW.millis() + ms, counter: 0 }
}

fn edit(seq: i64, at: Hlc, row: CatalogRow, fields: &[&str]) -> CatalogEdit {
    CatalogEdit { seq, hlc: at, created: false, fields: fields.iter().map(|f| f.to_string()).collect(), row }
}

fn creation(seq: i64, at: Hlc, row: CatalogRow) -> CatalogEdit {
    let fields = match &row {
        CatalogRow::Product(p) => smartstock_core::CatalogFields::fields(p),
        CatalogRow::Location(l) => smartstock_core::CatalogFields::fields(l),
    };
    CatalogEdit { seq, hlc: at, created: true, fields: fields.into_iter().map(|(f, _)| f.to_string()).collect(), row }
}

fn catalog_push(
    storage: &dyn Storage,
    who: &Pusher,
    device: DeviceId,
    edits: Vec<CatalogEdit>,
) -> Result<Vec<CatalogOutcome>, StorageError> {
    storage.catalog_push(who, &CatalogPushRequest { v: WIRE_VERSION, device_id: device, edits }, NOW)
}

fn stored_product(storage: &dyn Storage, id: ProductId) -> Product {
    storage.products().unwrap().into_iter().find(|p| p.id == id).unwrap()
}

fn notices(storage: &dyn Storage, device: DeviceId) -> Vec<smartstock_core::wire::CatalogNotice> {
    storage.pull(device, 0, 10_000).unwrap().notices
}

pub fn catalog_edits_merge_per_field_and_the_loser_is_told(storage: &dyn Storage) {
    let w = world(storage);
    let anna = user(storage, "anna", Role::Manager, &[]);
    let (d1, d2) = (device(storage, w.manager), device(storage, anna));
    let (m1, m2) = (pusher(w.manager, Role::Manager, &[]), pusher(anna, Role::Admin, &[]));
    let base = stored_product(storage, w.product);

    // Offline, d1 changes the price later than d2 changes price and name.
    let mut by_d1 = base.clone();
    by_d1.price_minor = 500;
    let mut by_d2 = base.clone();
    (by_d2.price_minor, by_d2.name) = (400, "Blue widget".into());
    let out1 =
        catalog_push(storage, &m1, d1, vec![edit(1, hlc(10_000), CatalogRow::Product(by_d1), &["price"])]).unwrap();
    assert_eq!(out1[0].status, CatalogStatus::Merged { lost: vec![] });
    let d2_edits = vec![edit(1, hlc(5_000), CatalogRow::Product(by_d2), &["price", "name"])];
    let out2 = catalog_push(storage, &m2, d2, d2_edits.clone()).unwrap();
    assert_eq!(out2[0].status, CatalogStatus::Merged { lost: vec!["price".into()] });
    let kept = stored_product(storage, w.product);
    assert_eq!((kept.price_minor, kept.name.as_str()), (500, "Blue widget"), "both fields' edits are kept");
    match &out2[0].row {
        Some(CatalogRow::Product(p)) => assert_eq!(p, &kept, "the outcome carries the row as stored"),
        other => panic!("outcome row {other:?}"),
    }
    assert_eq!(out2[0].stamps["price"].device_id, d1);

    // The loser is told, in its own pull only; the losing value stays in the audit.
    let told = notices(storage, d2);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].kind, NoticeKind::EditLost);
    assert_eq!(told[0].message, "your edit of price of SKU-1 lost to manager on test device: kept 500");
    assert!(notices(storage, d1).is_empty());
    let audit = storage.catalog_audit(Some(w.product.0)).unwrap();
    let lost = audit.iter().find(|a| a.field == "price:lost").expect("the lost value is audited");
    assert_eq!((lost.old_value.as_deref(), lost.new_value.as_deref()), (Some("400"), Some("500")));
    assert_eq!(lost.device_id, d2);

    // Pulled rows carry their field stamps.
    let page = storage.pull(DeviceId(Uuid::now_v7()), 0, 10_000).unwrap();
    let stamps = page.stamps.iter().find(|s| s.id == w.product.0).expect("stamps of the edited product");
    assert_eq!((stamps.stamps["price"].device_id, stamps.stamps["name"].device_id), (d1, d2));

    // Exactly once: a replay returns the stored outcome and changes nothing; a gap is refused.
    let audit_len = storage.catalog_audit(None).unwrap().len();
    assert_eq!(catalog_push(storage, &m2, d2, d2_edits).unwrap(), out2);
    assert_eq!(storage.catalog_audit(None).unwrap().len(), audit_len);
    assert_eq!(notices(storage, d2).len(), 1);
    let mut later = kept.clone();
    later.price_minor = 900;
    let gap =
        catalog_push(storage, &m2, d2, vec![edit(3, hlc(20_000), CatalogRow::Product(later.clone()), &["price"])]);
    assert!(matches!(gap, Err(StorageError::CatalogGap { last_acknowledged: 1 })), "{gap:?}");

    // A later edit overwrites d1's price: now d1 is told.
    let out3 =
        catalog_push(storage, &m2, d2, vec![edit(2, hlc(20_000), CatalogRow::Product(later), &["price"])]).unwrap();
    assert_eq!(out3[0].status, CatalogStatus::Merged { lost: vec![] });
    assert_eq!(stored_product(storage, w.product).price_minor, 900);
    let told = notices(storage, d1);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].message, "your edit of price of SKU-1 lost to anna on test device: kept 900");

    // A manager's edit on the server is stamped with the server's time: a device edit made
    // before it loses, one made after wins.
    let mut on_server = stored_product(storage, w.product);
    on_server.reorder_point = 7;
    storage.save_product(w.manager, &on_server, NOW.plus_millis(30_000)).unwrap();
    let mut stale = on_server.clone();
    stale.reorder_point = 3;
    let out4 =
        catalog_push(storage, &m1, d1, vec![edit(2, hlc(25_000), CatalogRow::Product(stale), &["reorder_point"])])
            .unwrap();
    assert_eq!(out4[0].status, CatalogStatus::Merged { lost: vec!["reorder_point".into()] });
    assert_eq!(stored_product(storage, w.product).reorder_point, 7);
}

pub fn catalog_created_twice_offline_keeps_the_first_and_aliases_the_newcomer(storage: &dyn Storage) {
    let w = world(storage);
    let anna = user(storage, "anna", Role::Manager, &[]);
    let (d1, d2) = (device(storage, w.manager), device(storage, anna));
    let (m1, m2) = (pusher(w.manager, Role::Manager, &[]), pusher(anna, Role::Manager, &[]));
    let (first, mut second) = (product("NEW-1"), product("NEW-1"));
    second.name = "New one, named on d2".into();
    let (loc1, loc2) = (location("VAN-1"), location("VAN-1"));

    let out1 = catalog_push(
        storage,
        &m1,
        d1,
        vec![
            creation(1, hlc(1_000), CatalogRow::Product(first.clone())),
            creation(2, hlc(1_000), CatalogRow::Location(loc1.clone())),
        ],
    )
    .unwrap();
    assert!(out1.iter().all(|o| o.status == CatalogStatus::Merged { lost: vec![] }), "{out1:?}");
    let out2 = catalog_push(
        storage,
        &m2,
        d2,
        vec![
            creation(1, hlc(2_000), CatalogRow::Product(second.clone())),
            creation(2, hlc(2_000), CatalogRow::Location(loc2.clone())),
        ],
    )
    .unwrap();
    match &out2[0].status {
        CatalogStatus::Aliased { canonical_id, alias_code } => {
            assert_eq!(*canonical_id, first.id.0);
            assert!(alias_code.starts_with("NEW-1~"), "{alias_code}");
        }
        other => panic!("expected an alias, got {other:?}"),
    }
    assert!(matches!(&out2[1].status, CatalogStatus::Aliased { canonical_id, .. } if *canonical_id == loc1.id.0));

    // One product of that SKU: the first id, its fields merged by the rule (d2's later name).
    let kept: Vec<Product> = storage.products().unwrap().into_iter().filter(|p| p.sku == "NEW-1").collect();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].id, kept[0].name.as_str()), (first.id, "New one, named on d2"));
    assert_eq!(storage.locations().unwrap().iter().filter(|l| l.code == "VAN-1").count(), 1);

    // Audited, and both devices told.
    let audit = storage.catalog_audit(Some(first.id.0)).unwrap();
    assert!(audit.iter().any(|a| a.field == "alias" && a.old_value == Some(second.id.0.to_string())), "{audit:?}");
    let merged = |d| notices(storage, d).into_iter().filter(|n| n.kind == NoticeKind::Merged).count();
    assert_eq!((merged(d1), merged(d2)), (2, 2), "a notice per merged product and location to each device");

    // A later edit of the alias id lands on the kept row.
    let mut renamed = second.clone();
    renamed.name = "Renamed through the alias".into();
    catalog_push(storage, &m2, d2, vec![edit(3, hlc(3_000), CatalogRow::Product(renamed), &["name"])]).unwrap();
    assert_eq!(stored_product(storage, first.id).name, "Renamed through the alias");

    // Movements of both devices count toward the kept product (the newcomer's device re-points
    // its unsent movements to it before pushing).
    let r1 = movement(d1, 1, w.manager, MovementKind::Receive, first.id, loc1.id, 5);
    let r2 = movement(d2, 1, anna, MovementKind::Receive, first.id, loc1.id, 3);
    push(storage, &m1, d1, &[r1]).unwrap();
    push(storage, &m2, d2, &[r2]).unwrap();
    assert_eq!(on_hand(storage, first.id, loc1.id), 8);
}

pub fn catalog_push_is_for_managers_and_the_device_owner(storage: &dyn Storage) {
    let w = world(storage);
    let clerk = user(storage, "clerk", Role::Clerk, &[w.location]);
    let viewer = user(storage, "viewer", Role::Viewer, &[]);
    let (dc, dv, dm) = (device(storage, clerk), device(storage, viewer), device(storage, w.manager));
    let row = CatalogRow::Product(product("C-1"));
    for (who, d) in [(pusher(clerk, Role::Clerk, &[w.location]), dc), (pusher(viewer, Role::Viewer, &[]), dv)] {
        let refused = catalog_push(storage, &who, d, vec![creation(1, hlc(1), row.clone())]);
        assert!(matches!(refused, Err(StorageError::Forbidden(_))), "{refused:?}");
    }
    let other = user(storage, "other", Role::Manager, &[]);
    let refused = catalog_push(storage, &pusher(other, Role::Manager, &[]), dm, vec![creation(1, hlc(1), row.clone())]);
    assert!(matches!(refused, Err(StorageError::Forbidden(_))), "another user's device: {refused:?}");
    let unknown = catalog_push(storage, &pusher(other, Role::Manager, &[]), DeviceId(Uuid::now_v7()), vec![]);
    assert!(matches!(unknown, Err(StorageError::NotFound { .. })), "{unknown:?}");
    let mut bad = product("C-2");
    bad.unit = String::new();
    let out = catalog_push(
        storage,
        &pusher(w.manager, Role::Manager, &[]),
        dm,
        vec![creation(1, hlc(1), CatalogRow::Product(bad))],
    )
    .unwrap();
    assert!(matches!(&out[0].status, CatalogStatus::Rejected { code, .. } if code == "invalid"), "{out:?}");
    assert!(storage.products().unwrap().iter().all(|p| p.sku != "C-2"));
}
