//! One sync pass: register the device (once), push the outbox in batches and apply each batch's
//! outcomes in one local transaction, then pull pages until the server has no more, applying each
//! page with its cursor in one transaction. A device the server says was restored from a backup
//! takes a new identity and re-sequences its unsent movements before pushing again.
//!
//! After each pass the clock offset measured against the server is stored, so the movements
//! recorded next carry `occurred_at` on the server's clock (DESIGN.md).
//!
//! `run` repeats passes in the background: right away when kicked (a movement was recorded, the
//! server announced new data), else every poll interval; after a failure it backs off
//! exponentially with jitter. Its state is published on a watch channel for the UI.
//!
//! Must not: drop or rewrite a recorded movement (rejections are kept and shown by the store).

use crate::client::ServerClient;
use crate::error::{Result, SyncError};
use smartstock_core::ids::NewRandom;
use smartstock_core::wire::{CatalogEdit, CatalogOutcome, CatalogStatus, PullPage};
use smartstock_core::DeviceId;
use smartstock_store::outbox::AckSummary;
use smartstock_store::remote::PullApplied;
use smartstock_store::Store;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch, Notify};

/// Where the engine stands, for the always-visible sync indicator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// Not started yet.
    Idle,
    /// A pass is running.
    Syncing,
    /// The last pass succeeded.
    Online,
    /// The server is unreachable; working offline (normal), retrying.
    Offline {
        /// Why.
        reason: String,
    },
    /// The session ended: the user must sign in again.
    SignedOut {
        /// Why.
        reason: String,
    },
    /// The server refused something or the local ledger failed.
    Error {
        /// Why.
        reason: String,
    },
}

/// The engine's published status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncStatus {
    /// State.
    pub state: SyncState,
    /// Movements waiting for the server.
    pub pending: u64,
    /// When a pass last succeeded (ms since the epoch).
    pub last_success_ms: Option<i64>,
    /// The pull cursor.
    pub cursor: i64,
}

/// The wait before retry number `attempt` (0-based): 1 s doubling to 60 s, with ±20 % jitter so
/// a fleet of devices does not retry in step after an outage. `jitter` is in [0, 1).
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let base = 1000u64.saturating_mul(1 << attempt.min(6)).min(60_000) as f64;
    Duration::from_millis((base * (0.8 + 0.4 * jitter.clamp(0.0, 1.0))) as u64)
}

fn jitter() -> f64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Movements per push request (about 1 MiB of JSON; the server takes 4 MiB by default).
pub const PUSH_BATCH: u32 = 2_000;

/// Catalog edits per catalog push request.
const CATALOG_BATCH: u32 = 200;

/// Outcomes that refuse every edit of a batch the server would not take at all.
fn refused_all(edits: &[CatalogEdit], code: &str, message: &str) -> Vec<CatalogOutcome> {
    edits
        .iter()
        .map(|e| CatalogOutcome {
            seq: e.seq,
            status: CatalogStatus::Rejected { code: code.to_string(), message: message.to_string() },
            row: None,
            stamps: Default::default(),
        })
        .collect()
}

/// Items per pull page: the most the server hands out in one page.
pub const PULL_PAGE: u32 = 10_000;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Movements sent.
    pub pushed: u64,
    /// Of those, accepted (flagged or not).
    pub accepted: u64,
    /// Of those, rejected (kept locally, shown to the user).
    pub rejected: u64,
    /// Movements of other devices applied.
    pub pulled: u64,
    /// Catalog edits the server answered.
    pub catalog_pushed: u64,
    /// The pull cursor after the pass.
    pub cursor: i64,
}

/// The engine of one device and server.
pub struct SyncEngine {
    store: Arc<Store>,
    client: ServerClient,
    device_name: String,
    registered: AtomicBool,
    /// The feed head the server last announced (-1: none yet).
    server_head: AtomicI64,
    batch: u32,
    page: u32,
    kick: Notify,
    status: watch::Sender<SyncStatus>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> smartstock_store::Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| SyncError::Protocol(e.to_string()))?.map_err(SyncError::from)
}

impl SyncEngine {
    /// An engine over `store` talking to `client`.
    pub fn new(store: Arc<Store>, client: ServerClient, device_name: &str) -> SyncEngine {
        let status =
            watch::channel(SyncStatus { state: SyncState::Idle, pending: 0, last_success_ms: None, cursor: 0 }).0;
        SyncEngine {
            store,
            client,
            device_name: device_name.into(),
            registered: AtomicBool::new(false),
            server_head: AtomicI64::new(-1),
            batch: PUSH_BATCH,
            page: PULL_PAGE,
            kick: Notify::new(),
            status,
        }
    }

