//! What a sync pass can run into. `Offline` is normal and retried; the others name what the user
//! or the app must do.

use smartstock_store::StoreError;

/// A sync failure.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached (no network, server down, timeout). Nothing is lost.
    #[error("the server is unreachable ({0}); working offline, will retry")]
    Offline(String),
    /// No valid session: sign in again.
    #[error("signed out: {0}")]
    Unauthorized(String),
    /// The server refused the request.
    #[error("the server refused the request ({status} {code}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: String,
        /// Its explanation.
        message: String,
    },
    /// The server is missing movements this device believes it sent (the server was restored).
    #[error("the server holds this device's movements only up to {last_acknowledged}; resend needed")]
    SequenceGap {
        /// The server's last acknowledged sequence number.
        last_acknowledged: i64,
    },
    /// The local ledger failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server answered something this client does not understand.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
}

impl From<reqwest::Error> for SyncError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_decode() {
            SyncError::Protocol(e.to_string())
        } else {
            SyncError::Offline(e.to_string())
        }
    }
}

/// Shorthand.
pub type Result<T, E = SyncError> = std::result::Result<T, E>;
