//! The storage backend suite (`common/backend_suite/`) against `PgStorage`. Each test opens its
//! own schema in the database of `DATABASE_URL` (`scripts/with-postgres.sh` provides one) and drops
//! it when the test passed (a failed test's schema stays, named in the output, for inspection).
//! Without `DATABASE_URL` every test prints a skip line and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[macro_use]
#[path = "common/backend_suite/mod.rs"]
mod backend_suite;

use smartstock_server::storage::postgres::PgStorage;
use smartstock_server::storage::Storage;
use std::process::Command;

/// A `PgStorage` in a schema of its own, dropped with it when the test passed.
struct TestSchema {
    storage: Option<PgStorage>,
    url: String,
    schema: String,
}

impl std::ops::Deref for TestSchema {
    type Target = dyn Storage;
    fn deref(&self) -> &(dyn Storage + 'static) {
        self.storage.as_ref().expect("storage is open until drop")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        drop(self.storage.take());
        if std::thread::panicking() {
            eprintln!("kept schema {} of the failed test", self.schema);
            return;
        }
        let mut client = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to drop the schema");
        let sql: String = client
            .query_one("SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', $1::text)", &[&self.schema])
            .expect("quote the schema name")
            .get(0);
        client.batch_execute(&sql).expect("drop the test schema");
    }
}

fn open(test: &str) -> Option<TestSchema> {
    let url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())?;
    let mut schema = format!("t{}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8], test);
    schema.truncate(63);
    let storage = PgStorage::connect_in_schema(&url, &schema).expect("open PgStorage in a test schema");
    Some(TestSchema { storage: Some(storage), url, schema })
}

/// Restores `backup` into a new, empty schema (the wiped database) and opens it there.
fn restore(test: &str, backup: &std::path::Path) -> Box<dyn std::ops::Deref<Target = dyn Storage>> {
    let url = std::env::var("DATABASE_URL").expect("restore runs only where open did");
    let schema = format!("t{}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8], test);
    PgStorage::restore(&url, Some(&schema), backup).expect("restore into an empty schema");
    let storage = PgStorage::connect_in_schema(&url, &schema).expect("open the restored schema");
    Box::new(TestSchema { storage: Some(storage), url, schema })
}

backend_tests!(open, restore);

/// Connecting again to a migrated schema applies nothing and is ready; names that are not plain
/// identifiers are refused before they reach SQL.
#[test]
fn reconnect_is_ready_and_schema_names_are_checked() {
    let Some(first) = open("reconnect") else {
        println!("skipped reconnect_is_ready_and_schema_names_are_checked: set DATABASE_URL");
        return;
    };
    first.ready().unwrap();
    let again = PgStorage::connect_in_schema(&first.url, &first.schema).unwrap();
    again.ready().unwrap();
    assert_eq!(again.head_seq().unwrap(), 0);
    for bad in ["", "Upper", "semi;colon", "quote\"d", "1digit", &"x".repeat(64)] {
        assert!(PgStorage::connect_in_schema(&first.url, bad).is_err(), "{bad:?} accepted");
    }
}

/// The server drops its storage inside the tokio runtime at shutdown: closing the pooled sync
/// connections there must not panic.
#[test]
fn dropping_inside_the_async_runtime_is_safe() {
    let Some(mut schema) = open("drop_in_runtime") else {
        println!("skipped dropping_inside_the_async_runtime_is_safe: set DATABASE_URL");
        return;
    };
    let storage = std::sync::Arc::new(schema.storage.take().unwrap());
    let worker = std::sync::Arc::clone(&storage);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let head = tokio::task::spawn_blocking(move || worker.head_seq().unwrap()).await.unwrap();
        assert_eq!(head, 0);
        // Let the pool finish opening its connections, so this thread drops the last of it.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(storage);
    });
}

