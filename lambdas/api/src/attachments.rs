//! The attachment endpoints. An attachment is pending from its registration until its object
//! exists: the client confirms the upload (`POST .../confirm`, one HEAD), or the listing finds the
//! object with one HEAD per pending attachment. Pending ones whose upload URL has expired are
//! hidden and deleted (metadata and any object) by the listing that finds them.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use notes_core::{Attachment, AttachmentState, Id, UserId, blob_key, rfc3339, validate};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, id};
use crate::handlers::delete_blobs;
use crate::identity::Caller;

const PRESIGN: Duration = Duration::from_secs(notes_core::PRESIGN_SECS);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    filename: String,
    content_type: String,
    size: u64,
}

pub async fn create_attachment(
    State(state): State<AppState>,
    Caller(user): Caller,
    PathParams(note): PathParams<String>,
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
        state: AttachmentState::Pending,
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
        "state": attachment.state,
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
    PathParams(note): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let note = id(&note)?;
    let attachments = state.notes.list_attachments(&user, note).await?;
    let mut items = Vec::with_capacity(attachments.len());
    for a in attachments {
        let Some(a) = settle(&state, &user, a).await? else { continue };
        items.push(listed(&state, &a).await?);
    }
    Ok(Json(json!({ "items": items })))
}

/// A pending attachment whose object exists becomes ready (one HEAD); one that has none past its
/// upload URL's expiry is deleted (`None`: not listed).
async fn settle(state: &AppState, user: &UserId, a: Attachment) -> Result<Option<Attachment>, ApiError> {
    if a.state == AttachmentState::Ready {
        return Ok(Some(a));
    }
    if state.blobs.exists(&a.key).await? {
        return Ok(Some(state.notes.mark_attachment_ready(user, a.note_id, a.id).await?));
    }
    if notes_core::now() <= a.upload_expires_at() {
        return Ok(Some(a));
    }
    match state.notes.delete_attachment(user, a.note_id, a.id).await {
        Ok(_) | Err(notes_core::StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    // An upload that began just before the URL expired may still land: delete that too.
    delete_blobs(state, vec![a.key]).await;
    tracing::info!(attachment = %a.id, "deleted an attachment that was never uploaded");
    Ok(None)
}

/// An attachment as listed: a download URL once ready (saved under its file name).
async fn listed(state: &AppState, a: &Attachment) -> Result<Value, ApiError> {
    let url = match a.state {
        AttachmentState::Ready => Some(state.blobs.presign_download(&a.key, &a.filename, PRESIGN).await?),
        AttachmentState::Pending => None,
    };
    Ok(json!({
        "id": a.id,
        "note_id": a.note_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "state": a.state,
        "download_url": url,
        "created_at": rfc3339(a.created_at),
    }))
}

/// `POST /v1/notes/{id}/attachments/{attachment_id}/confirm`: the client says the upload is done;
/// one HEAD checks it. 200 with the attachment (ready), or 409 `not_uploaded`.
pub async fn confirm_attachment(
    State(state): State<AppState>,
    Caller(user): Caller,
    PathParams((note, attachment)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let (note, attachment) = (id(&note)?, id(&attachment)?);
    let found = state
        .notes
        .list_attachments(&user, note)
        .await?
        .into_iter()
        .find(|a| a.id == attachment)
        .ok_or_else(ApiError::not_found)?;
    let ready = match found.state {
        AttachmentState::Ready => found,
        AttachmentState::Pending => {
            if !state.blobs.exists(&found.key).await? {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "not_uploaded",
                    "the file has not been uploaded to upload_url yet",
                ));
            }
            state.notes.mark_attachment_ready(&user, note, attachment).await?
        }
    };
    Ok(Json(listed(&state, &ready).await?).into_response())
}

pub async fn delete_attachment(
    State(state): State<AppState>,
    Caller(user): Caller,
    PathParams((note, attachment)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (note, attachment) = (id(&note)?, id(&attachment)?);
    let removed = state.notes.delete_attachment(&user, note, attachment).await?;
    delete_blobs(&state, vec![removed.key]).await;
    Ok(StatusCode::NO_CONTENT)
}
