//! Prometheus metrics of this process (`GET /metrics`): request latency by route, pushes and
//! pulls, movement outcomes, and the database connections (in use, idle, the pool's maximum),
//! read from storage at each scrape. Each instance exposes its own; Prometheus adds them up.
//!
//! Must not: label by anything unbounded (user, device, raw path): routes are the matched
//! patterns.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    /// Request latency in seconds by method, route pattern and status.
    pub http_seconds: HistogramVec,
    /// Sync calls by kind (`push`, `pull`).
    pub sync_calls: IntCounterVec,
    /// Pushed movements by outcome (`accepted`, `accepted_flagged`, `rejected`).
    pub movements: IntCounterVec,
    /// Database connections by state (`in_use`, `idle`, `max`).
    pub db_connections: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    #[allow(clippy::expect_used)] // fixed, valid metric definitions: a failure is a programming error at start-up
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_seconds = HistogramVec::new(
            HistogramOpts::new("smartstock_http_request_duration_seconds", "HTTP request latency")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["method", "route", "status"],
        )
        .expect("histogram definition");
        let sync_calls = IntCounterVec::new(Opts::new("smartstock_sync_calls_total", "Sync calls"), &["kind"])
            .expect("counter definition");
        let movements =
            IntCounterVec::new(Opts::new("smartstock_pushed_movements_total", "Pushed movements"), &["outcome"])
                .expect("counter definition");
        let db_connections = IntGaugeVec::new(
            Opts::new(
                "smartstock_db_connections",
                "Database connections of this process: in use, idle, and the pool's maximum",
            ),
            &["state"],
        )
        .expect("gauge definition");
        for collector in [
            Box::new(http_seconds.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(sync_calls.clone()),
            Box::new(movements.clone()),
            Box::new(db_connections.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Metrics { registry, http_seconds, sync_calls, movements, db_connections }
    }

    /// Records the storage's connections (call before rendering).
    pub fn set_pool(&self, pool: crate::storage::PoolState) {
        for (state, value) in [("in_use", pool.in_use), ("idle", pool.idle), ("max", pool.max)] {
            self.db_connections.with_label_values(&[state]).set(i64::from(value));
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
