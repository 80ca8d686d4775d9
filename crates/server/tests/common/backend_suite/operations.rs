//! Operations: the connection figures the metrics report, and backup -> wipe -> restore.

use super::*;

/// The connections the metrics report: none in use between calls, and the pool's maximum holds
/// every open one.
pub fn pool_state_counts_connections(storage: &dyn Storage) {
    storage.ready().unwrap();
    storage.head_seq().unwrap();
    let state = storage.pool_state();
    assert_eq!(state.in_use, 0, "{state:?}");
    assert!(state.idle >= 1 && state.max >= state.idle, "{state:?}");
}

/// A restored database answers as the one backed up: the same ledger checksum, levels, alerts,
/// catalog, users and sessions, the same pull pages, replays get their stored outcomes, and the
/// feed and the devices' sequence numbers go on where they were.
pub fn backup_wipe_restore_keeps_the_ledger_and_the_feed(
    storage: &dyn Storage,
    restore: &dyn Fn(&std::path::Path) -> Box<dyn std::ops::Deref<Target = dyn Storage>>,
) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let (laptop, observer) = (device(storage, w.manager), device(storage, w.manager));
    let (p, l) = (w.product, w.location);
    let oversold = movement(laptop, 4, w.manager, MovementKind::Issue, p, l, -12);
    let batch = vec![
        movement(laptop, 1, w.manager, MovementKind::Receive, p, l, 5),
        movement(laptop, 2, w.manager, MovementKind::Issue, p, l, -2),
        movement(laptop, 3, w.manager, MovementKind::Count, p, l, 10),
        oversold.clone(),
        void(laptop, 5, w.manager, &oversold),
    ];
    let outcomes = push(storage, &who, laptop, &batch).unwrap();
    assert!(storage.alerts(true).unwrap().iter().any(|a| a.kind == AlertKind::NegativeStock));
    let session = tokens(NOW);
    storage.create_session(w.manager, &session, NOW).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smartstock.backup");
    storage.backup(&file).unwrap();
    assert!(storage.backup(&file).is_err(), "an existing file is never overwritten");

    let restored = restore(&file);
    let restored: &dyn Storage = &**restored;
    assert_eq!(restored.checksum(p, l).unwrap(), storage.checksum(p, l).unwrap());
    assert_eq!(restored.stock(None).unwrap(), storage.stock(None).unwrap());
    assert_eq!(restored.alerts(false).unwrap(), storage.alerts(false).unwrap());
    assert_eq!(restored.products().unwrap(), storage.products().unwrap());
    assert_eq!(restored.locations().unwrap(), storage.locations().unwrap());
    assert_eq!(restored.user_by_name("manager").unwrap(), storage.user_by_name("manager").unwrap());
    assert_eq!(restored.session_by_access(&session.access_hash, NOW).unwrap().unwrap().user.id, w.manager);
    let page = |s: &dyn Storage| serde_json::to_value(s.pull(observer, 0, 1000).unwrap()).unwrap();
    assert_eq!(page(restored), page(storage));
    assert_eq!(restored.head_seq().unwrap(), storage.head_seq().unwrap());
    // Replays get their stored outcomes; the device and the feed go on where they were.
    assert_eq!(push(restored, &who, laptop, &batch).unwrap(), outcomes);
    assert_eq!(restored.register_device(w.manager, laptop, "laptop", NOW).unwrap(), 5);
    let next = push(restored, &who, laptop, &[movement(laptop, 6, w.manager, MovementKind::Receive, p, l, 1)]).unwrap();
    assert_eq!(server_seq(&next[0].outcome), storage.head_seq().unwrap() + 1);
    assert_eq!(restored.stock(Some(l)).unwrap()[0].on_hand, 11);
    // Catalog edits go on too (their audit numbers continue after the restored ones).
    restored.save_product(w.manager, &product("SKU-2"), NOW).unwrap();
    assert_eq!(restored.products().unwrap().len(), 2);
}
