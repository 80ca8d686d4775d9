//! The OpenAPI document at `GET /api/v1/openapi.json`: valid OpenAPI 3, complete, and in step
//! with `app()`. Drift is caught three ways: the routes read out of `app()`'s source must equal
//! the document's operations; every documented operation must be served, asking for a session
//! exactly when the document says so; and the hand-written schemas must match what their types
//! serialize to.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use smartstock_core::ids::NewRandom;
use smartstock_core::{LocationId, ProductId};
use smartstock_server::storage::{Role, StockLevel};
use std::collections::BTreeSet;
use support::TestServer;

/// Every route `app()` serves, as written there.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/devices"),
    ("POST", "/api/v1/sync/push"),
    ("POST", "/api/v1/sync/catalog"),
    ("GET", "/api/v1/sync/pull"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/stock"),
    ("GET", "/api/v1/checksum"),
    ("GET", "/api/v1/alerts"),
    ("POST", "/api/v1/alerts/{id}/resolve"),
    ("PUT", "/api/v1/products/{id}"),
    ("PUT", "/api/v1/locations/{id}"),
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/users/{name}/password"),
    ("POST", "/api/v1/users/{name}/disable"),
    ("GET", "/api/v1/updates/{target}/{arch}/{current_version}"),
    ("GET", "/api/v1/updates/files/{version}/{file}"),
];

/// Routes anyone may call; every other one needs `Authorization: Bearer`.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/openapi.json",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/updates/{target}/{arch}/{current_version}",
    "/api/v1/updates/files/{version}/{file}",
];

const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn document(server: &TestServer) -> Value {
    let (status, body) = server.anonymous().call(Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.is_object(), "the document is a JSON object: {body}");
    body
}

/// `(METHOD, path)` of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|key| HTTP_METHODS.contains(&key.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

fn expected() -> BTreeSet<(String, String)> {
    ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method.to_lowercase()];
    assert!(op.is_object(), "{method} {path} is documented");
    op
}

fn requires_bearer(op: &Value) -> bool {
    op["security"].as_array().is_some_and(|list| list.iter().any(|s| s.get("bearer").is_some()))
}

/// The `(METHOD, path)` of every `.route(...)` call in `app()`, read from its source, so a route
/// added there without a `#[utoipa::path]` (or without a line in `ROUTES`) fails the tests.
fn routes_in_app_source() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/api/mod.rs");
    let start = source.find("pub fn app(").expect("app() in src/api/mod.rs");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("the end of app()")];
    for unsupported in [".nest(", ".merge(", ".route_service(", ".nest_service("] {
        assert!(!body.contains(unsupported), "app() uses {unsupported}: teach tests/openapi.rs to read it");
    }
    let mut routes = BTreeSet::new();
    for (at, _) in body.match_indices(".route(") {
        let args = body[at + ".route(".len()..].trim_start();
        let args = args.strip_prefix('"').expect(".route(...) with a string literal path");
        let end = args.find('"').expect("the end of the path literal");
        let (path, rest) = (&args[..end], &args[end + 1..]);
        let rest = rest.trim_start().strip_prefix(',').expect("a method router after the path");
        let methods = top_level_calls(rest);
        assert!(!methods.is_empty(), "no method router found for {path}");
        for method in methods {
            let known = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];
            assert!(known.contains(&method.as_str()), "{path}: `{method}(...)` is not a method router this test knows");
            routes.insert((method.to_uppercase(), path.to_string()));
        }
    }
    assert!(routes.len() > 10, "found only {routes:?} in app(); has its shape changed?");
    routes
}

/// The names of calls at the outer level of an expression that ends at an unmatched `)`:
/// `get(a).post(b))` gives `get`, `post`.
fn top_level_calls(expr: &str) -> Vec<String> {
    let (mut calls, mut ident, mut depth, mut in_string) = (Vec::new(), String::new(), 0, false);
    for c in expr.chars() {
        if in_string {
            in_string = c != '"';
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '{' | '[' => {
                if c == '(' && depth == 0 && !ident.is_empty() {
                    calls.push(ident.clone());
                }
                depth += 1;
            }
            ')' | '}' | ']' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            _ => {}
        }
        if c.is_alphanumeric() || c == '_' {
            ident.push(c);
        } else {
            ident.clear();
        }
    }
    calls
}

/// Fails naming what is only on one side.
fn assert_same(routed: &BTreeSet<(String, String)>, documented: &BTreeSet<(String, String)>, what: &str) {
    let only_routed: Vec<_> = routed.difference(documented).collect();
    let only_documented: Vec<_> = documented.difference(routed).collect();
    assert!(
        only_routed.is_empty() && only_documented.is_empty(),
        "{what}: only in app(): {only_routed:?}; only in the other list: {only_documented:?}"
    );
}

