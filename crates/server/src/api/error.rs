//! The one error type of the API: every failure leaves as `{code, message}` JSON with the right
//! status. The UI branches on `code`, never on the text. Internal detail is logged, never sent.

use crate::storage::StorageError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An API failure.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// A sentence naming the problem and the fix.
    pub message: String,
    /// Extra fields (e.g. `last_acknowledged` of a sequence gap).
    pub extra: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), extra: None }
    }

    /// 401: no valid session.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: signed in, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 400/422: the request itself is wrong.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 500, with the detail logged only.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; the request was not applied")
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            StorageError::Conflict { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            StorageError::Forbidden(message) => ApiError::forbidden(message),
            StorageError::Invalid(v) => ApiError::invalid(v.to_string()),
            StorageError::SequenceGap { last_acknowledged } => ApiError {
                extra: Some(json!({ "last_acknowledged": last_acknowledged })),
                ..ApiError::new(StatusCode::CONFLICT, "sequence_gap", e.to_string())
            },
            StorageError::CatalogGap { last_acknowledged } => ApiError {
                extra: Some(json!({ "last_acknowledged": last_acknowledged })),
                ..ApiError::new(StatusCode::CONFLICT, "catalog_gap", e.to_string())
            },
            StorageError::DeviceRestored { device_seq } => ApiError {
                extra: Some(json!({ "device_seq": device_seq })),
                ..ApiError::new(StatusCode::CONFLICT, "device_restored", e.to_string())
            },
            StorageError::Database(detail) => ApiError::internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "code": self.code, "message": self.message });
        if let (Some(serde_json::Value::Object(extra)), serde_json::Value::Object(map)) = (self.extra, &mut body) {
            map.extend(extra);
        }
        (self.status, Json(body)).into_response()
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
