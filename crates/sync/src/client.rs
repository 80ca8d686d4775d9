//! The HTTP conversation with `smartstock-server`: sign-in, token refresh (once per refused
//! request, with the refresh token from the `CredentialStore`), device registration, push, pull.
//! Errors keep the server's `{code, message}`.
//!
//! Must not: touch the local ledger (the engine does) or keep the refresh token anywhere but the
//! credential store (the access token lives in memory only).

use crate::credentials::CredentialStore;
use crate::error::{Result, SyncError};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use smartstock_core::wire::{
    CatalogEdit, CatalogPushRequest, CatalogPushResponse, PullPage, PushRequest, PushResponse, WIRE_VERSION,
};
use smartstock_core::{AlertId, DeviceId, Movement, UserId};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The signed-in user as the server describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct SignedIn {
    /// User id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// `admin`, `manager`, `clerk` or `viewer`.
    pub role: String,
    /// The server refuses everything but a password change until this is done.
    pub must_change_password: bool,
}

#[derive(Deserialize)]
struct Tokens {
    access_token: String,
    refresh_token: String,
    user: SignedIn,
}

/// A client of one server.
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
    access: Mutex<Option<String>>,
    /// One refresh at a time: the refresh token is single-use, so two tasks refreshing with it at
    /// once would have the server refuse the second and end the session.
    refreshing: tokio::sync::Mutex<()>,
    credentials: Arc<dyn CredentialStore>,
    clock_offset_ms: Mutex<Option<i64>>,
}

/// The server clock minus this device's clock, from one exchange: the server stamped its answer
/// at `server_ms`, somewhere between sending at `sent_ms` and receiving at `received_ms` (local
/// clock); the midpoint is the best guess, off by at most half the round trip.
pub fn clock_offset_ms(sent_ms: i64, received_ms: i64, server_ms: i64) -> i64 {
    server_ms - (sent_ms + (received_ms - sent_ms) / 2)
}

/// The feed head of one server-sent event block (`event: head` + `data: N`), if it is one.
pub fn parse_head_event(block: &str) -> Option<i64> {
    let mut is_head = false;
    let mut data = None;
    for line in block.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            is_head = name.trim() == "head";
        } else if let Some(value) = line.strip_prefix("data:") {
            data = value.trim().parse().ok();
        }
    }
    if is_head {
        data
    } else {
        None
    }
}

