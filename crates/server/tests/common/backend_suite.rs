//! The storage backend suite: one function per behaviour of the `Storage` contract, each taking a
//! fresh, empty `&dyn Storage`, so every backend (PostgreSQL in `postgres_backend.rs`, SQLite in
//! `sqlite_backend.rs`) runs the same list and must give the same answers. `backend_tests!` expands
//! the list into one `#[test]` per function for a backend's opener.
//!
//! Must not: know which backend it runs on, or share data between functions (each gets its own
//! database or schema).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use smartstock_core::wire::{MovementOutcome, Outcome, PushRequest, WIRE_VERSION};
use smartstock_core::{
    AlertKind, DeviceId, LedgerDigest, Location, LocationId, LocationKind, Movement, MovementId, MovementKind, Product,
    ProductId, ReasonCode, Timestamp, UserId,
};
use smartstock_server::storage::{api_rate_key, NewUser, Pusher, RateLimit, Role, Storage, StorageError, TokenHashes};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Expands to one `#[test]` per suite function. `$open` is a function
/// `fn(&str) -> Option<impl Deref<Target = dyn Storage>>` that opens a fresh, empty backend for the
/// named test, or `None` when the backend is not available here (the test then prints a skip line
/// and passes). `$restore` is a function `fn(&str, &Path) -> Box<dyn Deref<Target = dyn Storage>>`
/// that restores a backup file into a new, empty database (the wiped one) and opens it.
macro_rules! backend_tests {
    ($open:path, $restore:path) => {
        backend_tests!($open);
        #[test]
        fn backup_wipe_restore_keeps_the_ledger_and_the_feed() {
            match $open("backup") {
                Some(storage) => crate::backend_suite::backup_wipe_restore_keeps_the_ledger_and_the_feed(
                    &*storage,
                    &|file: &std::path::Path| $restore("restored", file),
                ),
                None => println!("skipped backup_wipe_restore_keeps_the_ledger_and_the_feed: backend not available"),
            }
        }
    };
    ($open:path) => {
        backend_tests!(@each $open;
            users_and_sessions,
            refresh_token_works_once,
            disabling_and_password_change_revoke_sessions,
            register_device_is_idempotent_and_refuses_another_user,
            push_accepts_replays_and_refuses_gaps_and_restored_databases,
            same_movement_under_a_new_seq_returns_the_stored_outcome,
            rejection_consumes_its_seq,
            clerk_at_unassigned_location_is_rejected_and_viewer_refused,
            last_unit_sold_twice_is_accepted_and_flagged_once,
            void_cancels_its_movement_once,
            pull_excludes_own_movements_and_pages,
            catalog_alerts_and_settings,
            rate_limit_counts_per_window,
            authenticate_finds_the_session_and_counts_the_api_limit,
            pool_state_counts_connections,
            checksum_equals_digest_of_accepted_movements,
            concurrent_pushes_never_make_a_pull_skip,
            concurrent_voids_of_one_movement_accept_one,
            concurrent_copies_of_one_movement_count_once,
            concurrent_retries_of_one_batch_get_the_same_outcomes
        );
    };
    (@each $open:path; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                match $open(stringify!($name)) {
                    Some(storage) => crate::backend_suite::$name(&*storage),
                    None => println!("skipped {}: backend not available (set DATABASE_URL)", stringify!($name)),
                }
            }
        )*
    };
}

/// A fixed "now" (2024-01-01T00:00:00Z); movements occur around it.
pub const NOW: Timestamp = Timestamp(1_704_067_200_000);

const HOUR: i64 = 3_600_000;

fn hash(tag: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let id = Uuid::new_v4();
    out[..16].copy_from_slice(id.as_bytes());
    for (slot, b) in out[16..].iter_mut().zip(tag.bytes()) {
        *slot = b;
    }
    out
}

