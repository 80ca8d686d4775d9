//! Push and pull over HTTP against a real server: exactly-once under replays, cut batches and
//! lost responses; gaps and restored databases refused; no pull ever skips under concurrent
//! pushes (the sequence trap); the last unit sold twice offline; bad input answered with 4xx.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use smartstock_core::wire::Outcome;
use smartstock_core::{AlertKind, LedgerDigest, LocationId, MovementId, MovementKind, ProductId};
use smartstock_server::api::ApiSettings;
use smartstock_server::storage::{Role, Storage};
use std::collections::HashMap;
use support::{location, product, Client, TestServer};

async fn world(server: &TestServer) -> (ProductId, LocationId) {
    let manager = server.user("manager", Role::Manager, &[]).await;
    let (p, l) = (product("SKU-1"), location("WH1"));
    manager.save_product(&p).await;
    manager.save_location(&l).await;
    (p.id, l.id)
}

async fn clerk(server: &TestServer, name: &str, l: LocationId) -> Client {
    let client = server.user(name, Role::Clerk, &[l]).await;
    client.register().await;
    client
}

fn seqs(outcomes: &[smartstock_core::wire::MovementOutcome]) -> Vec<i64> {
    outcomes
        .iter()
        .map(|o| match o.outcome {
            Outcome::Accepted { server_seq } | Outcome::AcceptedFlagged { server_seq, .. } => server_seq,
            Outcome::Rejected { .. } => -1,
        })
        .collect()
}

/// Every movement another device can pull, by id, with how often it came.
async fn pulled_ids(observer: &Client) -> HashMap<MovementId, usize> {
    let (mut after, mut seen) = (0, HashMap::new());
    loop {
        let page = observer.pull(after, 7).await;
        for m in &page.movements {
            *seen.entry(m.id).or_insert(0) += 1;
        }
        after = page.next_after;
        if !page.has_more {
            return seen;
        }
    }
}

#[tokio::test]
async fn replays_cut_batches_and_lost_responses_store_each_movement_once() {
    let server = TestServer::start().await;
    let (p, l) = world(&server).await;
    let mut device = clerk(&server, "clerk", l).await;
    let batch: Vec<_> = (0..4).map(|_| device.movement(MovementKind::Receive, p, l, 2)).collect();
    // A batch cut in the middle: only the first two arrive.
    let first = device.push(&batch[..2]).await;
    // The response was lost: the device resends everything from the start.
    let second = device.push(&batch).await;
    assert_eq!(seqs(&first.outcomes), seqs(&second.outcomes)[..2]);
    // The same batch again.
    let third = device.push(&batch).await;
    assert_eq!(seqs(&second.outcomes), seqs(&third.outcomes));
    let observer = clerk(&server, "observer", l).await;
    let seen = pulled_ids(&observer).await;
    assert_eq!(seen.len(), 4);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    let stock = server.storage.stock(Some(l)).unwrap();
    assert_eq!(stock[0].on_hand, 8);
    // The metrics count what the server did (replayed outcomes count as answered movements).
    let metrics = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("smartstock_pushed_movements_total{outcome=\"accepted\"} 10"), "{metrics}");
    assert!(metrics.contains("smartstock_sync_calls_total{kind=\"push\"} 3"), "{metrics}");
    assert!(metrics.contains("route=\"/api/v1/sync/push\""), "{metrics}");
    // The database connections: SQLite's writer is idle between requests, and counted in max.
    let gauge = |state: &str| -> i64 {
        let line = metrics.lines().find(|l| l.starts_with(&format!("smartstock_db_connections{{state=\"{state}\"}}")));
        line.and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{state}: {metrics}"))
    };
    assert!(gauge("idle") >= 1 && gauge("max") >= gauge("idle") + gauge("in_use"), "{metrics}");
}

