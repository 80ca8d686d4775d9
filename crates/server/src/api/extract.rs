//! Extractors: strict JSON bodies (unknown fields, wrong types and oversized bodies become
//! `ApiError`s with the same `{code, message}` shape) and the signed-in session with its role.

use super::error::ApiError;
use super::AppState;
use crate::auth::token_hash;
use crate::storage::{RateLimit, Role, SessionRecord, UserRecord};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON body whose type rejects unknown fields; every rejection is an `ApiError`.
pub struct StrictJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(StrictJson(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "not_json",
        _ => "invalid_json",
    };
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large; send smaller batches".to_string(),
        _ => rejection.body_text(),
    };
    ApiError::new(status, code, message)
}

/// A JSON body read but not decoded yet, for the hot-path handlers that check the session and
/// run storage in one trip to the blocking pool ([`AppState::signed_in`]): they decode it there,
/// after the session check, so a request is refused in the same order as with `Session` and
/// `StrictJson` (session, then body), with the same answers (axum's `Json` checks, in its
/// order: `Content-Type`, body limit, then decoding), and the body of a request with a bad token
/// is never decoded.
pub struct DeferredJson(Result<axum::body::Bytes, ApiError>);

impl<S: Send + Sync> FromRequest<S> for DeferredJson {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Ok(DeferredJson(Err(missing_json_content_type().await)));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| json_error(e.into()));
        Ok(DeferredJson(bytes))
    }
}

impl DeferredJson {
    /// The body decoded as `T` (unknown fields refused where `T` says so), or the refusal
    /// `StrictJson<T>` would have answered.
    pub fn decode<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        axum::Json::<T>::from_bytes(&self.0?).map(|axum::Json(value)| value).map_err(json_error)
    }
}

/// axum's own refusal of a body without a JSON `Content-Type` (got from a request without one;
/// axum makes its rejection only itself).
async fn missing_json_content_type() -> ApiError {
    let bare = Request::new(axum::body::Body::empty());
    match axum::Json::<serde::de::IgnoredAny>::from_request(bare, &()).await {
        Err(rejection) => json_error(rejection),
        Ok(_) => ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_json", "send Content-Type: application/json"),
    }
}

/// axum's test for a JSON `Content-Type` (`application/json` or `application/*+json`).
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let Some(mime) = content_type.and_then(|t| t.parse::<mime::Mime>().ok()) else { return false };
    mime.type_() == "application" && (mime.subtype() == "json" || mime.suffix().is_some_and(|name| name == "json"))
}

/// The signed-in user of a request (`Authorization: Bearer <access token>`). Refuses users who
/// must change their password first; `PasswordChangeSession` lets those through.
pub struct Session {
    /// Session id (for sign-out).
    pub session_id: uuid::Uuid,
    /// The user as stored now.
    pub user: UserRecord,
}

impl Session {
    /// 403 unless the user's role includes `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.user.role.at_least(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {} role; you are {}",
                role.as_str(),
                self.user.role.as_str()
            )))
        }
    }
}

/// A session that may still have to change its password (for the change itself and sign-out).
pub struct PasswordChangeSession(pub Session);

/// The hash of the request's bearer token; 401 without one.
fn token_of(parts: &Parts) -> Result<[u8; 32], ApiError> {
    let token = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthenticated("sign in first: send Authorization: Bearer <access token>"))?;
    Ok(token_hash(token.trim()))
}

/// The API rate limit of `settings`.
fn api_limit(settings: &super::ApiSettings) -> RateLimit {
    RateLimit { window_ms: 60_000, max: settings.api_requests_per_minute }
}

/// What `Storage::authenticate` found, admitted or refused: unknown or expired token, disabled
/// user, API rate limit reached (`max` requests a minute).
fn admit(found: Option<(SessionRecord, bool)>, max: i64) -> Result<Session, ApiError> {
    let (record, within_limit) = found.ok_or_else(|| {
        tracing::warn!(target: "auth", "request with an unknown or expired access token");
        ApiError::unauthenticated("the access token is expired or revoked; refresh it or sign in again")
    })?;
    if record.user.disabled {
        tracing::warn!(target: "auth", user = %record.user.username, "request from a disabled user");
        return Err(ApiError::unauthenticated("this account is disabled; ask an administrator"));
    }
    if !within_limit {
        tracing::warn!(target: "auth", user = %record.user.username, "API rate limit reached");
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("more than {max} requests in a minute; slow down and retry in a minute"),
        ));
    }
    Ok(Session { session_id: record.session_id, user: record.user })
}

/// `Session`'s own refusal: a user who must change the password first.
fn require_password_changed(session: Session) -> Result<Session, ApiError> {
    if session.user.must_change_password {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "change your password first (POST /api/v1/auth/password)",
        ));
    }
    Ok(session)
}

async fn session_from(parts: &Parts, state: &AppState) -> Result<Session, ApiError> {
    let hash = token_of(parts)?;
    let (now, limit) = (super::now(), api_limit(&state.settings));
    let found: Option<(SessionRecord, bool)> = state.blocking(move |s| s.authenticate(&hash, limit, now)).await?;
    admit(found, limit.max)
}

