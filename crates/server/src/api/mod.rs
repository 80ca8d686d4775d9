//! The HTTP API: `app()` builds the router (apart from `main`, so tests drive it in-process or on
//! port 0). Handlers are short: extract, check the role, call storage on the blocking pool,
//! answer. Routes:
//!
//! | route | who |
//! |---|---|
//! | `GET /healthz`, `GET /readyz`, `GET /metrics`, `GET /api/v1/openapi.json` | anyone (metrics: keep the port internal) |
//! | `POST /api/v1/auth/login`, `POST /api/v1/auth/refresh` | anyone (rate limited) |
//! | `POST /api/v1/auth/logout`, `POST /api/v1/auth/password` | signed in |
//! | `POST /api/v1/devices` | signed in |
//! | `POST /api/v1/sync/push` | clerk and up |
//! | `POST /api/v1/sync/catalog` | manager and up |
//! | `GET /api/v1/sync/pull`, `GET /api/v1/events`, `GET /api/v1/stock`, `GET /api/v1/checksum`, `GET /api/v1/alerts` | signed in |
//! | `PUT /api/v1/products/{id}`, `PUT /api/v1/locations/{id}`, `POST /api/v1/alerts/{id}/resolve` | manager and up |
//! | `POST /api/v1/users`, `POST /api/v1/users/{name}/password`, `POST /api/v1/users/{name}/disable` | admin |
//!
//! Must not: contain SQL or domain rules.

mod auth;
mod catalog;
pub mod error;
mod extract;
mod json;
mod openapi;
mod sync;
mod updates;
mod users;

use crate::events::Events;
use crate::storage::Storage;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post, put};
use axum::Router;
use error::ApiError;
use smartstock_core::Timestamp;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

/// Default of `ApiSettings::api_requests_per_minute`.
pub const DEFAULT_API_PER_MINUTE: i64 = 1200;

/// Limits and lifetimes the API enforces.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// Access token lifetime.
    pub access_ttl_ms: i64,
    /// Refresh token lifetime (the longest a device may stay signed in without the password).
    pub refresh_ttl_ms: i64,
    /// Largest request body.
    pub body_limit_bytes: usize,
    /// Sign-in attempts per minute per user name and per client address.
    pub login_attempts_per_minute: i64,
    /// Signed-in API requests per minute per user (shared by every instance through storage).
    pub api_requests_per_minute: i64,
    /// Browser origins allowed to call the API (`https://host[:port]`); empty keeps CORS closed.
    pub cors_origins: Vec<String>,
    /// The folder of desktop releases the update feed serves (`None`: no feed).
    pub updates_dir: Option<std::path::PathBuf>,
    /// The server answers over TLS (download addresses in the feed say `https`).
    pub serves_tls: bool,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            access_ttl_ms: 15 * 60 * 1000,
            refresh_ttl_ms: 30 * 24 * 3600 * 1000,
            body_limit_bytes: 4 * 1024 * 1024,
            login_attempts_per_minute: 10,
            api_requests_per_minute: DEFAULT_API_PER_MINUTE,
            cors_origins: Vec::new(),
            updates_dir: None,
            serves_tls: true,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The backend.
    pub storage: Arc<dyn Storage>,
    /// New-data notices.
    pub events: Events,
    /// Limits.
    pub settings: Arc<ApiSettings>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    /// Runs a storage call on the blocking pool.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Storage) -> crate::storage::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || f(storage.as_ref()))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::from)
    }

    /// Tells event streams the feed moved.
    pub async fn announce(&self) {
        if let Ok(head) = self.blocking(|s| s.head_seq()).await {
            self.events.publish(head);
        }
    }
}

/// Now, from the system clock.
pub fn now() -> Timestamp {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    Timestamp(millis)
}

/// The whole API with its middleware.
pub fn app(state: AppState) -> Router {
    let limit = state.settings.body_limit_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/password", post(auth::change_password))
        .route("/api/v1/devices", post(sync::register_device))
        .route("/api/v1/sync/push", post(sync::push))
        .route("/api/v1/sync/catalog", post(sync::push_catalog))
        .route("/api/v1/sync/pull", get(sync::pull))
        .route("/api/v1/events", get(sync::events))
        .route("/api/v1/stock", get(catalog::stock))
        .route("/api/v1/checksum", get(catalog::checksum))
        .route("/api/v1/alerts", get(catalog::alerts))
        .route("/api/v1/alerts/{id}/resolve", post(catalog::resolve_alert))
        .route("/api/v1/products/{id}", put(catalog::save_product))
        .route("/api/v1/locations/{id}", put(catalog::save_location))
        .route("/api/v1/users", post(users::create))
        .route("/api/v1/users/{name}/password", post(users::reset_password))
        .route("/api/v1/users/{name}/disable", post(users::disable))
        .route("/api/v1/updates/{target}/{arch}/{current_version}", get(updates::feed))
        .route("/api/v1/updates/files/{version}/{file}", get(updates::file))
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(crate::cors::layer(&state.settings.cors_origins))
        .layer(set_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set_header(header::REFERRER_POLICY, "no-referrer"))
        .layer(set_header(header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"))
        .layer(set_header(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
        .layer(set_header(header::CACHE_CONTROL, "no-store"))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
        }))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(tower_http::request_id::MakeRequestUuid))
        .with_state(state)
}

async fn metrics(state: axum::extract::State<AppState>) -> String {
    state.metrics.set_pool(state.storage.pool_state());
    state.metrics.render()
}

/// Records each request's latency under its route pattern.
async fn observe(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    // Clients measure their clock offset against this (DESIGN.md: occurred_at is corrected by it).
    if let Ok(value) = HeaderValue::from_str(&now().millis().to_string()) {
        response.headers_mut().insert("x-server-time", value);
    }
    let status = response.status().as_u16().to_string();
    state
        .metrics
        .http_seconds
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

async fn ready(state: axum::extract::State<AppState>) -> Result<&'static str, ApiError> {
    state.blocking(|s| s.ready()).await.map(|()| "ready")
}

/// A security header set on every response.
fn set_header(name: header::HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}
