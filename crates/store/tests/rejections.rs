//! What the user does about movements the server refused: list the open ones, void one (it
//! stays out for good), correct one (the right movement is recorded, the rejection closed), both
//! audited; and what a server restored from an older backup makes the outbox send again.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::Fixture;
use smartstock_core::wire::{MovementOutcome, Outcome};
use smartstock_core::{AlertKind, Movement, MovementIntent};

fn reject(f: &Fixture, movement: &Movement) {
    let outcome = Outcome::Rejected { code: "location_not_assigned".into(), message: "not your location".into() };
    let answer = MovementOutcome { id: movement.id, device_seq: movement.device_seq, outcome };
    assert_eq!(f.store.acknowledge(&[answer]).unwrap().rejected, 1);
}

fn accept(f: &Fixture, movement: &Movement, server_seq: i64) {
    let outcome = Outcome::Accepted { server_seq };
    let answer = MovementOutcome { id: movement.id, device_seq: movement.device_seq, outcome };
    assert_eq!(f.store.acknowledge(&[answer]).unwrap().accepted, 1);
}

fn audit_rows(f: &Fixture, movement: &Movement) -> Vec<(String, Option<String>)> {
    let raw = f.raw();
    let mut stmt = raw
        .prepare("SELECT field, new_value FROM catalog_audit WHERE entity = 'movement' AND entity_id = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([movement.id.0], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn a_voided_rejection_leaves_the_list_and_stays_out_of_the_level() {
    let f = Fixture::new();
    let (p, l) = (f.product("P1"), f.location("L1"));
    let kept = f.receive(p, l, 5);
    let refused = f.receive(p, l, 7);
    accept(&f, &kept, 1);
    reject(&f, &refused);
    assert_eq!(f.store.level(p, l).unwrap(), 5);
    let open = f.store.open_rejections().unwrap();
    assert_eq!(open.iter().map(|r| r.movement.id).collect::<Vec<_>>(), vec![refused.id]);
    assert_eq!(open[0].code, "location_not_assigned");
    let product = (open[0].sku.as_str(), open[0].product_name.as_str(), open[0].unit.as_str(), open[0].unit_scale);
    assert_eq!(product, ("P1", "Product P1", "pcs", 0), "the list names the product and its unit");

    f.store.void_rejected(f.actor, refused.id).unwrap();
    assert!(f.store.open_rejections().unwrap().is_empty());
    assert_eq!(f.store.rejected_movements().unwrap().len(), 1, "the refused row is kept");
    assert_eq!(f.store.level(p, l).unwrap(), 5);
    assert!(f.store.open_alerts().unwrap().iter().all(|a| a.kind != AlertKind::RejectedMovement));
    assert_eq!(audit_rows(&f, &refused), vec![("rejection".into(), Some("voided".into()))]);
    // Neither twice, nor for a movement that was not rejected.
    assert!(f.store.void_rejected(f.actor, refused.id).is_err());
    assert!(f.store.void_rejected(f.actor, kept.id).is_err());
}

#[test]
fn a_correction_records_the_right_movement_when_the_wrong_one_occurred() {
    let f = Fixture::new();
    let (p, wrong, right) = (f.product("P1"), f.location("L1"), f.location("L2"));
    f.clock.advance(60_000);
    let refused = f.receive(p, wrong, 4);
    reject(&f, &refused);
    f.clock.advance(3_600_000);
    let intent =
        MovementIntent::Receive { product_id: p, location_id: right, quantity: 4, reference: None, note: None };
    let corrected = f.store.correct_rejected(f.actor, refused.id, &intent).unwrap().movements;
    assert_eq!(corrected.len(), 1);
    assert_eq!(corrected[0].occurred_at, refused.occurred_at, "it happened when the refused one did");
    assert_eq!((f.store.level(p, wrong).unwrap(), f.store.level(p, right).unwrap()), (0, 4));
    assert_eq!(f.store.pending_count().unwrap(), 1, "the correction waits for the server");
    assert!(f.store.open_rejections().unwrap().is_empty());
    let audit = audit_rows(&f, &refused);
    assert!(audit.contains(&("rejection".into(), Some("corrected".into()))));
    assert!(audit.contains(&("corrected_by".into(), Some(corrected[0].id.to_string()))));
}

#[test]
fn a_correction_that_breaks_the_policy_writes_nothing() {
    let f = Fixture::new();
    let (p, l) = (f.product("P1"), f.location("L1"));
    let refused = f.receive(p, l, 2);
    reject(&f, &refused);
    let intent =
        MovementIntent::Issue { product_id: p, location_id: l, quantity: 3, reason: None, reference: None, note: None };
    assert!(f.store.correct_rejected(f.actor, refused.id, &intent).is_err());
    assert_eq!(f.store.open_rejections().unwrap().len(), 1, "still open");
    assert_eq!(f.store.pending_count().unwrap(), 0);
}

#[test]
fn a_server_restored_from_a_backup_gets_the_lost_movements_again() {
    let f = Fixture::new();
    let (p, l) = (f.product("P1"), f.location("L1"));
    let ms: Vec<Movement> = (0..4).map(|i| f.receive(p, l, 1 + i)).collect();
    accept(&f, &ms[0], 10);
    accept(&f, &ms[1], 11);
    reject(&f, &ms[2]);
    accept(&f, &ms[3], 13);
    let last = f.receive(p, l, 100);
    assert_eq!(f.store.level(p, l).unwrap(), 1 + 2 + 4 + 100);
    let cursor_page = smartstock_core::wire::PullPage {
        v: smartstock_core::wire::WIRE_VERSION,
        stamps: Vec::new(),
        notices: Vec::new(),
        movements: vec![],
        products: vec![],
        locations: vec![],
        alerts: vec![],
        next_after: 20,
        has_more: false,
    };
    f.store.apply_pull(&cursor_page).unwrap();

    // The restored server holds this device's movements up to device_seq 1 (server_seq 10).
    assert_eq!(f.store.resend_after(ms[0].device_seq).unwrap(), 3);
    let pending: Vec<_> = f.store.pending(100).unwrap().iter().map(|m| m.id).collect();
    assert_eq!(pending, vec![ms[1].id, ms[2].id, ms[3].id, last.id], "lost ones first, in their order");
    assert_eq!(f.store.level(p, l).unwrap(), 1 + 2 + 3 + 4 + 100, "the rejected one counts again until answered");
    assert_eq!(f.store.pull_cursor().unwrap(), 10, "the cursor goes back to what the server surely holds");
    // The restored server hands 11 out anew, to the movement it now gets first.
    accept(&f, &ms[2], 11);
    assert_eq!(f.store.pending_count().unwrap(), 3);
    assert!(f.store.rejected_movements().unwrap().is_empty());
}

#[test]
fn numbers_a_restored_server_hands_out_anew_take_over_from_stale_ones() {
    let f = Fixture::new();
    let (p, l) = (f.product("P1"), f.location("L1"));
    let own = f.receive(p, l, 2);
    // Another device's movement, pulled from the server before it was restored, at number 12.
    let other = Movement {
        id: smartstock_core::MovementId::new_v7(),
        device_id: smartstock_core::DeviceId(uuid::Uuid::from_u128(7)),
        device_seq: 1,
        server_seq: Some(12),
        ..own.clone()
    };
    let page = |movements: Vec<Movement>, next_after| smartstock_core::wire::PullPage {
        v: smartstock_core::wire::WIRE_VERSION,
        stamps: Vec::new(),
        notices: Vec::new(),
        movements,
        products: vec![],
        locations: vec![],
        alerts: vec![],
        next_after,
        has_more: false,
    };
    assert_eq!(f.store.apply_pull(&page(vec![other.clone()], 12)).unwrap().movements, 1);
    // The restored server gives 12 to this device's movement (the pulled one gives it up), and
    // later to a third movement pulled anew (this device's gives it up in turn).
    accept(&f, &own, 12);
    let third =
        Movement { id: smartstock_core::MovementId::new_v7(), device_seq: 2, server_seq: Some(12), ..other.clone() };
    assert_eq!(f.store.apply_pull(&page(vec![third], 14)).unwrap().movements, 1, "12 is taken back from `own`");
    assert_eq!(f.store.level(p, l).unwrap(), 6);
    assert_eq!(f.store.pending_count().unwrap(), 0);
}
