//! The domain's values, serialized exactly as the HTTP API returns them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Who is calling: the Cognito user (`sub` claim). The only key used to scope data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// A user id from the authorizer's `sub` claim; `None` when empty or not a plausible id.
    pub fn new(sub: &str) -> Option<UserId> {
        let ok = !sub.is_empty()
            && sub.len() <= 128
            && sub.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'));
        ok.then(|| UserId(sub.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A note id or attachment id: a UUIDv7 (time ordered, so DynamoDB returns newest first), lower-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(uuid::Uuid);

impl Id {
    pub fn new() -> Id {
        Id(uuid::Uuid::now_v7())
    }

    /// Parses the canonical hyphenated lower-case form only.
    pub fn parse(s: &str) -> Option<Id> {
        if s.len() != 36 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        uuid::Uuid::try_parse(s).ok().map(Id)
    }
}

impl Default for Id {
    fn default() -> Self {
        Id::new()
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let s = String::deserialize(d)?;
        Id::parse(&s).ok_or_else(|| serde::de::Error::custom("not a note id"))
    }
}

/// Validated content of a note (what a client sends on create and replace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteContent {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: Id,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Note {
    /// A new note at version 1, created and updated now (what every `Notes::create` stores).
    pub fn new(content: NoteContent) -> Note {
        let at = now();
        Note {
            id: Id::new(),
            title: content.title,
            body: content.body,
            tags: content.tags,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }
}

/// An attachment's metadata (the bytes live in the blob store under `key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: Id,
    pub note_id: Id,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// Object key in the blob store; always under the owner's prefix, see [`blob_key`].
    pub key: String,
    pub created_at: OffsetDateTime,
}

/// Validated request to add an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

/// Object key of an attachment: under the owner's own prefix, never derived from the file name.
pub fn blob_key(user: &UserId, note: Id, attachment: Id) -> String {
    format!("users/{}/notes/{note}/{attachment}", user.as_str())
}

/// One page of a listing; `next_cursor` is opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// What happened, as recorded in the activity log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    NoteCreated,
    NoteUpdated,
    NoteDeleted,
    AttachmentAdded,
    AttachmentDeleted,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::NoteCreated => "note_created",
            ActivityKind::NoteUpdated => "note_updated",
            ActivityKind::NoteDeleted => "note_deleted",
            ActivityKind::AttachmentAdded => "attachment_added",
            ActivityKind::AttachmentDeleted => "attachment_deleted",
        }
    }

    pub fn parse(s: &str) -> Option<ActivityKind> {
        Some(match s {
            "note_created" => ActivityKind::NoteCreated,
            "note_updated" => ActivityKind::NoteUpdated,
            "note_deleted" => ActivityKind::NoteDeleted,
            "attachment_added" => ActivityKind::AttachmentAdded,
            "attachment_deleted" => ActivityKind::AttachmentDeleted,
            _ => return None,
        })
    }
}

/// A change to the notes store, as read from the DynamoDB stream (or emitted by the in-memory
/// store). `event_id` is the stream record's `eventID`: recording the same event twice is a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEvent {
    pub event_id: String,
    pub user: UserId,
    pub kind: ActivityKind,
    pub note_id: String,
    pub attachment_id: Option<String>,
    /// The note's title; the file name for attachment events.
    pub title: Option<String>,
    /// Size of an added attachment, for stats.
    pub size: Option<u64>,
    pub at: OffsetDateTime,
}

/// One row of the caller's activity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityItem {
    pub id: String,
    pub kind: ActivityKind,
    pub note_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub count: u64,
}

/// The caller's stats: live notes and attachments, and activity events per UTC day over the last
/// 30 days (oldest first, days without activity included with 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub notes_total: u64,
    pub attachments_total: u64,
    pub per_day: Vec<DayCount>,
}

/// Now, truncated to milliseconds (what every store keeps exactly).
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.millisecond() as u32 * 1_000_000).unwrap_or(now)
}

/// RFC 3339 text of a time (`2026-11-27T07:00:00.123Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_canonical_form() {
        let id = Id::new();
        assert_eq!(Id::parse(&id.to_string()), Some(id));
        assert_eq!(Id::parse(&id.to_string().to_uppercase()), None);
        assert_eq!(Id::parse("not-an-id"), None);
        assert_eq!(Id::parse(&id.to_string().replace('-', "")), None);
    }

    #[test]
    fn ids_sort_by_creation() {
        let ids: Vec<Id> = (0..50).map(|_| Id::new()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let strings: Vec<String> = ids.iter().map(Id::to_string).collect();
        let mut sorted = strings.clone();
        sorted.sort();
        assert_eq!(strings, sorted);
    }

    #[test]
    fn user_ids_reject_odd_values() {
        assert!(UserId::new("6f1c-4a2b").is_some());
        assert!(UserId::new("").is_none());
        assert!(UserId::new("a/b").is_none());
        assert!(UserId::new("a#b").is_none());
    }
}
