//! Request parsing with the API's own errors: JSON bodies, ids, list parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::request::Parts;
use http::{StatusCode, header};
use notes_core::Id;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted (413 above).
pub const MAX_BODY: usize = 1024 * 1024;

/// A JSON body: 415 unless `Content-Type: application/json`, 413 above [`MAX_BODY`], 400 when
/// malformed or of the wrong shape (types, unknown fields).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<JsonBody<T>, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/json",
            ));
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY) {
            return Err(too_large());
        }
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY).await.map_err(|_| too_large())?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            let message = match e.classify() {
                serde_json::error::Category::Data => format!("invalid request body: {e}"),
                _ => "malformed JSON".to_string(),
            };
            ApiError::bad_request(message)
        })?;
        Ok(JsonBody(value))
    }
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("request body over {MAX_BODY} bytes"))
}

/// Parses a path segment as an id (400 otherwise).
pub fn id(s: &str) -> Result<Id, ApiError> {
    Id::parse(s).ok_or_else(|| ApiError::bad_request("malformed id"))
}

/// `?limit=&cursor=`: limit 1–100 (default 20), cursor as given (decoded by the handler).
#[derive(Debug, Default)]
pub struct ListParams {
    pub limit: usize,
    pub cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ListParams, ApiError> {
        let mut params = ListParams { limit: notes_core::DEFAULT_PAGE, cursor: None };
        let query = parts.uri.query().unwrap_or("");
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "limit" => {
                    params.limit =
                        value.parse::<usize>().ok().filter(|n| (1..=notes_core::MAX_PAGE).contains(n)).ok_or_else(
                            || {
                                ApiError::bad_request(format!(
                                    "limit must be an integer from 1 to {}",
                                    notes_core::MAX_PAGE
                                ))
                            },
                        )?;
                }
                "cursor" => {
                    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(ApiError::bad_request("malformed cursor"));
                    }
                    params.cursor = Some(value.to_string());
                }
                _ => {}
            }
        }
        Ok(params)
    }
}
