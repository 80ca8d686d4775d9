//! A real smartstock-server API on 127.0.0.1:0 (SQLite in a temp dir), and clients that sign in
//! over HTTP. Used by the API tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use smartstock_core::ids::NewRandom;
use smartstock_core::wire::{PullPage, PushRequest, PushResponse, WIRE_VERSION};
use smartstock_core::{
    DeviceId, Location, LocationId, LocationKind, Movement, MovementId, MovementKind, Product, ProductId, ReasonCode,
    Timestamp, UserId,
};
use smartstock_server::api::{self, ApiSettings, AppState};
use smartstock_server::auth::hash_password;
use smartstock_server::events::Events;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_server::storage::{NewUser, Role, Storage};
use std::net::SocketAddr;
use std::sync::Arc;

pub const PASSWORD: &str = "Correct-Horse-9";

pub struct TestServer {
    pub base: String,
    pub storage: Arc<SqliteStorage>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// A server whose sign-in rate limit does not get in the way of tests with many users.
    pub async fn start() -> TestServer {
        TestServer::start_with(ApiSettings {
            login_attempts_per_minute: 10_000,
            api_requests_per_minute: 1_000_000,
            ..ApiSettings::default()
        })
        .await
    }

    pub async fn start_with(settings: ApiSettings) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
        let state = AppState {
            storage: storage.clone(),
            events: Events::default(),
            settings: Arc::new(settings),
            metrics: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = api::app(state).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestServer { base, storage, dir }
    }

    /// Creates a user directly in storage (no forced password change) and signs in over HTTP.
    pub async fn user(&self, name: &str, role: Role, locations: &[LocationId]) -> Client {
        let user = NewUser {
            username: name.into(),
            password_hash: hash_password(PASSWORD).unwrap(),
            role,
            must_change_password: false,
            locations: locations.to_vec(),
        };
        self.storage.create_user(&user, Timestamp(1)).unwrap();
        self.login(name, PASSWORD).await.expect("sign-in")
    }

    pub async fn login(&self, name: &str, password: &str) -> Result<Client, (StatusCode, Value)> {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({ "username": name, "password": password }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if status != StatusCode::OK {
            return Err((status, body));
        }
        Ok(Client {
            http,
            base: self.base.clone(),
            access: body["access_token"].as_str().unwrap().into(),
            refresh: body["refresh_token"].as_str().unwrap().into(),
            user_id: UserId(body["user"]["id"].as_str().unwrap().parse().unwrap()),
            device: DeviceId::new_random(),
            next_seq: 1,
        })
    }

    pub fn anonymous(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            access: String::new(),
            refresh: String::new(),
            user_id: UserId::new_random(),
            device: DeviceId::new_random(),
            next_seq: 1,
        }
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub access: String,
    pub refresh: String,
    pub user_id: UserId,
    pub device: DeviceId,
    pub next_seq: i64,
}

impl Client {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !self.access.is_empty() {
            request = request.bearer_auth(&self.access);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn register(&self) {
        let (status, body) = self
            .call(Method::POST, "/api/v1/devices", Some(json!({ "device_id": self.device, "name": "test device" })))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn save_product(&self, product: &Product) {
        let (status, body) = self
            .call(
                Method::PUT,
                &format!("/api/v1/products/{}", product.id),
                Some(serde_json::to_value(product).unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    pub async fn save_location(&self, location: &Location) {
        let (status, body) = self
            .call(
                Method::PUT,
                &format!("/api/v1/locations/{}", location.id),
                Some(serde_json::to_value(location).unwrap()),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    /// A movement of this client's device with the next sequence number.
    pub fn movement(&mut self, kind: MovementKind, product: ProductId, location: LocationId, delta: i64) -> Movement {
        let seq = self.next_seq;
        self.next_seq += 1;
        Movement {
            id: MovementId::new_v7(),
            device_id: self.device,
            device_seq: seq,
            user_id: self.user_id,
            kind,
            product_id: product,
            location_id: location,
            delta: Some(delta),
            counted_qty: None,
            reason: (kind == MovementKind::Adjust).then_some(ReasonCode::Correction),
            note: None,
            reference: None,
            peer_location_id: None,
            occurred_at: Timestamp(1_700_000_000_000 + seq * 1000),
            recorded_at: Timestamp(1_700_000_000_000 + seq * 1000),
            server_seq: None,
            qty_before: 0,
            qty_after: 0,
        }
    }

    pub async fn push_raw(&self, movements: &[Movement]) -> (StatusCode, Value) {
        let request = PushRequest { v: WIRE_VERSION, device_id: self.device, movements: movements.to_vec() };
        self.call(Method::POST, "/api/v1/sync/push", Some(serde_json::to_value(request).unwrap())).await
    }

    pub async fn push(&self, movements: &[Movement]) -> PushResponse {
        let (status, body) = self.push_raw(movements).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    pub async fn pull(&self, after: i64, limit: u32) -> PullPage {
        let path = format!("/api/v1/sync/pull?device_id={}&after={after}&limit={limit}", self.device);
        let (status, body) = self.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }
}

pub fn product(sku: &str) -> Product {
    Product {
        id: ProductId::new_random(),
        sku: sku.into(),
        name: format!("Product {sku}"),
        barcode: None,
        unit: "pcs".into(),
        unit_scale: 0,
        reorder_point: 0,
        reorder_qty: 0,
        cost_minor: 0,
        price_minor: 0,
        archived: false,
        negative_stock: None,
    }
}

pub fn location(code: &str) -> Location {
    Location {
        id: LocationId::new_random(),
        code: code.into(),
        name: format!("Location {code}"),
        kind: LocationKind::Warehouse,
        parent_id: None,
        archived: false,
    }
}