fn tokens(now: Timestamp) -> TokenHashes {
    TokenHashes {
        access_hash: hash("access"),
        access_expires_at: now.plus_millis(15 * 60_000),
        refresh_hash: hash("refresh"),
        refresh_expires_at: now.plus_millis(30 * 24 * HOUR),
    }
}

/// Creates a user with `role` (and `locations` for a clerk).
pub fn user(storage: &dyn Storage, name: &str, role: Role, locations: &[LocationId]) -> UserId {
    let new = NewUser {
        username: name.to_owned(),
        password_hash: "$argon2id$v=19$test".to_owned(),
        role,
        must_change_password: false,
        locations: locations.to_vec(),
    };
    storage.create_user(&new, NOW).unwrap()
}

/// A product with `sku`.
pub fn product(sku: &str) -> Product {
    Product {
        id: ProductId(Uuid::now_v7()),
        sku: sku.to_owned(),
        name: format!("Product {sku}"),
        barcode: None,
        unit: "pcs".to_owned(),
        unit_scale: 0,
        reorder_point: 0,
        reorder_qty: 0,
        cost_minor: 100,
        price_minor: 250,
        archived: false,
        negative_stock: None,
    }
}

/// A location with `code`.
pub fn location(code: &str) -> Location {
    Location {
        id: LocationId(Uuid::now_v7()),
        code: code.to_owned(),
        name: format!("Location {code}"),
        kind: LocationKind::Warehouse,
        parent_id: None,
        archived: false,
    }
}

/// A manager, one product and one location, saved.
pub struct World {
    /// Manager (catalog author, pusher).
    pub manager: UserId,
    /// The product.
    pub product: ProductId,
    /// The location.
    pub location: LocationId,
}

/// Saves a manager, a product and a location.
pub fn world(storage: &dyn Storage) -> World {
    let manager = user(storage, "manager", Role::Manager, &[]);
    let (p, l) = (product("SKU-1"), location("WH1"));
    storage.save_product(manager, &p, NOW).unwrap();
    storage.save_location(manager, &l, NOW).unwrap();
    World { manager, product: p.id, location: l.id }
}

/// A pusher for `user`.
pub fn pusher(user: UserId, role: Role, locations: &[LocationId]) -> Pusher {
    Pusher { user_id: user, role, locations: locations.to_vec() }
}

/// A registered device of `user`.
pub fn device(storage: &dyn Storage, user: UserId) -> DeviceId {
    let id = DeviceId(Uuid::now_v7());
    assert_eq!(storage.register_device(user, id, "test device", NOW).unwrap(), 0);
    id
}

/// A movement of `kind` with `delta` (a count uses it as `counted_qty`).
pub fn movement(
    device: DeviceId,
    seq: i64,
    user: UserId,
    kind: MovementKind,
    product: ProductId,
    location: LocationId,
    qty: i64,
) -> Movement {
    let (delta, counted_qty) = if kind == MovementKind::Count { (None, Some(qty)) } else { (Some(qty), None) };
    Movement {
        id: MovementId::new_v7(),
        device_id: device,
        device_seq: seq,
        user_id: user,
        kind,
        product_id: product,
        location_id: location,
        delta,
        counted_qty,
        reason: (kind == MovementKind::Adjust).then_some(ReasonCode::Correction),
        note: None,
        reference: None,
        peer_location_id: None,
        occurred_at: NOW.plus_millis(seq * 1000),
        recorded_at: NOW.plus_millis(seq * 1000),
        server_seq: None,
        qty_before: 0,
        qty_after: 0,
    }
}

/// A void of `target`.
pub fn void(device: DeviceId, seq: i64, user: UserId, target: &Movement) -> Movement {
    Movement {
        delta: None,
        counted_qty: None,
        reason: None,
        reference: Some(target.id.to_string()),
        ..movement(device, seq, user, MovementKind::Void, target.product_id, target.location_id, 0)
    }
}