#[tokio::test]
async fn a_gap_is_refused_with_the_last_acknowledged_seq_and_nothing_is_written() {
    let server = TestServer::start().await;
    let (p, l) = world(&server).await;
    let mut device = clerk(&server, "clerk", l).await;
    let one = device.movement(MovementKind::Receive, p, l, 1);
    device.push(&[one]).await;
    let _lost = device.movement(MovementKind::Receive, p, l, 1);
    let three = device.movement(MovementKind::Receive, p, l, 1);
    let head = server.storage.head_seq().unwrap();
    let (status, body) = device.push_raw(&[three]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!((body["code"].as_str(), body["last_acknowledged"].as_i64()), (Some("sequence_gap"), Some(1)));
    assert_eq!(server.storage.head_seq().unwrap(), head, "nothing written");
}

#[tokio::test]
async fn a_restored_database_is_told_to_register_anew_and_known_ids_count_once() {
    let server = TestServer::start().await;
    let (p, l) = world(&server).await;
    let mut device = clerk(&server, "clerk", l).await;
    let original = device.movement(MovementKind::Receive, p, l, 5);
    let accepted = device.push(std::slice::from_ref(&original)).await;
    // The laptop is restored from a backup: seq 1 comes again with a different movement.
    let mut restored = device.movement(MovementKind::Issue, p, l, -1);
    restored.device_seq = 1;
    let (status, body) = device.push_raw(&[restored]).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("device_restored")), "{body}");
    // It registers as a new device and re-sequences: the movement the server already holds keeps
    // its outcome under the new number, and is not counted again.
    device.device = smartstock_core::ids::NewRandom::new_random();
    device.register().await;
    let resequenced = smartstock_core::Movement { device_id: device.device, device_seq: 1, ..original.clone() };
    let again = device.push(&[resequenced]).await;
    assert_eq!(seqs(&again.outcomes), seqs(&accepted.outcomes));
    assert_eq!(server.storage.stock(Some(l)).unwrap()[0].on_hand, 5);
}

