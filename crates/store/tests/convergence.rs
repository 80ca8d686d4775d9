//! The promise of the ledger, as a property: any set of movements (deltas, counts, voids from
//! several devices, close together in time) gives the same level and checksum on every store,
//! whatever order and batching they arrive in, and that level is the level rule of
//! `smartstock-core` over the set.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{location, low_levels_kept_and_by_rule, product, Fixture, T0};
use proptest::prelude::*;
use smartstock_core::ids::NewRandom;
use smartstock_core::level::{entries_of, level_of};
use smartstock_core::wire::{PullPage, WIRE_VERSION};
use smartstock_core::{
    DeviceId, LedgerDigest, LocationId, Movement, MovementId, MovementKind, ProductId, ReasonCode, Timestamp, UserId,
};
use uuid::Uuid;

#[derive(Clone, Debug)]
enum Op {
    Delta { pair: usize, device: usize, at: i64, delta: i64 },
    Count { pair: usize, device: usize, at: i64, counted: i64 },
    Void { target: usize, device: usize, at: i64 },
}

fn arb_ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0..4usize, 0..3usize, 0..30i64, -20..20i64)
            .prop_map(|(pair, device, at, delta)| Op::Delta { pair, device, at, delta: if delta == 0 { 1 } else { delta } }),
        2 => (0..4usize, 0..3usize, 0..30i64, 0..40i64).prop_map(|(pair, device, at, counted)| Op::Count { pair, device, at, counted }),
        1 => (0..64usize, 0..3usize, 0..30i64).prop_map(|(target, device, at)| Op::Void { target, device, at }),
    ];
    prop::collection::vec(op, 1..40)
}

struct World {
    products: Vec<smartstock_core::Product>,
    locations: Vec<smartstock_core::Location>,
    devices: Vec<DeviceId>,
    user: UserId,
}

impl World {
    fn new() -> World {
        World {
            // P-1 has a reorder point its levels cross (the low levels the stock filter keeps).
            products: vec![smartstock_core::Product { reorder_point: 5, ..product("P-1") }, product("P-2")],
            locations: vec![location("L-1"), location("L-2")],
            devices: (0..3).map(|_| DeviceId::new_random()).collect(),
            user: UserId::new_random(),
        }
    }

    fn pair(&self, i: usize) -> (ProductId, LocationId) {
        (self.products[i % 2].id, self.locations[i / 2].id)
    }

    /// Turns ops into valid movements: ids unique, per-device sequences gapless, each void
    /// cancelling a distinct earlier non-void movement.
    fn movements(&self, ops: &[Op]) -> Vec<Movement> {
        let mut out: Vec<Movement> = Vec::new();
        let mut seqs = [0i64; 3];
        let mut voided = std::collections::HashSet::new();
        for (n, op) in ops.iter().enumerate() {
            let (device, at) = match op {
                Op::Delta { device, at, .. } | Op::Count { device, at, .. } | Op::Void { device, at, .. } => {
                    (*device, *at)
                }
            };
            let base = |pair: usize, kind: MovementKind| {
                let (product_id, location_id) = self.pair(pair);
                Movement {
                    // Ids deliberately not in time order, so ties at equal `at` break by id.
                    id: MovementId(Uuid::from_u128(((n as u128 * 2_654_435_761) % 1_000_003) << 64 | n as u128)),
                    device_id: self.devices[device],
                    device_seq: 0,
                    user_id: self.user,
                    kind,
                    product_id,
                    location_id,
                    delta: None,
                    counted_qty: None,
                    reason: None,
                    note: None,
                    reference: None,
                    peer_location_id: None,
                    occurred_at: Timestamp(T0 + at * 1000),
                    recorded_at: Timestamp(T0 + at * 1000),
                    server_seq: None,
                    qty_before: 0,
                    qty_after: 0,
                }
            };
            let movement = match op {
                Op::Delta { pair, delta, .. } => Movement {
                    delta: Some(*delta),
                    reason: Some(ReasonCode::Correction),
                    ..base(*pair, MovementKind::Adjust)
                },
                Op::Count { pair, counted, .. } => {
                    Movement { counted_qty: Some(*counted), ..base(*pair, MovementKind::Count) }
                }
                Op::Void { target, .. } => {
                    let candidates: Vec<&Movement> =
                        out.iter().filter(|m| m.kind != MovementKind::Void && !voided.contains(&m.id)).collect();
                    if candidates.is_empty() {
                        continue;
                    }
                    let victim = candidates[target % candidates.len()];
                    voided.insert(victim.id);
                    let pair = (0..4).find(|p| self.pair(*p) == (victim.product_id, victim.location_id)).unwrap();
                    Movement { reference: Some(victim.id.to_string()), ..base(pair, MovementKind::Void) }
                }
            };
            seqs[device] += 1;
            out.push(Movement { device_seq: seqs[device], ..movement });
        }
        out
    }

