//! The activity function: consumes the notes table's DynamoDB stream and records one activity row
//! per change in PostgreSQL.
//!
//! - Idempotent: the stream record's `eventID` is a unique key, so redelivered records are no-ops.
//! - Partial batch failures: records are processed in order; at the first one that cannot be
//!   recorded (PostgreSQL down) processing stops and that record's sequence number is reported
//!   in `batchItemFailures`. Lambda then retries from it (the event source mapping needs
//!   `FunctionResponseTypes: [ReportBatchItemFailures]`), so an outage delays activity but loses
//!   none. Records that can never become activity (other item kinds, malformed images) are
//!   skipped with a warning instead of blocking the shard.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use notes_core::ports::Activity;
use notes_core::{ActivityEvent, ActivityKind, UserId};
use serde_json::Value;
use time::OffsetDateTime;

/// Records every record of `event`, stopping at the first failure (reported for retry).
pub async fn handle(activity: &dyn Activity, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let change = match to_activity(record) {
            Ok(Some(change)) => change,
            Ok(None) => continue,
            Err(reason) => {
                tracing::warn!(event_id = %record.event_id, reason, "skipping a stream record that is not activity");
                continue;
            }
        };
        match activity.record(&change).await {
            Ok(true) => tracing::debug!(event_id = %record.event_id, "recorded"),
            Ok(false) => tracing::info!(event_id = %record.event_id, "already recorded (redelivery)"),
            Err(e) => {
                tracing::warn!(event_id = %record.event_id, error = %e, "cannot record; Lambda retries from this record");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier =
                    Some(record.change.sequence_number.clone().unwrap_or_else(|| record.event_id.clone()));
                response.batch_item_failures.push(failure);
                break;
            }
        }
    }
    response
}

/// The activity a stream record stands for: `Ok(None)` for changes that are not activity.
pub fn to_activity(record: &EventRecord) -> Result<Option<ActivityEvent>, &'static str> {
    let removed = match record.event_name.as_str() {
        "INSERT" | "MODIFY" => false,
        "REMOVE" => true,
        _ => return Err("unknown eventName"),
    };
    let image = if removed { &record.change.old_image } else { &record.change.new_image };
    let image = serde_json::to_value(image).map_err(|_| "image does not serialize")?;
    let text = |name: &str| image.get(name).and_then(|v| v.get("S")).and_then(Value::as_str).map(str::to_string);
    let number = |name: &str| {
        image.get(name).and_then(|v| v.get("N")).and_then(Value::as_str).and_then(|n| n.parse::<u64>().ok())
    };
    let Some(kind) = text("kind") else {
        return Err("image without kind (is the stream view NEW_AND_OLD_IMAGES?)");
    };
    let user = text("user").as_deref().and_then(UserId::new).ok_or("image without a valid user")?;
    let stream_time = OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(record.change.approximate_creation_date_time.timestamp_millis()) * 1_000_000,
    )
    .map_err(|_| "bad ApproximateCreationDateTime")?;
    // Writes carry their own millisecond timestamps; removals only have the stream's time.
    let written_at = |name: &str| text(name).as_deref().and_then(notes_core::parse_rfc3339);
    let (kind, at) = match (kind.as_str(), record.event_name.as_str()) {
        ("note", "INSERT") => (ActivityKind::NoteCreated, written_at("created_at")),
        ("note", "MODIFY") => (ActivityKind::NoteUpdated, written_at("updated_at")),
        ("note", _) => (ActivityKind::NoteDeleted, None),
        ("attachment", "INSERT") => (ActivityKind::AttachmentAdded, written_at("created_at")),
        ("attachment", "REMOVE") => (ActivityKind::AttachmentDeleted, None),
        _ => return Ok(None),
    };
    let is_note = matches!(kind, ActivityKind::NoteCreated | ActivityKind::NoteUpdated | ActivityKind::NoteDeleted);
    let note_id = if is_note { text("id") } else { text("note_id") }.ok_or("image without note id")?;
    // A removal has only the stream's time, rounded down to the second: never let it sort before
    // the item's own last write.
    let at = match at {
        Some(at) => at,
        None => {
            let last_write = written_at("updated_at").or_else(|| written_at("created_at"));
            match last_write {
                Some(w) if w >= stream_time => w + time::Duration::milliseconds(1),
                _ => stream_time,
            }
        }
    };
    Ok(Some(ActivityEvent {
        event_id: record.event_id.clone(),
        user,
        kind,
        note_id,
        attachment_id: if is_note { None } else { text("id") },
        title: if is_note { text("title") } else { text("filename") },
        size: if is_note { None } else { number("size") },
        at,
    }))
}
