//! Catalog writes (managers), stock, checksums and alerts.

use super::error::{ApiError, ApiResult};
use super::extract::{Session, StrictJson};
use super::{now, AppState};
use crate::storage::{Role, StockLevel};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use smartstock_core::{Alert, AlertId, Location, LocationId, Product, ProductId};

/// Creates or replaces a product (the body's `id` must match the path).
pub async fn save_product(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<ProductId>,
    StrictJson(product): StrictJson<Product>,
) -> ApiResult<StatusCode> {
    session.require(Role::Manager)?;
    if product.id != id {
        return Err(ApiError::invalid("the product id in the body differs from the one in the path"));
    }
    let (actor, at) = (session.user.id, now());
    state.blocking(move |s| s.save_product(actor, &product, at)).await?;
    state.announce().await;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates or replaces a location.
pub async fn save_location(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<LocationId>,
    StrictJson(location): StrictJson<Location>,
) -> ApiResult<StatusCode> {
    session.require(Role::Manager)?;
    if location.id != id {
        return Err(ApiError::invalid("the location id in the body differs from the one in the path"));
    }
    let (actor, at) = (session.user.id, now());
    state.blocking(move |s| s.save_location(actor, &location, at)).await?;
    state.announce().await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/stock` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockQuery {
    location_id: Option<LocationId>,
}

/// Levels as the server holds them.
pub async fn stock(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<StockQuery>,
) -> ApiResult<Json<Vec<StockLevel>>> {
    Ok(Json(state.blocking(move |s| s.stock(q.location_id)).await?))
}

/// `GET /api/v1/checksum` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksumQuery {
    product_id: ProductId,
    location_id: LocationId,
}

/// A pair's ledger checksum.
#[derive(Serialize)]
pub struct ChecksumView {
    movement_count: u64,
    checksum: String,
}

/// The ledger checksum of a product × location (a client compares its own).
pub async fn checksum(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<ChecksumQuery>,
) -> ApiResult<Json<ChecksumView>> {
    let digest = state.blocking(move |s| s.checksum(q.product_id, q.location_id)).await?;
    Ok(Json(ChecksumView { movement_count: digest.count, checksum: digest.to_string() }))
}

/// `GET /api/v1/alerts` query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    #[serde(default)]
    open: bool,
}

/// Alerts, newest first.
pub async fn alerts(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<Vec<Alert>>> {
    Ok(Json(state.blocking(move |s| s.alerts(q.open)).await?))
}

/// Resolves an alert (managers; audited and pulled by every device).
pub async fn resolve_alert(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<AlertId>,
) -> ApiResult<StatusCode> {
    session.require(Role::Manager)?;
    let (actor, at) = (session.user.id, now());
    state.blocking(move |s| s.resolve_alert(actor, id, at)).await?;
    state.announce().await;
    Ok(StatusCode::NO_CONTENT)
}