/// The bearer token of a request, not checked yet: a hot-path handler checks it with
/// [`AppState::signed_in`], in the same trip to the blocking pool as its storage call (one
/// hand-over between threads per request instead of two). Refuses exactly what `Session` refuses,
/// with the same answers.
pub struct AccessToken([u8; 32]);

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        token_of(parts).map(AccessToken)
    }
}

impl AppState {
    /// Checks `token` as the `Session` extractor does, then runs `f` with the session, both on
    /// the blocking pool in one task.
    pub async fn signed_in<T: Send + 'static>(
        &self,
        token: AccessToken,
        f: impl FnOnce(&dyn crate::storage::Storage, Session) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (storage, now, limit) = (self.storage.clone(), super::now(), api_limit(&self.settings));
        tokio::task::spawn_blocking(move || {
            let found = storage.authenticate(&token.0, limit, now)?;
            let session = require_password_changed(admit(found, limit.max)?)?;
            f(storage.as_ref(), session)
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// What a signed-in request's storage call needs to check the session itself, in the same
/// statement as its own work (see [`AppState::signed_in_fetching`]).
pub struct SessionCheck {
    /// The access token's hash.
    pub access_hash: [u8; 32],
    /// The user's API rate limit.
    pub limit: RateLimit,
    /// Now.
    pub now: smartstock_core::Timestamp,
}

impl AppState {
    /// Like [`AppState::signed_in`], for a storage call that checks the session in the same
    /// statement as its own work: `fetch` answers what `Storage::authenticate` found, and its own
    /// result, which is handed out only once the session is admitted (with `Session`'s
    /// refusals, before any refusal of `fetch`'s own).
    pub async fn signed_in_fetching<T: Send + 'static>(
        &self,
        token: AccessToken,
        fetch: impl FnOnce(&dyn crate::storage::Storage, &SessionCheck) -> Result<Fetched<T>, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let storage = self.storage.clone();
        let check = SessionCheck { access_hash: token.0, limit: api_limit(&self.settings), now: super::now() };
        tokio::task::spawn_blocking(move || {
            let (found, fetched) = fetch(storage.as_ref(), &check)?;
            require_password_changed(admit(found, check.limit.max)?)?;
            fetched
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// What [`AppState::signed_in_fetching`]'s call found: the session as `Storage::authenticate`
/// answers it, and the call's own result.
pub type Fetched<T> = (Option<(SessionRecord, bool)>, Result<T, ApiError>);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        require_password_changed(session_from(parts, state).await?)
    }
}

impl FromRequestParts<AppState> for PasswordChangeSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        session_from(parts, state).await.map(PasswordChangeSession)
    }
}

/// The client's IP address (for rate limits and logs); `unknown` when the server was not started
/// with connection info (in-process tests).
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let address = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(ClientAddress(address.map_or_else(|| "unknown".into(), |info| info.0.ip().to_string())))
    }
}

/// A query string, parsed strictly; a bad one is an `ApiError` (`{code, message}`), like a bad
/// body.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", rejection.body_text()))
    }
}

/// Path parameters, parsed strictly; a malformed id is an `ApiError`.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::DefaultBodyLimit;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use tower::ServiceExt;

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body1 {
        n: i64,
    }

    /// Status and body of `request` answered by `route`, with a 64-byte body limit.
    async fn answer(route: axum::routing::MethodRouter, content_type: Option<&str>, body: &str) -> (u16, String) {
        let app = axum::Router::new().route("/", route).layer(DefaultBodyLimit::max(64));
        let mut request = axum::http::Request::post("/");
        if let Some(content_type) = content_type {
            request = request.header(axum::http::header::CONTENT_TYPE, content_type);
        }
        let response = app.oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn deferred_json_answers_what_strict_json_answers() {
        let strict = || post(|StrictJson(b): StrictJson<Body1>| async move { axum::Json(b) });
        let deferred = || {
            post(|body: DeferredJson| async move {
                match body.decode::<Body1>() {
                    Ok(b) => axum::Json(b).into_response(),
                    Err(e) => e.into_response(),
                }
            })
        };
        let huge = format!("{{\"n\": 1, \"pad\": \"{}\"}}", "x".repeat(100));
        let cases = [
            (Some("application/json"), "{\"n\": 1}"),
            (Some("application/problem+json"), "{\"n\": 2}"),
            (Some("application/json; charset=utf-8"), "{\"n\": 3}"),
            (Some("text/plain"), "{\"n\": 1}"),
            (None, "{\"n\": 1}"),
            (Some("application/json"), "{\"n\": 1, \"extra\": 2}"),
            (Some("application/json"), "{\"n\": \"one\"}"),
            (Some("application/json"), "{\"n\": "),
            (Some("application/json"), huge.as_str()),
        ];
        for (content_type, body) in cases {
            let expected = answer(strict(), content_type, body).await;
            assert_eq!(answer(deferred(), content_type, body).await, expected, "{content_type:?} {body}");
        }
    }
}
