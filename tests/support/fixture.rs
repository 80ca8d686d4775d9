//! The world of the process-level tests: a server database with a small catalog and users,
//! desktops signed in once (session in a token file), random movements of every kind, and the
//! final check that every recorded movement is on the server exactly once and every level and
//! checksum agrees with the server and the level rule.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::credentials::FileCredentials;
use smartstock_core::ids::NewRandom;
use smartstock_core::level::{entries_of, level_of};
use smartstock_core::{
    DeviceId, LedgerDigest, Location, LocationId, LocationKind, MovementId, MovementIntent, Product, ProductId,
    ReasonCode, Timestamp, UserId,
};
use smartstock_server::auth::hash_password;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{NewUser, Role, Storage};
use smartstock_store::{Actor, Store};
use smartstock_sync::ServerClient;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const PASSWORD: &str = "Kill-Pass-1234";

pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A server database with two locations, three products and the users `names` (managers).
pub struct World {
    pub dir: tempfile::TempDir,
    pub database: PathBuf,
    pub products: Vec<ProductId>,
    pub locations: Vec<LocationId>,
}

pub fn world(names: &[&str]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("server.db");
    let storage = SqliteStorage::open(&database).unwrap();
    let admin = UserId::new_random();
    let locations: Vec<LocationId> = (0..2)
        .map(|i| {
            let l = Location {
                id: LocationId::new_random(),
                code: format!("L{i}"),
                name: format!("Location {i}"),
                kind: LocationKind::Warehouse,
                parent_id: None,
                archived: false,
            };
            storage.save_location(admin, &l, Timestamp(1)).unwrap();
            l.id
        })
        .collect();
    let products: Vec<ProductId> = (0..3)
        .map(|i| {
            let p = Product {
                id: ProductId::new_random(),
                sku: format!("K{i}"),
                name: format!("Product {i}"),
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
            storage.save_product(admin, &p, Timestamp(1)).unwrap();
            p.id
        })
        .collect();
    let hash = hash_password(PASSWORD).unwrap();
    for name in names {
        let user = NewUser {
            username: (*name).into(),
            password_hash: hash.clone(),
            role: Role::Manager,
            must_change_password: false,
            locations: vec![],
        };
        storage.create_user(&user, Timestamp(1)).unwrap();
    }
    World { dir, database, products, locations }
}

/// A desktop's ledger file and session (the token file), signed in once.
pub struct Desk {
    pub path: PathBuf,
    pub tokens: PathBuf,
    pub actor: Actor,
}

pub async fn desk(world: &World, base: &str, name: &str) -> Desk {
    let tokens = world.dir.path().join(format!("{name}.token"));
    let client = ServerClient::new(base, Arc::new(FileCredentials::new(&tokens))).unwrap();
    let user = client.sign_in(name, PASSWORD).await.unwrap();
    let path = world.dir.path().join(format!("{name}.db"));
    Desk { path, tokens, actor: Actor { user_id: user.id } }
}

/// Records `count` random movements (receipts, sales, adjustments, counts, transfers, voids);
/// returns the ids of those recorded (refusals, e.g. negative stock, are part of the game).
pub fn record_some(store: &Store, actor: Actor, world: &World, rng: &mut Rng, count: usize) -> Vec<MovementId> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let product_id = world.products[rng.below(3) as usize];
        let location_id = world.locations[rng.below(2) as usize];
        let intent = match rng.below(10) {
            0..=3 => MovementIntent::Receive {
                product_id,
                location_id,
                quantity: 1 + rng.below(9) as i64,
                reference: None,
                note: None,
            },
            4..=5 => MovementIntent::Issue {
                product_id,
                location_id,
                quantity: 1 + rng.below(3) as i64,
                reason: None,
                reference: None,
                note: None,
            },
            6 => MovementIntent::Adjust { product_id, location_id, delta: -1, reason: ReasonCode::Damaged, note: None },
            7 => MovementIntent::Count { product_id, location_id, counted_qty: rng.below(20) as i64, note: None },
            8 => {
                let to = world.locations.iter().copied().find(|l| *l != location_id).unwrap();
                MovementIntent::Transfer { product_id, from: location_id, to, quantity: 1, note: None }
            }
            _ => {
                // Its own receipts only: two desktops voiding the same movement is a real
                // conflict (the second void is rejected), not what these tests are about.
                let own = store.device_id().unwrap();
                let history = store.history(product_id, Some(location_id), None, 10).unwrap();
                let Some(target) = history.iter().find(|h| {
                    h.voided_by.is_none()
                        && h.movement.kind == smartstock_core::MovementKind::Receive
                        && h.movement.device_id == own
                }) else {
                    continue;
                };
                MovementIntent::Void { movement_id: target.movement.id, note: "kill test mistake".into() }
            }
        };
        if let Ok(recorded) = store.record(actor, &intent) {
            ids.extend(recorded.movements.iter().map(|m| m.id));
        }
    }
    ids
}

/// Every recorded movement is on the server exactly once; the desktops hold nothing pending or
/// rejected; their levels and checksums equal the server's, which equal the level rule.
pub fn verify(database: &Path, recorded: &HashSet<MovementId>, stores: &[&Store]) {
    let storage = SqliteStorage::open(database).unwrap();
    let (mut after, mut movements) = (0, Vec::new());
    loop {
        let page = storage.pull(DeviceId::new_random(), after, 10_000).unwrap();
        movements.extend(page.movements);
        after = page.next_after;
        if !page.has_more {
            break;
        }
    }
    let ids: HashSet<MovementId> = movements.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), movements.len(), "a movement is on the server twice");
    let missing: Vec<_> = recorded.difference(&ids).collect();
    let extra: Vec<_> = ids.difference(recorded).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the server lacks {} recorded movements ({:?}…) and holds {} never recorded ({:?}…)",
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
    let mut by_pair: HashMap<(ProductId, LocationId), Vec<smartstock_core::Movement>> = HashMap::new();
    for m in movements {
        by_pair.entry((m.product_id, m.location_id)).or_default().push(m);
    }
    let stock = storage.stock(None).unwrap();
    assert_eq!(stock.len(), by_pair.len());
    for level in &stock {
        let pair = (level.product_id, level.location_id);
        let rule = level_of(&entries_of(&by_pair[&pair])).unwrap().on_hand;
        assert_eq!(level.on_hand, rule, "server level vs the level rule for {pair:?}");
        assert_eq!(level.checksum, LedgerDigest::of_all(&by_pair[&pair]).to_string());
        for (i, store) in stores.iter().enumerate() {
            assert_eq!(store.level(pair.0, pair.1).unwrap(), level.on_hand, "desktop {i} level for {pair:?}");
            assert_eq!(store.checksum(pair.0, pair.1).unwrap().to_string(), level.checksum, "desktop {i} checksum");
        }
    }
    for store in stores {
        assert_eq!(store.pending_count().unwrap(), 0);
        assert!(store.rejected_movements().unwrap().is_empty(), "{:?}", store.rejected_movements().unwrap());
    }
}
