//! Where the refresh token lives: the operating system's secret store, one entry per server and
//! user, through the `keyring` crate. On Linux the Secret Service (GNOME Keyring, KWallet) is used
//! when the session has one, else the kernel keyutils store; macOS uses the Keychain and Windows
//! the Credential Manager. When none works the app keeps the token in memory only and says so:
//! the user signs in at each start. There is no file fallback, ever.
//!
//! Must not: write a secret anywhere else, or log one.

use keyring::Entry;
use serde::Serialize;
use smartstock_sync::CredentialStore;
use std::sync::Mutex;

const SERVICE: &str = "SmartStock";

/// Which secret store holds the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SecretStore {
    /// Linux Secret Service (D-Bus).
    SecretService,
    /// Linux kernel keyutils (this login session).
    KernelKeyring,
    /// macOS Keychain or Windows Credential Manager.
    Platform,
    /// None works: the token is kept in memory until the app quits.
    Unavailable,
}

/// The refresh token of one server and user in the OS secret store.
pub struct KeyringCredentials {
    entry: Option<Entry>,
    /// Used only when no secret store works.
    memory: Mutex<Option<String>>,
    store: SecretStore,
}

impl std::fmt::Debug for KeyringCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringCredentials").field("store", &self.store).finish_non_exhaustive()
    }
}

/// The account name of an entry: one per server and user (and per ledger, so two app instances
/// with their own data folders on one machine do not rotate each other's token away).
fn account(server_url: &str, username: &str, ledger: &str) -> String {
    format!("{username}@{} ({ledger})", server_url.trim_end_matches('/'))
}

impl KeyringCredentials {
    /// Opens the entry for `username` on `server_url` for the ledger `ledger` (its device id) in
    /// the first secret store that works.
    pub fn open(server_url: &str, username: &str, ledger: &str) -> KeyringCredentials {
        let account = account(server_url, username, ledger);
        for (store, entry) in candidate_entries(&account) {
            if works(&entry) {
                return KeyringCredentials { entry: Some(entry), memory: Mutex::new(None), store };
            }
        }
        tracing::warn!("no OS secret store works here: the refresh token is kept in memory only");
        KeyringCredentials { entry: None, memory: Mutex::new(None), store: SecretStore::Unavailable }
    }

    /// Which store holds the token.
    pub fn store(&self) -> SecretStore {
        self.store
    }
}

/// The entries to try, best first.
fn candidate_entries(account: &str) -> Vec<(SecretStore, Entry)> {
    let mut entries = Vec::new();
    #[cfg(target_os = "linux")]
    {
        use keyring::{keyutils::KeyutilsCredential, secret_service::SsCredential};
        if let Ok(c) = SsCredential::new_with_target(None, SERVICE, account) {
            entries.push((SecretStore::SecretService, Entry::new_with_credential(Box::new(c))));
        }
        if let Ok(c) = KeyutilsCredential::new_with_target(None, SERVICE, account) {
            entries.push((SecretStore::KernelKeyring, Entry::new_with_credential(Box::new(c))));
        }
    }
    #[cfg(not(target_os = "linux"))]
    if let Ok(entry) = Entry::new(SERVICE, account) {
        entries.push((SecretStore::Platform, entry));
    }
    entries
}

/// Whether the store behind `entry` answers: reading succeeds or says there is no entry.
fn works(entry: &Entry) -> bool {
    match entry.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => probe_write(entry),
        Err(e) => {
            tracing::info!(error = %e, "secret store unavailable");
            false
        }
    }
}

/// Some stores read fine and refuse writes (a locked keyring, no session keyring): try a
/// write when the entry is empty, and remove the probe again.
fn probe_write(entry: &Entry) -> bool {
    if entry.get_password().is_ok() {
        return true;
    }
    match entry.set_password("probe") {
        Ok(()) => entry.delete_credential().is_ok(),
        Err(e) => {
            tracing::info!(error = %e, "secret store refuses writes");
            false
        }
    }
}

impl CredentialStore for KeyringCredentials {
    fn refresh_token(&self) -> Option<String> {
        match &self.entry {
            Some(entry) => entry.get_password().ok(),
            None => self.memory.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    fn set_refresh_token(&self, token: &str) {
        match &self.entry {
            Some(entry) => {
                if let Err(e) = entry.set_password(token) {
                    tracing::error!(error = %e, "could not store the refresh token in the secret store");
                }
            }
            None => *self.memory.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.to_string()),
        }
    }

    fn clear(&self) {
        match &self.entry {
            Some(entry) => match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => tracing::error!(error = %e, "could not delete the refresh token"),
            },
            None => *self.memory.lock().unwrap_or_else(|p| p.into_inner()) = None,
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The kernel keyutils store, as the app uses it where the session has no Secret Service
    /// (a headless warehouse PC): an entry of this process's session keyring.
    fn kernel_keyring(account: &str) -> KeyringCredentials {
        let (store, entry) = candidate_entries(account)
            .into_iter()
            .find(|(store, _)| *store == SecretStore::KernelKeyring)
            .expect("a keyutils entry can be made on Linux");
        assert!(works(&entry), "the session keyring refuses entries (run under `keyctl session -`)");
        KeyringCredentials { entry: Some(entry), memory: Mutex::new(None), store }
    }

    #[test]
    fn the_kernel_keyring_keeps_the_token_for_the_next_start_and_sign_out_deletes_it() {
        let account = account("https://stock.test:8443", "clerk", &uuid::Uuid::now_v7().to_string());
        let token = format!("refresh-{}", uuid::Uuid::now_v7());
        let first = kernel_keyring(&account);
        assert_eq!(first.refresh_token(), None);
        first.set_refresh_token(&token);
        // The next start opens the same entry afresh and finds the token.
        let next_start = kernel_keyring(&account);
        assert_eq!(next_start.store(), SecretStore::KernelKeyring);
        assert_eq!(next_start.refresh_token().as_deref(), Some(token.as_str()));
        // Sign-out deletes it; a later start finds nothing.
        next_start.clear();
        assert_eq!(kernel_keyring(&account).refresh_token(), None);
    }

    #[test]
    fn entries_are_per_server_user_and_ledger() {
        let ledger = uuid::Uuid::now_v7().to_string();
        let a = kernel_keyring(&account("https://a.test", "clerk", &ledger));
        let b = kernel_keyring(&account("https://b.test", "clerk", &ledger));
        a.set_refresh_token("token-a");
        assert_eq!(b.refresh_token(), None);
        a.clear();
    }

    #[test]
    fn with_no_store_the_token_stays_in_memory_only() {
        let none = KeyringCredentials { entry: None, memory: Mutex::new(None), store: SecretStore::Unavailable };
        none.set_refresh_token("kept-in-memory");
        assert_eq!(none.refresh_token().as_deref(), Some("kept-in-memory"));
        none.clear();
        assert_eq!(none.refresh_token(), None);
    }
}
