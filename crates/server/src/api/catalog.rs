//! Catalog writes (managers), stock, checksums and alerts.

use super::error::{ApiError, ApiResult};
use super::extract::{Path, Query};
use super::extract::{Session, StrictJson};
use super::openapi::{JsonBodyErrors, SessionErrors};
use super::{now, AppState};
use crate::storage::{Role, StockLevel};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use smartstock_core::{Alert, AlertId, Location, LocationId, Product, ProductId};
use utoipa::{IntoParams, ToSchema};

/// Creates or replaces a product (the body's `id` must match the path).
#[utoipa::path(
    put,
    path = "/api/v1/products/{id}",
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = ProductId, Path, description = "The product's id (the same as in the body)")),
    request_body = Product,
    responses(
        (status = 204, description = "Saved; devices get it at their next pull"),
        SessionErrors,
        JsonBodyErrors,
        (status = 400, description = "`invalid_json`: the body is not JSON; `invalid_path`: the path id is not a UUID", body = ApiError),
        (status = 409, description = "`duplicate`: the SKU or barcode is already used", body = ApiError),
    )
)]
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

/// Creates or replaces a location (the body's `id` must match the path).
#[utoipa::path(
    put,
    path = "/api/v1/locations/{id}",
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = LocationId, Path, description = "The location's id (the same as in the body)")),
    request_body = Location,
    responses(
        (status = 204, description = "Saved; devices get it at their next pull"),
        SessionErrors,
        JsonBodyErrors,
        (status = 400, description = "`invalid_json`: the body is not JSON; `invalid_path`: the path id is not a UUID", body = ApiError),
        (status = 409, description = "`duplicate`: the code is already used", body = ApiError),
    )
)]
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
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StockQuery {
    /// Only this location (all locations when absent).
    location_id: Option<LocationId>,
}

/// Levels as the server holds them.
#[utoipa::path(
    get,
    path = "/api/v1/stock",
    tag = "catalog",
    security(("bearer" = [])),
    params(StockQuery),
    responses(
        (status = 200, description = "Every product × location level", body = Vec<StockLevel>),
        (status = 400, description = "`invalid_query`: the query string is malformed", body = ApiError),
        SessionErrors,
    )
)]
pub async fn stock(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<StockQuery>,
) -> ApiResult<Json<Vec<StockLevel>>> {
    Ok(Json(state.blocking(move |s| s.stock(q.location_id)).await?))
}

/// `GET /api/v1/checksum` query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChecksumQuery {
    /// Product.
    product_id: ProductId,
    /// Location.
    location_id: LocationId,
}

/// A pair's ledger checksum.
#[derive(Serialize, ToSchema)]
pub struct ChecksumView {
    /// Movements in the pair's ledger.
    movement_count: u64,
    /// The ledger checksum (compare with the device's own).
    checksum: String,
}

/// The ledger checksum of a product × location (a client compares its own).
#[utoipa::path(
    get,
    path = "/api/v1/checksum",
    tag = "catalog",
    security(("bearer" = [])),
    params(ChecksumQuery),
    responses(
        (status = 200, description = "The pair's checksum", body = ChecksumView),
        (status = 400, description = "`invalid_query`: the query string is malformed", body = ApiError),
        SessionErrors,
    )
)]
pub async fn checksum(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<ChecksumQuery>,
) -> ApiResult<Json<ChecksumView>> {
    let digest = state.blocking(move |s| s.checksum(q.product_id, q.location_id)).await?;
    Ok(Json(ChecksumView { movement_count: digest.count, checksum: digest.to_string() }))
}

/// `GET /api/v1/alerts` query.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Only alerts not yet resolved.
    #[serde(default)]
    open: bool,
}

/// Alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "catalog",
    security(("bearer" = [])),
    params(AlertQuery),
    responses(
        (status = 200, description = "Alerts, newest first", body = Vec<Alert>),
        (status = 400, description = "`invalid_query`: the query string is malformed", body = ApiError),
        SessionErrors,
    )
)]
pub async fn alerts(
    State(state): State<AppState>,
    _session: Session,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<Vec<Alert>>> {
    Ok(Json(state.blocking(move |s| s.alerts(q.open)).await?))
}

/// Resolves an alert (managers; audited and pulled by every device).
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/resolve",
    tag = "catalog",
    security(("bearer" = [])),
    params(("id" = AlertId, Path, description = "The alert")),
    responses(
        (status = 204, description = "Resolved"),
        (status = 400, description = "`invalid_path`: the path id is not a UUID", body = ApiError),
        SessionErrors,
        (status = 404, description = "`not_found`: no open alert with this id", body = ApiError),
    )
)]
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
