//! The ledger's rules, through the store's public API: levels, the negative-stock policy,
//! counts absorbing late movements, transfers, voids, the outbox, reconcile.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{Fixture, T0};
use smartstock_core::ids::NewRandom;
use smartstock_core::wire::{MovementOutcome, Outcome};
use smartstock_core::{AlertKind, DeviceId, MovementIntent, MovementKind, NegativeStockPolicy, ReasonCode, Timestamp};
use smartstock_store::StoreError;

#[test]
fn receive_and_issue_move_the_level_and_number_the_device_gaplessly() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 10);
    let sale = f.issue(p, l, 3).unwrap().movements.remove(0);
    assert_eq!(f.store.level(p, l).unwrap(), 7);
    assert_eq!((sale.qty_before, sale.qty_after, sale.delta, sale.device_seq), (10, 7, Some(-3), 2));
    assert_eq!(sale.reason, Some(ReasonCode::Sale));
}

#[test]
fn forbidden_negative_stock_names_everything_and_writes_nothing() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 2);
    let pending_before = f.store.pending_count().unwrap();
    let err = f.issue(p, l, 5).unwrap_err();
    assert!(matches!(err, StoreError::NegativeStock { .. }), "{err:?}");
    let text = err.to_string();
    for part in ["SKU-1", "WH1", "2 on hand", "5 requested"] {
        assert!(text.contains(part), "{text:?} lacks {part:?}");
    }
    assert_eq!(err.code(), "negative_stock");
    assert_eq!(f.store.level(p, l).unwrap(), 2);
    assert_eq!(f.store.pending_count().unwrap(), pending_before);
    // The refused movement used no sequence number: the next one follows without a gap.
    assert_eq!(f.issue(p, l, 2).unwrap().movements[0].device_seq, 2);
}

#[test]
fn allow_policy_globally_or_per_product() {
    let f = Fixture::new();
    let (p, q, l) = (f.product("SKU-1"), f.product("SKU-2"), f.location("WH1"));
    let mut allowed = f.store.product(q).unwrap();
    allowed.negative_stock = Some(NegativeStockPolicy::Allow);
    f.store.update_product(f.actor, &allowed).unwrap();
    assert!(f.issue(p, l, 1).is_err());
    assert_eq!(f.issue(q, l, 1).unwrap().movements[0].qty_after, -1);
    f.store.set_negative_stock_policy(NegativeStockPolicy::Allow).unwrap();
    assert_eq!(f.issue(p, l, 4).unwrap().movements[0].qty_after, -4);
    // A product override of forbid beats a global allow.
    let mut forbidden = f.store.product(p).unwrap();
    forbidden.negative_stock = Some(NegativeStockPolicy::Forbid);
    f.store.update_product(f.actor, &forbidden).unwrap();
    assert!(f.issue(p, l, 1).is_err());
}

#[test]
fn a_count_absorbs_a_late_movement_that_occurred_before_it() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 10);
    f.clock.advance(60_000);
    f.count(p, l, 8);
    assert_eq!(f.store.level(p, l).unwrap(), 8);
    // A sale that happened before the count is recorded late (e.g. from a paper slip).
    let late =
        MovementIntent::Issue { product_id: p, location_id: l, quantity: 2, reason: None, reference: None, note: None };
    let rec = f.store.record_at(f.actor, &late, Some(Timestamp(T0 + 30_000))).unwrap();
    assert_eq!(f.store.level(p, l).unwrap(), 8, "the shelf already showed the sale");
    assert_eq!(rec.movements[0].qty_after, 8);
    // A sale after the count moves the level.
    f.clock.advance(1_000);
    f.issue(p, l, 1).unwrap();
    assert_eq!(f.store.level(p, l).unwrap(), 7);
    // A count recorded late that occurred before the latest one changes nothing.
    let old_count = MovementIntent::Count { product_id: p, location_id: l, counted_qty: 100, note: None };
    f.store.record_at(f.actor, &old_count, Some(Timestamp(T0 + 1))).unwrap();
    assert_eq!(f.store.level(p, l).unwrap(), 7);
    assert!(f.store.reconcile(false).unwrap().differences.is_empty());
}

#[test]
fn a_count_recorded_late_between_movements_recomputes_from_the_ledger() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 10);
    f.clock.advance(10_000);
    f.issue(p, l, 4).unwrap();
    // A count of 20 that occurred between the two: level = 20 - 4.
    let count = MovementIntent::Count { product_id: p, location_id: l, counted_qty: 20, note: None };
    f.store.record_at(f.actor, &count, Some(Timestamp(T0 + 5_000))).unwrap();
    assert_eq!(f.store.level(p, l).unwrap(), 16);
}

