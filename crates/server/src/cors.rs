//! CORS, closed unless configured (DESIGN.md, "Security"): with no origins listed the API sends no
//! CORS header at all, so browsers keep every other site's pages from calling it. With origins
//! listed (`cors_origins`), exactly those may call it, with the methods the API uses (GET, POST,
//! PUT) and the headers it reads (`authorization`, `content-type`). Credentials (cookies) are never
//! allowed: the API takes bearer tokens only.
//!
//! Must not: allow any origin by pattern or wildcard, or reflect the request's origin unchecked.

use axum::http::{header, HeaderValue, Method};
use std::time::Duration;
use tower::layer::util::Identity;
use tower::util::Either;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins` (checked by `config::check_origin`): nothing when empty.
pub fn layer(origins: &[String]) -> Either<CorsLayer, Identity> {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if allowed.is_empty() {
        return Either::Right(Identity::new());
    }
    Either::Left(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([Method::GET, Method::POST, Method::PUT])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}
