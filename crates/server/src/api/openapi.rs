//! The OpenAPI 3 document of the API, generated from the code and served at
//! `GET /api/v1/openapi.json`: every handler carries `#[utoipa::path]` (method, path, body,
//! query, responses, security) and every wire type derives `utoipa::ToSchema` (core's `openapi`
//! feature), so the document changes with the types it describes.
//!
//! `tests/openapi.rs` reads the `.route(...)` calls out of `app()` and fails when a route is not
//! listed in `ApiDoc` (or one is listed that is not routed), and calls every documented route to
//! check it is served and asks for a session exactly when the document says so.
//!
//! Must not: describe by hand what a derive can describe. The hand-written schemas here are for
//! types that cannot carry a derive: the error body (built with `json!`), and storage's `Role` and
//! `StockLevel` (the test compares them with what those types serialize to).

use super::error::ApiError;
use super::{auth, catalog, sync, updates, users};
use crate::storage::{Role, StockLevel};
use axum::Json;
use smartstock_core::{LocationId, ProductId};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Schema, Type};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

/// The name of the bearer security scheme the paths refer to.
const BEARER: &str = "bearer";

/// The document: every route of `app()`, and the schemas they use.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "SmartStock API",
        version = env!("CARGO_PKG_VERSION"),
        description = "The SmartStock server: sign-in, sync (push, pull, events), catalog, stock, alerts and \
                       users. Every failure is `{code, message}` JSON; clients branch on `code`."
    ),
    paths(
        healthz,
        readyz,
        metrics,
        openapi_json,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::change_password,
        sync::register_device,
        sync::push,
        sync::push_catalog,
        sync::pull,
        sync::events,
        catalog::stock,
        catalog::checksum,
        catalog::alerts,
        catalog::resolve_alert,
        catalog::save_product,
        catalog::save_location,
        users::create,
        users::reset_password,
        users::disable,
        updates::feed,
        updates::file,
    ),
    components(schemas(
        ApiError,
        Role,
        StockLevel,
        smartstock_core::AlertId,
        smartstock_core::DeviceId,
        smartstock_core::LocationId,
        smartstock_core::MovementId,
        smartstock_core::ProductId,
        smartstock_core::TransferId,
        smartstock_core::UserId,
        smartstock_core::Timestamp,
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "auth", description = "Sign-in, token refresh, sign-out, password change"),
        (name = "sync", description = "Device registration, push (movements, catalog edits), pull and the event stream"),
        (name = "catalog", description = "Products, locations, stock levels, checksums and alerts"),
        (name = "users", description = "User administration (admins)"),
    )
)]
pub(super) struct ApiDoc;

/// Built once: the document only changes with the code.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document of this server", body = Object))
)]
pub(super) async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}

// `app()` serves these three with a closure and with functions in `mod.rs`; the functions below
// exist only to carry their documentation.

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain"))
)]
#[expect(dead_code, reason = "carries the documentation only; app() serves the route")]
fn healthz() {}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 500, description = "`internal`: the database does not answer", body = ApiError),
    )
)]
#[expect(dead_code, reason = "carries the documentation only; app() serves the route")]
fn readyz() {}

/// Prometheus metrics (keep this port internal).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"))
)]
#[expect(dead_code, reason = "carries the documentation only; app() serves the route")]
fn metrics() {}

/// Adds the bearer scheme that `security(("bearer" = []))` refers to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The access token from `POST /api/v1/auth/login` or `POST /api/v1/auth/refresh`: \
                 `Authorization: Bearer <access token>`",
            ))
            .build();
        doc.components.get_or_insert_with(Default::default).add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The failures of every route that needs a signed-in user (the `Session` extractor).
pub(super) struct SessionErrors;

impl IntoResponses for SessionErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error_responses(&[
            ("401", "`unauthenticated`: no access token, or it is expired or revoked, or the account is disabled"),
            ("403", "`password_change_required`: change the password first; `forbidden`: the role is too low"),
        ])
    }
}

/// The failures of a strict JSON request body (the `StrictJson` extractor and validation).
pub(super) struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        error_responses(&[
            ("400", "`invalid_json`: the body is not JSON"),
            ("413", "`body_too_large`: the body is larger than the server accepts; send smaller batches"),
            ("415", "`not_json`: the request lacks `Content-Type: application/json`"),
            (
                "422",
                "`invalid_json`: a field is missing, unknown or of the wrong type; \
                 `invalid`: a value breaks a rule (the message names the field)",
            ),
        ])
    }
}

/// `{code, message}` responses with the given statuses and descriptions.
fn error_responses(list: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(ApiError::name()))).build();
            let response = ResponseBuilder::new().description(*description).content("application/json", content);
            ((*status).to_string(), RefOr::T(response.build()))
        })
        .collect()
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description))
}

fn integer(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
        .description(Some(description))
}

/// The body of every failure (`ApiError::into_response`).
impl PartialSchema for ApiError {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("Every failure: a stable code to branch on and a sentence for people."))
            .property("code", string("Stable code (`unauthenticated`, `forbidden`, `invalid`, `not_found`, ...)"))
            .required("code")
            .property("message", string("A sentence naming the problem and the fix"))
            .required("message")
            .property("last_acknowledged", integer("`sequence_gap` only: the last device sequence the server holds"))
            .property("device_seq", integer("`device_restored` only: the reused sequence number"))
            .into()
    }
}

impl ToSchema for ApiError {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ApiError")
    }
}

/// Every role, strongest first (the test checks each against its serde form).
const ROLES: [Role; 4] = [Role::Admin, Role::Manager, Role::Clerk, Role::Viewer];

impl PartialSchema for Role {
    fn schema() -> RefOr<Schema> {
        string("A user's role: admin > manager > clerk > viewer").enum_values(Some(ROLES.map(Role::as_str))).into()
    }
}

impl ToSchema for Role {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Role")
    }
}

impl PartialSchema for StockLevel {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some("One product × location level as the server holds it"))
            .property("product_id", Ref::from_schema_name(ProductId::name()))
            .required("product_id")
            .property("location_id", Ref::from_schema_name(LocationId::name()))
            .required("location_id")
            .property("on_hand", integer("On hand (base units)"))
            .required("on_hand")
            .property("checksum", string("Ledger checksum of the pair"))
            .required("checksum")
            .into()
    }
}

impl ToSchema for StockLevel {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("StockLevel")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ProductId::name().into(), ProductId::schema()));
        schemas.push((LocationId::name().into(), LocationId::schema()));
    }
}
