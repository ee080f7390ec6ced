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

    /// The creation time a UUIDv7 carries, in milliseconds (0 for other UUIDs).
    pub fn millis(self) -> i64 {
        self.0.get_timestamp().map_or(0, |t| {
            let (secs, nanos) = t.to_unix();
            i64::try_from(secs).unwrap_or(0) * 1000 + i64::from(nanos / 1_000_000)
        })
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
    pub state: AttachmentState,
}

impl Attachment {
    /// When its presigned upload URL stops working: a pending attachment past this never gets
    /// its bytes, and is hidden and cleaned up.
    pub fn upload_expires_at(&self) -> OffsetDateTime {
        self.created_at + std::time::Duration::from_secs(crate::PRESIGN_SECS)
    }
}

/// Whether an attachment's bytes have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentState {
    /// Registered, its upload URL handed out; the object may not exist yet.
    Pending,
    /// The object exists (checked with one HEAD, or confirmed by the client).
    Ready,
}

impl AttachmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentState::Pending => "pending",
            AttachmentState::Ready => "ready",
        }
    }

    /// Items written before attachments had a state are ready.
    pub fn parse(s: Option<&str>) -> AttachmentState {
        if s == Some("pending") { AttachmentState::Pending } else { AttachmentState::Ready }
    }
}

/// Position in a time-ordered listing (updated-first notes, search results): the last item's
/// time in milliseconds since the epoch and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NoteKey {
    pub millis: i64,
    pub id: Id,
}

impl NoteKey {
    pub fn of(at: OffsetDateTime, id: Id) -> NoteKey {
        NoteKey { millis: millis(at), id }
    }
}

/// Milliseconds since the epoch.
pub fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The order of a notes listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest created first.
    #[default]
    Created,
    /// Most recently updated first.
    Updated,
}

/// A search of the user's notes: every word of `text` (a prefix of a word of the title or body,
/// case-insensitive; words are runs of letters and digits) and `tag` (exact), in `order`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    pub text: Option<String>,
    pub tag: Option<String>,
    pub order: Order,
}

impl SearchQuery {
    /// The words of `text`, lower-cased (at most 20; more add nothing a person would type).
    pub fn words(&self) -> Vec<String> {
        words(self.text.as_deref().unwrap_or("")).into_iter().take(20).collect()
    }
}

/// Runs of letters and digits, lower-cased.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// What the search index keeps of a note: a copy derived from the notes store's stream, never the
/// source of truth (results are read back from the notes store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedNote {
    pub user: UserId,
    pub id: Id,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub version: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl IndexedNote {
    pub fn of(user: &UserId, note: &Note) -> IndexedNote {
        IndexedNote {
            user: user.clone(),
            id: note.id,
            title: note.title.clone(),
            body: note.body.clone(),
            tags: note.tags.clone(),
            version: note.version,
            created_at: note.created_at,
            updated_at: note.updated_at,
        }
    }
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
