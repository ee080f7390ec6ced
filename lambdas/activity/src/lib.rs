//! The activity function: consumes the notes table's DynamoDB stream and, for each change, records
//! an activity row and updates the search index in PostgreSQL, then deletes the changed note's
//! cache entries in Redis.
//!
//! - Idempotent: the stream record's `eventID` is a unique key, so redelivered records are no-ops;
//!   the search index is written in version order and keeps removed notes removed.
//! - Cache: the API invalidates on every write, but a write made while Redis did not answer
//!   could not. So the consumer deletes the note's keys again, retrying while Redis does not
//!   answer, until it succeeds or the record is older than [`STALE_HORIZON`] (then every entry it
//!   could have made stale has expired). Redis being down delays the shard by at most that long.
//! - Partial batch failures: records are processed in order; at the first one that cannot be
//!   recorded (PostgreSQL down) processing stops and that record's sequence number is reported
//!   in `batchItemFailures`. Lambda then retries from it (the event source mapping needs
//!   `FunctionResponseTypes: [ReportBatchItemFailures]`), so an outage delays activity but loses
//!   none. Records that can never become activity (other item kinds, malformed images) are
//!   skipped with a warning instead of blocking the shard.

use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use notes_core::ports::{Activity, Cache, Search};
use notes_core::{ActivityEvent, ActivityKind, AttachmentState, Id, IndexedNote, UserId};
use serde_json::Value;
use time::OffsetDateTime;

/// Where the stream's changes go: the activity log and the search index (PostgreSQL), and the
/// cache, whose entries for a changed note are deleted (again: the API deleted them already, unless
/// Redis missed it).
pub struct Sinks<'a> {
    pub activity: &'a dyn Activity,
    pub search: &'a dyn Search,
    pub cache: Option<&'a dyn Cache>,
    /// How long one call may keep retrying a cache invalidation while Redis does not answer
    /// (then the record is reported and redelivered).
    pub invalidation_budget: Duration,
}

/// After this long every cache entry a change could have made stale has expired by itself: older
/// records need no invalidation.
pub const STALE_HORIZON: Duration = Duration::from_secs(notes_core::cache::keys::TTL.as_secs() + 5);
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// What a stream record changes.
#[derive(Debug, Default)]
pub struct Change {
    pub activity: Option<ActivityEvent>,
    pub index: Option<Index>,
    /// The note whose cache entries are stale now.
    pub invalidate: Option<(UserId, Id)>,
}

#[derive(Debug)]
pub enum Index {
    Put(IndexedNote),
    Remove(UserId, Id),
}