#[test]
fn the_route_list_matches_app() {
    assert_same(&routes_in_app_source(), &expected(), "ROUTES in tests/openapi.rs");
}

#[tokio::test]
async fn the_document_is_openapi_3_and_lists_every_route() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "OpenAPI 3.x, got {version}");
    assert_eq!(doc["info"]["title"], "SmartStock API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_same(&expected(), &operations(&doc), "the document (ApiDoc in src/api/openapi.rs)");
    assert_same(&routes_in_app_source(), &operations(&doc), "the document (ApiDoc in src/api/openapi.rs)");

    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");
    for (method, path) in ROUTES {
        let op = operation(&doc, method, path);
        assert_eq!(requires_bearer(op), !PUBLIC.contains(path), "{method} {path}: security");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: responses");
        if requires_bearer(op) {
            let unauthorized = &op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(unauthorized, "#/components/schemas/ApiError", "{method} {path}: 401 is {{code, message}}");
        }
    }
}

#[tokio::test]
async fn push_and_wire_schemas_come_from_the_core_types() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let schemas = &doc["components"]["schemas"];

    let push = operation(&doc, "POST", "/api/v1/sync/push");
    assert_eq!(
        push["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PushRequest"
    );
    assert_eq!(
        push["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PushResponse"
    );
    let required: BTreeSet<&str> =
        schemas["PushRequest"]["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
    for field in ["v", "device_id", "movements"] {
        assert!(required.contains(field), "PushRequest requires {field}: {required:?}");
    }
    assert_eq!(schemas["PushRequest"]["additionalProperties"], false, "deny_unknown_fields shows");

    assert_eq!(schemas["DeviceId"]["type"], "string");
    assert_eq!(schemas["DeviceId"]["format"], "uuid");
    assert_eq!(schemas["Timestamp"]["type"], "integer");
    assert_eq!(schemas["Timestamp"]["format"], "int64");
    assert!(schemas["Movement"]["properties"]["ref"].is_object(), "serde renames show: {}", schemas["Movement"]);

    let pull = operation(&doc, "GET", "/api/v1/sync/pull");
    let params: BTreeSet<&str> =
        pull["parameters"].as_array().expect("parameters").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(params, BTreeSet::from(["device_id", "after", "limit"]));

    // Every reference resolves.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference.strip_prefix("#/components/schemas/").expect("a schema reference");
        assert!(schemas[name].is_object(), "{reference} resolves");
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(list) => list.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

#[tokio::test]
async fn every_documented_operation_is_served_and_guarded_as_documented() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let anonymous = server.anonymous();
    for (method, path) in operations(&doc) {
        let op = operation(&doc, &method, &path);
        let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string()).replace("{name}", "nobody");
        let (status, body) = anonymous.call(Method::from_bytes(method.as_bytes()).unwrap(), &concrete, None).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is routed with this method");
        assert!(body["message"] != "no such endpoint", "{method} {path} is routed: {body}");
        if requires_bearer(op) {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} asks for a session: {body}");
        } else {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} is public: {body}");
        }
        if status.is_client_error() && body.is_object() {
            let keys: BTreeSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, BTreeSet::from(["code", "message"]), "{method} {path}: the error shape");
        }
    }
}

#[tokio::test]
async fn hand_written_schemas_match_their_types() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let schemas = &doc["components"]["schemas"];

    // No wildcard: a new role stops this compiling until it is listed here and in openapi.rs.
    let every_role = |role: Role| match role {
        Role::Admin | Role::Manager | Role::Clerk | Role::Viewer => role,
    };
    let roles: BTreeSet<String> = [Role::Admin, Role::Manager, Role::Clerk, Role::Viewer]
        .map(|r| serde_json::to_value(every_role(r)).unwrap().as_str().unwrap().to_string())
        .into();
    let documented: BTreeSet<String> = schemas["Role"]["enum"]
        .as_array()
        .expect("Role enum")
        .iter()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    assert_eq!(documented, roles);

    // A struct literal: a new field stops this compiling until the schema in openapi.rs has it.
    let level = StockLevel {
        product_id: ProductId::new_random(),
        location_id: LocationId::new_random(),
        on_hand: 3,
        checksum: "x".into(),
    };
    let serialized = serde_json::to_value(level).unwrap();
    let fields: BTreeSet<&str> = serialized.as_object().unwrap().keys().map(String::as_str).collect();
    let properties: BTreeSet<&str> =
        schemas["StockLevel"]["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
    let required: BTreeSet<&str> =
        schemas["StockLevel"]["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
    assert_eq!(properties, fields);
    assert_eq!(required, fields);

    let (status, body) = server.anonymous().call(Method::GET, "/api/v1/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let required: BTreeSet<&str> =
        schemas["ApiError"]["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
    let keys: BTreeSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(required, keys);
}
