//! The ports: what the application needs from each store. Every port has a real adapter and an
//! in-memory one; `tests/contract_*.rs` holds them to the same contract.

use std::time::Duration;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::error::StoreError;
use crate::model::{
    ActivityEvent, ActivityItem, Attachment, Id, IndexedNote, Note, NoteContent, NoteKey, Page, SearchQuery, Stats,
    UserId,
};

/// The source of truth for notes and attachment metadata (DynamoDB). Every call is scoped to one
/// user: an id of another user's item behaves exactly like an id that does not exist.
#[async_trait]
pub trait Notes: Send + Sync {
    /// Stores a new note at version 1.
    async fn create(&self, user: &UserId, content: NoteContent) -> Result<Note, StoreError>;
    /// `NotFound` when the user has no such note.
    async fn get(&self, user: &UserId, id: Id) -> Result<Note, StoreError>;
    /// Newest first; `after` is the last id of the previous page. Returns the page and the id to
    /// continue after, if there may be more.
    async fn list(&self, user: &UserId, limit: usize, after: Option<Id>)
    -> Result<(Vec<Note>, Option<Id>), StoreError>;
    /// Most recently updated first (ties: newer id first); `after` is the position of the previous
    /// page's last note. Returns the page and the position to continue after, if there may be more.
    async fn list_updated(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<NoteKey>,
    ) -> Result<(Vec<Note>, Option<NoteKey>), StoreError>;
    /// The user's notes with these ids (at most [`crate::MAX_PAGE`]), in this order; ids the
    /// user has no note for are left out.
    async fn get_many(&self, user: &UserId, ids: &[Id]) -> Result<Vec<Note>, StoreError>;
    /// Replaces the content when the stored version is `expected` (any version when `None`):
    /// `NotFound`, or `VersionMismatch` when another write came first. Bumps the version.
    async fn update(
        &self,
        user: &UserId,
        id: Id,
        expected: Option<u64>,
        content: NoteContent,
    ) -> Result<Note, StoreError>;
    /// Deletes the note and its attachments' metadata in one transaction; returns the removed
    /// attachments so the caller can delete their blobs.
    async fn delete(&self, user: &UserId, id: Id) -> Result<Vec<Attachment>, StoreError>;
    /// Adds attachment metadata (in its given state, normally pending) to an existing note (`NotFound` if the note is gone; `Limit` at
    /// [`crate::MAX_ATTACHMENTS_PER_NOTE`]).
    async fn add_attachment(&self, user: &UserId, attachment: &Attachment) -> Result<(), StoreError>;
    /// Oldest first. `NotFound` when the user has no such note.
    async fn list_attachments(&self, user: &UserId, note: Id) -> Result<Vec<Attachment>, StoreError>;
    /// Marks an attachment as uploaded and returns it (`NotFound` when absent); a no-op when it
    /// is ready already.
    async fn mark_attachment_ready(&self, user: &UserId, note: Id, attachment: Id) -> Result<Attachment, StoreError>;
    /// Removes one attachment's metadata and returns it (`NotFound` when absent).
    async fn delete_attachment(&self, user: &UserId, note: Id, attachment: Id) -> Result<Attachment, StoreError>;
    /// Whether the store answers.
    async fn health(&self) -> Result<(), StoreError>;
}

/// Activity log and stats (PostgreSQL), fed from the notes store's change stream.
#[async_trait]
pub trait Activity: Send + Sync {
    /// Records one change idempotently: `Ok(false)` when `event.event_id` was recorded before.
    /// Also maintains the relational projection the stats are computed from.
    async fn record(&self, event: &ActivityEvent) -> Result<bool, StoreError>;
    /// The user's events, newest first; `after` is a cursor from a previous page.
    async fn list(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&ActivityCursor>,
    ) -> Result<Page<ActivityItem>, StoreError>;
    /// Totals and activity per day for the 30 days ending with `today` (UTC).
    async fn stats(&self, user: &UserId, today: Date) -> Result<Stats, StoreError>;
    async fn health(&self) -> Result<(), StoreError>;
}

/// The search index of notes (PostgreSQL full-text search), derived from the notes store's change
/// stream: never the source of truth, so callers read the notes it finds back from [`Notes`].
/// Writes are idempotent and ordered by version; a removed note stays removed.
#[async_trait]
pub trait Search: Send + Sync {
    /// Adds or replaces a note, unless the index holds a newer version or the note was removed.
    async fn index(&self, note: &IndexedNote) -> Result<(), StoreError>;
    /// Removes a note for good (its id is never indexed again).
    async fn remove(&self, user: &UserId, id: Id) -> Result<(), StoreError>;
    /// Ids of the user's notes matching `query`, in its order (time descending, then id
    /// descending); `after` is the position of the previous page's last note.
    async fn search(
        &self,
        user: &UserId,
        query: &SearchQuery,
        limit: usize,
        after: Option<NoteKey>,
    ) -> Result<(Vec<Id>, Option<NoteKey>), StoreError>;
    async fn health(&self) -> Result<(), StoreError>;
}

