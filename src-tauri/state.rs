//! The running app: the local ledger, the session, and the background sync engine. Commands
//! reach everything through `App`; it calls the store and the sync engine and holds no business
//! rule of its own (roles come from `smartstock_core::Role`, stock rules from the store).
//!
//! Lifecycle: `App::open` opens the ledger in the data directory; `resume` restarts the session
//! of the last run (the refresh token comes from the OS secret store) or signs in from the demo
//! environment; `sign_in` / `work_offline` / `sign_out` change it. While signed in, the sync
//! engine runs in the background and its status is forwarded to the UI as `sync-status` events.
//!
//! Must not: write SQL, keep secrets outside `secrets`, or block the UI thread.

use crate::error::{AppError, AppResult};
use crate::ipc::{SessionInfo, SyncView};
use crate::notifier::Notifier;
use crate::secrets::{KeyringCredentials, SecretStore};
use crate::settings::{self, FleetConfig, Settings};
use serde_json::Value;
use smartstock_core::{Permission, Role};
use smartstock_store::{Actor, Store};
use smartstock_sync::{ServerClient, SyncEngine, SyncState, SyncStatus};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// How often the engine polls when the event stream is quiet.
const POLL: Duration = Duration::from_secs(30);

/// Sends an event to the UI (the window in the app, a recorder in tests).
pub type Emit = Arc<dyn Fn(&str, Value) + Send + Sync>;

/// A running sync engine and the switch that stops it.
struct Online {
    engine: Arc<SyncEngine>,
    stop: watch::Sender<bool>,
}