#[tokio::test]
async fn two_offline_devices_selling_the_last_unit_are_both_kept_with_one_alert() {
    let server = TestServer::start().await;
    let (p, l) = world(&server).await;
    let mut a = clerk(&server, "a", l).await;
    let mut b = clerk(&server, "b", l).await;
    let receipt = a.movement(MovementKind::Receive, p, l, 1);
    a.push(&[receipt]).await;
    let sale_a = a.movement(MovementKind::Issue, p, l, -1);
    let sale_b = b.movement(MovementKind::Issue, p, l, -1);
    let out_a = a.push(&[sale_a]).await;
    let out_b = b.push(std::slice::from_ref(&sale_b)).await;
    // A replay (lost response) gets the same flagged outcome, rebuilt from the stored movement.
    assert_eq!(b.push(&[sale_b]).await.outcomes, out_b.outcomes);
    assert!(matches!(out_a.outcomes[0].outcome, Outcome::Accepted { .. }));
    let Outcome::AcceptedFlagged { alert, .. } = &out_b.outcomes[0].outcome else { panic!("{out_b:?}") };
    assert_eq!((alert.kind, alert.quantity), (AlertKind::NegativeStock, -1));
    assert!(alert.message.contains("SKU-1") && alert.message.contains("WH1"), "{}", alert.message);
    let alerts = server.storage.alerts(true).unwrap();
    assert_eq!(alerts.len(), 1);
    // Both devices see the alert by pulling.
    for device in [&a, &b] {
        assert_eq!(device.pull(0, 100).await.alerts.len(), 1);
    }
    assert_eq!(server.storage.stock(Some(l)).unwrap()[0].on_hand, -1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pullers_never_skip_a_movement_while_twenty_devices_push() {
    let server = TestServer::start().await;
    let (p, l) = world(&server).await;
    let mut devices = Vec::new();
    for i in 0..20 {
        devices.push(clerk(&server, &format!("clerk{i}"), l).await);
    }
    let pullers: Vec<Client> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(clerk(&server, &format!("puller{i}"), l).await);
        }
        v
    };
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut pull_tasks = Vec::new();
    for puller in pullers {
        let done = done.clone();
        pull_tasks.push(tokio::spawn(async move {
            let (mut after, mut seen, mut order) = (0i64, HashMap::new(), Vec::new());
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let page = puller.pull(after, 50).await;
                for m in &page.movements {
                    *seen.entry(m.id).or_insert(0usize) += 1;
                    order.push(m.server_seq.unwrap());
                }
                after = page.next_after;
                if finished && !page.has_more {
                    return (seen, order);
                }
            }
        }));
    }
    let mut push_tasks = Vec::new();
    for mut device in devices {
        push_tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let batch: Vec<_> = (0..5).map(|_| device.movement(MovementKind::Receive, p, l, 1)).collect();
                device.push(&batch).await;
            }
        }));
    }
    for task in push_tasks {
        task.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for task in pull_tasks {
        let (seen, order) = task.await.unwrap();
        assert_eq!(seen.len(), 1000, "every movement reached the puller");
        assert!(seen.values().all(|n| *n == 1), "no movement twice");
        assert!(order.windows(2).all(|w| w[0] < w[1]), "feed order");
    }
    assert_eq!(server.storage.stock(Some(l)).unwrap()[0].on_hand, 1000);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_nothing_half_written() {
    let server = TestServer::start_with(ApiSettings {
        body_limit_bytes: 64 * 1024,
        login_attempts_per_minute: 1000,
        ..ApiSettings::default()
    })
    .await;
    let (p, l) = world(&server).await;
    let mut device = clerk(&server, "clerk", l).await;
    // Malformed JSON and unknown fields.
    let raw = device
        .http
        .post(format!("{}/api/v1/sync/push", device.base))
        .bearer_auth(&device.access)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let (status, body) = device
        .call(Method::POST, "/api/v1/devices", Some(json!({"device_id": device.device, "name": "x", "admin": true})))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_json")), "{body}");
    // A malformed query string or path id: the same JSON error shape.
    let (status, body) = device.call(Method::GET, "/api/v1/sync/pull?device_id=not-a-uuid", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")), "{body}");
    // The session is checked before the query: an unknown token with a malformed query is refused
    // as unauthenticated, and the query is never looked at.
    let mut stranger = server.anonymous();
    for token in ["", "not-an-access-token"] {
        stranger.access = token.into();
        let (status, body) = stranger.call(Method::GET, "/api/v1/sync/pull?device_id=not-a-uuid", None).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{body}");
    }
    let manager = server.login("manager", support::PASSWORD).await.unwrap();
    let (status, body) = manager.call(Method::POST, "/api/v1/alerts/42/resolve", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_path")), "{body}");
    // A body over the limit.
    let huge: Vec<_> = (0..400).map(|_| device.movement(MovementKind::Receive, p, l, 1)).collect();
    let (status, body) = device.push_raw(&huge).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")), "{body}");
    device.next_seq = 1;
    // Overflowing quantity, unknown product, SQL metacharacters: per-movement outcomes.
    let overflow = device.movement(MovementKind::Receive, p, l, i64::MAX);
    let unknown = device.movement(MovementKind::Receive, smartstock_core::ids::NewRandom::new_random(), l, 1);
    let mut tricky = device.movement(MovementKind::Receive, p, l, 3);
    tricky.note = Some("'); DROP TABLE movements; -- \"%_\\".into());
    tricky.reference = Some("PO-1' OR '1'='1".into());
    let response = device.push(&[overflow, unknown, tricky.clone()]).await;
    let codes: Vec<_> = response
        .outcomes
        .iter()
        .map(|o| match &o.outcome {
            Outcome::Rejected { code, .. } => code.clone(),
            _ => "accepted".into(),
        })
        .collect();
    assert_eq!(codes, vec!["invalid", "unknown_product", "accepted"]);
    let observer = clerk(&server, "observer", l).await;
    let page = observer.pull(0, 100).await;
    assert_eq!(page.movements.len(), 1);
    assert_eq!(
        (page.movements[0].note.as_ref(), page.movements[0].reference.as_ref()),
        (tricky.note.as_ref(), tricky.reference.as_ref())
    );
    // Rejections used their sequence numbers: the next movement is 4, without a gap.
    let next = device.movement(MovementKind::Receive, p, l, 1);
    assert_eq!(next.device_seq, 4);
    device.push(&[next]).await;
    let checksum = server.storage.checksum(p, l).unwrap();
    let expected = LedgerDigest::of_all(observer.pull(0, 100).await.movements.iter());
    assert_eq!(checksum, expected, "the server checksum is the core digest of what it holds");
}

#[tokio::test]
async fn backup_wipe_restore_gives_the_same_ledger_checksums() {
    let server = TestServer::start().await;
    let (p, l) = world(&server).await;
    let mut device = clerk(&server, "clerk", l).await;
    let batch: Vec<_> = (0..5).map(|i| device.movement(MovementKind::Receive, p, l, i + 1)).collect();
    device.push(&batch).await;
    let before = server.storage.checksum(p, l).unwrap();
    let backup = server.dir.path().join("backup.db");
    server.storage.backup_to(&backup).unwrap();
    let target = server.dir.path().join("restored.db");
    std::fs::write(&target, b"wiped").unwrap();
    smartstock_server::storage::sqlite::SqliteStorage::restore(&backup, &target).unwrap();
    let restored = smartstock_server::storage::sqlite::SqliteStorage::open(&target).unwrap();
    assert_eq!(restored.checksum(p, l).unwrap(), before);
    assert_eq!(before.count, 5);
    assert_eq!(restored.stock(Some(l)).unwrap()[0].on_hand, 15);
    // A backup from a newer server is refused and the database is left alone.
    let newer = server.dir.path().join("newer.db");
    server.storage.backup_to(&newer).unwrap();
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let err = smartstock_server::storage::sqlite::SqliteStorage::restore(&newer, &target).unwrap_err();
    assert!(err.to_string().contains("newer smartstock-server"), "{err}");
    assert_eq!(
        smartstock_server::storage::sqlite::SqliteStorage::open(&target).unwrap().checksum(p, l).unwrap(),
        before
    );
}