/// Pushes `movements` from `device`.
pub fn push(
    storage: &dyn Storage,
    who: &Pusher,
    device: DeviceId,
    movements: &[Movement],
) -> Result<Vec<MovementOutcome>, StorageError> {
    let request = PushRequest { v: WIRE_VERSION, device_id: device, movements: movements.to_vec() };
    storage.push(who, &request, NOW)
}

fn server_seq(outcome: &Outcome) -> i64 {
    match outcome {
        Outcome::Accepted { server_seq } | Outcome::AcceptedFlagged { server_seq, .. } => *server_seq,
        Outcome::Rejected { code, message } => panic!("rejected {code}: {message}"),
    }
}

fn rejection_code(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Rejected { code, .. } => code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn on_hand(storage: &dyn Storage, product: ProductId, location: LocationId) -> i64 {
    storage.stock(Some(location)).unwrap().into_iter().find(|l| l.product_id == product).map_or(0, |l| l.on_hand)
}

// ---------------------------------------------------------------------------------------------

/// Users, session lookup, expiry, rotation and revocation.
pub fn users_and_sessions(storage: &dyn Storage) {
    storage.ready().unwrap();
    let alice = user(storage, "alice", Role::Clerk, &[LocationId(Uuid::now_v7())]);
    match storage.create_user(
        &NewUser {
            username: "alice".into(),
            password_hash: "x".into(),
            role: Role::Viewer,
            must_change_password: false,
            locations: vec![],
        },
        NOW,
    ) {
        Err(StorageError::Conflict { code: "duplicate", .. }) => {}
        other => panic!("duplicate user name: {other:?}"),
    }
    let record = storage.user_by_name("alice").unwrap().unwrap();
    assert_eq!((record.id, record.role, record.locations.len()), (alice, Role::Clerk, 1));
    assert!(storage.user_by_name("nobody").unwrap().is_none());

    let first = tokens(NOW);
    let session = storage.create_session(alice, &first, NOW).unwrap();
    let found = storage.session_by_access(&first.access_hash, NOW).unwrap().unwrap();
    assert_eq!((found.session_id, found.user.id), (session, alice));
    assert!(storage.session_by_access(&first.access_hash, first.access_expires_at).unwrap().is_none(), "expired");
    assert!(storage.session_by_access(&hash("unknown"), NOW).unwrap().is_none());

    let second = tokens(NOW);
    let rotated = storage.rotate_session(&first.refresh_hash, &second, NOW).unwrap().unwrap();
    assert_eq!(rotated.id, alice);
    assert!(storage.session_by_access(&first.access_hash, NOW).unwrap().is_none(), "old access token");
    assert_eq!(storage.session_by_access(&second.access_hash, NOW).unwrap().unwrap().session_id, session);
    let late = second.refresh_expires_at;
    assert!(storage.rotate_session(&second.refresh_hash, &tokens(late), late).unwrap().is_none(), "expired refresh");
    assert!(storage.rotate_session(&hash("unknown"), &tokens(NOW), NOW).unwrap().is_none());
    assert!(storage.rotate_session(&first.refresh_hash, &tokens(NOW), NOW).unwrap().is_none(), "old refresh refused");

    storage.revoke_session(session, NOW).unwrap();
    assert!(storage.session_by_access(&second.access_hash, NOW).unwrap().is_none(), "revoked");
}

/// A refresh token works once: after the swap the old refresh and access tokens are refused and
/// the new pair works; concurrent swaps with one token give one new pair.
pub fn refresh_token_works_once(storage: &dyn Storage) {
    let bob = user(storage, "bob", Role::Viewer, &[]);
    let first = tokens(NOW);
    let session = storage.create_session(bob, &first, NOW).unwrap();
    let second = tokens(NOW);
    assert_eq!(storage.rotate_session(&first.refresh_hash, &second, NOW).unwrap().unwrap().id, bob);
    assert!(storage.rotate_session(&first.refresh_hash, &tokens(NOW), NOW).unwrap().is_none(), "reuse refused");
    assert!(storage.session_by_access(&first.access_hash, NOW).unwrap().is_none());
    assert_eq!(storage.session_by_access(&second.access_hash, NOW).unwrap().unwrap().session_id, session);

    let swaps: Vec<Option<TokenHashes>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let second = &second;
                scope.spawn(move || {
                    let next = tokens(NOW);
                    storage.rotate_session(&second.refresh_hash, &next, NOW).unwrap().map(|_| next)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<TokenHashes> = swaps.into_iter().flatten().collect();
    assert_eq!(winners.len(), 1, "one swap wins");
    assert_eq!(storage.session_by_access(&winners[0].access_hash, NOW).unwrap().unwrap().session_id, session);
    assert!(storage.session_by_access(&second.access_hash, NOW).unwrap().is_none());
}

/// Disabling a user or changing the password with revocation ends every session.
pub fn disabling_and_password_change_revoke_sessions(storage: &dyn Storage) {
    let carol = user(storage, "carol", Role::Manager, &[]);
    let a = tokens(NOW);
    storage.create_session(carol, &a, NOW).unwrap();
    storage.set_password(carol, "new-hash", true, false).unwrap();
    let record = storage.session_by_access(&a.access_hash, NOW).unwrap().unwrap().user;
    assert_eq!((record.password_hash.as_str(), record.must_change_password), ("new-hash", true));
    storage.set_password(carol, "newer-hash", false, true).unwrap();
    assert!(storage.session_by_access(&a.access_hash, NOW).unwrap().is_none());

    let b = tokens(NOW);
    storage.create_session(carol, &b, NOW).unwrap();
    storage.set_disabled(carol, true).unwrap();
    assert!(storage.session_by_access(&b.access_hash, NOW).unwrap().is_none());
    assert!(storage.user_by_name("carol").unwrap().unwrap().disabled);
    storage.set_disabled(carol, false).unwrap();
    assert!(!storage.user_by_name("carol").unwrap().unwrap().disabled);

    let ghost = UserId(Uuid::now_v7());
    assert!(matches!(storage.set_password(ghost, "h", false, true), Err(StorageError::NotFound { .. })));
    assert!(matches!(storage.set_disabled(ghost, true), Err(StorageError::NotFound { .. })));
}

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

/// Fixed-window rate limits.
pub fn rate_limit_counts_per_window(storage: &dyn Storage) {
    let t = Timestamp(NOW.millis() + 10);
    assert!(storage.rate_limit("login:alice", 60_000, 2, t).unwrap());
    assert!(storage.rate_limit("login:alice", 60_000, 2, t).unwrap());
    assert!(!storage.rate_limit("login:alice", 60_000, 2, t).unwrap());
    assert!(storage.rate_limit("login:bob", 60_000, 2, t).unwrap(), "keys are separate");
    assert!(storage.rate_limit("login:alice", 60_000, 2, t.plus_millis(60_000)).unwrap(), "a new window");
}

/// `authenticate` answers as `session_by_access` and counts the request in the user's API window,
/// the same counter `rate_limit` keeps under `api_rate_key`; an unknown or expired token counts
/// nothing.
pub fn authenticate_finds_the_session_and_counts_the_api_limit(storage: &dyn Storage) {
    let place = LocationId(Uuid::now_v7());
    let alice = user(storage, "alice", Role::Clerk, &[place]);
    let bob = user(storage, "bob", Role::Viewer, &[]);
    let (mine, theirs) = (tokens(NOW), tokens(NOW));
    let session = storage.create_session(alice, &mine, NOW).unwrap();
    storage.create_session(bob, &theirs, NOW).unwrap();
    let limit = RateLimit { window_ms: 60_000, max: 3 };
    let t = Timestamp(NOW.millis() + 10);
    assert!(storage.authenticate(&hash("unknown"), limit, t).unwrap().is_none());
    assert!(storage.authenticate(&mine.access_hash, limit, mine.access_expires_at).unwrap().is_none(), "expired");
    let (found, within) = storage.authenticate(&mine.access_hash, limit, t).unwrap().unwrap();
    assert_eq!(
        (found.session_id, found.user.id, found.user.role, found.user.locations),
        (session, alice, Role::Clerk, vec![place])
    );
    assert!(within);
    assert!(storage.authenticate(&mine.access_hash, limit, t).unwrap().unwrap().1);
    assert!(storage.rate_limit(&api_rate_key(alice), limit.window_ms, limit.max, t).unwrap(), "the third request");
    assert!(!storage.authenticate(&mine.access_hash, limit, t).unwrap().unwrap().1, "the fourth is over the limit");
    assert!(storage.authenticate(&theirs.access_hash, limit, t).unwrap().unwrap().1, "users count apart");
    assert!(storage.authenticate(&mine.access_hash, limit, t.plus_millis(60_000)).unwrap().unwrap().1, "a new window");
}

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

/// DESIGN.md's sequence trap: 20 devices push concurrently while 3 pullers pull in a loop; every
/// puller ends with every movement exactly once, in increasing `server_seq`.
pub fn concurrent_pushes_never_make_a_pull_skip(storage: &dyn Storage) {
    const DEVICES: usize = 20;
    const BATCHES: i64 = 10;
    const BATCH: i64 = 5;
    const PULLERS: usize = 3;
    let w = world(storage);
    let products: Vec<ProductId> = (0..4)
        .map(|i| {
            let p = product(&format!("CONC-{i}"));
            storage.save_product(w.manager, &p, NOW).unwrap();
            p.id
        })
        .collect();
    let who = pusher(w.manager, Role::Manager, &[]);
    let devices: Vec<DeviceId> = (0..DEVICES).map(|_| device(storage, w.manager)).collect();
    let observers: Vec<DeviceId> = (0..PULLERS).map(|_| device(storage, w.manager)).collect();
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);

    let (pushed, pulled) = std::thread::scope(|scope| {
        let pullers: Vec<_> = observers
            .iter()
            .map(|&observer| {
                let done = &done;
                scope.spawn(move || {
                    let (mut after, mut seen) = (0i64, Vec::<(i64, MovementId)>::new());
                    loop {
                        // Read `done` before pulling: once set, a pull that reaches the head has
                        // seen every movement, so the loop can stop.
                        let finished = done.load(Ordering::SeqCst);
                        let page = storage.pull(observer, after, 37).unwrap();
                        seen.extend(page.movements.iter().map(|m| (m.server_seq.unwrap(), m.id)));
                        after = page.next_after;
                        if finished && !page.has_more {
                            return seen;
                        }
                        if !page.has_more {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        assert!(Instant::now() < deadline, "pullers did not catch up");
                    }
                })
            })
            .collect();
        let pushers: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let who = &who;
                let (product, location, manager) = (products[i % products.len()], w.location, w.manager);
                scope.spawn(move || {
                    let mut ids = Vec::new();
                    for batch in 0..BATCHES {
                        let moves: Vec<Movement> = (1..=BATCH)
                            .map(|k| {
                                let seq = batch * BATCH + k;
                                let kind = if seq % 3 == 0 { MovementKind::Issue } else { MovementKind::Receive };
                                let qty = if kind == MovementKind::Issue { -1 } else { 2 };
                                movement(d, seq, manager, kind, product, location, qty)
                            })
                            .collect();
                        for o in push(storage, who, d, &moves).unwrap() {
                            server_seq(&o.outcome);
                        }
                        ids.extend(moves.iter().map(|m| m.id));
                    }
                    ids
                })
            })
            .collect();
        let pushed: Vec<MovementId> = pushers.into_iter().flat_map(|h| h.join().unwrap()).collect();
        done.store(true, Ordering::SeqCst);
        let pulled: Vec<Vec<(i64, MovementId)>> = pullers.into_iter().map(|h| h.join().unwrap()).collect();
        (pushed, pulled)
    });
    let elapsed = started.elapsed();

    let expected: HashSet<MovementId> = pushed.iter().copied().collect();
    assert_eq!(expected.len(), DEVICES * (BATCHES * BATCH) as usize);
    for (puller, seen) in pulled.iter().enumerate() {
        assert!(seen.windows(2).all(|p| p[0].0 < p[1].0), "puller {puller}: server_seq strictly increases");
        let ids: HashSet<MovementId> = seen.iter().map(|(_, id)| *id).collect();
        assert_eq!(ids.len(), seen.len(), "puller {puller}: no movement twice");
        let skipped = expected.difference(&ids).count();
        assert_eq!(skipped, 0, "puller {puller} skipped {skipped} of {} movements", expected.len());
        assert_eq!(ids.len(), expected.len(), "puller {puller}: nothing but the pushed movements");
    }
    println!(
        "concurrent_pushes_never_make_a_pull_skip: {} devices x {} movements, {} pullers: {:.2?}",
        DEVICES,
        BATCHES * BATCH,
        PULLERS,
        elapsed
    );
}

/// Eight devices void the same movement at once: exactly one void is accepted, the level drops
/// the movement once.
pub fn concurrent_voids_of_one_movement_accept_one(storage: &dyn Storage) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let d = device(storage, w.manager);
    let receive = movement(d, 1, w.manager, MovementKind::Receive, w.product, w.location, 10);
    let issue = movement(d, 2, w.manager, MovementKind::Issue, w.product, w.location, -4);
    push(storage, &who, d, &[receive, issue.clone()]).unwrap();
    let devices: Vec<DeviceId> = (0..8).map(|_| device(storage, w.manager)).collect();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .map(|&v| {
                let (who, issue) = (&who, &issue);
                scope.spawn(move || push(storage, who, v, &[void(v, 1, w.manager, issue)]).unwrap().remove(0).outcome)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = outcomes.iter().filter(|o| !matches!(o, Outcome::Rejected { .. })).count();
    assert_eq!(accepted, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Rejected { .. }))
        .all(|o| rejection_code(o) == "void_refused"));
    assert_eq!(on_hand(storage, w.product, w.location), 10);
}

