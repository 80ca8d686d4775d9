//! Device registration and pushes: replays, gaps, restored databases, rejections, roles, negative stock, voids, and the ledger checksum.

use super::*;

/// Registering again returns the last acknowledged seq; another user cannot take the id.
pub fn register_device_is_idempotent_and_refuses_another_user(storage: &dyn Storage) {
    let w = world(storage);
    let other = user(storage, "other", Role::Manager, &[]);
    let d = device(storage, w.manager);
    assert_eq!(storage.register_device(w.manager, d, "again", NOW).unwrap(), 0);
    let who = pusher(w.manager, Role::Manager, &[]);
    let m = movement(d, 1, w.manager, MovementKind::Receive, w.product, w.location, 3);
    push(storage, &who, d, &[m]).unwrap();
    assert_eq!(storage.register_device(w.manager, d, "again", NOW).unwrap(), 1);
    match storage.register_device(other, d, "stolen", NOW) {
        Err(StorageError::Conflict { code: "device_taken", .. }) => {}
        unexpected => panic!("device taken: {unexpected:?}"),
    }
    let theirs = pusher(other, Role::Manager, &[]);
    let m2 = movement(d, 2, other, MovementKind::Receive, w.product, w.location, 3);
    assert!(matches!(push(storage, &theirs, d, std::slice::from_ref(&m2)), Err(StorageError::Forbidden(_))));
    let unknown = DeviceId(Uuid::now_v7());
    assert!(matches!(push(storage, &who, unknown, &[]), Err(StorageError::NotFound { what: "device", .. })));
}

/// Accepted, replayed (same stored outcome), gap refused, another movement under a used seq refused.
pub fn push_accepts_replays_and_refuses_gaps_and_restored_databases(storage: &dyn Storage) {
    let w = world(storage);
    let d = device(storage, w.manager);
    let who = pusher(w.manager, Role::Manager, &[]);
    let m1 = movement(d, 1, w.manager, MovementKind::Receive, w.product, w.location, 10);
    let m2 = movement(d, 2, w.manager, MovementKind::Issue, w.product, w.location, -3);
    let first = push(storage, &who, d, &[m1.clone(), m2.clone()]).unwrap();
    assert_eq!(first.len(), 2);
    assert!(server_seq(&first[0].outcome) < server_seq(&first[1].outcome));
    assert_eq!(on_hand(storage, w.product, w.location), 7);

    // A replay (the response was lost) returns exactly the stored outcomes and changes nothing.
    let head = storage.head_seq().unwrap();
    assert_eq!(push(storage, &who, d, &[m1.clone(), m2.clone()]).unwrap(), first);
    assert_eq!(storage.head_seq().unwrap(), head);
    assert_eq!(on_hand(storage, w.product, w.location), 7);

    // A gap: the server holds up to 2.
    let m4 = movement(d, 4, w.manager, MovementKind::Issue, w.product, w.location, -1);
    match push(storage, &who, d, &[m4]) {
        Err(StorageError::SequenceGap { last_acknowledged: 2 }) => {}
        other => panic!("gap: {other:?}"),
    }
    // A batch that fails refuses every movement in it: nothing of it is kept.
    let m3 = movement(d, 3, w.manager, MovementKind::Issue, w.product, w.location, -1);
    let m5 = movement(d, 5, w.manager, MovementKind::Issue, w.product, w.location, -1);
    assert!(matches!(push(storage, &who, d, &[m3.clone(), m5]), Err(StorageError::SequenceGap { .. })));
    assert_eq!(storage.head_seq().unwrap(), head);
    assert_eq!(on_hand(storage, w.product, w.location), 7);

    // A different movement under seq 2: the device's database was restored or copied.
    let impostor = movement(d, 2, w.manager, MovementKind::Issue, w.product, w.location, -5);
    match push(storage, &who, d, &[impostor]) {
        Err(StorageError::DeviceRestored { device_seq: 2 }) => {}
        other => panic!("restored: {other:?}"),
    }
    // The movement pushed by another device can't come from this one.
    let foreign = movement(DeviceId(Uuid::now_v7()), 3, w.manager, MovementKind::Issue, w.product, w.location, -1);
    assert!(matches!(push(storage, &who, d, &[foreign]), Err(StorageError::Invalid(_))));
    let bad_version = PushRequest { v: WIRE_VERSION + 1, device_id: d, movements: vec![m3.clone()] };
    assert!(matches!(storage.push(&who, &bad_version, NOW), Err(StorageError::Invalid(_))));

    let third = push(storage, &who, d, &[m3]).unwrap();
    assert!(server_seq(&third[0].outcome) > server_seq(&first[1].outcome));
    assert_eq!(on_hand(storage, w.product, w.location), 6);
}