/// Handles every record of `event` in order, stopping at the first one that cannot be handled
/// (reported for retry from it).
pub async fn handle(sinks: &Sinks<'_>, event: Event) -> DynamoDbEventResponse {
    let started = Instant::now();
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        let change = match to_change(record) {
            Ok(change) => change,
            Err(reason) => {
                tracing::warn!(event_id = %record.event_id, reason, "skipping a stream record that is not a note change");
                continue;
            }
        };
        if let Err(e) = apply(sinks, record, change, started).await {
            tracing::warn!(event_id = %record.event_id, error = %e, "cannot handle; Lambda retries from this record");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier =
                Some(record.change.sequence_number.clone().unwrap_or_else(|| record.event_id.clone()));
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

async fn apply(sinks: &Sinks<'_>, record: &EventRecord, change: Change, started: Instant) -> Result<(), String> {
    if let Some(event) = &change.activity {
        match sinks.activity.record(event).await.map_err(|e| e.to_string())? {
            true => tracing::debug!(event_id = %record.event_id, "recorded"),
            false => tracing::info!(event_id = %record.event_id, "already recorded (redelivery)"),
        }
    }
    match &change.index {
        Some(Index::Put(note)) => sinks.search.index(note).await.map_err(|e| e.to_string())?,
        Some(Index::Remove(user, id)) => sinks.search.remove(user, *id).await.map_err(|e| e.to_string())?,
        None => {}
    }
    if let (Some(cache), Some((user, id))) = (sinks.cache, &change.invalidate) {
        let keys = notes_core::cache::keys::of_note(user, *id);
        loop {
            match cache.invalidate(&keys).await {
                Ok(()) => break,
                Err(_) if age(record) > STALE_HORIZON => {
                    tracing::info!(event_id = %record.event_id, "Redis does not answer, but every entry this change could make stale has expired");
                    break;
                }
                Err(e) if started.elapsed() >= sinks.invalidation_budget => {
                    return Err(format!("cache invalidation: {e}"));
                }
                Err(_) => tokio::time::sleep(RETRY_EVERY).await,
            }
        }
    }
    Ok(())
}

/// How long ago the change happened (the stream's approximate time, to the second).
fn age(record: &EventRecord) -> Duration {
    let at = record.change.approximate_creation_date_time.timestamp_millis();
    let now = notes_core::model::millis(notes_core::now());
    Duration::from_millis(u64::try_from(now - at).unwrap_or(0))
}

/// Everything a stream record changes: its activity, the search index, the cache.
pub fn to_change(record: &EventRecord) -> Result<Change, &'static str> {
    let activity = to_activity(record)?;
    let image = image_of(record)?;
    let text = |name: &str| image.get(name).and_then(|v| v.get("S")).and_then(Value::as_str).map(str::to_string);
    if text("kind").as_deref() != Some("note") {
        return Ok(Change { activity, ..Change::default() });
    }
    let user = text("user").as_deref().and_then(UserId::new).ok_or("image without a valid user")?;
    let id = text("id").as_deref().and_then(Id::parse).ok_or("image without a valid note id")?;
    let index = if record.event_name == "REMOVE" {
        Index::Remove(user.clone(), id)
    } else {
        let time =
            |name: &str| text(name).as_deref().and_then(notes_core::parse_rfc3339).ok_or("image without its times");
        let tags = match image.get("tags").and_then(|t| t.get("L")).and_then(Value::as_array) {
            Some(list) => list.iter().filter_map(|v| v.get("S").and_then(Value::as_str).map(str::to_string)).collect(),
            None => Vec::new(),
        };
        Index::Put(IndexedNote {
            user: user.clone(),
            id,
            title: text("title").unwrap_or_default(),
            body: text("body").unwrap_or_default(),
            tags,
            version: image
                .get("version")
                .and_then(|v| v.get("N"))
                .and_then(Value::as_str)
                .and_then(|n| n.parse().ok())
                .ok_or("image without a version")?,
            created_at: time("created_at")?,
            updated_at: time("updated_at")?,
        })
    };
    Ok(Change { activity, index: Some(index), invalidate: Some((user, id)) })
}

fn image_of(record: &EventRecord) -> Result<Value, &'static str> {
    let removed = match record.event_name.as_str() {
        "INSERT" | "MODIFY" => false,
        "REMOVE" => true,
        _ => return Err("unknown eventName"),
    };
    let image = if removed { &record.change.old_image } else { &record.change.new_image };
    serde_json::to_value(image).map_err(|_| "image does not serialize")
}

/// The activity a stream record stands for: `Ok(None)` for changes that are not activity.
pub fn to_activity(record: &EventRecord) -> Result<Option<ActivityEvent>, &'static str> {
    let image = image_of(record)?;
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
    // An attachment is added when its bytes arrive (pending -> ready; items without a state are
    // ready), and only a ready one is deleted: an upload that never happened is no activity.
    let state_of = |image: &std::collections::HashMap<String, _>| {
        let image = serde_json::to_value(image).unwrap_or(Value::Null);
        AttachmentState::parse(image.get("state").and_then(|v| v.get("S")).and_then(Value::as_str))
    };
    let was_ready = state_of(&record.change.old_image) == AttachmentState::Ready;
    let is_ready = state_of(&record.change.new_image) == AttachmentState::Ready;
    let (kind, at) = match (kind.as_str(), record.event_name.as_str()) {
        ("note", "INSERT") => (ActivityKind::NoteCreated, written_at("created_at")),
        ("note", "MODIFY") => (ActivityKind::NoteUpdated, written_at("updated_at")),
        ("note", _) => (ActivityKind::NoteDeleted, None),
        ("attachment", "INSERT") if is_ready => (ActivityKind::AttachmentAdded, written_at("created_at")),
        ("attachment", "MODIFY") if is_ready && !was_ready => (ActivityKind::AttachmentAdded, None),
        ("attachment", "REMOVE") if was_ready => (ActivityKind::AttachmentDeleted, None),
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
