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

/// Path parameters with the API's JSON error when they do not decode (e.g. `%FF`, not UTF-8):
/// axum's own rejection is plain text.
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<PathParams<T>, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathParams(value)),
            Err(_) => Err(ApiError::bad_request("malformed id")),
        }
    }
}

/// The decoded `name=value` pairs of a query string (`+` and `%XX` decoded; bytes that are not
/// UTF-8 become U+FFFD, which no parameter accepts where it matters).
fn query_pairs(parts: &Parts) -> Vec<(String, String)> {
    form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn limit(value: &str) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=notes_core::MAX_PAGE).contains(n))
        .ok_or_else(|| ApiError::bad_request(format!("limit must be an integer from 1 to {}", notes_core::MAX_PAGE)))
}

fn cursor(value: &str) -> Result<String, ApiError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ApiError::bad_request("malformed cursor"));
    }
    Ok(value.to_string())
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
        for (name, value) in query_pairs(parts) {
            match name.as_str() {
                "limit" => params.limit = limit(&value)?,
                "cursor" => params.cursor = Some(cursor(&value)?),
                _ => {}
            }
        }
        Ok(params)
    }
}

/// Order of the notes listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Newest created first (the default).
    #[default]
    Created,
    /// Most recently updated first.
    Updated,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Created => "created",
            Sort::Updated => "updated",
        }
    }
}

/// `GET /v1/notes?limit=&cursor=&q=&tag=&sort=`: [`ListParams`] plus a text query (0–200
/// characters; empty is no filter), one tag and the order.
#[derive(Debug, Default)]
pub struct NoteListParams {
    pub limit: usize,
    pub cursor: Option<String>,
    pub q: Option<String>,
    pub tag: Option<String>,
    pub sort: Sort,
}

impl<S: Send + Sync> FromRequestParts<S> for NoteListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<NoteListParams, ApiError> {
        let mut params = NoteListParams { limit: notes_core::DEFAULT_PAGE, ..NoteListParams::default() };
        for (name, value) in query_pairs(parts) {
            match name.as_str() {
                "limit" => params.limit = limit(&value)?,
                "cursor" => params.cursor = Some(cursor(&value)?),
                "q" => {
                    if value.chars().count() > notes_core::MAX_QUERY_CHARS {
                        return Err(ApiError::bad_request(format!(
                            "q must be at most {} characters",
                            notes_core::MAX_QUERY_CHARS
                        )));
                    }
                    params.q = Some(value).filter(|q| !q.is_empty());
                }
                "tag" => {
                    notes_core::validate::tag_value(&value).map_err(|_| ApiError::bad_request("malformed tag"))?;
                    params.tag = Some(value);
                }
                "sort" => {
                    params.sort = match value.as_str() {
                        "created" => Sort::Created,
                        "updated" => Sort::Updated,
                        _ => return Err(ApiError::bad_request("sort must be created or updated")),
                    };
                }
                _ => {}
            }
        }
        Ok(params)
    }
}
