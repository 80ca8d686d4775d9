//! Self-update (issue #6) through tauri-plugin-updater: the app asks the server it syncs with
//! (`/api/v1/updates/...`, see smartstock-server's update feed) for a newer release, shows its
//! notes, and installs it only when the user agrees. The plugin verifies the artifact's minisign
//! signature against the public key built into the app (`plugins.updater.pubkey`, set by
//! `make dist`) and refuses anything that does not verify. Builds without a key (development)
//! have no updater and say so.
//!
//! Must not: install without the user's consent, or accept an artifact whose signature fails.

use crate::error::{AppError, AppResult};
use crate::state::App;
use serde::Serialize;
use std::sync::Arc;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_updater::UpdaterExt;

/// A newer release the server offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct UpdateInfo {
    /// The version installed now.
    pub current_version: String,
    /// The version offered.
    pub version: String,
    /// Its release notes.
    pub notes: String,
}

/// Download progress, sent as the `update-progress` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct UpdateProgress {
    /// Bytes downloaded so far.
    pub downloaded: u64,
    /// Size of the artifact, when the server said.
    pub total: Option<u64>,
}

/// Whether this build carries an update key (release builds from `make dist`).
pub fn configured<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.config().plugins.0.get("updater").and_then(|u| u.get("pubkey")).is_some_and(|k| k.is_string())
}

fn feed_url(server: &str) -> AppResult<tauri::Url> {
    let text = format!(
        "{}/api/v1/updates/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}?bundle_type={{{{bundle_type}}}}",
        server.trim_end_matches('/')
    );
    text.parse()
        .map_err(|e| AppError::new("config", format!("the server address {server} cannot be used for updates: {e}")))
}

async fn find<R: Runtime>(handle: &AppHandle<R>, app: &Arc<App>) -> AppResult<Option<tauri_plugin_updater::Update>> {
    if !configured(handle) {
        return Err(AppError::new("updates_not_configured", "this build has no update key; install a release build"));
    }
    let server = app
        .settings()
        .server_url
        .ok_or_else(|| AppError::new("offline", "updates come from your SmartStock server; sign in first"))?;
    let mut builder = handle.updater_builder().endpoints(vec![feed_url(&server)?]).map_err(update_error)?;
    if let Some(pem) = app.ca_certificate()? {
        builder = builder.configure_client(move |client| match updater_http::Certificate::from_pem(&pem) {
            Ok(cert) => client.add_root_certificate(cert),
            Err(_) => client,
        });
    }
    builder.build().map_err(update_error)?.check().await.map_err(update_error)
}

fn update_error(e: tauri_plugin_updater::Error) -> AppError {
    use tauri_plugin_updater::Error as E;
    match e {
        E::Minisign(_) | E::SignatureUtf8(_) | E::Base64(_) => AppError::new(
            "update_signature",
            format!("the update's signature does not verify ({e}); it was not installed, keep using this version"),
        ),
        E::SignedVersionMismatch { .. } | E::MissingSignedVersion => AppError::new(
            "update_signature",
            format!("the update was not signed for the version the server announced ({e}); it was not installed, keep using this version"),
        ),
        E::PackageInstallFailed | E::DebInstallFailed | E::AuthenticationFailed => AppError::new(
            "update_install",
            format!("the verified update could not be installed ({e}): installing needs administrator rights (pkexec or sudo); ask IT to install it, this version keeps working"),
        ),
        other => AppError::new("update", format!("{other}")),
    }
}

/// Asks the server for a newer release.
#[tauri::command]
pub async fn check_for_update(handle: AppHandle, app: tauri::State<'_, Arc<App>>) -> AppResult<Option<UpdateInfo>> {
    let update = find(&handle, app.inner()).await?;
    Ok(update.map(|u| UpdateInfo {
        current_version: u.current_version.clone(),
        version: u.version.clone(),
        notes: u.body.clone().unwrap_or_default(),
    }))
}

/// Downloads, verifies and installs the newer release, then restarts into it. The user asked
/// for it (the UI shows the notes and asks first).
#[tauri::command]
pub async fn install_update(handle: AppHandle, app: tauri::State<'_, Arc<App>>) -> AppResult<()> {
    let update = find(&handle, app.inner())
        .await?
        .ok_or_else(|| AppError::new("no_update", "this is already the newest version"))?;
    let mut downloaded = 0u64;
    let progress = handle.clone();
    update
        .download_and_install(
            move |chunk, total| {
                downloaded += chunk as u64;
                let _ = progress.emit("update-progress", UpdateProgress { downloaded, total });
            },
            || {},
        )
        .await
        .map_err(update_error)?;
    tracing::info!(version = %update.version, "update installed; restarting");
    if let Some(window) = handle.get_webview_window("main") {
        let _ = window.emit("update-installed", update.version.clone());
    }
    handle.restart()
}
