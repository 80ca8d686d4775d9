//! `sync-client`: a desktop's sync engine as a process of its own, for the `kill -9` tests.
//!
//! `sync-client <ledger.db> <server base URL> <refresh-token file> <push batch>` opens the ledger
//! file, takes the session from the token file, and runs sync passes until the outbox is empty
//! and a pass succeeded (exit 0), or 60 s have passed (exit 2). Nothing else is kept between runs:
//! a restart after `kill -9` starts from the SQLite file and the token file alone.

use smartstock_store::Store;
use smartstock_sync::{ServerClient, SyncEngine};
use smartstock_system_tests::credentials::FileCredentials;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, base, tokens, batch] = args.as_slice() else {
        return Err("usage: sync-client <ledger.db> <server base URL> <refresh-token file> <push batch>".into());
    };
    let batch: u32 = batch.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(db, base, tokens, batch))
}

async fn run(db: &str, base: &str, tokens: &str, batch: u32) -> Result<(), Failure> {
    let store = Arc::new(Store::open(db)?);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5));
    let client = ServerClient::with_http(base, Arc::new(FileCredentials::new(tokens)), http)?;
    let engine = SyncEngine::new(store.clone(), client, "kill-test desktop").with_batch_sizes(batch, 1000);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match engine.sync_once().await {
            Ok(_) if store.pending_count()? == 0 => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                eprintln!("sync-client: pass failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    eprintln!("sync-client: the outbox did not empty within 60 s");
    std::process::exit(2)
}
