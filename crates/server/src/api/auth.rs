//! Sign-in, token refresh, sign-out and password change.

use super::error::{ApiError, ApiResult};
use super::extract::{ClientAddress, PasswordChangeSession, StrictJson};
use super::openapi::JsonBodyErrors;
use super::{now, AppState};
use crate::auth::{check_password_policy, hash_password, new_tokens, token_hash, verify_password};
use crate::storage::{Role, UserRecord};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use smartstock_core::{LocationId, UserId};
use utoipa::ToSchema;

/// `POST /api/v1/auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// User name (case-insensitive for the rate limit).
    username: String,
    /// Password.
    password: String,
}

/// `POST /api/v1/auth/refresh`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the last sign-in or refresh (single use).
    refresh_token: String,
    /// The refresh token the client wants next: 64 lowercase hex characters it generated (256
    /// random bits). A client that keeps it before sending can still continue the session when
    /// the answer is lost on the way back; without it the server makes one.
    #[serde(default)]
    next_refresh_token: Option<String>,
}

/// `POST /api/v1/auth/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The password now.
    current_password: String,
    /// The new password (the password policy applies).
    new_password: String,
}

/// The signed-in user as clients see it.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    /// User id.
    id: UserId,
    /// User name.
    username: String,
    /// Role.
    role: Role,
    /// Whether the user must change the password before anything else.
    must_change_password: bool,
    /// Locations a clerk may record movements at.
    locations: Vec<LocationId>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id,
            username: u.username.clone(),
            role: u.role,
            must_change_password: u.must_change_password,
            locations: u.locations.clone(),
        }
    }
}

/// Tokens and the user they belong to.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access token>`.
    access_token: String,
    /// When the access token expires (ms since the epoch).
    access_expires_at: i64,
    /// Swap for a new pair at `POST /api/v1/auth/refresh` (single use).
    refresh_token: String,
    /// When the refresh token expires (ms since the epoch).
    refresh_expires_at: i64,
    /// The signed-in user.
    user: UserView,
}

async fn check_rate(state: &AppState, key: String) -> ApiResult<()> {
    let max = state.settings.login_attempts_per_minute;
    let at = now();
    if state.blocking(move |s| s.rate_limit(&key, 60_000, max, at)).await? {
        return Ok(());
    }
    tracing::warn!(target: "auth", "sign-in rate limit reached");
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many sign-in attempts; wait a minute and try again",
    ))
}

/// Signs in with a user name and password.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        JsonBodyErrors,
        (status = 401, description = "`unauthenticated`: wrong user name or password, or the account is disabled", body = ApiError),
        (status = 429, description = "`rate_limited`: too many sign-in attempts; wait a minute", body = ApiError),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    StrictJson(body): StrictJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    check_rate(&state, format!("login:ip:{address}")).await?;
    check_rate(&state, format!("login:user:{}", body.username.to_lowercase())).await?;
    let name = body.username.clone();
    let user = state.blocking(move |s| s.user_by_name(&name)).await?;
    let password = body.password;
    let verified = match user {
        Some(user) => {
            let hash = user.password_hash.clone();
            let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
                .await
                .map_err(ApiError::internal)?;
            ok.then_some(user)
        }
        None => None,
    };
    let Some(user) = verified.filter(|u| !u.disabled) else {
        tracing::warn!(target: "auth", username = %body.username, %address, "failed sign-in");
        return Err(ApiError::unauthenticated("wrong user name or password, or the account is disabled"));
    };
    let at = now();
    let tokens = new_tokens(at, state.settings.access_ttl_ms, state.settings.refresh_ttl_ms);
    let (user_id, hashes) = (user.id, tokens.hashes.clone());
    state.blocking(move |s| s.create_session(user_id, &hashes, at)).await?;
    tracing::info!(target: "auth", username = %user.username, "signed in");
    Ok(Json(token_response(tokens, &user)))
}

fn token_response(tokens: crate::auth::NewTokens, user: &UserRecord) -> TokenResponse {
    TokenResponse {
        access_expires_at: tokens.hashes.access_expires_at.millis(),
        refresh_expires_at: tokens.hashes.refresh_expires_at.millis(),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        user: UserView::from(user),
    }
}

/// Swaps a refresh token for a new pair (the old one stops working).
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        JsonBodyErrors,
        (status = 401, description = "`unauthenticated`: the refresh token is expired, used or revoked", body = ApiError),
        (status = 429, description = "`rate_limited`: too many attempts; wait a minute", body = ApiError),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    StrictJson(body): StrictJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    check_rate(&state, format!("refresh:ip:{address}")).await?;
    let at = now();
    let mut tokens = new_tokens(at, state.settings.access_ttl_ms, state.settings.refresh_ttl_ms);
    if let Some(next) = body.next_refresh_token {
        if next.len() != 64 || !next.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            return Err(ApiError::invalid("next_refresh_token must be 64 lowercase hex characters (256 random bits)"));
        }
        tokens.hashes.refresh_hash = token_hash(&next);
        tokens.refresh_token = next;
    }
    let (old, hashes) = (token_hash(body.refresh_token.trim()), tokens.hashes.clone());
    let user = state.blocking(move |s| s.rotate_session(&old, &hashes, at)).await?;
    match user.filter(|u| !u.disabled) {
        Some(user) => Ok(Json(token_response(tokens, &user))),
        None => {
            tracing::warn!(target: "auth", "refresh with an unknown, used, expired or revoked token");
            Err(ApiError::unauthenticated("the refresh token is expired or revoked; sign in again"))
        }
    }
}

/// Ends the session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out; both tokens stop working"),
        (status = 401, description = "`unauthenticated`: no valid access token", body = ApiError),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    PasswordChangeSession(session): PasswordChangeSession,
) -> ApiResult<StatusCode> {
    let (id, at) = (session.session_id, now());
    state.blocking(move |s| s.revoke_session(id, at)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the signed-in user's password (required first for the bootstrap admin).
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    security(("bearer" = [])),
    request_body = PasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        JsonBodyErrors,
        (status = 401, description = "`unauthenticated`: no valid access token", body = ApiError),
        (status = 403, description = "`wrong_password`: the current password is wrong", body = ApiError),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    PasswordChangeSession(session): PasswordChangeSession,
    StrictJson(body): StrictJson<PasswordRequest>,
) -> ApiResult<StatusCode> {
    check_password_policy(&body.new_password).map_err(ApiError::invalid)?;
    let stored = session.user.password_hash.clone();
    let current = body.current_password;
    let ok =
        tokio::task::spawn_blocking(move || verify_password(&stored, &current)).await.map_err(ApiError::internal)?;
    if !ok {
        tracing::warn!(target: "auth", username = %session.user.username, "password change with a wrong current password");
        return Err(ApiError::new(StatusCode::FORBIDDEN, "wrong_password", "the current password is wrong"));
    }
    let new = body.new_password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let user = session.user.id;
    state.blocking(move |s| s.set_password(user, &hash, false, false)).await?;
    Ok(StatusCode::NO_CONTENT)
}
