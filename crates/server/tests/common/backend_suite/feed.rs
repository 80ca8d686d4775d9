//! Pulls (paging, own movements left out) and the catalog, alerts and settings they carry.

use super::*;

/// A pull leaves out the puller's own movements, pages in feed order with `next_after` and
/// `has_more`, and moves on past pages that held only the puller's own movements.
pub fn pull_excludes_own_movements_and_pages(storage: &dyn Storage) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let (a, b) = (device(storage, w.manager), device(storage, w.manager));
    let from_a: Vec<Movement> =
        (1..=5).map(|s| movement(a, s, w.manager, MovementKind::Receive, w.product, w.location, s)).collect();
    let from_b: Vec<Movement> =
        (1..=3).map(|s| movement(b, s, w.manager, MovementKind::Receive, w.product, w.location, s)).collect();
    push(storage, &who, a, &from_a).unwrap();
    push(storage, &who, b, &from_b).unwrap();
    let head = storage.head_seq().unwrap();
    assert_eq!(head, 2 + 5 + 3, "product, location, then eight movements");

    // Everything in one page.
    let all = storage.pull(b, 0, 100).unwrap();
    assert!(!all.has_more);
    assert_eq!(all.next_after, head);
    assert_eq!((all.products.len(), all.locations.len()), (1, 1));
    assert_eq!(all.movements.iter().map(|m| m.id).collect::<Vec<_>>(), from_a.iter().map(|m| m.id).collect::<Vec<_>>());
    assert!(all.movements.iter().all(|m| m.server_seq.is_some()));

    // Pages of 3 for device a: the catalog, then only b's movements (a's own are skipped).
    let (mut after, mut pages, mut seen) = (0, 0, Vec::new());
    loop {
        let page = storage.pull(a, after, 3).unwrap();
        pages += 1;
        assert!(page.next_after > after, "every page moves the cursor");
        seen.extend(page.movements.iter().map(|m| m.id));
        after = page.next_after;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, 4, "10 feed items in pages of 3");
    assert_eq!(after, head);
    assert_eq!(seen, from_b.iter().map(|m| m.id).collect::<Vec<_>>());

    // A page that holds only the puller's own movements is empty but still moves on.
    let own = storage.pull(a, 2, 5).unwrap();
    assert!(own.movements.is_empty() && own.has_more);
    assert_eq!(own.next_after, 7);
    // Past the head: nothing, cursor unchanged.
    let end = storage.pull(a, head, 10).unwrap();
    assert!(end.movements.is_empty() && !end.has_more);
    assert_eq!(end.next_after, head);
}

/// Catalog saves are audited and pulled; duplicates refused; alerts resolve once and the
/// resolution is pulled; the negative-stock policy is stored.
pub fn catalog_alerts_and_settings(storage: &dyn Storage) {
    let w = world(storage);
    let mut taken = product("SKU-1");
    assert!(matches!(
        storage.save_product(w.manager, &taken, NOW),
        Err(StorageError::Conflict { code: "duplicate", .. })
    ));
    taken.sku = "bad sku with spaces and far too long to be a code ....................................".into();
    assert!(matches!(storage.save_product(w.manager, &taken, NOW), Err(StorageError::Invalid(_))));
    assert!(matches!(
        storage.save_location(w.manager, &location("WH1"), NOW),
        Err(StorageError::Conflict { code: "duplicate", .. })
    ));
    let head = storage.head_seq().unwrap();
    let mut edited = product("SKU-2");
    storage.save_product(w.manager, &edited, NOW).unwrap();
    edited.name = "Renamed".into();
    edited.reorder_point = 5;
    storage.save_product(w.manager, &edited, NOW).unwrap();
    let page = storage.pull(DeviceId(Uuid::now_v7()), head, 10).unwrap();
    assert_eq!(page.products, vec![edited.clone()], "an edit moves the row to the end of the feed");
    assert_eq!(page.next_after, head + 2);

    // Low stock: crossing the reorder point raises one alert.
    let d = device(storage, w.manager);
    let who = pusher(w.manager, Role::Manager, &[]);
    let out = push(
        storage,
        &who,
        d,
        &[
            movement(d, 1, w.manager, MovementKind::Receive, edited.id, w.location, 8),
            movement(d, 2, w.manager, MovementKind::Issue, edited.id, w.location, -4),
        ],
    )
    .unwrap();
    let alert = match &out[1].outcome {
        Outcome::AcceptedFlagged { alert, .. } => alert.clone(),
        other => panic!("low stock: {other:?}"),
    };
    assert_eq!((alert.kind, alert.quantity), (AlertKind::LowStock, 4));
    assert_eq!(storage.alerts(true).unwrap(), vec![alert.clone()]);
    let before_resolve = storage.head_seq().unwrap();
    storage.resolve_alert(w.manager, alert.id, NOW.plus_millis(1)).unwrap();
    assert!(matches!(storage.resolve_alert(w.manager, alert.id, NOW), Err(StorageError::NotFound { .. })));
    assert!(storage.alerts(true).unwrap().is_empty());
    let all = storage.alerts(false).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].resolved_by, Some(w.manager));
    let page = storage.pull(d, before_resolve, 10).unwrap();
    assert_eq!(page.alerts.len(), 1);
    assert_eq!(page.alerts[0].resolved_at, Some(NOW.plus_millis(1)));

    storage.set_negative_stock_policy(smartstock_core::NegativeStockPolicy::Allow).unwrap();
    storage.set_negative_stock_policy(smartstock_core::NegativeStockPolicy::Forbid).unwrap();
}
