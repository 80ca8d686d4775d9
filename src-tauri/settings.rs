//! The app's own non-secret settings (`settings.json` in the data directory): which server and
//! user this desktop works with, whether it works offline only, notification preferences. The
//! refresh token is never here (the OS keyring holds it, see `secrets`).
//!
//! Fleet roll-out: a machine-wide file (`/etc/smartstock/desktop.json` on Linux, or the path in
//! `SMARTSTOCK_DESKTOP_CONFIG`) presets the server URL and a CA certificate to trust; the env variables
//! `SMARTSTOCK_SERVER_URL` and `SMARTSTOCK_CA_CERT` override it.
//!
//! Must not: hold secrets or business rules.

use crate::error::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use smartstock_core::ids::NewRandom;
use smartstock_core::{Role, UserId};
use std::path::{Path, PathBuf};

/// What the app remembers between runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct Settings {
    /// The server this desktop syncs with.
    pub server_url: Option<String>,
    /// Who signed in last (the keyring entry is per server and user).
    pub username: Option<String>,
    /// That user's id, for movements recorded while the server is unreachable.
    pub user_id: Option<UserId>,
    /// That user's role as the server said last.
    pub role: Option<Role>,
    /// The user chose to work without a server.
    pub offline_only: bool,
    /// Raise OS notifications for low stock too (negative stock always notifies).
    pub notify_low_stock: bool,
    /// How this desktop is named on the server.
    pub device_name: String,
    /// The user id of movements recorded in offline-only mode.
    pub local_user_id: UserId,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            server_url: None,
            username: None,
            user_id: None,
            role: None,
            offline_only: false,
            notify_low_stock: false,
            device_name: default_device_name(),
            local_user_id: UserId::new_random(),
        }
    }
}

fn default_device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "desktop".into())
}

/// The machine-wide preset (fleet roll-out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// Server URL every desktop of this machine uses unless the user chose another.
    pub server_url: Option<String>,
    /// PEM file of a certificate to trust (a server with its own CA or a self-signed one).
    pub ca_cert: Option<PathBuf>,
}

impl FleetConfig {
    /// Reads the fleet file (if any) and applies the env overrides.
    pub fn load() -> AppResult<FleetConfig> {
        let path = std::env::var_os("SMARTSTOCK_DESKTOP_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/smartstock/desktop.json"));
        let mut config = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                AppError::new("config", format!("{} is not valid: {e}; fix or remove the file", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FleetConfig::default(),
            Err(e) => return Err(AppError::new("config", format!("cannot read {}: {e}", path.display()))),
        };
        if let Ok(url) = std::env::var("SMARTSTOCK_SERVER_URL") {
            config.server_url = Some(url);
        }
        if let Some(ca) = std::env::var_os("SMARTSTOCK_CA_CERT") {
            config.ca_cert = Some(PathBuf::from(ca));
        }
        Ok(config)
    }
}

/// Where settings live.
pub fn settings_path(data_dir: &Path) -> PathBuf {
    data_dir.join("settings.json")
}

/// Loads the settings, or the defaults on first run.
pub fn load(data_dir: &Path) -> AppResult<Settings> {
    let path = settings_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            AppError::new("config", format!("{} is damaged ({e}); delete it to start over", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(e.into()),
    }
}

/// Saves the settings atomically (write a temporary file, then rename).
pub fn save(data_dir: &Path, settings: &Settings) -> AppResult<()> {
    let path = settings_path(data_dir);
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(settings).map_err(|e| AppError::new("config", e.to_string()))?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_first_run_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let first = load(dir.path()).unwrap();
        assert!(first.server_url.is_none() && !first.offline_only);
        let mut changed = first.clone();
        changed.server_url = Some("https://stock.example:8443".into());
        changed.role = Some(Role::Clerk);
        save(dir.path(), &changed).unwrap();
        assert_eq!(load(dir.path()).unwrap(), changed);
    }

    #[test]
    fn damaged_settings_name_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(settings_path(dir.path()), "{not json").unwrap();
        let err = load(dir.path()).unwrap_err();
        assert_eq!(err.code, "config");
        assert!(err.message.contains("settings.json") && err.message.contains("delete it"), "{}", err.message);
    }
}