    fn store(&self) -> Fixture {
        let f = Fixture::new();
        for p in &self.products {
            f.store.create_product(f.actor, p).unwrap();
        }
        for l in &self.locations {
            f.store.create_location(f.actor, l).unwrap();
        }
        f
    }
}

/// `movements` as consecutive pull pages of `size` movements, `has_more` on all but the last.
fn pull_pages(movements: &[Movement], size: usize) -> impl Iterator<Item = PullPage> + '_ {
    let pages = movements.len().div_ceil(size);
    movements.chunks(size).enumerate().map(move |(i, chunk)| PullPage {
        v: WIRE_VERSION,
        movements: chunk.to_vec(),
        products: vec![],
        locations: vec![],
        alerts: vec![],
        stamps: vec![],
        notices: vec![],
        next_after: i as i64 + 1,
        has_more: i + 1 < pages,
    })
}

/// Each product's count of product × location pairs, as the stock search keeps it.
fn product_pairs(f: &Fixture) -> Vec<(String, i64)> {
    let raw = f.raw();
    let mut stmt = raw
        .prepare(
            "SELECT p.sku, pp.pairs FROM product_pairs pp JOIN products p ON p.rowid = pp.product_rowid \
             WHERE pp.pairs > 0 ORDER BY p.sku",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn deferred_schema_is_back(f: &Fixture) -> bool {
    f.raw()
        .query_row(
            "SELECT count(*) FROM sqlite_schema \
             WHERE name IN ('movements_pair', 'product_pairs_insert', 'low_levels_insert')",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        == 3
}

fn shuffle<T>(items: &mut [T], mut state: u64) {
    for i in (1..items.len()).rev() {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        items.swap(i, (state >> 33) as usize % (i + 1));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_arrival_order_converges_to_the_level_rule(ops in arb_ops(), seed in any::<u64>(), batch in 1usize..7) {
        let world = World::new();
        let movements = world.movements(&ops);
        let in_order = world.store();
        in_order.store.apply_remote(&movements).unwrap();

        let mut shuffled = movements.clone();
        shuffle(&mut shuffled, seed);
        let batched = world.store();
        for chunk in shuffled.chunks(batch) {
            batched.store.apply_remote(chunk).unwrap();
        }
        // Replaying everything again (a lost pull response) changes nothing.
        prop_assert_eq!(batched.store.apply_remote(&shuffled).unwrap(), 0);

        // A first sync's bulk path, pages of `batch` movements in the same shuffled order.
        let first = world.store();
        let mut pages = pull_pages(&shuffled, batch);
        let applied = first.store.apply_first_pull(&mut pages.by_ref()).unwrap();
        prop_assert_eq!(applied.movements as usize, movements.len());
        prop_assert_eq!(pages.count(), 0, "every page taken");
        prop_assert_eq!(first.store.apply_remote(&shuffled).unwrap(), 0);
        prop_assert!(deferred_schema_is_back(&first));
        prop_assert_eq!(product_pairs(&first), product_pairs(&batched));
        for store in [&in_order, &batched, &first] {
            let (kept, by_rule) = low_levels_kept_and_by_rule(&store.raw());
            prop_assert_eq!(kept, by_rule, "the low levels kept by triggers (first pull: filled at the end)");
        }

        for pair in 0..4 {
            let (p, l) = world.pair(pair);
            let set: Vec<Movement> =
                movements.iter().filter(|m| (m.product_id, m.location_id) == (p, l)).cloned().collect();
            let expected = level_of(&entries_of(&set)).unwrap().on_hand;
            prop_assert_eq!(in_order.store.level(p, l).unwrap(), expected);
            prop_assert_eq!(batched.store.level(p, l).unwrap(), expected);
            let digest = LedgerDigest::of_all(&set);
            prop_assert_eq!(in_order.store.checksum(p, l).unwrap(), digest);
            prop_assert_eq!(batched.store.checksum(p, l).unwrap(), digest);
            prop_assert_eq!(first.store.level(p, l).unwrap(), expected);
            prop_assert_eq!(first.store.checksum(p, l).unwrap(), digest);
        }
        prop_assert!(in_order.store.reconcile(false).unwrap().differences.is_empty());
        prop_assert!(batched.store.reconcile(false).unwrap().differences.is_empty());
        prop_assert!(first.store.reconcile(false).unwrap().differences.is_empty());
    }
}

#[test]
fn local_records_and_remote_movements_share_one_level() {
    let world = World::new();
    let f = world.store();
    let (p, l) = world.pair(0);
    f.receive(p, l, 5);
    let remote = world.movements(&[Op::Delta { pair: 0, device: 1, at: 100, delta: -7 }]);
    // Remote movements physically happened: never refused, even below zero.
    assert_eq!(f.store.apply_remote(&remote).unwrap(), 1);
    assert_eq!(f.store.level(p, l).unwrap(), -2);
    assert_eq!(f.store.pending_count().unwrap(), 1, "remote movements are not in the outbox");
}

/// A product the device does not hold: its movements come in pages before its row (an edit
/// moved the row to a later feed position).
fn late_product_pages(world: &World) -> (smartstock_core::Product, Vec<Movement>) {
    let late = product("P-LATE");
    let mut movements = world.movements(&[
        Op::Delta { pair: 0, device: 0, at: 1, delta: 5 },
        Op::Delta { pair: 1, device: 1, at: 2, delta: 3 },
        Op::Delta { pair: 2, device: 2, at: 3, delta: 4 },
        Op::Delta { pair: 3, device: 0, at: 4, delta: 2 },
    ]);
    movements[1].product_id = late.id;
    movements[2].product_id = late.id;
    (late, movements)
}

fn page_of(
    movements: Vec<Movement>,
    products: Vec<smartstock_core::Product>,
    next_after: i64,
    has_more: bool,
) -> PullPage {
    PullPage {
        v: WIRE_VERSION,
        movements,
        products,
        locations: vec![],
        alerts: vec![],
        stamps: vec![],
        notices: vec![],
        next_after,
        has_more,
    }
}

#[test]
fn a_movement_met_before_its_product_waits_and_joins_when_the_product_comes() {
    let world = World::new();
    let (late, movements) = late_product_pages(&world);
    let (l0, l1) = (world.pair(1).1, world.pair(2).1);
    for first_sync in [true, false] {
        let f = world.store();
        let pages =
            vec![page_of(movements[..2].to_vec(), vec![], 1, true), page_of(movements[2..].to_vec(), vec![], 2, true)];
        let applied = match first_sync {
            true => f.store.apply_first_pull(&mut pages.into_iter()).unwrap(),
            false => f.store.apply_pull_pages(&pages).unwrap(),
        };
        assert_eq!(applied.movements, 2, "the two of held products");
        assert_eq!(f.store.pulled_waiting().unwrap(), 2, "first_sync: {first_sync}");
        assert_eq!(f.store.apply_remote(&movements).unwrap(), 0, "nothing unknown joins the ledger");

        let applied = f.store.apply_pull(&page_of(vec![], vec![late.clone()], 3, false)).unwrap();
        assert_eq!(applied.movements, 2, "the waiting movements joined with their product");
        assert_eq!(f.store.pulled_waiting().unwrap(), 0);
        assert_eq!(f.store.level(late.id, l0).unwrap(), 3);
        assert_eq!(f.store.level(late.id, l1).unwrap(), 4);
        assert!(f.store.reconcile(false).unwrap().differences.is_empty());
    }
}

#[test]
fn a_first_pull_whose_later_page_brings_the_product_takes_its_movements_at_once() {
    let world = World::new();
    let (late, movements) = late_product_pages(&world);
    let f = world.store();
    let pages = vec![
        page_of(movements[..2].to_vec(), vec![], 1, true),
        page_of(movements[2..].to_vec(), vec![late.clone()], 2, false),
    ];
    let applied = f.store.apply_first_pull(&mut pages.into_iter()).unwrap();
    assert_eq!(applied.movements, 4);
    assert_eq!(f.store.pulled_waiting().unwrap(), 0);
    assert_eq!(f.store.level(late.id, world.pair(2).1).unwrap(), 4);
    assert!(f.store.reconcile(false).unwrap().differences.is_empty());
    assert!(deferred_schema_is_back(&f));
}

#[test]
fn a_ledger_that_holds_movements_takes_one_page_the_usual_way() {
    let world = World::new();
    let movements = world.movements(&[
        Op::Delta { pair: 0, device: 0, at: 1, delta: 5 },
        Op::Count { pair: 0, device: 1, at: 2, counted: 3 },
        Op::Delta { pair: 1, device: 2, at: 3, delta: 4 },
    ]);
    let f = world.store();
    let (p, l) = world.pair(3);
    f.receive(p, l, 7);
    let mut pages = pull_pages(&movements, 1);
    let applied = f.store.apply_first_pull(&mut pages).unwrap();
    assert_eq!((applied.movements, applied.cursor), (1, 1));
    assert_eq!(pages.count(), 2, "the rest is left to the caller");
}
