//! The endpoints of health, docs, notes, activity and stats (attachments: `attachments.rs`).
//! Every handler scopes its store calls to the caller's id.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use notes_core::cache::keys;
use notes_core::ports::{ActivityCursor, cursor_id, cursor_key, encode_key_cursor, encode_note_cursor};
use notes_core::{Id, Note, Order, Page, SearchQuery, UserId, validate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, ListParams, NoteListParams, PathParams, Sort, id};
use crate::identity::Caller;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    title: String,
    body: String,
    /// Absent is no tags; `null` is refused like any other wrong type.
    #[serde(default)]
    tags: Vec<String>,
}

fn etag(note: &Note) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", note.version)).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn note_response(status: StatusCode, note: &Note) -> Response {
    let mut response = (status, Json(note)).into_response();
    response.headers_mut().insert(header::ETAG, etag(note));
    response
}

// ---- cache-aside ---------------------------------------------------------------------------

/// Single notes and first list pages live this long in the cache (writes also invalidate).
pub const CACHE_TTL: Duration = keys::TTL;

async fn cache_get<T: serde::de::DeserializeOwned>(state: &AppState, key: &str, field: &str) -> Option<T> {
    let cache = state.cache.as_ref()?;
    match cache.get(key, field).await {
        Ok(Some(text)) => serde_json::from_str(&text).ok(),
        Ok(None) | Err(_) => None, // fail open
    }
}

async fn cache_put<T: Serialize>(state: &AppState, key: &str, field: &str, value: &T) {
    if let (Some(cache), Ok(text)) = (state.cache.as_ref(), serde_json::to_string(value)) {
        let _ = cache.put(key, field, &text, CACHE_TTL).await;
    }
}

/// Deletes what a write made stale. When Redis does not answer, the adapter retries before its
/// next use and the stream consumer deletes the same keys: no stale read outlives the blip.
pub(crate) async fn invalidate(state: &AppState, user: &UserId, note: Option<Id>) {
    if let Some(cache) = state.cache.as_ref() {
        let mut stale = vec![keys::list(user)];
        stale.extend(note.map(|id| keys::note(user, id)));
        if let Err(e) = cache.invalidate(&stale).await {
            tracing::warn!(error = %e, "cache invalidation failed; retried when Redis answers, and by the stream consumer");
        }
    }
}

// ---- health, docs --------------------------------------------------------------------------

async fn probe(f: impl Future<Output = Result<(), notes_core::StoreError>>) -> &'static str {
    match tokio::time::timeout(Duration::from_secs(2), f).await {
        Ok(Ok(())) => "ok",
        _ => "unavailable",
    }
}

pub async fn health(State(state): State<AppState>) -> Response {
    let (dynamodb, postgres, s3, redis) =
        tokio::join!(probe(state.notes.health()), probe(state.activity.health()), probe(state.blobs.health()), async {
            match &state.cache {
                Some(cache) => probe(cache.health()).await,
                None => "disabled",
            }
        },);
    let up = dynamodb == "ok";
    let all = up && postgres == "ok" && s3 == "ok" && redis != "unavailable";
    let body = json!({
        "status": if all { "ok" } else if up { "degraded" } else { "unavailable" },
        "dependencies": {"dynamodb": dynamodb, "postgres": postgres, "s3": s3, "redis": redis},
    });
    let mut response = (if up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body)).into_response();
    if !up {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(crate::error::RETRY_AFTER_SECS));
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response()
}

// ---- notes ---------------------------------------------------------------------------------