#[test]
fn one_step_transfer_balances_and_two_step_is_in_transit_until_received() {
    let f = Fixture::new();
    let (p, a, b) = (f.product("SKU-1"), f.location("A"), f.location("B"));
    f.receive(p, a, 10);
    let t = MovementIntent::Transfer { product_id: p, from: a, to: b, quantity: 4, note: None };
    let rec = f.store.record(f.actor, &t).unwrap();
    assert_eq!(rec.movements.len(), 2);
    assert_eq!(rec.movements[0].reference, rec.movements[1].reference);
    assert_eq!((f.store.level(p, a).unwrap(), f.store.level(p, b).unwrap()), (6, 4));
    assert!(f.store.in_transit().unwrap().is_empty());

    let dispatch = MovementIntent::Dispatch { product_id: p, from: a, to: b, quantity: 5, note: None };
    let out = f.store.record(f.actor, &dispatch).unwrap().movements.remove(0);
    assert_eq!((f.store.level(p, a).unwrap(), f.store.level(p, b).unwrap()), (1, 4));
    let transit = f.store.in_transit().unwrap();
    assert_eq!(transit.len(), 1);
    assert_eq!((transit[0].quantity, transit[0].from_code.as_str(), transit[0].to_code.as_str()), (5, "A", "B"));
    let product = f.store.product(p).unwrap();
    assert_eq!((transit[0].unit.as_str(), transit[0].unit_scale), (product.unit.as_str(), product.unit_scale));
    let transfer_id = out.transfer_id().unwrap();
    assert_eq!(transit[0].transfer_id, transfer_id);

    let too_many = MovementIntent::ReceiveTransfer { transfer_id, quantity: Some(6), note: None };
    assert_eq!(f.store.record(f.actor, &too_many).unwrap_err().code(), "invalid");
    let receive = MovementIntent::ReceiveTransfer { transfer_id, quantity: None, note: None };
    let inn = f.store.record(f.actor, &receive).unwrap().movements.remove(0);
    assert_eq!((inn.kind, inn.location_id, inn.delta), (MovementKind::TransferIn, b, Some(5)));
    assert_eq!(f.store.level(p, b).unwrap(), 9);
    assert!(f.store.in_transit().unwrap().is_empty());
    assert_eq!(f.store.record(f.actor, &receive).unwrap_err().code(), "conflict");
    // Voiding a received dispatch is refused until the receipt is voided.
    let void_out = MovementIntent::Void { movement_id: out.id, note: "wrong".into() };
    assert_eq!(f.store.record(f.actor, &void_out).unwrap_err().code(), "conflict");
}

#[test]
fn a_transfer_refused_for_negative_stock_writes_neither_side() {
    let f = Fixture::new();
    let (p, a, b) = (f.product("SKU-1"), f.location("A"), f.location("B"));
    f.receive(p, a, 1);
    let t = MovementIntent::Transfer { product_id: p, from: a, to: b, quantity: 3, note: None };
    assert!(matches!(f.store.record(f.actor, &t), Err(StoreError::NegativeStock { .. })));
    assert_eq!((f.store.level(p, a).unwrap(), f.store.level(p, b).unwrap()), (1, 0));
    assert_eq!(f.store.pending_count().unwrap(), 1);
}

#[test]
fn void_cancels_a_movement_once_even_a_count_that_absorbed_others() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    let receipt = f.receive(p, l, 10);
    f.clock.advance(1_000);
    let count = f.count(p, l, 7);
    f.clock.advance(1_000);
    f.issue(p, l, 2).unwrap();
    assert_eq!(f.store.level(p, l).unwrap(), 5);
    // Voiding the count: the level falls back to the deltas: 10 - 2.
    let void = MovementIntent::Void { movement_id: count.id, note: "counted the wrong shelf".into() };
    let v = f.store.record(f.actor, &void).unwrap().movements.remove(0);
    assert_eq!((v.kind, v.qty_before, v.qty_after), (MovementKind::Void, 5, 8));
    assert_eq!(f.store.level(p, l).unwrap(), 8);
    assert_eq!(f.store.record(f.actor, &void).unwrap_err().code(), "conflict");
    let void_void = MovementIntent::Void { movement_id: v.id, note: "undo".into() };
    assert_eq!(f.store.record(f.actor, &void_void).unwrap_err().code(), "conflict");
    // Voiding the receipt would leave -2 on hand: forbidden by default.
    let void_receipt = MovementIntent::Void { movement_id: receipt.id, note: "never came".into() };
    assert!(matches!(f.store.record(f.actor, &void_receipt), Err(StoreError::NegativeStock { .. })));
    assert!(f.store.reconcile(false).unwrap().differences.is_empty());
}

#[test]
fn reconcile_detects_and_repairs_a_tampered_level() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 10);
    assert!(f.store.reconcile(false).unwrap().differences.is_empty());
    f.raw().execute("UPDATE levels SET on_hand = 999", []).unwrap();
    let report = f.store.reconcile(false).unwrap();
    assert_eq!(report.differences.len(), 1);
    assert_eq!((report.differences[0].cached, report.differences[0].computed), (Some(999), 10));
    assert_eq!(f.store.level(p, l).unwrap(), 999, "a report alone changes nothing");
    assert!(f.store.reconcile(true).unwrap().repaired);
    assert_eq!(f.store.level(p, l).unwrap(), 10);
    assert!(f.store.reconcile(false).unwrap().differences.is_empty());
}