/// Position in the activity log: (time, sequence) of the last item returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCursor {
    pub at: OffsetDateTime,
    pub seq: i64,
}

impl ActivityCursor {
    pub fn encode(&self) -> String {
        let micros = self.at.unix_timestamp_nanos() / 1000;
        hex::encode(format!("a:{micros}:{}", self.seq))
    }

    pub fn decode(s: &str) -> Option<ActivityCursor> {
        let text = String::from_utf8(hex::decode(s).ok()?).ok()?;
        let rest = text.strip_prefix("a:")?;
        let (micros, seq) = rest.split_once(':')?;
        if !is_integer(micros, 16) || !is_integer(seq, 18) {
            return None;
        }
        let micros: i128 = micros.parse().ok()?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1000)?).ok()?;
        Some(ActivityCursor { at, seq: seq.parse().ok()? })
    }
}

/// `-?[0-9]{1,max}`: what the cursors carry (stricter than `str::parse`, which takes `+1`).
fn is_integer(s: &str, max: usize) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.len() <= max && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Opaque cursor of the notes listing: the last note id of the previous page.
pub fn encode_note_cursor(id: Id) -> String {
    hex::encode(format!("n:{id}"))
}

pub fn decode_note_cursor(s: &str) -> Option<Id> {
    let text = String::from_utf8(hex::decode(s).ok()?).ok()?;
    Id::parse(text.strip_prefix("n:")?)
}

/// Opaque cursor of a time-ordered listing (updated-first, search results).
pub fn encode_key_cursor(key: NoteKey) -> String {
    hex::encode(format!("k:{}:{}", key.millis, key.id))
}

pub fn decode_key_cursor(s: &str) -> Option<NoteKey> {
    let text = String::from_utf8(hex::decode(s).ok()?).ok()?;
    let (millis, id) = text.strip_prefix("k:")?.split_once(':')?;
    // At most 14 digits: up to the year 5138, within every store's time range.
    if millis.starts_with('-') || !is_integer(millis, 14) {
        return None;
    }
    Some(NoteKey { millis: millis.parse().ok()?, id: Id::parse(id)? })
}

/// Any notes cursor as a position in a time-ordered listing (a creation-order cursor becomes its
/// note's creation time, which its UUIDv7 id carries).
pub fn cursor_key(s: &str) -> Option<NoteKey> {
    decode_key_cursor(s).or_else(|| decode_note_cursor(s).map(|id| NoteKey { millis: id.millis(), id }))
}

/// Any notes cursor as the id to continue after in creation order.
pub fn cursor_id(s: &str) -> Option<Id> {
    decode_note_cursor(s).or_else(|| decode_key_cursor(s).map(|k| k.id))
}

/// A cache (Redis): entries are fields of hashes so that one delete invalidates a group (e.g. every
/// cached first page of a user's list). Callers treat every error as a miss (fail open).
#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str, field: &str) -> Result<Option<String>, StoreError>;
    /// Sets one field and (re)arms the whole key's time to live.
    async fn put(&self, key: &str, field: &str, value: &str, ttl: Duration) -> Result<(), StoreError>;
    /// Deletes whole keys. When Redis does not answer, the real adapter keeps the keys and
    /// deletes them before anything else once it answers again (until then it only reports
    /// misses), so a blip loses no invalidation made through this value.
    async fn invalidate(&self, keys: &[String]) -> Result<(), StoreError>;
    async fn health(&self) -> Result<(), StoreError>;
}

/// A presigned upload: the client sends `PUT url` with exactly these headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUpload {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: OffsetDateTime,
}

/// User files (S3): the API never proxies bytes; clients use presigned URLs.
#[async_trait]
pub trait Blobs: Send + Sync {
    /// A PUT URL bound to `content_type` and `size`, valid for `expires`.
    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires: Duration,
    ) -> Result<PresignedUpload, StoreError>;
    /// A GET URL that downloads the object as `filename`, valid for `expires`.
    async fn presign_download(&self, key: &str, filename: &str, expires: Duration) -> Result<String, StoreError>;
    /// Whether the object exists (uploaded).
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Deletes objects; absent ones are fine.
    async fn delete(&self, keys: &[String]) -> Result<(), StoreError>;
    async fn health(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = Id::new();
        assert_eq!(decode_note_cursor(&encode_note_cursor(id)), Some(id));
        let key = NoteKey { millis: 1_780_000_000_123, id };
        assert_eq!(decode_key_cursor(&encode_key_cursor(key)), Some(key));
        assert_eq!(decode_key_cursor(&encode_note_cursor(id)), None);
        let c = ActivityCursor { at: crate::model::now(), seq: 42 };
        assert_eq!(ActivityCursor::decode(&c.encode()), Some(c));
        for bad in ["", "zz", "6e3a", &hex::encode("n:nope"), &hex::encode("a:1")] {
            assert_eq!(decode_note_cursor(bad), None, "{bad}");
            assert_eq!(ActivityCursor::decode(bad), None, "{bad}");
        }
    }
}
