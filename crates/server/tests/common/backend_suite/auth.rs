//! Users, sessions, token rotation and revocation, rate limits, and the per-request session check.

use super::*;

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

/// `authenticate_and_pull` answers what `authenticate` and then `pull` answer: nothing for an
/// unknown or expired token, else the session (counted in the API window, refused past it with
/// the page still there for the caller to withhold) and every page `pull` gives, cursor and
/// limit included.
pub fn authenticate_and_pull_answers_as_authenticate_then_pull(storage: &dyn Storage) {
    let w = world(storage);
    let who = pusher(w.manager, Role::Manager, &[]);
    let (a, b) = (device(storage, w.manager), device(storage, w.manager));
    let from_a: Vec<_> =
        (1..=4).map(|s| movement(a, s, w.manager, MovementKind::Receive, w.product, w.location, s)).collect();
    let from_b: Vec<_> =
        (1..=3).map(|s| movement(b, s, w.manager, MovementKind::Receive, w.product, w.location, s)).collect();
    push(storage, &who, a, &from_a).unwrap();
    push(storage, &who, b, &from_b).unwrap();
    let alice = user(storage, "alice", Role::Clerk, &[w.location]);
    let mine = tokens(NOW);
    let session = storage.create_session(alice, &mine, NOW).unwrap();
    let limit = RateLimit { window_ms: 60_000, max: 1_000 };
    let t = Timestamp(NOW.millis() + 10);
    let page = |device, after, limit| PageRequest { device, after, limit };

    let (found, pulled) = storage.authenticate_and_pull(&hash("unknown"), limit, t, page(a, 0, 10)).unwrap();
    assert!(found.is_none() && pulled.is_none(), "an unknown token gets nothing");
    let expired = storage.authenticate_and_pull(&mine.access_hash, limit, mine.access_expires_at, page(a, 0, 10));
    assert!(matches!(expired.unwrap(), (None, None)), "an expired token gets nothing");

    for (device, after, size) in [(a, 0, 100), (a, 0, 3), (a, 3, 3), (b, 2, 2), (b, 0, 1), (a, 9, 5)] {
        let (found, pulled) =
            storage.authenticate_and_pull(&mine.access_hash, limit, t, page(device, after, size)).unwrap();
        let (found, within) = found.expect("the session");
        assert_eq!((found.session_id, found.user.id, found.user.locations), (session, alice, vec![w.location]));
        assert!(within);
        assert_eq!(pulled, Some(storage.pull(device, after, size).unwrap()), "after {after}, {size} a page");
    }

    let tight = RateLimit { window_ms: 60_000, max: 6 };
    let (found, pulled) = storage.authenticate_and_pull(&mine.access_hash, tight, t, page(a, 0, 10)).unwrap();
    assert!(!found.expect("the session").1, "the seventh request of the window is past a limit of 6");
    assert!(pulled.is_some());
}
