//! The storage backend suite: one function per behaviour of the `Storage` contract, each taking a
//! fresh, empty `&dyn Storage`, so every backend (PostgreSQL in `postgres_backend.rs`, SQLite in
//! `sqlite_backend.rs`) runs the same list and must give the same answers. `backend_tests!` expands
//! the list into one `#[test]` per function for a backend's opener. This file holds the macro and
//! the fixtures; the behaviours live in topical modules (`auth`, `push`, `feed`, `concurrency`,
//! `operations`).
//!
//! Must not: know which backend it runs on, or share data between functions (each gets its own
//! database or schema).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use smartstock_core::wire::{MovementOutcome, Outcome, PushRequest, WIRE_VERSION};
use smartstock_core::{
    AlertKind, DeviceId, LedgerDigest, Location, LocationId, LocationKind, Movement, MovementId, MovementKind, Product,
    ProductId, ReasonCode, Timestamp, UserId,
};
use smartstock_server::storage::{
    api_rate_key, NewUser, PageRequest, Pusher, RateLimit, Role, Storage, StorageError, TokenHashes,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

mod auth;
mod catalog;
mod concurrency;
mod feed;
mod operations;
mod push;

pub use auth::*;
pub use catalog::*;
pub use concurrency::*;
pub use feed::*;
pub use operations::*;
pub use push::*;

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
            catalog_edits_merge_per_field_and_the_loser_is_told,
            catalog_created_twice_offline_keeps_the_first_and_aliases_the_newcomer,
            catalog_push_is_for_managers_and_the_device_owner,
            rate_limit_counts_per_window,
            authenticate_finds_the_session_and_counts_the_api_limit,
            authenticate_and_pull_answers_as_authenticate_then_pull,
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
