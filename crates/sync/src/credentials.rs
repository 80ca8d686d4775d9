//! Where the refresh token lives. The engine only asks this trait; the desktop app implements it
//! over the OS keyring (never a file or the database). `MemoryCredentials` keeps it in memory
//! (tests, and sessions where no secret store works: the user signs in at each start).

use std::sync::Mutex;

/// A place for the refresh token of one server and user.
pub trait CredentialStore: Send + Sync {
    /// The stored refresh token, if any.
    fn refresh_token(&self) -> Option<String>;
    /// Replaces the stored refresh token.
    fn set_refresh_token(&self, token: &str);
    /// Forgets it (sign-out).
    fn clear(&self);
}

/// A refresh token held in memory only.
#[derive(Debug, Default)]
pub struct MemoryCredentials(Mutex<Option<String>>);

impl CredentialStore for MemoryCredentials {
    fn refresh_token(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_refresh_token(&self, token: &str) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.to_string());
    }

    fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
