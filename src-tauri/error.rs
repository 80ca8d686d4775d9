//! The one error type every command returns to the UI: a stable `code` the UI can branch on and
//! a `message` that names the thing and the fix (it comes from the store, the sync engine or the
//! server, which word it for people).
//!
//! Must not: hide the cause. Every variant keeps the underlying message.

use serde::Serialize;
use smartstock_store::StoreError;
use smartstock_sync::SyncError;

/// A failed command, as the UI receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// Stable code: `validation`, `not_found`, `negative_stock`, `forbidden`, `offline`,
    /// `signed_out`, `server`, `not_signed_in`, `io`, ...
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
    /// The input field at fault, when one is (`sku`, `price`, `code`, ...): a form marks it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
}

impl AppError {
    /// An error with this code and message.
    pub fn new(code: &str, message: impl Into<String>) -> AppError {
        AppError { code: code.into(), message: message.into(), field: None }
    }

    /// The user's role does not allow it.
    pub fn forbidden(what: &str, role: smartstock_core::Role) -> AppError {
        AppError::new("forbidden", format!("{what} is not allowed for the {} role; ask a manager", role.as_str()))
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        let field = match &e {
            StoreError::Invalid(invalid) => Some(invalid.field.clone()),
            StoreError::Duplicate { field, .. } => Some((*field).to_string()),
            _ => None,
        };
        AppError { field, ..AppError::new(e.code(), e.to_string()) }
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> AppError {
        let code = match &e {
            SyncError::Offline(_) => "offline".to_string(),
            SyncError::Unauthorized(_) => "signed_out".to_string(),
            SyncError::Server { code, .. } => code.clone(),
            SyncError::SequenceGap { .. } => "sequence_gap".to_string(),
            SyncError::Store(inner) => inner.code().to_string(),
            SyncError::Protocol(_) => "protocol".to_string(),
        };
        let message = match &e {
            SyncError::Server { message, .. } => message.clone(),
            other => other.to_string(),
        };
        AppError { code, message, field: None }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> AppError {
        AppError::new("io", e.to_string())
    }
}

impl From<tauri::Error> for AppError {
    fn from(e: tauri::Error) -> AppError {
        AppError::new("app", e.to_string())
    }
}

/// What commands return.
pub type AppResult<T> = Result<T, AppError>;
