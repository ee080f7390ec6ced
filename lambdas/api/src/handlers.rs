//! The endpoints. Every handler scopes its store calls to the caller's id.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use notes_core::ports::{ActivityCursor, decode_note_cursor, encode_note_cursor};
use notes_core::{Attachment, Id, Note, Page, UserId, blob_key, rfc3339, validate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, ListParams, id};
use crate::identity::Caller;

const PRESIGN: Duration = Duration::from_secs(notes_core::PRESIGN_SECS);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    title: String,
    body: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    filename: String,
    content_type: String,
    size: u64,
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
pub const CACHE_TTL: Duration = Duration::from_secs(60);

fn note_key(user: &UserId, id: Id) -> String {
    format!("note:{}:{id}", user.as_str())
}

fn list_key(user: &UserId) -> String {
    format!("notes:{}", user.as_str())
}

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

async fn invalidate(state: &AppState, user: &UserId, note: Option<Id>) {
    if let Some(cache) = state.cache.as_ref() {
        let mut keys = vec![list_key(user)];
        keys.extend(note.map(|id| note_key(user, id)));
        if let Err(e) = cache.invalidate(&keys).await {
            tracing::warn!(error = %e, "cache invalidation failed; entries expire within {CACHE_TTL:?}");
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
    let content = validate::note(input.title, input.body, input.tags)?;
    let note = state.notes.create(&user, content).await?;
    invalidate(&state, &user, None).await;
    let mut response = note_response(StatusCode::CREATED, &note);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/notes/{}", note.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn list_notes(
    State(state): State<AppState>,
    Caller(user): Caller,
    params: ListParams,
) -> Result<Json<Page<Note>>, ApiError> {
    let after = match &params.cursor {
        Some(c) => Some(decode_note_cursor(c).ok_or_else(|| ApiError::bad_request("malformed cursor"))?),
        None => None,
    };
    let field = params.limit.to_string();
    if after.is_none()
        && let Some(page) = cache_get::<Page<Note>>(&state, &list_key(&user), &field).await
    {
        return Ok(Json(page));
    }
    let (items, next) = state.notes.list(&user, params.limit, after).await?;
    let page = Page { items, next_cursor: next.map(encode_note_cursor) };
    if after.is_none() {
        cache_put(&state, &list_key(&user), &field, &page).await;
    }
    Ok(Json(page))
}

pub async fn get_note(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(note): Path<String>,
) -> Result<Response, ApiError> {
    let note = id(&note)?;
    let key = note_key(&user, note);
    if let Some(cached) = cache_get::<Note>(&state, &key, "v").await {
        return Ok(note_response(StatusCode::OK, &cached));
    }
    let found = state.notes.get(&user, note).await?;
    cache_put(&state, &key, "v", &found).await;
    Ok(note_response(StatusCode::OK, &found))
}

/// `If-Match: "3"` (or `W/"3"`) → `Some(Some(3))`; `*` → `Some(None)`; absent → `None`;
/// anything else matches no version.
fn if_match(headers: &HeaderMap) -> Result<Option<Option<u64>>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("").trim();
    if value == "*" {
        return Ok(Some(None));
    }
    let tag = value.strip_prefix("W/").unwrap_or(value);
    match tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).and_then(|t| t.parse::<u64>().ok()) {
        Some(version) => Ok(Some(Some(version))),
        None => Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "If-Match does not match the note",
        )),
    }
}

pub async fn update_note(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(note): Path<String>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<NoteInput>,
) -> Result<Response, ApiError> {
    let note = id(&note)?;
    let Some(expected) = if_match(&headers)? else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "send If-Match with the note's ETag",
        ));
    };
    let content = validate::note(input.title, input.body, input.tags)?;
    let result = state.notes.update(&user, note, expected, content).await;
    if !matches!(result, Err(notes_core::StoreError::NotFound)) {
        invalidate(&state, &user, Some(note)).await;
    }
    Ok(note_response(StatusCode::OK, &result?))
}

pub async fn delete_note(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(note): Path<String>,
) -> Result<StatusCode, ApiError> {
    let note = id(&note)?;
    let removed = state.notes.delete(&user, note).await?;
    invalidate(&state, &user, Some(note)).await;
    delete_blobs(&state, removed.into_iter().map(|a| a.key).collect()).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_blobs(state: &AppState, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    if let Err(e) = state.blobs.delete(&keys).await {
        // The metadata is gone, so the objects are unreachable through the API; log them.
        tracing::warn!(error = %e, ?keys, "could not delete attachment objects");
    }
}

// ---- attachments ---------------------------------------------------------------------------

pub async fn create_attachment(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(note): Path<String>,
    JsonBody(input): JsonBody<AttachmentInput>,
) -> Result<Response, ApiError> {
    let note = id(&note)?;
    let new = validate::attachment(input.filename, &input.content_type, input.size)?;
    let attachment_id = Id::new();
    let attachment = Attachment {
        id: attachment_id,
        note_id: note,
        key: blob_key(&user, note, attachment_id),
        filename: new.filename,
        content_type: new.content_type,
        size: new.size,
        created_at: notes_core::now(),
    };
    let upload =
        state.blobs.presign_upload(&attachment.key, &attachment.content_type, attachment.size, PRESIGN).await?;
    state.notes.add_attachment(&user, &attachment).await?;
    let headers: serde_json::Map<String, Value> =
        upload.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let body = json!({
        "id": attachment.id,
        "note_id": attachment.note_id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "created_at": rfc3339(attachment.created_at),
        "upload_url": upload.url,
        "upload_method": "PUT",
        "upload_headers": headers,
        "expires_at": rfc3339(upload.expires_at),
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/notes/{note}/attachments/{}", attachment.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn list_attachments(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(note): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let note = id(&note)?;
    let attachments = state.notes.list_attachments(&user, note).await?;
    let mut items = Vec::with_capacity(attachments.len());
    for a in attachments {
        let url = state.blobs.presign_download(&a.key, &a.filename, PRESIGN).await?;
        items.push(json!({
            "id": a.id,
            "note_id": a.note_id,
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "download_url": url,
            "created_at": rfc3339(a.created_at),
        }));
    }
    Ok(Json(json!({ "items": items })))
}

pub async fn delete_attachment(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path((note, attachment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (note, attachment) = (id(&note)?, id(&attachment)?);
    let removed = state.notes.delete_attachment(&user, note, attachment).await?;
    delete_blobs(&state, vec![removed.key]).await;
    Ok(StatusCode::NO_CONTENT)
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