    /// Sets the movements per push request and the items per pull page (the server caps a page
    /// at its own maximum). Small batches suit slow links; tests use them to push in many steps.
    pub fn with_batch_sizes(mut self, push: u32, pull: u32) -> SyncEngine {
        self.batch = push.max(1);
        self.page = pull.max(1);
        self
    }

    /// The status channel (the UI watches it).
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// Movements recorded here that the server has not answered (0 if the store cannot say).
    async fn pending_count(&self) -> u64 {
        let store = self.store.clone();
        blocking(move || store.pending_count()).await.unwrap_or(0)
    }

    /// Asks for a pass now (after recording a movement, or when the server announced new data).
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    /// Runs passes until `stop` turns true: at once when kicked, every `poll` otherwise, backing
    /// off after failures.
    pub async fn run(&self, mut stop: watch::Receiver<bool>, poll: Duration) {
        let mut failures = 0u32;
        while !*stop.borrow() {
            // Every status carries the count of its moment: a movement just recorded shows as
            // pending while its pass runs.
            let pending = self.pending_count().await;
            self.status.send_modify(|s| {
                s.state = SyncState::Syncing;
                s.pending = pending;
            });
            let outcome = self.sync_once().await;
            let pending = self.pending_count().await;
            let wait = match outcome {
                Ok(report) => {
                    failures = 0;
                    self.status.send_modify(|s| {
                        *s = SyncStatus {
                            state: SyncState::Online,
                            pending,
                            last_success_ms: Some(now_ms()),
                            cursor: report.cursor,
                        }
                    });
                    poll
                }
                Err(e) => {
                    let state = match &e {
                        SyncError::Offline(_) => SyncState::Offline { reason: e.to_string() },
                        SyncError::Unauthorized(_) => SyncState::SignedOut { reason: e.to_string() },
                        _ => SyncState::Error { reason: e.to_string() },
                    };
                    tracing::info!(error = %e, "sync pass failed");
                    self.status.send_modify(|s| {
                        s.state = state;
                        s.pending = pending;
                    });
                    failures = failures.saturating_add(1);
                    backoff(failures - 1, jitter())
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.kick.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Follows the server's event stream until `stop`: every announced head beyond this
    /// device's cursor kicks a pass. Reconnects with backoff when the stream drops (polling in
    /// `run` covers the gaps).
    pub async fn listen(&self, mut stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        while !*stop.borrow() {
            let store = self.store.clone();
            let cursor = blocking(move || store.pull_cursor()).await.unwrap_or(0);
            let follow = self.client.follow_events(|head| {
                self.server_head.store(head, Ordering::SeqCst);
                // A head behind the cursor means the server lost feed numbers (restored from
                // a backup): the next pass moves the cursor back.
                if head != cursor {
                    self.kick();
                }
            });
            let outcome = tokio::select! {
                outcome = follow => outcome,
                _ = stop.changed() => return,
            };
            failures = match outcome {
                Ok(()) => 0,
                Err(e) => {
                    tracing::info!(error = %e, "event stream dropped");
                    failures.saturating_add(1)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(backoff(failures, jitter())) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// The server client (to sign in).
    pub fn client(&self) -> &ServerClient {
        &self.client
    }

    async fn device(&self) -> Result<DeviceId> {
        let store = self.store.clone();
        let device = blocking(move || store.device_id()).await?;
        if !self.registered.load(Ordering::SeqCst) {
            self.client.register_device(device, &self.device_name).await?;
            self.registered.store(true, Ordering::SeqCst);
        }
        Ok(device)
    }

    /// Pushes, then pulls.
    #[tracing::instrument(skip_all)]
    pub async fn sync_once(&self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.push_all(&mut report).await?;
        self.pull_all(&mut report).await?;
        if let Some(offset) = self.client.clock_offset_ms() {
            let store = self.store.clone();
            blocking(move || store.set_clock_offset_ms(offset)).await?;
        }
        Ok(report)
    }

    /// Pushes the whole outbox (no pull): what `sync_once` does first.
    #[tracing::instrument(skip_all)]
    pub async fn push_pending(&self) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        self.push_all(&mut report).await?;
        Ok(report)
    }

    /// Pushes the outbox in batches, in `device_seq` order. The next batch is read while the
    /// current one is out, and the outcomes of one batch are written while the next is sent (the
    /// server answers in order, so a batch is only sent once the previous one is answered).
    async fn push_all(&self, report: &mut SyncReport) -> Result<()> {
        let mut recoveries = 0u32;
        loop {
            match self.push_batches(report).await {
                Ok(()) => return Ok(()),
                Err(e) if recoveries < MAX_RECOVERIES => {
                    recoveries += 1;
                    self.recover(e).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Pushes the catalog outbox in batches and applies each batch's outcomes (before any
    /// movement: a movement may name a product created here, and an alias outcome re-points
    /// unsent movements to the kept product). A user who may not edit the catalog (403) gets
    /// every queued edit refused, shown as notices, so nothing behind them is blocked.
    async fn push_catalog(&self, device: DeviceId, report: &mut SyncReport) -> Result<()> {
        loop {
            let store = self.store.clone();
            let edits = blocking(move || store.pending_catalog_edits(CATALOG_BATCH)).await?;
            if edits.is_empty() {
                return Ok(());
            }
            let outcomes = match self.client.push_catalog(device, &edits).await {
                Ok(response) => response.outcomes,
                Err(SyncError::Server { status: 403, code, message }) => refused_all(&edits, &code, &message),
                Err(e) => return Err(e),
            };
            let store = self.store.clone();
            let ack = blocking(move || store.acknowledge_catalog(&outcomes)).await?;
            if ack.answered == 0 {
                return Err(SyncError::Protocol("the server answered none of the catalog edits sent".into()));
            }
            report.catalog_pushed += ack.answered;
        }
    }

    async fn push_batches(&self, report: &mut SyncReport) -> Result<()> {
        let device = self.device().await?;
        self.push_catalog(device, report).await?;
        let (store, limit) = (self.store.clone(), self.batch);
        let mut batch = blocking(move || store.pending(limit)).await?;
        let mut writing: Option<tokio::task::JoinHandle<smartstock_store::Result<AckSummary>>> = None;
        let outcome = loop {
            let Some(last) = batch.last().map(|m| m.device_seq) else { break Ok(()) };
            // The next batch does not depend on this answer: read it while the request is out.
            let store = self.store.clone();
            let next = blocking(move || store.pending_after(last, limit));
            let (response, next) = tokio::join!(self.client.push(device, &batch), next);
            let response = match response {
                Ok(response) => response,
                Err(e) => break Err(e),
            };
            if let Some(previous) = writing.take() {
                count(report, previous.await)?;
            }
            report.pushed += batch.len() as u64;
            let store = self.store.clone();
            writing = Some(tokio::task::spawn_blocking(move || store.acknowledge(&response.outcomes)));
            batch = match next {
                Ok(next) => next,
                Err(e) => break Err(e),
            };
        };
        // Every answer received is written before returning, whatever happened after it.
        if let Some(previous) = writing.take() {
            count(report, previous.await)?;
        }
        outcome
    }

    /// Handles a refused push the device can fix by itself, or returns the error.
    async fn recover(&self, error: SyncError) -> Result<()> {
        match error {
            SyncError::Server { code, .. } if code == "device_restored" || code == "device_taken" => {
                tracing::warn!(%code, "this database was restored or copied: registering as a new device");
                let store = self.store.clone();
                blocking(move || store.rebind_device(DeviceId::new_random())).await?;
                self.registered.store(false, Ordering::SeqCst);
                Ok(())
            }
            SyncError::Server { status: 404, code, .. } if code == "not_found" => {
                // The server does not know this device (it was restored from a backup older
                // than the registration): register again.
                self.registered.store(false, Ordering::SeqCst);
                Ok(())
            }
            SyncError::SequenceGap { last_acknowledged } => {
                // The server lost movements it had acknowledged (restored from an older
                // backup): send them again; their ids make the resend count once.
                let store = self.store.clone();
                let resent = blocking(move || store.resend_after(last_acknowledged)).await?;
                tracing::warn!(last_acknowledged, resent, "the server lost acknowledged movements: resending");
                if resent == 0 {
                    return Err(SyncError::Protocol(format!(
                        "the server holds this device's movements up to {last_acknowledged} and reports a gap, \
                         but this device has nothing after that to resend"
                    )));
                }
                Ok(())
            }
            other => Err(other),
        }
    }

    /// Pulls pages until the server has no more. Pages are fetched ahead while earlier ones are
    /// written; each write takes every page already fetched (up to `APPLY_ROWS` movements) in one
    /// local transaction with the cursor of its last page, in feed order.
    async fn pull_all(&self, report: &mut SyncReport) -> Result<()> {
        let device = self.device().await?;
        let store = self.store.clone();
        // Each announcement is used once: a head announced long ago says nothing about now.
        let head = self.server_head.swap(-1, Ordering::SeqCst);
        let after = blocking(move || store.rewind_pull_cursor(head)).await?;
        let (sender, mut receiver) = mpsc::channel::<Result<PullPage>>(PULL_AHEAD);
        let fetch = async move {
            let mut after = after;
            loop {
                let page = self.client.pull(device, after, self.page).await;
                let more = matches!(&page, Ok(p) if p.has_more);
                if let Ok(p) = &page {
                    after = p.next_after;
                }
                if sender.send(page).await.is_err() || !more {
                    return;
                }
            }
        };
        let first_sync = after == 0 && {
            let store = self.store.clone();
            blocking(move || store.holds_no_movements()).await?
        };
        let apply = async move {
            if first_sync {
                let (rest, applied) = self.apply_first_pull(receiver).await?;
                report.pulled += applied.movements;
                report.cursor = applied.cursor;
                match rest {
                    Some(rest) => receiver = rest,
                    None => return Ok(()),
                }
            }
            while let Some(first) = receiver.recv().await {
                let mut pages = vec![first?];
                let mut rows = pages[0].movements.len();
                while rows < APPLY_ROWS {
                    let Ok(next) = receiver.try_recv() else { break };
                    let next = next?;
                    rows += next.movements.len();
                    pages.push(next);
                }
                let done = pages.last().is_none_or(|p| !p.has_more);
                let store = self.store.clone();
                let applied = blocking(move || store.apply_pull_pages(&pages)).await?;
                report.pulled += applied.movements;
                report.cursor = applied.cursor;
                if done {
                    break;
                }
            }
            Ok::<(), SyncError>(())
        };
        let ((), applied) = tokio::join!(fetch, apply);
        applied
    }

    /// A first sync into an empty ledger: the store takes pages straight from `receiver`, in one
    /// bulk transaction (`Store::apply_first_pull`). Returns the receiver if pages remain (the
    /// store stopped at its size limit, or the ledger was not empty after all), `None` once the
    /// last page is written. A failed fetch ends the load: what came before it is kept, then the
    /// error is returned.
    async fn apply_first_pull(
        &self,
        mut receiver: mpsc::Receiver<Result<PullPage>>,
    ) -> Result<(Option<mpsc::Receiver<Result<PullPage>>>, PullApplied)> {
        let store = self.store.clone();
        let (receiver, failed, applied) = tokio::task::spawn_blocking(move || {
            let mut failed = None;
            let mut last_taken_had_more = true;
            let mut pages = std::iter::from_fn(|| match receiver.blocking_recv()? {
                Ok(page) => {
                    last_taken_had_more = page.has_more;
                    Some(page)
                }
                Err(e) => {
                    failed = Some(e);
                    None
                }
            });
            let applied = store.apply_first_pull(&mut pages);
            let rest = (failed.is_none() && last_taken_had_more).then_some(receiver);
            (rest, failed, applied)
        })
        .await
        .map_err(|e| SyncError::Protocol(e.to_string()))?;
        let applied = applied?;
        // The first pull left the ledger in SQLite's log: copy it into the file in the
        // background, off the path to the stock screen.
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.checkpoint() {
                tracing::warn!(error = %e, "could not checkpoint the ledger after the first pull");
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok((receiver, applied)),
        }
    }
}

/// Pull pages fetched ahead of the local writes.
const PULL_AHEAD: usize = 12;

/// Most movements written in one local transaction while pulling. Larger writes touch each
/// level once for more movements and commit less often (a first sync writes every level about
/// once per transaction); a local record waits for at most one such write.
const APPLY_ROWS: usize = 100_000;

/// Adds a written batch of outcomes to the report.
fn count(
    report: &mut SyncReport,
    written: std::result::Result<smartstock_store::Result<AckSummary>, tokio::task::JoinError>,
) -> Result<()> {
    let summary = written.map_err(|e| SyncError::Protocol(e.to_string()))??;
    report.accepted += summary.accepted;
    report.rejected += summary.rejected;
    Ok(())
}

/// How many self-repairs (new identity, registration, resend) one push may make in a row
/// before the engine gives up and reports the error.
const MAX_RECOVERIES: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute_with_bounded_jitter() {
        assert_eq!(backoff(0, 0.5), Duration::from_millis(1000));
        assert_eq!(backoff(3, 0.5), Duration::from_millis(8000));
        assert_eq!(backoff(20, 0.5), Duration::from_millis(60_000));
        assert_eq!(backoff(0, 0.0), Duration::from_millis(800));
        assert_eq!(backoff(0, 0.999_999), Duration::from_millis(1199));
    }
}