/// Differential test: one pseudo-random history (receipts, sales, adjustments, counts close to
/// other movements, transfers, voids good and bad, unknown products, invalid movements, clerk
/// location checks, replays) pushed to PostgreSQL and to SQLite gives the same outcomes, feed
/// numbers, levels, checksums, alerts and pull pages (alert ids, which are random, aside).
#[test]
fn same_answers_as_the_sqlite_backend() {
    use smartstock_core::wire::{MovementOutcome, Outcome, PullPage, PushRequest, WIRE_VERSION};
    use smartstock_core::{Alert, AlertId, DeviceId, MovementId, MovementKind, ReasonCode, Timestamp};
    use smartstock_server::storage::sqlite::SqliteStorage;
    use smartstock_server::storage::{Role, StorageError};

    let Some(pg) = open("differential") else {
        println!("skipped same_answers_as_the_sqlite_backend: set DATABASE_URL");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStorage::open(dir.path().join("server.db")).unwrap();
    let backends: [&dyn Storage; 2] = [&*pg, &sqlite];

    let mut state = 0x5eed_2024_u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let products: Vec<_> = (0..3).map(|i| backend_suite::product(&format!("DIFF-{i}"))).collect();
    let locations: Vec<_> = (0..2).map(|i| backend_suite::location(&format!("LOC-{i}"))).collect();
    let mut low = products[0].clone();
    low.reorder_point = 6;
    let devices: Vec<DeviceId> = (0..4).map(|_| DeviceId(uuid::Uuid::now_v7())).collect();
    // Per backend: the users (their ids are made by the backend) and the pushers of each device.
    let pushers: Vec<Vec<smartstock_server::storage::Pusher>> = backends
        .iter()
        .map(|storage| {
            let manager = backend_suite::user(*storage, "manager", Role::Manager, &[]);
            let clerk = backend_suite::user(*storage, "clerk", Role::Clerk, &[locations[0].id]);
            for p in products.iter().skip(1).chain([&low]) {
                storage.save_product(manager, p, backend_suite::NOW).unwrap();
            }
            for l in &locations {
                storage.save_location(manager, l, backend_suite::NOW).unwrap();
            }
            devices
                .iter()
                .enumerate()
                .map(|(i, &d)| {
                    let (who, role, at) = if i == 3 {
                        (clerk, Role::Clerk, vec![locations[0].id])
                    } else {
                        (manager, Role::Manager, vec![])
                    };
                    storage.register_device(who, d, "diff", backend_suite::NOW).unwrap();
                    backend_suite::pusher(who, role, &at)
                })
                .collect()
        })
        .collect();

    fn normalized(alert: &Alert) -> Alert {
        Alert { id: AlertId(uuid::Uuid::nil()), ..alert.clone() }
    }
    fn outcomes(result: Result<Vec<MovementOutcome>, StorageError>) -> Result<Vec<MovementOutcome>, String> {
        result
            .map(|all| {
                all.into_iter()
                    .map(|mut o| {
                        if let Outcome::AcceptedFlagged { alert, .. } = &mut o.outcome {
                            *alert = normalized(alert);
                        }
                        o
                    })
                    .collect()
            })
            .map_err(|e| format!("{e:?}"))
    }
    fn page(mut page: PullPage) -> PullPage {
        page.alerts = page.alerts.iter().map(normalized).collect();
        // Each backend has its own manager (the catalog's author): compare stamps without it.
        for entity in &mut page.stamps {
            for stamp in entity.stamps.values_mut() {
                stamp.user_id = smartstock_core::UserId(uuid::Uuid::nil());
            }
        }
        page
    }

    let user = smartstock_core::UserId(uuid::Uuid::now_v7());
    let mut seqs = [0i64; 4];
    let mut history: Vec<smartstock_core::Movement> = Vec::new();
    let mut batches: Vec<(usize, Vec<smartstock_core::Movement>)> = Vec::new();
    let mut kinds = std::collections::BTreeMap::new();
    for round in 0..120 {
        let d = next(4) as usize;
        if round % 17 == 16 && !batches.is_empty() {
            // A replay of an earlier batch (a lost response).
            let (d, batch) = batches[next(batches.len() as u64) as usize].clone();
            let answers: Vec<_> = (0..2)
                .map(|b| {
                    outcomes(backends[b].push(&pushers[b][d], &push_request(devices[d], &batch), backend_suite::NOW))
                })
                .collect();
            assert_eq!(answers[0], answers[1], "replay in round {round}");
            continue;
        }
        let mut batch = Vec::new();
        for _ in 0..=next(4) {
            seqs[d] += 1;
            let product = if next(25) == 0 {
                smartstock_core::ProductId(uuid::Uuid::now_v7())
            } else {
                [low.id, products[1].id, products[2].id][next(3) as usize]
            };
            let location = locations[next(2) as usize].id;
            let kind = match next(10) {
                0..=2 => MovementKind::Receive,
                3..=4 => MovementKind::Issue,
                5 => MovementKind::Adjust,
                6 => MovementKind::Count,
                7 => MovementKind::TransferOut,
                _ => MovementKind::Void,
            };
            let qty = match kind {
                MovementKind::Receive => 1 + next(9) as i64,
                MovementKind::Issue | MovementKind::TransferOut => -(1 + next(4) as i64),
                MovementKind::Adjust => next(7) as i64 - 3,
                _ => next(15) as i64,
            };
            let mut m = backend_suite::movement(devices[d], seqs[d], user, kind, product, location, qty);
            // Times close together, so counts meet late and near movements (absorbed, reviews).
            m.occurred_at = Timestamp(backend_suite::NOW.millis() + (next(600) as i64) * 1_000);
            match kind {
                MovementKind::Adjust if qty == 0 => m.delta = Some(1),
                MovementKind::Adjust => m.reason = Some(ReasonCode::Damaged),
                MovementKind::TransferOut => {
                    m.peer_location_id = Some(locations[0].id);
                    m.reference = Some(uuid::Uuid::now_v7().to_string());
                }
                MovementKind::Void => {
                    m.delta = None;
                    let target = if history.is_empty() || next(8) == 0 {
                        MovementId::new_v7()
                    } else {
                        history[next(history.len() as u64) as usize].id
                    };
                    if let Some(t) = history.iter().find(|h| h.id == target) {
                        m.product_id = t.product_id;
                        m.location_id = if next(10) == 0 { locations[1].id } else { t.location_id };
                    }
                    m.reference = Some(target.to_string());
                }
                _ => {}
            }
            if next(30) == 0 {
                m.note = Some("x".repeat(2000)); // invalid: too long
            }
            history.push(m.clone());
            batch.push(m);
        }
        let answers: Vec<_> = (0..2)
            .map(|b| outcomes(backends[b].push(&pushers[b][d], &push_request(devices[d], &batch), backend_suite::NOW)))
            .collect();
        assert_eq!(answers[0], answers[1], "round {round}");
        for o in answers[0].as_ref().unwrap() {
            let seen = match &o.outcome {
                Outcome::Accepted { .. } => "accepted".to_string(),
                Outcome::AcceptedFlagged { alert, .. } => alert.kind.as_str().to_string(),
                Outcome::Rejected { code, .. } => code.clone(),
            };
            *kinds.entry(seen).or_insert(0usize) += 1;
        }
        batches.push((d, batch));
    }
    println!("differential history: {kinds:?}");
    for expected in [
        "accepted",
        "negative_stock",
        "low_stock",
        "count_review",
        "void_refused",
        "void_target_missing",
        "unknown_product",
        "invalid",
        "location_not_assigned",
    ] {
        assert!(kinds.contains_key(expected), "the history never produced {expected}: {kinds:?}");
    }

    let flagged = |b: usize| {
        let mut all: Vec<Alert> = backends[b].alerts(false).unwrap().iter().map(normalized).collect();
        all.sort_by_key(|a| (a.movement_id, a.kind.as_str()));
        all
    };
    assert_eq!(flagged(0), flagged(1));
    assert!(!flagged(0).is_empty(), "the history raises alerts");
    assert_eq!(backends[0].stock(None).unwrap(), backends[1].stock(None).unwrap());
    assert_eq!(backends[0].head_seq().unwrap(), backends[1].head_seq().unwrap());
    for d in &devices {
        let (mut after, mut pages) = (0, 0);
        loop {
            let got: Vec<PullPage> = backends.iter().map(|s| page(s.pull(*d, after, 13).unwrap())).collect();
            assert_eq!(got[0], got[1], "pull after {after}");
            after = got[0].next_after;
            pages += 1;
            if !got[0].has_more {
                break;
            }
        }
        assert!(pages > 3);
    }

    fn push_request(device: DeviceId, batch: &[smartstock_core::Movement]) -> PushRequest {
        PushRequest { v: WIRE_VERSION, device_id: device, movements: batch.to_vec() }
    }
}

/// A group of pushes (what concurrent pushes become: one transaction, one commit) gives every
/// push the result it gets when the same pushes run one by one: a refused push (here a gap) writes
/// nothing and stops no other, a movement copied to another device in the same group counts
/// once, and an alert raised earlier in the group is not raised again.
#[test]
fn a_push_group_answers_as_the_pushes_one_by_one() {
    use backend_suite::{location, movement, product, pusher, user, NOW};
    use smartstock_core::wire::{PushRequest, WIRE_VERSION};
    use smartstock_core::{DeviceId, MovementKind};
    use smartstock_server::storage::push::PushJob;
    use smartstock_server::storage::Role;

    let (Some(grouped), Some(alone)) = (open("group"), open("group_alone")) else {
        println!("skipped a_push_group_answers_as_the_pushes_one_by_one: set DATABASE_URL");
        return;
    };
    let (p, l) = (product("SKU-1"), location("WH1"));
    let devices: Vec<DeviceId> = (0..4).map(|_| DeviceId(uuid::Uuid::now_v7())).collect();
    let mut requests = Vec::new();
    let mut results = Vec::new();
    for (round, storage) in [&grouped, &alone].into_iter().enumerate() {
        let manager = user(&**storage, "manager", Role::Manager, &[]);
        storage.save_product(manager, &p, NOW).unwrap();
        storage.save_location(manager, &l, NOW).unwrap();
        for id in &devices {
            assert_eq!(storage.register_device(manager, *id, "test device", NOW).unwrap(), 0);
        }
        let who = pusher(manager, Role::Manager, &[]);
        if round == 0 {
            let [a, b, c, d] = devices[..] else { unreachable!() };
            let first_of_c = movement(c, 1, manager, MovementKind::Receive, p.id, l.id, 5);
            let first_of_a = movement(a, 1, manager, MovementKind::Receive, p.id, l.id, 3);
            let copied = smartstock_core::Movement { device_id: c, device_seq: 2, ..first_of_a.clone() };
            requests = vec![
                vec![first_of_c.clone()],
                vec![first_of_a, movement(a, 2, manager, MovementKind::Issue, p.id, l.id, -10)],
                vec![movement(b, 2, manager, MovementKind::Issue, p.id, l.id, -1)],
                vec![first_of_c, copied],
                vec![movement(d, 1, manager, MovementKind::Issue, p.id, l.id, -1)],
            ];
        }
        let requests: Vec<PushRequest> = requests
            .iter()
            .map(|movements| PushRequest {
                v: WIRE_VERSION,
                device_id: movements[0].device_id,
                movements: movements.clone(),
            })
            .collect();
        // c's first push alone, then the rest: as a group, or one by one.
        let mut outcomes = vec![storage.push(&who, &requests[0], NOW)];
        if round == 0 {
            let jobs: Vec<PushJob<'_>> =
                requests[1..].iter().map(|request| PushJob { pusher: &who, request, now: NOW }).collect();
            outcomes.extend(grouped.storage.as_ref().unwrap().push_group(&jobs));
        } else {
            outcomes.extend(requests[1..].iter().map(|request| storage.push(&who, request, NOW)));
        }
        results.push(
            outcomes
                .into_iter()
                .map(|result| match result {
                    // Alert ids are random: compare everything else.
                    Ok(outcomes) => {
                        let mut json = serde_json::to_value(outcomes).unwrap();
                        for outcome in json.as_array_mut().unwrap() {
                            if let Some(alert) = outcome.pointer_mut("/outcome/alert") {
                                alert.as_object_mut().unwrap().remove("id");
                            }
                        }
                        json.to_string()
                    }
                    Err(e) => format!("refused: {e}"),
                })
                .collect::<Vec<_>>(),
        );
        assert_eq!(storage.register_device(manager, devices[1], "test device", NOW).unwrap(), 0, "b wrote nothing");
        assert_eq!(storage.stock(Some(l.id)).unwrap()[0].on_hand, 5 + 3 - 10 - 1);
        assert_eq!(storage.alerts(true).unwrap().len(), 1, "one negative_stock alert");
    }
    assert!(results[0][2].starts_with("refused: device sequence gap"), "{:?}", results[0]);
    assert!(results[0][2..].iter().filter(|r| r.starts_with("refused")).count() == 1, "{:?}", results[0]);
    assert_eq!(results[0], results[1]);
    assert_eq!(
        grouped.checksum(p.id, l.id).unwrap(),
        alone.checksum(p.id, l.id).unwrap(),
        "the same ledger either way"
    );
}

/// A PostgreSQL restore checks the whole file before it touches anything: a damaged file, a file
/// from a newer schema and a target that already holds SmartStock tables are refused, and the
/// refused restores leave no table behind.
#[test]
fn restore_refuses_damaged_newer_and_non_empty_targets() {
    use smartstock_server::storage::StorageError;
    let Some(source) = open("backup_checks") else {
        println!("skipped restore_refuses_damaged_newer_and_non_empty_targets: set DATABASE_URL");
        return;
    };
    backend_suite::world(&*source);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ok.backup");
    source.backup(&file).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let refused = |name: &str, bytes: &[u8]| -> StorageError {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let target = open(name).expect("DATABASE_URL is set");
        let url = target.url.clone();
        let schema = format!("{}_target", target.schema);
        let error = PgStorage::restore(&url, Some(&schema), &path).expect_err(name);
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let tables: i64 = client
            .query_one("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", &[&schema])
            .unwrap()
            .get(0);
        assert_eq!(tables, 0, "{name}: a refused restore leaves nothing");
        let drop: String = client.query_one("SELECT format('DROP SCHEMA %I', $1::text)", &[&schema]).unwrap().get(0);
        client.batch_execute(&drop).unwrap();
        error
    };
    // One byte changed inside the data.
    let mut damaged = bytes.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 0x20;
    assert!(matches!(refused("damaged", &damaged), StorageError::Conflict { code: "backup_invalid", .. }));
    // The same backup claiming a schema from the future (with a matching checksum).
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body_end = text.rfind("end ").unwrap();
    let version_line = text.lines().find(|l| l.starts_with("schema_version ")).unwrap().to_owned();
    let body = text[..body_end].replacen(&version_line, "schema_version 9999", 1);
    let sum: String = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(body.as_bytes()))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let newer = format!("{body}end {sum}\n");
    assert!(matches!(refused("newer", newer.as_bytes()), StorageError::Conflict { code: "database_too_new", .. }));
    // A target that already holds a SmartStock schema.
    let taken = open("backup_taken").expect("DATABASE_URL is set");
    match PgStorage::restore(&taken.url, Some(&taken.schema), &file) {
        Err(StorageError::Conflict { code: "restore_target_not_empty", .. }) => {}
        other => panic!("restore over a live schema: {other:?}"),
    }
}