#[test]
fn the_ledger_refuses_updates_and_deletes_of_movements() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    f.receive(p, l, 10);
    let raw = f.raw();
    let update = raw.execute("UPDATE movements SET delta = 99", []).unwrap_err().to_string();
    assert!(update.contains("immutable"), "{update}");
    assert!(raw.execute("DELETE FROM movements", []).unwrap_err().to_string().contains("never deleted"));
    assert!(raw.execute("DELETE FROM catalog_audit", []).is_err());
}

#[test]
fn outbox_acknowledge_accepts_rejects_and_ignores_replays() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    let a = f.receive(p, l, 10);
    let b = f.issue(p, l, 3).unwrap().movements.remove(0);
    let c = f.issue(p, l, 1).unwrap().movements.remove(0);
    let pending = f.store.pending(10).unwrap();
    assert_eq!(pending.iter().map(|m| m.device_seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    let outcomes = vec![
        MovementOutcome { id: a.id, device_seq: 1, outcome: Outcome::Accepted { server_seq: 100 } },
        MovementOutcome {
            id: b.id,
            device_seq: 2,
            outcome: Outcome::Rejected { code: "location_not_assigned".into(), message: "not your location".into() },
        },
    ];
    let summary = f.store.acknowledge(&outcomes).unwrap();
    assert_eq!((summary.accepted, summary.rejected), (1, 1));
    // The rejected sale no longer counts, c still does (a rejection blocks nothing behind it).
    assert_eq!(f.store.level(p, l).unwrap(), 9);
    assert_eq!(f.store.pending(10).unwrap(), vec![c.clone()]);
    let rejected = f.store.rejected_movements().unwrap();
    assert_eq!((rejected.len(), rejected[0].code.as_str()), (1, "location_not_assigned"));
    let alerts = f.store.open_alerts().unwrap();
    assert_eq!((alerts.len(), alerts[0].kind), (1, AlertKind::RejectedMovement));
    // A replayed response changes nothing.
    assert_eq!(f.store.acknowledge(&outcomes).unwrap().already_answered, 2);
    assert_eq!(f.store.level(p, l).unwrap(), 9);
    assert!(f.store.reconcile(false).unwrap().differences.is_empty());
    f.store.resolve_alert(f.actor, alerts[0].id).unwrap();
    assert!(f.store.open_alerts().unwrap().is_empty());
}

#[test]
fn rebinding_the_device_resequences_only_unsent_movements() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    let a = f.receive(p, l, 10);
    f.issue(p, l, 1).unwrap();
    f.issue(p, l, 1).unwrap();
    f.store
        .acknowledge(&[MovementOutcome { id: a.id, device_seq: 1, outcome: Outcome::Accepted { server_seq: 1 } }])
        .unwrap();
    let new_id = DeviceId::new_random();
    assert_eq!(f.store.rebind_device(new_id).unwrap(), 2);
    let pending = f.store.pending(10).unwrap();
    assert!(pending.iter().all(|m| m.device_id == new_id));
    assert_eq!(pending.iter().map(|m| m.device_seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(f.issue(p, l, 1).unwrap().movements[0].device_seq, 3);
    assert_eq!(f.store.device_id().unwrap(), new_id);
    assert!(f.store.reconcile(false).unwrap().differences.is_empty(), "checksums ignore the device identity");
}

#[test]
fn bad_intents_are_refused_with_the_field_named() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    let zero = MovementIntent::Receive { product_id: p, location_id: l, quantity: 0, reference: None, note: None };
    match f.store.record(f.actor, &zero).unwrap_err() {
        StoreError::Invalid(e) => assert_eq!(e.field, "quantity"),
        other => panic!("{other:?}"),
    }
    let unknown = MovementIntent::Receive {
        product_id: smartstock_core::ProductId::new_random(),
        location_id: l,
        quantity: 1,
        reference: None,
        note: None,
    };
    let err = f.store.record(f.actor, &unknown).unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert!(err.to_string().starts_with("product "), "{err}");
    let overflow =
        MovementIntent::Receive { product_id: p, location_id: l, quantity: i64::MAX, reference: None, note: None };
    assert_eq!(f.store.record(f.actor, &overflow).unwrap_err().code(), "invalid");
    assert_eq!(f.store.pending_count().unwrap(), 0);
}

#[test]
fn archived_locations_take_no_new_movements() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("OLD"));
    let mut loc = f.store.location(l).unwrap();
    loc.archived = true;
    f.store.update_location(f.actor, &loc).unwrap();
    let err = f
        .store
        .record(
            f.actor,
            &MovementIntent::Receive { product_id: p, location_id: l, quantity: 1, reference: None, note: None },
        )
        .unwrap_err();
    assert!(err.to_string().contains("OLD is archived"), "{err}");
}

#[test]
fn the_store_is_safe_from_many_threads() {
    let f = Fixture::new();
    let (p, l) = (f.product("SKU-1"), f.location("WH1"));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    f.receive(p, l, 1);
                }
            });
        }
    });
    assert_eq!(f.store.level(p, l).unwrap(), 200);
    let mut seqs: Vec<i64> = f.store.pending(1000).unwrap().iter().map(|m| m.device_seq).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
}
