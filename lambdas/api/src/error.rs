//! The API's error responses: `{"error": {"code", "message"}}`, never internal detail.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use notes_core::{StoreError, ValidationError};

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn unavailable() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "a backing service is unavailable, retry later")
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::VersionMismatch => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "the note changed since you read it",
            ),
            StoreError::Limit(message) => ApiError::new(StatusCode::CONFLICT, "limit_reached", message),
            StoreError::Unavailable(_) => ApiError::unavailable(),
            StoreError::Other(detail) => {
                tracing::error!(error = %detail, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}
