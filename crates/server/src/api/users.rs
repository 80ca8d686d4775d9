//! User administration (admins): create, reset a password, disable.

use super::error::{ApiError, ApiResult};
use super::extract::Path;
use super::extract::{Session, StrictJson};
use super::openapi::{JsonBodyErrors, SessionErrors};
use super::{now, AppState};
use crate::auth::{check_password_policy, hash_password};
use crate::storage::{NewUser, Role};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use smartstock_core::{LocationId, UserId};
use utoipa::ToSchema;

/// `POST /api/v1/users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// User name (1 to 64 printable characters).
    username: String,
    /// First password (the password policy applies; the user must change it at first sign-in).
    password: String,
    /// Role.
    role: Role,
    /// Locations a clerk may record movements at.
    #[serde(default)]
    locations: Vec<LocationId>,
}

/// The created user's id.
#[derive(Serialize, ToSchema)]
pub struct Created {
    /// The new user's id.
    id: UserId,
}

/// `POST /api/v1/users/{name}/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The new password (the password policy applies; the user must change it at next sign-in).
    password: String,
}

async fn hashed(password: String) -> ApiResult<String> {
    check_password_policy(&password).map_err(ApiError::invalid)?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

async fn user_id(state: &AppState, name: String) -> ApiResult<UserId> {
    let user = state.blocking(move |s| s.user_by_name(&name)).await?;
    user.map(|u| u.id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such user"))
}

/// Creates a user (must change the password at first sign-in).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = Created),
        SessionErrors,
        JsonBodyErrors,
        (status = 409, description = "`duplicate`: the user name is taken", body = ApiError),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    StrictJson(body): StrictJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    session.require(Role::Admin)?;
    smartstock_core::validate::code("username", &body.username, 64).map_err(|e| ApiError::invalid(e.to_string()))?;
    let user = NewUser {
        username: body.username,
        password_hash: hashed(body.password).await?,
        role: body.role,
        must_change_password: true,
        locations: body.locations,
    };
    let at = now();
    let id = state.blocking(move |s| s.create_user(&user, at)).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Sets a new password for a user, who must change it at next sign-in; their sessions end.
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/password",
    tag = "users",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user name")),
    request_body = ResetPassword,
    responses(
        (status = 204, description = "Reset; the user's sessions ended"),
        SessionErrors,
        JsonBodyErrors,
        (status = 404, description = "`not_found`: no such user", body = ApiError),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    StrictJson(body): StrictJson<ResetPassword>,
) -> ApiResult<StatusCode> {
    session.require(Role::Admin)?;
    let hash = hashed(body.password).await?;
    let id = user_id(&state, name).await?;
    state.blocking(move |s| s.set_password(id, &hash, true, true)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables a user and ends their sessions.
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/disable",
    tag = "users",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user name")),
    responses(
        (status = 204, description = "Disabled; the user's sessions ended"),
        SessionErrors,
        (status = 404, description = "`not_found`: no such user", body = ApiError),
        (status = 409, description = "`cannot_disable_self`: an admin cannot disable their own account", body = ApiError),
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    session.require(Role::Admin)?;
    let id = user_id(&state, name).await?;
    if id == session.user.id {
        return Err(ApiError::new(StatusCode::CONFLICT, "cannot_disable_self", "you cannot disable your own account"));
    }
    state.blocking(move |s| s.set_disabled(id, true)).await?;
    Ok(StatusCode::NO_CONTENT)
}