/// Everything a command needs.
pub struct App {
    data_dir: PathBuf,
    store: Arc<Store>,
    settings: Mutex<Settings>,
    fleet: FleetConfig,
    session: Mutex<Option<SessionInfo>>,
    online: Mutex<Option<Online>>,
    secret_store: Mutex<SecretStore>,
    emit: Emit,
    notifier: Notifier,
    /// Becomes true once `resume` has finished, so the first `app_status` shows the resumed session.
    resumed: watch::Sender<bool>,
    /// The store's in-memory catalog for short searches has been asked for.
    search_prepared: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl App {
    /// Opens the ledger and settings in `data_dir` (created if missing).
    pub fn open(data_dir: &Path, emit: Emit) -> AppResult<Arc<App>> {
        std::fs::create_dir_all(data_dir)?;
        let store = Arc::new(Store::open(data_dir.join("ledger.sqlite3"))?);
        let settings = settings::load(data_dir)?;
        settings::save(data_dir, &settings)?;
        let fleet = FleetConfig::load()?;
        let notifier = Notifier::open(data_dir, emit.clone())?;
        Ok(Arc::new(App {
            data_dir: data_dir.to_path_buf(),
            store,
            settings: Mutex::new(settings),
            fleet,
            session: Mutex::new(None),
            online: Mutex::new(None),
            secret_store: Mutex::new(SecretStore::Unavailable),
            emit,
            notifier,
            resumed: watch::channel(false).0,
            search_prepared: AtomicBool::new(false),
        }))
    }

    /// The local ledger.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Has the store read the catalog's text into memory for the stock search, once, in the
    /// background: called after the first stock page, so that start-up does not wait for it and
    /// the first keystroke of a search rarely does.
    pub fn prepare_search_once(&self) {
        if self.search_prepared.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = Arc::clone(&self.store);
        tauri::async_runtime::spawn_blocking(move || {
            if let Err(e) = store.prepare_search() {
                tracing::warn!(error = %e, "reading the catalog for the stock search failed; the first search will try again");
            }
        });
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A copy of the settings.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Changes and saves the settings.
    pub fn update_settings(&self, change: impl FnOnce(&mut Settings)) -> AppResult<Settings> {
        let mut settings = lock(&self.settings);
        change(&mut settings);
        settings::save(&self.data_dir, &settings)?;
        Ok(settings.clone())
    }

    /// The fleet preset.
    pub fn fleet(&self) -> &FleetConfig {
        &self.fleet
    }

    /// Who is signed in.
    pub fn session(&self) -> Option<SessionInfo> {
        lock(&self.session).clone()
    }

    /// Where the refresh token is kept.
    pub fn secret_store(&self) -> SecretStore {
        *lock(&self.secret_store)
    }

    /// The session's user, or an error asking to sign in.
    pub fn require_session(&self) -> AppResult<SessionInfo> {
        self.session().ok_or_else(|| AppError::new("not_signed_in", "sign in or choose to work offline first"))
    }

    /// Refuses unless the session's role has `permission`.
    pub fn require(&self, permission: Permission, what: &str) -> AppResult<Actor> {
        let session = self.require_session()?;
        if session.role.may(permission) {
            Ok(Actor { user_id: session.user_id })
        } else {
            Err(AppError::forbidden(what, session.role))
        }
    }

    /// The acting user for reads and local bookkeeping.
    pub fn actor(&self) -> AppResult<Actor> {
        Ok(Actor { user_id: self.require_session()?.user_id })
    }

    /// Restarts the last session: offline-only, or the stored refresh token, or (demo and kiosk
    /// set-ups) a sign-in from `SMARTSTOCK_USERNAME` / `SMARTSTOCK_PASSWORD`.
    pub async fn resume(self: &Arc<Self>) -> AppResult<()> {
        let result = self.resume_session().await;
        if self.session().is_none() {
            self.probe_secret_store().await;
        }
        self.resumed.send_replace(true);
        result
    }

    /// Finds which secret store this machine offers, so the sign-in screen can say so up front
    /// (off the async threads: a locked keyring may wait for the user to unlock it). A resumed
    /// or offline-only session needs no probe: opening its entry tells, or no secret is kept.
    async fn probe_secret_store(&self) {
        let probe = tauri::async_runtime::spawn_blocking(|| {
            KeyringCredentials::open("availability-check", "probe", "-").store()
        });
        if let Ok(store) = probe.await {
            *lock(&self.secret_store) = store;
        }
    }

    /// Waits (at most `limit`) until the start-up resume has finished.
    pub async fn wait_resumed(&self, limit: Duration) {
        let mut resumed = self.resumed.subscribe();
        let _ = tokio::time::timeout(limit, resumed.wait_for(|done| *done)).await;
    }

    async fn resume_session(self: &Arc<Self>) -> AppResult<()> {
        let settings = self.settings();
        if settings.offline_only {
            self.set_session(Some(local_session(&settings)));
            return Ok(());
        }
        if let (Ok(user), Ok(password)) = (std::env::var("SMARTSTOCK_USERNAME"), std::env::var("SMARTSTOCK_PASSWORD")) {
            if let Some(url) = self.fleet.server_url.clone().or(settings.server_url.clone()) {
                self.sign_in(&url, &user, &password).await?;
                return Ok(());
            }
        }
        let (Some(url), Some(user), Some(user_id), Some(role)) =
            (settings.server_url.clone(), settings.username.clone(), settings.user_id, settings.role)
        else {
            return Ok(());
        };
        let credentials = open_credentials(&url, &user, &self.ledger_name()?).await?;
        *lock(&self.secret_store) = credentials.store();
        if credentials_empty(&credentials) {
            return Ok(());
        }
        let client = self.client(&url, credentials)?;
        self.set_session(Some(server_session(&url, &user, user_id, role, false)));
        self.start_engine(client);
        Ok(())
    }

    /// Signs in to `url`; the refresh token goes to the OS secret store.
    pub async fn sign_in(self: &Arc<Self>, url: &str, username: &str, password: &str) -> AppResult<SessionInfo> {
        let url = normalize_url(url)?;
        let username = username.trim();
        if username.is_empty() || password.is_empty() {
            return Err(AppError::new("validation", "enter your user name and password"));
        }
        self.stop_engine();
        let credentials = open_credentials(&url, username, &self.ledger_name()?).await?;
        *lock(&self.secret_store) = credentials.store();
        let client = self.client(&url, credentials)?;
        let user = client.sign_in(username, password).await?;
        let role = Role::parse(&user.role)
            .ok_or_else(|| AppError::new("protocol", format!("the server sent an unknown role {:?}", user.role)))?;
        self.update_settings(|s| {
            s.server_url = Some(url.clone());
            s.username = Some(user.username.clone());
            s.user_id = Some(user.id);
            s.role = Some(role);
            s.offline_only = false;
        })?;
        let session = server_session(&url, &user.username, user.id, role, user.must_change_password);
        self.set_session(Some(session.clone()));
        self.start_engine(client);
        Ok(session)
    }

    /// Changes the password (the forced change after a bootstrap or reset password).
    pub async fn change_password(&self, current: &str, new: &str) -> AppResult<SessionInfo> {
        let engine = self.engine().ok_or_else(|| AppError::new("offline", "changing the password needs the server"))?;
        engine.client().change_password(current, new).await?;
        let mut session = self.require_session()?;
        session.must_change_password = false;
        self.set_session(Some(session.clone()));
        engine.kick();
        Ok(session)
    }

    /// Works without a server: everything is recorded locally, nothing syncs.
    pub fn work_offline(&self) -> AppResult<SessionInfo> {
        self.stop_engine();
        let settings = self.update_settings(|s| s.offline_only = true)?;
        let session = local_session(&settings);
        self.set_session(Some(session.clone()));
        self.publish_status(None);
        Ok(session)
    }

    /// Signs out: the server session ends, the refresh token is deleted from the secret store.
    /// Recorded movements stay in the ledger and sync at the next sign-in.
    pub async fn sign_out(&self) -> AppResult<()> {
        let engine = self.engine();
        self.stop_engine();
        if let Some(engine) = engine {
            if let Err(e) = engine.client().sign_out().await {
                tracing::warn!(error = %e, "the server did not confirm the sign-out; the local token is deleted");
            }
        }
        self.update_settings(|s| s.offline_only = false)?;
        self.set_session(None);
        self.publish_status(None);
        Ok(())
    }

    /// Asks the engine for a pass now (after recording, or the user's "sync now").
    pub fn kick(&self) {
        match self.engine() {
            Some(engine) => engine.kick(),
            None => self.publish_status(None),
        }
    }

    /// Resolves an alert on the server; offline-only sessions resolve locally only.
    pub async fn resolve_on_server(&self, alert: smartstock_core::AlertId) -> AppResult<()> {
        if self.require_session()?.offline_only {
            return Ok(());
        }
        let engine =
            self.engine().ok_or_else(|| AppError::new("offline", "resolving an alert needs the server; sign in"))?;
        Ok(engine.client().resolve_alert(alert).await?)
    }

    /// Names this data folder in the secret store: a random id made at its first run and kept
    /// in the settings (the device id would change when a restored ledger registers anew).
    fn ledger_name(&self) -> AppResult<String> {
        Ok(self.settings().local_user_id.to_string())
    }

    /// The running engine.
    fn engine(&self) -> Option<Arc<SyncEngine>> {
        lock(&self.online).as_ref().map(|o| o.engine.clone())
    }

    pub(crate) fn set_session(&self, session: Option<SessionInfo>) {
        *lock(&self.session) = session;
    }

    /// The PEM of the extra certificate to trust (fleet file or `SMARTSTOCK_CA_CERT`), checked.
    pub fn ca_certificate(&self) -> AppResult<Option<Vec<u8>>> {
        let Some(path) = &self.fleet.ca_cert else { return Ok(None) };
        let pem = std::fs::read(path)
            .map_err(|e| AppError::new("config", format!("cannot read the CA certificate {}: {e}", path.display())))?;
        reqwest::Certificate::from_pem(&pem)
            .map_err(|e| AppError::new("config", format!("{} is not a PEM certificate: {e}", path.display())))?;
        Ok(Some(pem))
    }

    fn client(&self, url: &str, credentials: Arc<KeyringCredentials>) -> AppResult<ServerClient> {
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = self.ca_certificate()? {
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| AppError::new("config", e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(ServerClient::with_http(url, credentials, builder)?)
    }

    fn start_engine(self: &Arc<Self>, client: ServerClient) {
        let device_name = self.settings().device_name;
        let engine = Arc::new(SyncEngine::new(self.store.clone(), client, &device_name));
        let (stop, stop_rx) = watch::channel(false);
        let runner = engine.clone();
        let stopped = stop_rx.clone();
        tauri::async_runtime::spawn(async move { runner.run(stopped, POLL).await });
        let listener = engine.clone();
        let stopped = stop_rx.clone();
        tauri::async_runtime::spawn(async move { listener.listen(stopped).await });
        let app = self.clone();
        let mut status = engine.status();
        let mut stopped = stop_rx;
        tauri::async_runtime::spawn(async move {
            loop {
                let current = status.borrow_and_update().clone();
                app.on_engine_status(&current);
                tokio::select! {
                    changed = status.changed() => if changed.is_err() { break },
                    _ = stopped.changed() => break,
                }
            }
        });
        *lock(&self.online) = Some(Online { engine, stop });
    }

    fn stop_engine(&self) {
        if let Some(online) = lock(&self.online).take() {
            let _ = online.stop.send(true);
        }
    }

    fn on_engine_status(&self, status: &SyncStatus) {
        if let SyncState::SignedOut { .. } = status.state {
            tracing::info!("the server ended the session; the user must sign in again");
        }
        self.publish_status(Some(status));
        if matches!(status.state, SyncState::Online) {
            let low_stock = self.settings().notify_low_stock;
            if let Err(e) = self.notifier.notify_new_alerts(&self.store, low_stock) {
                tracing::warn!(error = %e.message, "could not raise alert notifications");
            }
        }
    }

    /// The sync indicator now.
    pub fn sync_view(&self) -> SyncView {
        let status = self.engine().map(|e| e.status().borrow().clone());
        self.view_of(status.as_ref())
    }

    fn view_of(&self, status: Option<&SyncStatus>) -> SyncView {
        let pending = self.store.pending_count().unwrap_or(0) + self.store.pending_catalog_count().unwrap_or(0);
        let rejected = self.store.open_rejection_count().unwrap_or(0);
        let cursor = self.store.pull_cursor().unwrap_or(0);
        let Some(status) = status else {
            let offline_only = self.session().is_some_and(|s| s.offline_only);
            let state = if offline_only { "local_only" } else { "signed_out" };
            return SyncView { state: state.into(), reason: None, pending, rejected, last_success_ms: None, cursor };
        };
        let (state, reason) = match &status.state {
            SyncState::Idle => ("idle", None),
            SyncState::Syncing => ("syncing", None),
            SyncState::Online => ("online", None),
            SyncState::Offline { reason } => ("offline", Some(reason.clone())),
            SyncState::SignedOut { reason } => ("signed_out", Some(reason.clone())),
            SyncState::Error { reason } => ("error", Some(reason.clone())),
        };
        SyncView {
            state: state.into(),
            reason,
            pending,
            rejected,
            last_success_ms: status.last_success_ms,
            cursor: cursor.max(status.cursor),
        }
    }

    /// Sends the sync indicator to the UI.
    pub fn publish_status(&self, status: Option<&SyncStatus>) {
        let owned;
        let status = match status {
            Some(s) => Some(s),
            None => {
                owned = self.engine().map(|e| e.status().borrow().clone());
                owned.as_ref()
            }
        };
        let view = self.view_of(status);
        if let Ok(value) = serde_json::to_value(&view) {
            (self.emit)("sync-status", value);
        }
    }
}

/// Opens the secret-store entry off the async threads (D-Bus calls; a locked keyring may wait
/// for the user to unlock it).
async fn open_credentials(url: &str, username: &str, ledger: &str) -> AppResult<Arc<KeyringCredentials>> {
    let (url, username, ledger) = (url.to_string(), username.to_string(), ledger.to_string());
    tauri::async_runtime::spawn_blocking(move || Arc::new(KeyringCredentials::open(&url, &username, &ledger)))
        .await
        .map_err(|e| AppError::new("app", e.to_string()))
}

fn credentials_empty(credentials: &KeyringCredentials) -> bool {
    use smartstock_sync::CredentialStore;
    credentials.refresh_token().is_none()
}

/// Accepts `host:port` or a full URL; refuses anything but http(s).
fn normalize_url(url: &str) -> AppResult<String> {
    let url = url.trim().trim_end_matches('/');
    if url.is_empty() {
        return Err(AppError::new("validation", "enter the server address, e.g. https://stock.example.com:8443"));
    }
    let url = if url.contains("://") { url.to_string() } else { format!("https://{url}") };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(AppError::new("validation", format!("{url} is not an http(s) address")));
    }
    Ok(url)
}

fn local_session(settings: &Settings) -> SessionInfo {
    SessionInfo {
        server_url: None,
        username: "local".into(),
        user_id: settings.local_user_id,
        role: Role::Admin,
        permissions: Role::Admin.permissions(),
        must_change_password: false,
        offline_only: true,
    }
}

fn server_session(
    url: &str,
    username: &str,
    user_id: smartstock_core::UserId,
    role: Role,
    must_change_password: bool,
) -> SessionInfo {
    SessionInfo {
        server_url: Some(url.into()),
        username: username.into(),
        user_id,
        role,
        permissions: role.permissions(),
        must_change_password,
        offline_only: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_are_normalized_and_checked() {
        assert_eq!(normalize_url(" stock.example:8443/ ").unwrap(), "https://stock.example:8443");
        assert_eq!(normalize_url("http://127.0.0.1:9000").unwrap(), "http://127.0.0.1:9000");
        assert_eq!(normalize_url("").unwrap_err().code, "validation");
        assert_eq!(normalize_url("ftp://x").unwrap_err().code, "validation");
    }
}