pub async fn create_note(
    State(state): State<AppState>,
    Caller(user): Caller,
    JsonBody(input): JsonBody<NoteInput>,
) -> Result<Response, ApiError> {
    let content = validate::note(input.title, input.body, Some(input.tags))?;
    let note = state.notes.create(&user, content).await?;
    invalidate(&state, &user, None).await;
    let mut response = note_response(StatusCode::CREATED, &note);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/notes/{}", note.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The listing: from DynamoDB in creation or update order (first pages cached), or, with `q` or
/// `tag`, the ids the search index finds, read back from DynamoDB (never served from the index).
/// Every cursor the listing hands out is accepted by each of its queries (a cursor of another
/// query continues at that note's position).
pub async fn list_notes(
    State(state): State<AppState>,
    Caller(user): Caller,
    params: NoteListParams,
) -> Result<Json<Page<Note>>, ApiError> {
    let malformed = || ApiError::bad_request("malformed cursor");
    let order = match params.sort {
        Sort::Created => Order::Created,
        Sort::Updated => Order::Updated,
    };
    if params.q.is_some() || params.tag.is_some() {
        let after = params.cursor.as_deref().map(|c| cursor_key(c).ok_or_else(malformed)).transpose()?;
        let query = SearchQuery { text: params.q, tag: params.tag, order };
        let (ids, next) = state.search.search(&user, &query, params.limit, after).await?;
        let items = state.notes.get_many(&user, &ids).await?;
        return Ok(Json(Page { items, next_cursor: next.map(encode_key_cursor) }));
    }
    let field = format!("{}:{}", params.sort.as_str(), params.limit);
    if params.cursor.is_none()
        && let Some(page) = cache_get::<Page<Note>>(&state, &keys::list(&user), &field).await
    {
        return Ok(Json(page));
    }
    let page = match order {
        Order::Created => {
            let after = params.cursor.as_deref().map(|c| cursor_id(c).ok_or_else(malformed)).transpose()?;
            let (items, next) = state.notes.list(&user, params.limit, after).await?;
            Page { items, next_cursor: next.map(encode_note_cursor) }
        }
        Order::Updated => {
            let after = params.cursor.as_deref().map(|c| cursor_key(c).ok_or_else(malformed)).transpose()?;
            let (items, next) = state.notes.list_updated(&user, params.limit, after).await?;
            Page { items, next_cursor: next.map(encode_key_cursor) }
        }
    };
    if params.cursor.is_none() {
        cache_put(&state, &keys::list(&user), &field, &page).await;
    }
    Ok(Json(page))
}

pub async fn get_note(
    State(state): State<AppState>,
    Caller(user): Caller,
    PathParams(note): PathParams<String>,
) -> Result<Response, ApiError> {
    let note = id(&note)?;
    let key = keys::note(&user, note);
    if let Some(cached) = cache_get::<Note>(&state, &key, "v").await {
        return Ok(note_response(StatusCode::OK, &cached));
    }
    let found = state.notes.get(&user, note).await?;
    cache_put(&state, &key, "v", &found).await;
    Ok(note_response(StatusCode::OK, &found))
}

/// What `If-Match` allows (RFC 9110, section 13.1.1: strong comparison, so a weak tag
/// `W/"3"` never matches): absent → `None`; `*` → any version; `"3"` or a list of tags → those
/// versions (possibly none, which matches nothing).
pub(crate) fn if_match(headers: &HeaderMap) -> Option<IfMatch> {
    let values: Vec<&str> = headers.get_all(header::IF_MATCH).iter().map(|v| v.to_str().unwrap_or("\u{0}")).collect();
    if values.is_empty() {
        return None;
    }
    let tags: Vec<&str> = values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty()).collect();
    if tags == ["*"] {
        return Some(IfMatch::Any);
    }
    let versions = tags
        .iter()
        .filter_map(|t| t.strip_prefix('"')?.strip_suffix('"'))
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|v| v.parse::<u64>().ok())
        .collect();
    Some(IfMatch::Versions(versions))
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IfMatch {
    Any,
    Versions(Vec<u64>),
}

fn stale() -> ApiError {
    ApiError::new(StatusCode::PRECONDITION_FAILED, "precondition_failed", "If-Match does not match the note")
}

pub async fn update_note(
    State(state): State<AppState>,
    Caller(user): Caller,
    PathParams(note): PathParams<String>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<NoteInput>,
) -> Result<Response, ApiError> {
    let note = id(&note)?;
    let Some(condition) = if_match(&headers) else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "send If-Match with the note's ETag",
        ));
    };
    let content = validate::note(input.title, input.body, Some(input.tags))?;
    let expected = match condition {
        IfMatch::Any => None,
        IfMatch::Versions(versions) if versions.len() == 1 => Some(versions[0]),
        IfMatch::Versions(versions) if versions.is_empty() => {
            // Still a 404 for a note that does not exist (or is another user's).
            state.notes.get(&user, note).await?;
            return Err(stale());
        }
        IfMatch::Versions(versions) => {
            let current = state.notes.get(&user, note).await?.version;
            if !versions.contains(&current) {
                return Err(stale());
            }
            Some(current)
        }
    };
    let result = state.notes.update(&user, note, expected, content).await;
    if !matches!(result, Err(notes_core::StoreError::NotFound)) {
        invalidate(&state, &user, Some(note)).await;
    }
    Ok(note_response(StatusCode::OK, &result?))
}

pub async fn delete_note(
    State(state): State<AppState>,
    Caller(user): Caller,
    PathParams(note): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    let note = id(&note)?;
    let removed = state.notes.delete(&user, note).await?;
    invalidate(&state, &user, Some(note)).await;
    delete_blobs(&state, removed.into_iter().map(|a| a.key).collect()).await;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn delete_blobs(state: &AppState, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    if let Err(e) = state.blobs.delete(&keys).await {
        // The metadata is gone, so the objects are unreachable through the API; log them.
        tracing::warn!(error = %e, ?keys, "could not delete attachment objects");
    }
}

// ---- activity, stats -----------------------------------------------------------------------

pub async fn activity(
    State(state): State<AppState>,
    Caller(user): Caller,
    params: ListParams,
) -> Result<Response, ApiError> {
    let after = match &params.cursor {
        Some(c) => Some(ActivityCursor::decode(c).ok_or_else(|| ApiError::bad_request("malformed cursor"))?),
        None => None,
    };
    let page = state.activity.list(&user, params.limit, after.as_ref()).await?;
    Ok(Json(page).into_response())
}

pub async fn stats(State(state): State<AppState>, Caller(user): Caller) -> Result<Response, ApiError> {
    let today = notes_core::now().date();
    Ok(Json(state.activity.stats(&user, today).await?).into_response())
}
