//! CORS is closed unless configured: with no origins the API sends no CORS header at all; with
//! origins listed, a preflight from one of them is answered with exactly the API's methods and
//! headers, and one from any other origin is not.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reqwest::{Method, StatusCode};
use smartstock_server::api::ApiSettings;
use support::TestServer;

const ALLOWED: &str = "https://stock.example.com";

async fn preflight(server: &TestServer, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, format!("{}/api/v1/sync/push", server.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .unwrap()
}

fn cors_headers(response: &reqwest::Response) -> Vec<String> {
    response.headers().keys().map(|k| k.as_str().to_string()).filter(|k| k.starts_with("access-control-")).collect()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_ascii_lowercase()).unwrap_or_default()
}

#[tokio::test]
async fn without_configured_origins_no_cors_header_is_sent() {
    let server = TestServer::start().await;
    let response = preflight(&server, ALLOWED).await;
    assert!(cors_headers(&response).is_empty(), "{:?}", response.headers());
    assert!(!header(&response, "vary").contains("origin"), "{:?}", response.headers());
    let plain = reqwest::Client::new().get(format!("{}/healthz", server.base)).header("origin", ALLOWED).send().await;
    let plain = plain.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(cors_headers(&plain).is_empty(), "{:?}", plain.headers());
}

#[tokio::test]
async fn configured_origins_get_exactly_the_apis_methods_and_headers() {
    let settings = ApiSettings {
        login_attempts_per_minute: 10_000,
        cors_origins: vec![ALLOWED.into(), "http://localhost:5173".into()],
        ..ApiSettings::default()
    };
    let server = TestServer::start_with(settings).await;

    let allowed = preflight(&server, ALLOWED).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(header(&allowed, "access-control-allow-origin"), ALLOWED);
    let methods = header(&allowed, "access-control-allow-methods");
    for method in ["get", "post", "put"] {
        assert!(methods.contains(method), "{methods}");
    }
    assert!(!methods.contains("delete") && !methods.contains("patch"), "{methods}");
    let headers = header(&allowed, "access-control-allow-headers");
    assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
    assert!(allowed.headers().get("access-control-allow-credentials").is_none(), "no cookies: bearer tokens only");
    assert_eq!(header(&allowed, "x-content-type-options"), "nosniff", "security headers stay on preflights");

    let second = preflight(&server, "http://localhost:5173").await;
    assert_eq!(header(&second, "access-control-allow-origin"), "http://localhost:5173");

    for other in ["https://evil.example.com", "https://stock.example.com.evil.example", "http://stock.example.com"] {
        let refused = preflight(&server, other).await;
        assert!(refused.headers().get("access-control-allow-origin").is_none(), "{other}: {:?}", refused.headers());
    }

    // An actual cross-origin call from the allowed origin carries the header too (here a refusal).
    let call = reqwest::Client::new()
        .get(format!("{}/api/v1/stock", server.base))
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&call, "access-control-allow-origin"), ALLOWED);
}