/// A movement whose id is stored returns the stored outcome whatever seq it arrives with, and
/// uses that seq (no gap), so a restored database that re-sequences never counts anything twice.
pub fn same_movement_under_a_new_seq_returns_the_stored_outcome(storage: &dyn Storage) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let old = device(storage, w.manager);
    let m1 = movement(old, 1, w.manager, MovementKind::Receive, w.product, w.location, 4);
    let stored = push(storage, &who, old, std::slice::from_ref(&m1)).unwrap();

    // Same device, next seq, same movement id.
    let again = Movement { device_seq: 2, ..m1.clone() };
    let out = push(storage, &who, old, &[again]).unwrap();
    assert_eq!(out[0].outcome, stored[0].outcome);
    assert_eq!(out[0].device_seq, 2);
    assert_eq!(storage.register_device(w.manager, old, "again", NOW).unwrap(), 2, "the seq is used");

    // The device registered anew and re-sequenced its movements under the new id.
    let new = device(storage, w.manager);
    let resequenced = Movement { device_id: new, device_seq: 1, ..m1.clone() };
    let out = push(storage, &who, new, &[resequenced]).unwrap();
    assert_eq!(out[0].outcome, stored[0].outcome);
    assert_eq!(on_hand(storage, w.product, w.location), 4, "counted once");
    let m2 = movement(new, 2, w.manager, MovementKind::Issue, w.product, w.location, -1);
    server_seq(&push(storage, &who, new, &[m2]).unwrap()[0].outcome);
    assert_eq!(on_hand(storage, w.product, w.location), 3);
}

/// A rejected movement keeps its seq (no gap behind it) and its replay returns the rejection.
pub fn rejection_consumes_its_seq(storage: &dyn Storage) {
    let w = world(storage);
    let d = device(storage, w.manager);
    let who = pusher(w.manager, Role::Manager, &[]);
    let unknown = movement(d, 1, w.manager, MovementKind::Receive, ProductId(Uuid::now_v7()), w.location, 1);
    let nowhere = movement(d, 2, w.manager, MovementKind::Receive, w.product, LocationId(Uuid::now_v7()), 1);
    let mut invalid = movement(d, 3, w.manager, MovementKind::Issue, w.product, w.location, 1);
    invalid.delta = Some(5); // an issue must be negative
    let fine = movement(d, 4, w.manager, MovementKind::Receive, w.product, w.location, 2);
    let head = storage.head_seq().unwrap();
    let out = push(storage, &who, d, &[unknown.clone(), nowhere, invalid, fine]).unwrap();
    assert_eq!(rejection_code(&out[0].outcome), "unknown_product");
    assert_eq!(rejection_code(&out[1].outcome), "unknown_location");
    assert_eq!(rejection_code(&out[2].outcome), "invalid");
    assert_eq!(server_seq(&out[3].outcome), head + 1, "rejections take no feed number");
    assert_eq!(storage.register_device(w.manager, d, "again", NOW).unwrap(), 4);
    assert_eq!(push(storage, &who, d, &[unknown]).unwrap()[0].outcome, out[0].outcome);
    assert_eq!(on_hand(storage, w.product, w.location), 2);
}

/// A clerk records movements only at assigned locations; a viewer records none.
pub fn clerk_at_unassigned_location_is_rejected_and_viewer_refused(storage: &dyn Storage) {
    let w = world(storage);
    let elsewhere = location("SHOP2");
    storage.save_location(w.manager, &elsewhere, NOW).unwrap();
    let clerk = user(storage, "clerk", Role::Clerk, &[w.location]);
    let d = device(storage, clerk);
    let who = pusher(clerk, Role::Clerk, &[w.location]);
    let there = movement(d, 1, clerk, MovementKind::Receive, w.product, elsewhere.id, 1);
    let here = movement(d, 2, clerk, MovementKind::Receive, w.product, w.location, 1);
    let out = push(storage, &who, d, &[there, here]).unwrap();
    assert_eq!(rejection_code(&out[0].outcome), "location_not_assigned");
    server_seq(&out[1].outcome);

    let viewer = user(storage, "viewer", Role::Viewer, &[]);
    let vd = device(storage, viewer);
    let m = movement(vd, 1, viewer, MovementKind::Receive, w.product, w.location, 1);
    assert!(matches!(push(storage, &pusher(viewer, Role::Viewer, &[]), vd, &[m]), Err(StorageError::Forbidden(_))));
}

