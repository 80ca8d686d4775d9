//! Concurrent pushes and pulls: the sequence trap (no pull ever skips), and one outcome for concurrent voids, copies and retries.

use super::*;

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
