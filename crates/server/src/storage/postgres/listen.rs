//! The change listener: one dedicated thread per server instance holds its own connection (not a
//! pooled one: a listening session must stay open), runs `LISTEN smartstock_feed`, and publishes
//! the head of every notice from its own schema to the instance's [`Events`], so a push committed
//! through another instance wakes this instance's event streams (DESIGN.md, "Scale"). `feed.rs`
//! sends the notices.
//!
//! A dropped connection is retried with a growing pause (up to [`MAX_BACKOFF`]); once back, the
//! current head is published, since notices sent while away are lost (clients pull and find
//! whatever they missed). A quiet connection is probed every [`PROBE_EVERY`], so a silently dead
//! one is noticed too.
//!
//! Must not: run inside an async task (the sync client blocks), or carry data beyond the head
//! (clients always pull).

use super::feed::CHANNEL;
use crate::events::Events;
use crate::storage::{Result, StorageError};
use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::{Client, Config, NoTls};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one wait for a notice lasts before the stop flag is checked again.
const POLL: Duration = Duration::from_millis(250);
/// A connection quiet for this long is probed.
const PROBE_EVERY: Duration = Duration::from_secs(30);
/// The first pause before reconnecting; it doubles on every failed attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where to listen: the backend's database and, if pinned, its schema.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) config: Config,
    pub(super) schema: Option<String>,
}

/// A listening connection.
struct Listener {
    client: Client,
    /// The payload prefix of this schema's notices (`<schema>:`).
    prefix: String,
}

/// Connects and listens once (so a configuration error is reported to the caller), then keeps
/// listening on a thread of its own until `stop` is set.
pub(super) fn start(target: Target, events: Events, stop: Arc<AtomicBool>) -> Result<()> {
    let listener = connect(&target, &events)?;
    std::thread::Builder::new()
        .name("pg-listen".into())
        .spawn(move || run(listener, &target, &events, &stop))
        .map_err(|e| StorageError::Database(format!("cannot start the PostgreSQL change listener thread: {e}")))?;
    Ok(())
}

/// Opens the listening session and publishes the current head.
fn connect(target: &Target, events: &Events) -> Result<Listener> {
    let mut config = target.config.clone();
    config.application_name(&application_name(target.schema.as_deref()));
    let mut client = config.connect(NoTls)?;
    if let Some(schema) = &target.schema {
        client.execute("SELECT set_config('search_path', quote_ident($1), false)", &[schema])?;
    }
    let schema: Option<String> = client.query_one("SELECT current_schema()", &[])?.try_get(0)?;
    let Some(schema) = schema else {
        return Err(StorageError::Database(
            "the PostgreSQL search_path names no existing schema; start the server once to create it".into(),
        ));
    };
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    // After LISTEN: a write committed from here on is notified, one committed before is in the head.
    let head: i64 = client.query_one("SELECT last_seq FROM feed_counter WHERE singleton = 1", &[])?.try_get(0)?;
    events.publish(head);
    Ok(Listener { client, prefix: format!("{schema}:") })
}

/// Forwards notices until `stop` is set, reconnecting whenever the session fails.
fn run(mut listener: Listener, target: &Target, events: &Events, stop: &AtomicBool) {
    loop {
        match listen(&mut listener, events, stop) {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "PostgreSQL change listener lost its connection; reconnecting"),
        }
        match reconnect(target, events, stop) {
            Some(again) => {
                tracing::info!("PostgreSQL change listener reconnected");
                listener = again;
            }
            None => return,
        }
    }
}

/// Publishes this schema's notices; returns `Ok` when stopped, the failure otherwise.
fn listen(listener: &mut Listener, events: &Events, stop: &AtomicBool) -> Result<()> {
    let mut quiet_since = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let next = listener.client.notifications().timeout_iter(POLL).next();
        match next {
            Ok(Some(notice)) => {
                quiet_since = Instant::now();
                if let Some(head) = head_of(notice.payload(), &listener.prefix) {
                    events.publish(head);
                }
            }
            Err(e) => return Err(e.into()),
            Ok(None) if listener.client.is_closed() => {
                return Err(StorageError::Database("the listening connection was closed".into()))
            }
            Ok(None) if quiet_since.elapsed() >= PROBE_EVERY => {
                listener.client.is_valid(Duration::from_secs(10))?;
                quiet_since = Instant::now();
            }
            Ok(None) => {}
        }
    }
    Ok(())
}

/// Tries to listen again, pausing longer after each failure; `None` when stopped first.
fn reconnect(target: &Target, events: &Events, stop: &AtomicBool) -> Option<Listener> {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let resume_at = Instant::now() + backoff;
        while Instant::now() < resume_at {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            std::thread::sleep(POLL.min(resume_at.saturating_duration_since(Instant::now())));
        }
        match connect(target, events) {
            Ok(listener) => return Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "PostgreSQL change listener cannot reconnect")
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// How the listening session shows in `pg_stat_activity`: `smartstock listener [schema]`.
fn application_name(schema: Option<&str>) -> String {
    let mut name = format!("smartstock listener {}", schema.unwrap_or_default()).trim_end().to_string();
    name.truncate(63);
    name
}

/// The head a notice carries, if it is this schema's (`<schema>:<head>`).
fn head_of(payload: &str, prefix: &str) -> Option<i64> {
    payload.strip_prefix(prefix)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::head_of;

    #[test]
    fn only_this_schemas_notices_count() {
        assert_eq!(head_of("public:42", "public:"), Some(42));
        assert_eq!(head_of("t1_a:7", "t1_a:"), Some(7));
        assert_eq!(head_of("t1_ab:7", "t1_a:"), None);
        assert_eq!(head_of("other:7", "public:"), None);
        assert_eq!(head_of("public:", "public:"), None);
        assert_eq!(head_of("public:x", "public:"), None);
    }
}