/// Two offline devices each sell the last unit: both accepted, the level is -1, one alert.
pub fn last_unit_sold_twice_is_accepted_and_flagged_once(storage: &dyn Storage) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let (d0, d1, d2) = (device(storage, w.manager), device(storage, w.manager), device(storage, w.manager));
    push(storage, &who, d0, &[movement(d0, 1, w.manager, MovementKind::Receive, w.product, w.location, 1)]).unwrap();
    let a =
        push(storage, &who, d1, &[movement(d1, 1, w.manager, MovementKind::Issue, w.product, w.location, -1)]).unwrap();
    let b =
        push(storage, &who, d2, &[movement(d2, 1, w.manager, MovementKind::Issue, w.product, w.location, -1)]).unwrap();
    assert!(matches!(a[0].outcome, Outcome::Accepted { .. }));
    match &b[0].outcome {
        Outcome::AcceptedFlagged { alert, .. } => {
            assert_eq!((alert.kind, alert.quantity), (AlertKind::NegativeStock, -1));
            assert!(alert.message.contains("SKU-1") && alert.message.contains("WH1"), "{}", alert.message);
        }
        other => panic!("expected a flag: {other:?}"),
    }
    assert_eq!(on_hand(storage, w.product, w.location), -1);
    // A third sale keeps the level negative but raises no second alert while one is open.
    let d3 = device(storage, w.manager);
    let c =
        push(storage, &who, d3, &[movement(d3, 1, w.manager, MovementKind::Issue, w.product, w.location, -1)]).unwrap();
    assert!(matches!(c[0].outcome, Outcome::Accepted { .. }));
    let alerts = storage.alerts(true).unwrap();
    assert_eq!(alerts.iter().filter(|a| a.kind == AlertKind::NegativeStock).count(), 1);
    assert_eq!(on_hand(storage, w.product, w.location), -2);
}

/// A void takes its movement out of the level once; a second void, a void of a void and a void
/// of an unknown movement are rejected.
pub fn void_cancels_its_movement_once(storage: &dyn Storage) {
    let w = world(storage);
    let d = device(storage, w.manager);
    let who = pusher(w.manager, Role::Manager, &[]);
    let receive = movement(d, 1, w.manager, MovementKind::Receive, w.product, w.location, 5);
    let issue = movement(d, 2, w.manager, MovementKind::Issue, w.product, w.location, -2);
    let count = movement(d, 3, w.manager, MovementKind::Count, w.product, w.location, 10);
    push(storage, &who, d, &[receive.clone(), issue.clone(), count.clone()]).unwrap();
    assert_eq!(on_hand(storage, w.product, w.location), 10);
    // Voiding the count: the level falls back to the deltas.
    let void_count = void(d, 4, w.manager, &count);
    server_seq(&push(storage, &who, d, std::slice::from_ref(&void_count)).unwrap()[0].outcome);
    assert_eq!(on_hand(storage, w.product, w.location), 3);
    let void_issue = void(d, 5, w.manager, &issue);
    server_seq(&push(storage, &who, d, std::slice::from_ref(&void_issue)).unwrap()[0].outcome);
    assert_eq!(on_hand(storage, w.product, w.location), 5);

    let twice = void(d, 6, w.manager, &issue);
    let of_void = void(d, 7, w.manager, &void_issue);
    let ghost = Movement { id: MovementId::new_v7(), ..receive.clone() };
    let missing = void(d, 8, w.manager, &ghost);
    let mut elsewhere = void(d, 9, w.manager, &receive);
    let other = location("WH9");
    storage.save_location(w.manager, &other, NOW).unwrap();
    elsewhere.location_id = other.id;
    let out = push(storage, &who, d, &[twice, of_void, missing, elsewhere]).unwrap();
    assert_eq!(rejection_code(&out[0].outcome), "void_refused");
    assert_eq!(rejection_code(&out[1].outcome), "void_refused");
    assert_eq!(rejection_code(&out[2].outcome), "void_target_missing");
    assert_eq!(rejection_code(&out[3].outcome), "void_refused");
    assert_eq!(on_hand(storage, w.product, w.location), 5);
    let accepted = [&receive, &issue, &count, &void_count, &void_issue];
    assert_eq!(storage.checksum(w.product, w.location).unwrap(), LedgerDigest::of_all(accepted));
}

/// The stored checksum of a pair is the digest of the movements accepted for it, whatever
/// their kinds and arrival order.
pub fn checksum_equals_digest_of_accepted_movements(storage: &dyn Storage) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let (a, b) = (device(storage, w.manager), device(storage, w.manager));
    let a_moves = vec![
        movement(a, 1, w.manager, MovementKind::Receive, w.product, w.location, 20),
        movement(a, 2, w.manager, MovementKind::Adjust, w.product, w.location, -2),
        movement(a, 3, w.manager, MovementKind::Count, w.product, w.location, 17),
    ];
    // b's movements occurred earlier than a's count: absorbed by it.
    let mut b_moves = vec![
        movement(b, 1, w.manager, MovementKind::Issue, w.product, w.location, -1),
        movement(b, 2, w.manager, MovementKind::Issue, w.product, w.location, -1),
    ];
    for m in &mut b_moves {
        m.occurred_at = NOW.plus_millis(500);
    }
    push(storage, &who, b, &b_moves[..1]).unwrap();
    push(storage, &who, a, &a_moves).unwrap();
    push(storage, &who, b, &b_moves[1..]).unwrap();
    let expected = LedgerDigest::of_all(a_moves.iter().chain(&b_moves));
    assert_eq!(storage.checksum(w.product, w.location).unwrap(), expected);
    let level = storage.stock(None).unwrap();
    assert_eq!(level.len(), 1);
    assert_eq!((level[0].on_hand, level[0].checksum.clone()), (17, expected.to_string()));
    assert_eq!(storage.checksum(w.product, LocationId(Uuid::now_v7())).unwrap(), LedgerDigest::default());
}
