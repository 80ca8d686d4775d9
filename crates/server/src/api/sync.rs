//! Device registration, push, pull and the event stream (DESIGN.md, "Sync").

use super::error::{ApiError, ApiResult};
use super::extract::{Session, StrictJson};
use super::{now, AppState};
use crate::storage::{Pusher, Role};
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use smartstock_core::wire::{PullPage, PushRequest, PushResponse, WIRE_VERSION};
use smartstock_core::DeviceId;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;

/// `POST /api/v1/devices`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    device_id: DeviceId,
    name: String,
}

/// The device's state on the server.
#[derive(Serialize)]
pub struct DeviceRegistered {
    device_id: DeviceId,
    last_acknowledged_seq: i64,
}

/// Binds a device id (made on the device) to the signed-in user.
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
pub async fn push(
    State(state): State<AppState>,
    session: Session,
    StrictJson(request): StrictJson<PushRequest>,
) -> ApiResult<Json<PushResponse>> {
    session.require(Role::Clerk)?;
    let pusher =
        Pusher { user_id: session.user.id, role: session.user.role, locations: session.user.locations.clone() };
    let at = now();
    let outcomes = state.blocking(move |s| s.push(&pusher, &request, at)).await?;
    state.metrics.sync_calls.with_label_values(&["push"]).inc();
    for outcome in &outcomes {
        let label = match outcome.outcome {
            smartstock_core::wire::Outcome::Accepted { .. } => "accepted",
            smartstock_core::wire::Outcome::AcceptedFlagged { .. } => "accepted_flagged",
            smartstock_core::wire::Outcome::Rejected { .. } => "rejected",
        };
        state.metrics.movements.with_label_values(&[label]).inc();
    }
    state.announce().await;
    Ok(Json(PushResponse { v: WIRE_VERSION, outcomes }))
}

/// `GET /api/v1/sync/pull` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    device_id: DeviceId,
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
}

/// One page of other devices' movements, catalog changes and alerts.
pub async fn pull(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<PullQuery>,
) -> ApiResult<Json<PullPage>> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    state.metrics.sync_calls.with_label_values(&["pull"]).inc();
    Ok(Json(state.blocking(move |s| s.pull(q.device_id, q.after.max(0), limit)).await?))
}

/// Server-sent events: `head` with the feed number now, then at every change. Clients pull
/// when it moves past their cursor.
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
