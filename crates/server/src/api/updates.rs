//! The desktop update feed (see `crate::updates`): a dynamic endpoint for the app's updater and
//! the download of release files. Public: the updater sends no session; the artifacts are
//! signed, and the app verifies the signature before installing.

use super::error::{ApiError, ApiResult};
use super::extract::{Path, Query};
use super::AppState;
use crate::updates::{self, UpdateError, UpdateOffer};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::path::PathBuf;
use utoipa::IntoParams;

/// `GET /api/v1/updates/...` query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The installed bundle: `deb`, `rpm`, `msi`, `nsis` or `app`.
    bundle_type: Option<String>,
}

fn releases(state: &AppState) -> ApiResult<PathBuf> {
    state.settings.updates_dir.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "updates_not_configured",
            "this server serves no updates; start it with --updates-dir FOLDER",
        )
    })
}

/// The scheme and host the app reached this server by, for absolute download addresses.
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    let forwarded = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
    let scheme = forwarded.unwrap_or(if state.settings.serves_tls { "https" } else { "http" });
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The newest release for the asking app, or 204 when it is current.
#[utoipa::path(
    get,
    path = "/api/v1/updates/{target}/{arch}/{current_version}",
    tag = "updates",
    params(
        ("target" = String, Path, description = "`linux`, `windows` or `darwin`"),
        ("arch" = String, Path, description = "`x86_64`, `aarch64`, `i686` or `armv7`"),
        ("current_version" = String, Path, description = "The installed version, e.g. 0.1.0"),
        FeedQuery,
    ),
    responses(
        (status = 200, description = "A newer signed release for this platform", body = UpdateOffer),
        (status = 204, description = "The app is current (or no newer release has an artifact for it)"),
        (status = 400, description = "`invalid_version`: the current version is not like 1.2.3", body = ApiError),
        (status = 404, description = "`updates_not_configured`: the server serves no updates", body = ApiError),
    )
)]
pub async fn feed(
    State(state): State<AppState>,
    Path((target, arch, current)): Path<(String, String, String)>,
    Query(query): Query<FeedQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let dir = releases(&state)?;
    let Some(suffix) = updates::artifact_suffix(&target, &arch, query.bundle_type.as_deref()) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let found = tokio::task::spawn_blocking(move || updates::newest(&dir, &current, &suffix))
        .await
        .map_err(ApiError::internal)?;
    let artifact = match found {
        Ok(Some(artifact)) => artifact,
        Ok(None) => return Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e @ UpdateError::BadVersion(_)) => {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_version", e.to_string()))
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let url = format!("{}/api/v1/updates/files/{}/{}", public_base(&state, &headers), artifact.version, artifact.file);
    let offer = UpdateOffer {
        version: artifact.version.to_string(),
        notes: artifact.notes,
        url,
        signature: artifact.signature,
    };
    Ok(Json(offer).into_response())
}

/// A file of a release (the artifact the feed offered).
#[utoipa::path(
    get,
    path = "/api/v1/updates/files/{version}/{file}",
    tag = "updates",
    params(
        ("version" = String, Path, description = "The release's version"),
        ("file" = String, Path, description = "The file's name in the release's folder"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, description = "`not_found`: no such release file; `updates_not_configured`", body = ApiError),
    )
)]
pub async fn file(State(state): State<AppState>, Path((version, file)): Path<(String, String)>) -> ApiResult<Response> {
    let dir = releases(&state)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no release file {version}/{file}"));
    let path = updates::release_file(&dir, &version, &file).ok_or_else(not_found)?;
    let handle = tokio::fs::File::open(&path).await.map_err(|_| not_found())?;
    let length = handle.metadata().await.map_err(ApiError::internal)?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(handle));
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream".to_string()), (header::CONTENT_LENGTH, length.to_string())],
        body,
    )
        .into_response())
}
