//! Device registration, push, pull and the event stream (DESIGN.md, "Sync").

use super::error::{ApiError, ApiResult};
use super::extract::Query;
use super::extract::{AccessToken, DeferredJson, Session, StrictJson};
use super::json::Json as JsonBody;
use super::openapi::{JsonBodyErrors, SessionErrors};
use super::{now, AppState};
use crate::storage::{PageRequest, Pusher, Role};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use smartstock_core::wire::{
    CatalogPushRequest, CatalogPushResponse, PullPage, PushRequest, PushResponse, WIRE_VERSION,
};
use smartstock_core::DeviceId;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;
use utoipa::{IntoParams, ToSchema};

/// `POST /api/v1/devices`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// The id the device made for itself.
    device_id: DeviceId,
    /// A name people recognise (1 to 100 characters).
    name: String,
}

/// The device's state on the server.
#[derive(Serialize, ToSchema)]
pub struct DeviceRegistered {
    /// The device.
    device_id: DeviceId,
    /// The last `device_seq` the server holds from it (0: none); push from the next one.
    last_acknowledged_seq: i64,
}

/// Binds a device id (made on the device) to the signed-in user.
#[utoipa::path(
    post,
    path = "/api/v1/devices",
    tag = "sync",
    security(("bearer" = [])),
    request_body = RegisterDevice,
    responses(
        (status = 200, description = "Registered (or already registered to this user)", body = DeviceRegistered),
        SessionErrors,
        JsonBodyErrors,
        (status = 409, description = "`device_taken`: the device id is registered to another user", body = ApiError),
    )
)]
pub async fn register_device(
    State(state): State<AppState>,
    session: Session,
    StrictJson(body): StrictJson<RegisterDevice>,
) -> ApiResult<Json<DeviceRegistered>> {
    smartstock_core::validate::text("name", &body.name, 1, 100).map_err(|e| ApiError::invalid(e.to_string()))?;
    let (user, device, at) = (session.user.id, body.device_id, now());
    let last = state.blocking(move |s| s.register_device(user, device, &body.name, at)).await?;
    Ok(Json(DeviceRegistered { device_id: device, last_acknowledged_seq: last }))
}

/// Accepts a batch of the device's movements; one outcome per movement.
#[utoipa::path(
    post,
    path = "/api/v1/sync/push",
    tag = "sync",
    security(("bearer" = [])),
    request_body = PushRequest,
    responses(
        (status = 200, description = "One outcome per movement, in request order", body = PushResponse),
        SessionErrors,
        JsonBodyErrors,
        (status = 403, description = "`forbidden`: viewers cannot push, or the device is registered to another user; \
                                       `password_change_required`: change the password first", body = ApiError),
        (status = 404, description = "`not_found`: the device is not registered (register it first)", body = ApiError),
        (status = 409, description = "`sequence_gap` (with `last_acknowledged`): resend from `last_acknowledged + 1`; \
                                       `device_restored` (with `device_seq`): that number already holds another movement \
                                       (the database was restored or copied); register the device anew", body = ApiError),
    )
)]
pub async fn push(
    State(state): State<AppState>,
    token: AccessToken,
    body: DeferredJson,
) -> ApiResult<JsonBody<PushResponse>> {
    let at = now();
    // One trip to the blocking pool: the session, then the body and the role, then the push.
    let outcomes = state
        .signed_in(token, move |storage, session| {
            let request: PushRequest = body.decode()?;
            session.require(Role::Clerk)?;
            let pusher =
                Pusher { user_id: session.user.id, role: session.user.role, locations: session.user.locations.clone() };
            Ok(storage.push(&pusher, &request, at)?)
        })
        .await?;
    state.metrics.sync_calls.with_label_values(&["push"]).inc();
    for outcome in &outcomes {
        let label = match outcome.outcome {
            smartstock_core::wire::Outcome::Accepted { .. } => "accepted",
            smartstock_core::wire::Outcome::AcceptedFlagged { .. } => "accepted_flagged",
            smartstock_core::wire::Outcome::Rejected { .. } => "rejected",
        };
        state.metrics.movements.with_label_values(&[label]).inc();
    }
    // The newest feed number this push took (alerts it raised may sit a little higher: any
    // client pulling after the notice gets them too). Replays took none: nothing to announce.
    let newest = outcomes
        .iter()
        .filter_map(|o| match o.outcome {
            smartstock_core::wire::Outcome::Accepted { server_seq }
            | smartstock_core::wire::Outcome::AcceptedFlagged { server_seq, .. } => Some(server_seq),
            smartstock_core::wire::Outcome::Rejected { .. } => None,
        })
        .max();
    if let Some(head) = newest {
        state.events.publish(head);
    }
    Ok(JsonBody(PushResponse { v: WIRE_VERSION, outcomes }))
}