/// 256 random bits from the OS as 64 lowercase hex characters.
fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn local_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl ServerClient {
    /// A client of the server at `base` (e.g. `https://stock.example:8443`).
    pub fn new(base: &str, credentials: Arc<dyn CredentialStore>) -> Result<ServerClient> {
        ServerClient::with_http(base, credentials, reqwest::Client::builder())
    }

    /// A client built from a configured `reqwest` builder (extra root certificates, timeouts).
    pub fn with_http(
        base: &str,
        credentials: Arc<dyn CredentialStore>,
        builder: reqwest::ClientBuilder,
    ) -> Result<ServerClient> {
        let http = builder
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
        Ok(ServerClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            access: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            credentials,
            clock_offset_ms: Mutex::new(None),
        })
    }

    fn access(&self) -> Option<String> {
        self.access.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn keep(&self, tokens: &Tokens) {
        *self.access.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens.access_token.clone());
        self.credentials.set_refresh_token(&tokens.refresh_token);
    }

    /// The clock offset measured on the last exchange (server minus local, ms).
    pub fn clock_offset_ms(&self) -> Option<i64> {
        *self.clock_offset_ms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs in with a password; the refresh token goes to the credential store.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<SignedIn> {
        let body = json!({ "username": username, "password": password });
        let tokens: Tokens = self.send(Method::POST, "/api/v1/auth/login", Some(&body), None).await?;
        self.keep(&tokens);
        Ok(tokens.user)
    }

    /// Buys a new access token with the stored refresh token (which is rotated). The client
    /// proposes the next refresh token and keeps it beside the current one before sending, so an
    /// answer lost on the way back does not end the session: the next attempt tries the proposed
    /// token first, then the old one.
    pub async fn refresh(&self) -> Result<SignedIn> {
        let _one_at_a_time = self.refreshing.lock().await;
        self.refresh_now().await
    }

    /// Gets a new access token unless another task already replaced `stale` (the token this one
    /// saw refused, or none) while it waited for its turn.
    async fn renew(&self, stale: Option<String>) -> Result<()> {
        let _one_at_a_time = self.refreshing.lock().await;
        let current = self.access();
        if current.is_some() && current != stale {
            return Ok(());
        }
        self.refresh_now().await.map(|_| ())
    }

    async fn refresh_now(&self) -> Result<SignedIn> {
        let stored = self
            .credentials
            .refresh_token()
            .ok_or_else(|| SyncError::Unauthorized("no stored session; sign in".into()))?;
        let candidates: Vec<String> = stored.split_whitespace().map(str::to_string).collect();
        let next = random_token();
        // Keep every candidate the server has not refused, and the new proposal, until one works
        // (a crash in between loses nothing); try the newest first: a proposal the server already
        // took, then the older ones.
        let mut pool: Vec<String> = candidates.iter().cloned().chain(std::iter::once(next.clone())).collect();
        self.credentials.set_refresh_token(&pool.join(" "));
        let mut tried = Vec::new();
        for candidate in candidates.iter().rev() {
            let body = json!({ "refresh_token": candidate, "next_refresh_token": next });
            match self.send::<Tokens, Value>(Method::POST, "/api/v1/auth/refresh", Some(&body), None).await {
                Ok(tokens) => {
                    self.keep(&tokens);
                    return Ok(tokens.user);
                }
                Err(SyncError::Server { status: 401, message, .. }) => {
                    pool.retain(|t| t != candidate);
                    self.credentials.set_refresh_token(&pool.join(" "));
                    tried.push(message);
                }
                Err(e) => return Err(e),
            }
        }
        self.credentials.clear();
        Err(SyncError::Unauthorized(tried.pop().unwrap_or_else(|| "the session ended".into())))
    }

    async fn send<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        token: Option<&str>,
    ) -> Result<T> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let sent = local_ms();
        let response = request.send().await?;
        let server_time =
            response.headers().get("x-server-time").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        if let Some(server_ms) = server_time {
            *self.clock_offset_ms.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(clock_offset_ms(sent, local_ms(), server_ms));
        }
        let status = response.status();
        if status == StatusCode::NO_CONTENT {
            return serde_json::from_value(Value::Null).map_err(|e| SyncError::Protocol(e.to_string()));
        }
        if status.is_success() {
            return response.json().await.map_err(|e| SyncError::Protocol(e.to_string()));
        }
        let text = response.text().await.unwrap_or_default();
        let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == StatusCode::CONFLICT && error["code"] == "sequence_gap" {
            return Err(SyncError::SequenceGap { last_acknowledged: error["last_acknowledged"].as_i64().unwrap_or(0) });
        }
        Err(SyncError::Server {
            status: status.as_u16(),
            code: error["code"].as_str().unwrap_or("unknown").to_string(),
            message: error["message"].as_str().map_or(text.clone(), str::to_string),
        })
    }

    /// A signed-in request; on 401 it refreshes once and retries.
    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        if self.access().is_none() {
            self.renew(None).await?;
        }
        let used = self.access();
        match self.send(method.clone(), path, body, used.as_deref()).await {
            Err(SyncError::Server { status: 401, .. }) => {
                self.renew(used).await?;
                self.send(method, path, body, self.access().as_deref()).await
            }
            other => other,
        }
    }

    /// Opens the server's event stream (server-sent events) and calls `on_head` with every
    /// announced feed head until the stream ends or fails.
    pub async fn follow_events(&self, mut on_head: impl FnMut(i64)) -> Result<()> {
        use futures_util::StreamExt;
        if self.access().is_none() {
            self.renew(None).await?;
        }
        let used = self.access();
        let mut request = self.http.get(format!("{}/api/v1/events", self.base)).timeout(Duration::from_secs(24 * 3600));
        if let Some(token) = &used {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            self.renew(used).await?;
            return Err(SyncError::Unauthorized("the event stream needs a fresh token; reconnecting".into()));
        }
        if !response.status().is_success() {
            return Err(SyncError::Server {
                status: response.status().as_u16(),
                code: "events".into(),
                message: "the event stream was refused".into(),
            });
        }
        let mut buffer = String::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk?));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if let Some(head) = parse_head_event(&event) {
                    on_head(head);
                }
            }
        }
        Ok(())
    }

    /// Changes the signed-in user's password (also the forced change after a bootstrap or reset
    /// password); the session stays signed in.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<()> {
        let body = json!({ "current_password": current, "new_password": new });
        self.call(Method::POST, "/api/v1/auth/password", Some(&body)).await
    }

    /// Ends the session on the server (both tokens stop working) and forgets the refresh token
    /// here, even when the server cannot be reached.
    pub async fn sign_out(&self) -> Result<()> {
        let result = match self.access() {
            Some(token) => self.send::<(), Value>(Method::POST, "/api/v1/auth/logout", None, Some(&token)).await,
            None => Ok(()),
        };
        *self.access.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.credentials.clear();
        result
    }

    /// Resolves an alert on the server (a manager's acknowledgement, audited there).
    pub async fn resolve_alert(&self, alert: AlertId) -> Result<()> {
        self.call(Method::POST, &format!("/api/v1/alerts/{alert}/resolve"), None::<&Value>).await
    }

    /// Binds the device id to the signed-in user; returns the server's last acknowledged seq.
    pub async fn register_device(&self, device: DeviceId, name: &str) -> Result<i64> {
        let body = json!({ "device_id": device, "name": name });
        let answer: Value = self.call(Method::POST, "/api/v1/devices", Some(&body)).await?;
        answer["last_acknowledged_seq"].as_i64().ok_or_else(|| SyncError::Protocol("no last_acknowledged_seq".into()))
    }

    /// Pushes movements of `device` (ascending `device_seq`).
    pub async fn push(&self, device: DeviceId, movements: &[Movement]) -> Result<PushResponse> {
        let request = PushRequest { v: WIRE_VERSION, device_id: device, movements: movements.to_vec() };
        self.call(Method::POST, "/api/v1/sync/push", Some(&request)).await
    }

    /// Sends a batch of catalog edits (in `seq` order).
    pub async fn push_catalog(&self, device: DeviceId, edits: &[CatalogEdit]) -> Result<CatalogPushResponse> {
        let request = CatalogPushRequest { v: WIRE_VERSION, device_id: device, edits: edits.to_vec() };
        self.call(Method::POST, "/api/v1/sync/catalog", Some(&request)).await
    }

    /// One page after `after`.
    pub async fn pull(&self, device: DeviceId, after: i64, limit: u32) -> Result<PullPage> {
        let path = format!("/api/v1/sync/pull?device_id={device}&after={after}&limit={limit}");
        self.call(Method::GET, &path, None::<&Value>).await
    }
}

#[cfg(test)]
mod tests {
    use super::clock_offset_ms;

    #[test]
    fn head_events_are_parsed_and_others_ignored() {
        assert_eq!(super::parse_head_event("event: head\ndata: 42\n\n"), Some(42));
        assert_eq!(super::parse_head_event(": keep-alive\n\n"), None);
        assert_eq!(super::parse_head_event("event: other\ndata: 1\n\n"), None);
    }

    #[test]
    fn offset_is_taken_at_the_midpoint_of_the_round_trip() {
        // Sent at 1000, answered at 1100 (local): midpoint 1050; the server stamped 5050: 4000 ms ahead.
        assert_eq!(clock_offset_ms(1000, 1100, 5050), 4000);
        assert_eq!(clock_offset_ms(1000, 1000, 400), -600);
    }
}