/// Copies of one movement (a database copied to several PCs, each registered anew) pushed at
/// once: every copy gets the one stored outcome and the movement counts once.
pub fn concurrent_copies_of_one_movement_count_once(storage: &dyn Storage) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let devices: Vec<DeviceId> = (0..8).map(|_| device(storage, w.manager)).collect();
    let original = movement(devices[0], 1, w.manager, MovementKind::Receive, w.product, w.location, 3);
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .map(|&d| {
                let (who, copy) = (&who, Movement { device_id: d, ..original.clone() });
                scope.spawn(move || push(storage, who, d, &[copy]).unwrap().remove(0).outcome)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(outcomes.windows(2).all(|p| p[0] == p[1]), "{outcomes:?}");
    server_seq(&outcomes[0]);
    assert_eq!(on_hand(storage, w.product, w.location), 3);
}

/// A device retries a batch while the first request is still running (six requests at once):
/// every request gets the same outcomes and each movement counts once.
pub fn concurrent_retries_of_one_batch_get_the_same_outcomes(storage: &dyn Storage) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let d = device(storage, w.manager);
    let batch: Vec<Movement> =
        (1..=5).map(|s| movement(d, s, w.manager, MovementKind::Receive, w.product, w.location, 1)).collect();
    let answers: Vec<Vec<MovementOutcome>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (who, batch) = (&who, &batch);
                scope.spawn(move || push(storage, who, d, batch).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(answers.windows(2).all(|p| p[0] == p[1]), "{answers:?}");
    assert_eq!(on_hand(storage, w.product, w.location), 5);
    assert_eq!(storage.register_device(w.manager, d, "again", NOW).unwrap(), 5);
}
