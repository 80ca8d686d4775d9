//! JSON response bodies of the sync hot paths (push outcomes, pull pages), encoded straight into
//! one growing buffer that becomes the body without a copy. axum's `Json` encodes through a
//! `BytesMut` writer, one small slice at a time, and that writing cost as much as a pull page's
//! encoding itself.
//!
//! Must not: answer differently from `axum::Json` (same bytes, same `Content-Type`; an encoding
//! failure is a 500 in the API's error shape).

use super::error::ApiError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// First capacity of a body (a pull page of catalog rows takes tens of kilobytes; a push
/// answer of one movement about a hundred bytes).
const FIRST_CAPACITY: usize = 4096;

/// A value answered as JSON.
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(FIRST_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "encoding a response");
                let message =
                    "the server could not encode its answer; ask again (a push is answered from what it stored)";
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_the_bytes_and_content_type_of_axum_json() {
        let value = serde_json::json!({ "name": "Café \"quoted\"", "n": [1, 2, 3], "none": null });
        let ours = Json(value.clone()).into_response();
        let axums = axum::Json(value).into_response();
        assert_eq!(ours.status(), axums.status());
        assert_eq!(ours.headers().get(header::CONTENT_TYPE), axums.headers().get(header::CONTENT_TYPE));
        let ours = axum::body::to_bytes(ours.into_body(), usize::MAX).await.unwrap();
        let axums = axum::body::to_bytes(axums.into_body(), usize::MAX).await.unwrap();
        assert_eq!(ours, axums);
    }
}