/// Accepts a batch of the device's catalog edits (its own gapless `seq`, separate from the
/// movements' `device_seq`): each merged per field by (hybrid logical clock, device id) into the
/// catalog, exactly once. The device pushes these before its movements, so a movement never
/// names a product the server has not seen. A value that lost stays in the audit and its device
/// gets a notice in its next pull; a creation of a SKU or location code already held under
/// another id becomes an alias of the kept row (both devices are told).
#[utoipa::path(
    post,
    path = "/api/v1/sync/catalog",
    tag = "sync",
    security(("bearer" = [])),
    request_body = CatalogPushRequest,
    responses(
        (status = 200, description = "One outcome per edit, in request order, each with the row as the server now \
                                       holds it and its field stamps", body = CatalogPushResponse),
        SessionErrors,
        JsonBodyErrors,
        (status = 403, description = "`forbidden`: only managers and admins edit the catalog, or the device is \
                                       registered to another user", body = ApiError),
        (status = 404, description = "`not_found`: the device is not registered (register it first)", body = ApiError),
        (status = 409, description = "`catalog_gap` (with `last_acknowledged`): resend from `last_acknowledged + 1`", body = ApiError),
    )
)]
pub async fn push_catalog(
    State(state): State<AppState>,
    session: Session,
    StrictJson(request): StrictJson<CatalogPushRequest>,
) -> ApiResult<Json<CatalogPushResponse>> {
    session.require(Role::Manager)?;
    let pusher =
        Pusher { user_id: session.user.id, role: session.user.role, locations: session.user.locations.clone() };
    let at = now();
    let outcomes = state.blocking(move |s| s.catalog_push(&pusher, &request, at)).await?;
    state.metrics.sync_calls.with_label_values(&["catalog"]).inc();
    state.announce().await;
    Ok(Json(CatalogPushResponse { v: WIRE_VERSION, outcomes }))
}

/// `GET /api/v1/sync/pull` query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// The pulling device (its own movements are left out).
    device_id: DeviceId,
    /// Feed cursor: the `next_after` of the last page (0 to start).
    #[serde(default)]
    after: i64,
    /// Page size, 1 to 10,000 (default 1,000).
    limit: Option<u32>,
}

/// One page of other devices' movements, catalog changes and alerts.
#[utoipa::path(
    get,
    path = "/api/v1/sync/pull",
    tag = "sync",
    security(("bearer" = [])),
    params(PullQuery),
    responses(
        (status = 200, description = "One page; pull again after `next_after` while `has_more`", body = PullPage),
        (status = 400, description = "`invalid_query`: the query string is malformed", body = ApiError),
        SessionErrors,
    )
)]
pub async fn pull(
    State(state): State<AppState>,
    token: AccessToken,
    query: Result<Query<PullQuery>, ApiError>,
) -> ApiResult<JsonBody<PullPage>> {
    let metrics = state.metrics.clone();
    // One statement for the session and the page where the backend can; the session is checked
    // first, so a bad token is refused before a bad query is reported.
    let page = state
        .signed_in_fetching(token, move |storage, check| {
            let (hash, limit, now) = (&check.access_hash, check.limit, check.now);
            let q = match query {
                Ok(Query(q)) => q,
                Err(bad) => return Ok((storage.authenticate(hash, limit, now)?, Err(bad))),
            };
            let request = PageRequest {
                device: q.device_id,
                after: q.after.max(0),
                limit: q.limit.unwrap_or(1000).clamp(1, 10_000),
            };
            let (found, page) = storage.authenticate_and_pull(hash, limit, now, request)?;
            Ok((found, page.ok_or_else(|| ApiError::unauthenticated("the access token is expired or revoked"))))
        })
        .await?;
    metrics.sync_calls.with_label_values(&["pull"]).inc();
    Ok(JsonBody(page))
}

/// Server-sent events: `head` with the feed number now, then at every change. Clients pull
/// when it moves past their cursor.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "sync",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An event stream: `event: head` with `data: <feed number>`, now and at every change",
                       body = String, content_type = "text/event-stream"),
        SessionErrors,
    )
)]
pub async fn events(
    State(state): State<AppState>,
    _session: Session,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let receiver = state.events.subscribe();
    let head = state.blocking(|s| s.head_seq()).await?;
    let first = stream::once(async move { head });
    let later = BroadcastStream::new(receiver).filter_map(|notice| async move { notice.ok() });
    let stream = first.chain(later).map(|head| Ok(Event::default().event("head").data(head.to_string())));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
