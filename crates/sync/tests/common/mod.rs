//! What the sync crate's tests against a real server (in process) share: a desktop (its own
//! ledger, a signed-in client and the engine) and serving a server's storage over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, dead_code)]

use smartstock_server::api::{self, ApiSettings, AppState};
use smartstock_server::events::Events;
use smartstock_server::storage::sqlite::SqliteStorage;
use smartstock_store::{Actor, Store};
use smartstock_sync::{MemoryCredentials, ServerClient, SyncEngine};
use std::sync::Arc;

/// One desktop: its ledger in a temporary folder and its engine, signed in as one user.
pub struct Desktop {
    pub store: Arc<Store>,
    pub engine: SyncEngine,
    pub actor: Actor,
    _dir: tempfile::TempDir,
}

/// A desktop signed in to `base` as `user`, named "<user>'s laptop".
pub async fn desktop(base: &str, user: &str, password: &str) -> Desktop {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("ledger.db")).unwrap());
    let client = ServerClient::new(base, Arc::new(MemoryCredentials::default())).unwrap();
    let signed_in = client.sign_in(user, password).await.unwrap();
    let actor = Actor { user_id: signed_in.id };
    Desktop { engine: SyncEngine::new(store.clone(), client, &format!("{user}'s laptop")), store, actor, _dir: dir }
}

/// Serves the storage on `listener` until the returned handle is aborted ("the server goes down").
pub fn serve(storage: Arc<SqliteStorage>, listener: std::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let state = AppState {
        storage,
        events: Events::default(),
        settings: Arc::new(ApiSettings::default()),
        metrics: Default::default(),
    };
    let app = api::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() })
}