/// The binary's `backup` and `restore` on PostgreSQL (each schema reached through the URL's
/// `search_path` option): the restored database holds the bootstrap admin, and `restore` over it
/// again is refused.
#[test]
fn cli_backup_and_restore_on_postgres() {
    let Some(source) = open("cli_backup") else {
        println!("skipped cli_backup_and_restore_on_postgres: set DATABASE_URL");
        return;
    };
    let in_schema = |schema: &str| {
        let separator = if source.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-csearch_path%3D{schema}", source.url)
    };
    let bin = env!("CARGO_BIN_EXE_smartstock-server");
    let run = |url: &str, args: &[&str]| Command::new(bin).arg("--database").arg(url).args(args).output().unwrap();
    let init = run(&in_schema(&source.schema), &["init"]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cli.backup");
    let backup = run(&in_schema(&source.schema), &["backup", file.to_str().unwrap()]);
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));

    let target = format!("{}_copy", source.schema);
    let mut client = postgres::Client::connect(&source.url, postgres::NoTls).unwrap();
    let create: String = client.query_one("SELECT format('CREATE SCHEMA %I', $1::text)", &[&target]).unwrap().get(0);
    client.batch_execute(&create).unwrap();
    let restore = run(&in_schema(&target), &["restore", file.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    let restored = PgStorage::connect_in_schema(&source.url, &target).unwrap();
    assert_eq!(restored.user_by_name("admin").unwrap(), source.user_by_name("admin").unwrap());
    drop(restored);
    let again = run(&in_schema(&target), &["restore", file.to_str().unwrap()]);
    assert!(!again.status.success(), "a restore over a live database is refused");
    let drop: String =
        client.query_one("SELECT format('DROP SCHEMA %I CASCADE', $1::text)", &[&target]).unwrap().get(0);
    client.batch_execute(&drop).unwrap();
}
