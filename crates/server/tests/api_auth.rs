//! Authentication and roles over HTTP: the bootstrap password change, token rotation, sign-out,
//! disabled users, the sign-in rate limit, and every endpoint × every role (plus no token, an
//! unknown token, an expired token and a disabled user's token) with the exact status.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use smartstock_core::ids::NewRandom;
use smartstock_core::{AlertId, Timestamp};
use smartstock_server::api::ApiSettings;
use smartstock_server::auth::{hash_password, new_tokens};
use smartstock_server::storage::{NewUser, Role, Storage};
use support::{location, product, Client, TestServer, PASSWORD};

#[tokio::test]
async fn the_bootstrap_admin_must_change_the_password_first() {
    let server = TestServer::start().await;
    let user = NewUser {
        username: "admin".into(),
        password_hash: hash_password("Bootstrap-Pass-1").unwrap(),
        role: Role::Admin,
        must_change_password: true,
        locations: vec![],
    };
    server.storage.create_user(&user, Timestamp(1)).unwrap();
    let admin = server.login("admin", "Bootstrap-Pass-1").await.unwrap();
    let (status, body) = admin.call(Method::GET, "/api/v1/stock", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("password_change_required")));
    let change = |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let (status, body) =
        admin.call(Method::POST, "/api/v1/auth/password", Some(change("Bootstrap-Pass-1", "short"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().contains("8 characters"), "{body}");
    let (status, _) = admin.call(Method::POST, "/api/v1/auth/password", Some(change("wrong", "Better-Pass-22"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        admin.call(Method::POST, "/api/v1/auth/password", Some(change("Bootstrap-Pass-1", "Better-Pass-22"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(admin.call(Method::GET, "/api/v1/stock", None).await.0, StatusCode::OK);
    assert!(server.login("admin", "Bootstrap-Pass-1").await.is_err());
    assert!(server.login("admin", "Better-Pass-22").await.is_ok());
}

#[tokio::test]
async fn refresh_rotates_tokens_and_a_reused_refresh_token_is_refused() {
    let server = TestServer::start().await;
    let client = server.user("clerk", Role::Clerk, &[]).await;
    let (status, body) =
        client.call(Method::POST, "/api/v1/auth/refresh", Some(json!({ "refresh_token": client.refresh }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotated = Client { access: body["access_token"].as_str().unwrap().into(), ..server.anonymous() };
    assert_ne!(rotated.access, client.access);
    assert_eq!(client.call(Method::GET, "/api/v1/stock", None).await.0, StatusCode::UNAUTHORIZED, "old access token");
    assert_eq!(rotated.call(Method::GET, "/api/v1/stock", None).await.0, StatusCode::OK);
    let (status, _) =
        client.call(Method::POST, "/api/v1/auth/refresh", Some(json!({ "refresh_token": client.refresh }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a used refresh token");
    // A client-proposed next refresh token must be 256 random bits in hex; then it is the one.
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let (status, bad) = client
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            Some(json!({ "refresh_token": refresh, "next_refresh_token": "short" })),
        )
        .await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid")), "{bad}");
    let proposed = "ab".repeat(32);
    let (status, answer) = client
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            Some(json!({ "refresh_token": refresh, "next_refresh_token": proposed })),
        )
        .await;
    assert_eq!((status, answer["refresh_token"].as_str()), (StatusCode::OK, Some(proposed.as_str())), "{answer}");
    let (status, _) =
        client.call(Method::POST, "/api/v1/auth/refresh", Some(json!({ "refresh_token": proposed }))).await;
    assert_eq!(status, StatusCode::OK, "the proposed token is the session's refresh token now");
    let rotated = Client { access: answer["access_token"].as_str().unwrap().into(), ..server.anonymous() };
    assert_eq!(rotated.call(Method::GET, "/api/v1/stock", None).await.0, StatusCode::UNAUTHORIZED, "rotated away");
    let (_, last) = client.call(Method::POST, "/api/v1/auth/refresh", Some(json!({ "refresh_token": "x" }))).await;
    assert_eq!(last["code"].as_str(), Some("unauthenticated"));
    let signed_in = server.login("clerk", PASSWORD).await.unwrap();
    let rotated = Client { access: signed_in.access.clone(), ..server.anonymous() };
    assert_eq!(rotated.call(Method::POST, "/api/v1/auth/logout", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(rotated.call(Method::GET, "/api/v1/stock", None).await.0, StatusCode::UNAUTHORIZED, "after sign-out");
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_user_and_failures_say_nothing_specific() {
    let server = TestServer::start_with(ApiSettings { login_attempts_per_minute: 3, ..ApiSettings::default() }).await;
    let (status, body) = server.login("nobody", "Wrong-Pass-1").await.err().unwrap();
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    for _ in 0..2 {
        assert_eq!(server.login("nobody", "Wrong-Pass-1").await.err().unwrap().0, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = server.login("nobody", "Wrong-Pass-1").await.err().unwrap();
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
}

#[tokio::test]
async fn signed_in_requests_are_rate_limited_per_user() {
    let server = TestServer::start_with(ApiSettings {
        api_requests_per_minute: 3,
        login_attempts_per_minute: 100,
        ..ApiSettings::default()
    })
    .await;
    let busy = server.user("busy", Role::Viewer, &[]).await;
    let calm = server.user("calm", Role::Viewer, &[]).await;
    for _ in 0..3 {
        assert_eq!(busy.call(Method::GET, "/api/v1/stock", None).await.0, StatusCode::OK);
    }
    let (status, body) = busy.call(Method::GET, "/api/v1/stock", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{body}");
    assert_eq!(calm.call(Method::GET, "/api/v1/stock", None).await.0, StatusCode::OK, "limits are per user");
}

/// The statuses an endpoint must answer: for viewer, clerk, manager, admin.
struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    expected: [StatusCode; 4],
}

#[tokio::test]
async fn every_endpoint_answers_every_role_exactly() {
    let server = TestServer::start().await;
    let (p, l) = (product("SKU-1"), location("WH1"));
    let users = [
        server.user("viewer", Role::Viewer, &[]).await,
        server.user("clerk", Role::Clerk, &[l.id]).await,
        server.user("manager", Role::Manager, &[]).await,
        server.user("admin", Role::Admin, &[]).await,
    ];
    users[2].save_product(&p).await;
    users[2].save_location(&l).await;
    for user in &users {
        user.register().await;
    }
    for target in ["target-viewer", "target-clerk", "target-manager", "target-admin"] {
        server.user(target, Role::Viewer, &[]).await;
    }
    let (ok, created, none) = (StatusCode::OK, StatusCode::CREATED, StatusCode::NO_CONTENT);
    let forbidden = StatusCode::FORBIDDEN;
    let cases = |user: &Client, i: usize| -> Vec<Case> {
        let role = ["viewer", "clerk", "manager", "admin"][i];
        vec![
            Case { method: Method::GET, path: "/api/v1/stock".into(), body: None, expected: [ok; 4] },
            Case { method: Method::GET, path: "/api/v1/alerts?open=true".into(), body: None, expected: [ok; 4] },
            Case {
                method: Method::GET,
                path: format!("/api/v1/checksum?product_id={}&location_id={}", p.id, l.id),
                body: None,
                expected: [ok; 4],
            },
            Case {
                method: Method::GET,
                path: format!("/api/v1/sync/pull?device_id={}&after=0", user.device),
                body: None,
                expected: [ok; 4],
            },
            Case {
                method: Method::POST,
                path: "/api/v1/devices".into(),
                body: Some(json!({ "device_id": user.device, "name": "again" })),
                expected: [ok; 4],
            },
            Case {
                method: Method::POST,
                path: "/api/v1/sync/push".into(),
                body: Some(json!({ "v": 1, "device_id": user.device, "movements": [] })),
                expected: [forbidden, ok, ok, ok],
            },
            Case {
                method: Method::POST,
                path: "/api/v1/sync/catalog".into(),
                body: Some(json!({ "v": 1, "device_id": user.device, "edits": [] })),
                expected: [forbidden, forbidden, ok, ok],
            },
            Case {
                method: Method::PUT,
                path: format!("/api/v1/products/{}", p.id),
                body: Some(serde_json::to_value(&p).unwrap()),
                expected: [forbidden, forbidden, none, none],
            },
            Case {
                method: Method::PUT,
                path: format!("/api/v1/locations/{}", l.id),
                body: Some(serde_json::to_value(&l).unwrap()),
                expected: [forbidden, forbidden, none, none],
            },
            Case {
                method: Method::POST,
                path: format!("/api/v1/alerts/{}/resolve", AlertId::new_random()),
                body: None,
                expected: [forbidden, forbidden, StatusCode::NOT_FOUND, StatusCode::NOT_FOUND],
            },
            Case {
                method: Method::POST,
                path: "/api/v1/users".into(),
                body: Some(json!({ "username": format!("new-{role}"), "password": PASSWORD, "role": "viewer" })),
                expected: [forbidden, forbidden, forbidden, created],
            },
            Case {
                method: Method::POST,
                path: format!("/api/v1/users/target-{role}/password"),
                body: Some(json!({ "password": "Reset-Pass-33" })),
                expected: [forbidden, forbidden, forbidden, none],
            },
            Case {
                method: Method::POST,
                path: format!("/api/v1/users/target-{role}/disable"),
                body: None,
                expected: [forbidden, forbidden, forbidden, none],
            },
        ]
    };
    for (i, user) in users.iter().enumerate() {
        for case in cases(user, i) {
            let (status, body) = user.call(case.method.clone(), &case.path, case.body.clone()).await;
            assert_eq!(
                status,
                case.expected[i],
                "{} {} as {}: {body}",
                case.method,
                case.path,
                ["viewer", "clerk", "manager", "admin"][i]
            );
        }
    }

    // No token, an unknown token, an expired token, a disabled user's token: 401 everywhere.
    let expired = {
        let tokens = new_tokens(Timestamp(1), 1, 2);
        let viewer = server.storage.user_by_name("viewer").unwrap().unwrap();
        server.storage.create_session(viewer.id, &tokens.hashes, Timestamp(1)).unwrap();
        Client { access: tokens.access_token, ..server.anonymous() }
    };
    let unknown = Client { access: "0".repeat(64), ..server.anonymous() };
    let disabled = server.user("leaver", Role::Admin, &[]).await;
    let leaver = server.storage.user_by_name("leaver").unwrap().unwrap();
    server.storage.set_disabled(leaver.id, true).unwrap();
    for client in [server.anonymous(), unknown, expired, disabled] {
        for case in cases(&users[3], 3) {
            let (status, body) = client.call(case.method.clone(), &case.path, case.body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {}: {body}", case.method, case.path);
            assert_eq!(body["code"].as_str(), Some("unauthenticated"));
        }
    }
    // The event stream answers (headers) for a signed-in user and refuses without a token.
    let events = users[0]
        .http
        .get(format!("{}/api/v1/events", users[0].base))
        .bearer_auth(&users[0].access)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let anonymous = reqwest::get(format!("{}/api/v1/events", server.base)).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn responses_carry_security_headers_and_unknown_routes_are_json_404() {
    let server = TestServer::start().await;
    let response = reqwest::get(format!("{}/nope", server.base)).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    for header in ["x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy"] {
        assert!(response.headers().contains_key(header), "{header}");
    }
    assert!(response.headers().get("access-control-allow-origin").is_none(), "CORS closed");
    assert_eq!(response.headers()["x-request-id"].len(), 36, "every response names its request id");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert_eq!(reqwest::get(format!("{}/readyz", server.base)).await.unwrap().status(), StatusCode::OK);
}
