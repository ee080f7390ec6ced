//! In-memory adapters of `notes-core`'s ports: the embedded default of `cargo xtask dev`, never
//! linked into a Lambda (a tidy test checks every function's dependency closure). They follow the
//! same contract as the real adapters (`lambdas/core/tests/it/` runs both).
//!
//! [`MemoryNotes`] plays the DynamoDB stream too: every write records an activity event in the
//! [`MemoryActivity`] and updates the [`MemorySearch`] it was given, as the activity function does
//! in AWS.

mod blobs;
mod search;

pub use blobs::{Grant, MemoryBlobs};
pub use search::MemorySearch;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::Date;

use notes_core::error::StoreError;
use notes_core::model::{
    ActivityEvent, ActivityItem, ActivityKind, Attachment, AttachmentState, DayCount, Id, IndexedNote, Note,
    NoteContent, NoteKey, Page, Stats, UserId, now,
};
use notes_core::ports::{Activity, ActivityCursor, Cache, Notes};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Default)]
struct NotesData {
    notes: HashMap<UserId, BTreeMap<Id, Note>>,
    attachments: HashMap<UserId, BTreeMap<(Id, Id), Attachment>>,
}

/// Notes in memory, optionally feeding an activity log and a search index.
#[derive(Default)]
pub struct MemoryNotes {
    data: Mutex<NotesData>,
    activity: Option<Arc<MemoryActivity>>,
    search: Option<Arc<MemorySearch>>,
}

impl MemoryNotes {
    pub fn new() -> MemoryNotes {
        MemoryNotes::default()
    }

    /// Every write also records its activity event in `activity` and updates `search` (the
    /// stream and its consumer, in memory).
    pub fn with_stream(activity: Arc<MemoryActivity>, search: Arc<MemorySearch>) -> MemoryNotes {
        MemoryNotes { data: Mutex::default(), activity: Some(activity), search: Some(search) }
    }

    fn index(&self, user: &UserId, note: &Note) {
        if let Some(search) = &self.search {
            search.put(&IndexedNote::of(user, note));
        }
    }

    fn emit(
        &self,
        user: &UserId,
        kind: ActivityKind,
        note_id: Id,
        attachment: Option<&Attachment>,
        title: Option<String>,
    ) {
        if let Some(activity) = &self.activity {
            activity.push(ActivityEvent {
                event_id: Id::new().to_string(),
                user: user.clone(),
                kind,
                note_id: note_id.to_string(),
                attachment_id: attachment.map(|a| a.id.to_string()),
                title,
                size: attachment.map(|a| a.size),
                at: now(),
            });
        }
    }
}

#[async_trait]
impl Notes for MemoryNotes {
    async fn create(&self, user: &UserId, content: NoteContent) -> Result<Note, StoreError> {
        let note = Note::new(content);
        lock(&self.data).notes.entry(user.clone()).or_default().insert(note.id, note.clone());
        self.emit(user, ActivityKind::NoteCreated, note.id, None, Some(note.title.clone()));
        self.index(user, &note);
        Ok(note)
    }

    async fn get(&self, user: &UserId, id: Id) -> Result<Note, StoreError> {
        lock(&self.data).notes.get(user).and_then(|n| n.get(&id)).cloned().ok_or(StoreError::NotFound)
    }

    async fn list(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<Id>,
    ) -> Result<(Vec<Note>, Option<Id>), StoreError> {
        let limit = limit.clamp(1, notes_core::MAX_PAGE);
        let data = lock(&self.data);
        let Some(notes) = data.notes.get(user) else {
            return Ok((Vec::new(), None));
        };
        let mut iter = notes.values().rev().filter(|n| after.is_none_or(|a| n.id < a)).cloned();
        let page: Vec<Note> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        let next = if more { page.last().map(|n| n.id) } else { None };
        Ok((page, next))
    }

    async fn list_updated(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<NoteKey>,
    ) -> Result<(Vec<Note>, Option<NoteKey>), StoreError> {
        let limit = limit.clamp(1, notes_core::MAX_PAGE);
        let data = lock(&self.data);
        let mut all: Vec<&Note> = data.notes.get(user).map(|n| n.values().collect()).unwrap_or_default();
        all.retain(|n| after.is_none_or(|a| NoteKey::of(n.updated_at, n.id) < a));
        all.sort_by_key(|n| std::cmp::Reverse(NoteKey::of(n.updated_at, n.id)));
        let more = all.len() > limit;
        let page: Vec<Note> = all.into_iter().take(limit).cloned().collect();
        let next = if more { page.last().map(|n| NoteKey::of(n.updated_at, n.id)) } else { None };
        Ok((page, next))
    }

    async fn get_many(&self, user: &UserId, ids: &[Id]) -> Result<Vec<Note>, StoreError> {
        let data = lock(&self.data);
        let Some(notes) = data.notes.get(user) else { return Ok(Vec::new()) };
        Ok(ids.iter().take(notes_core::MAX_PAGE).filter_map(|id| notes.get(id).cloned()).collect())
    }

    async fn update(
        &self,
        user: &UserId,
        id: Id,
        expected: Option<u64>,
        content: NoteContent,
    ) -> Result<Note, StoreError> {
        let note = {
            let mut data = lock(&self.data);
            let note = data.notes.get_mut(user).and_then(|n| n.get_mut(&id)).ok_or(StoreError::NotFound)?;
            if expected.is_some_and(|v| v != note.version) {
                return Err(StoreError::VersionMismatch);
            }
            note.title = content.title;
            note.body = content.body;
            note.tags = content.tags;
            note.version += 1;
            note.updated_at = now();
            note.clone()
        };
        self.emit(user, ActivityKind::NoteUpdated, id, None, Some(note.title.clone()));
        self.index(user, &note);
        Ok(note)
    }

    async fn delete(&self, user: &UserId, id: Id) -> Result<Vec<Attachment>, StoreError> {
        let (note, removed) = {
            let mut data = lock(&self.data);
            let note = data.notes.get_mut(user).and_then(|n| n.remove(&id)).ok_or(StoreError::NotFound)?;
            let mut removed = Vec::new();
            if let Some(all) = data.attachments.get_mut(user) {
                let keys: Vec<(Id, Id)> = all.keys().filter(|(n, _)| *n == id).copied().collect();
                removed.extend(keys.iter().filter_map(|k| all.remove(k)));
            }
            (note, removed)
        };
        for a in removed.iter().filter(|a| a.state == AttachmentState::Ready) {
            self.emit(user, ActivityKind::AttachmentDeleted, id, Some(a), Some(a.filename.clone()));
        }
        self.emit(user, ActivityKind::NoteDeleted, id, None, Some(note.title));
        if let Some(search) = &self.search {
            search.drop_note(user, id);
        }
        Ok(removed)
    }

    async fn add_attachment(&self, user: &UserId, attachment: &Attachment) -> Result<(), StoreError> {
        {
            let mut data = lock(&self.data);
            if data.notes.get(user).and_then(|n| n.get(&attachment.note_id)).is_none() {
                return Err(StoreError::NotFound);
            }
            let all = data.attachments.entry(user.clone()).or_default();
            if all.keys().filter(|(n, _)| *n == attachment.note_id).count() >= notes_core::MAX_ATTACHMENTS_PER_NOTE {
                return Err(StoreError::Limit(format!(
                    "at most {} attachments per note",
                    notes_core::MAX_ATTACHMENTS_PER_NOTE
                )));
            }
            all.insert((attachment.note_id, attachment.id), attachment.clone());
        }
        if attachment.state == AttachmentState::Ready {
            self.emit(
                user,
                ActivityKind::AttachmentAdded,
                attachment.note_id,
                Some(attachment),
                Some(attachment.filename.clone()),
            );
        }
        Ok(())
    }

    async fn list_attachments(&self, user: &UserId, note: Id) -> Result<Vec<Attachment>, StoreError> {
        let data = lock(&self.data);
        if data.notes.get(user).and_then(|n| n.get(&note)).is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(data
            .attachments
            .get(user)
            .map(|all| all.values().filter(|a| a.note_id == note).cloned().collect())
            .unwrap_or_default())
    }

    async fn mark_attachment_ready(&self, user: &UserId, note: Id, attachment: Id) -> Result<Attachment, StoreError> {
        let (ready, was_pending) = {
            let mut data = lock(&self.data);
            let a = data
                .attachments
                .get_mut(user)
                .and_then(|all| all.get_mut(&(note, attachment)))
                .ok_or(StoreError::NotFound)?;
            let was_pending = a.state == AttachmentState::Pending;
            a.state = AttachmentState::Ready;
            (a.clone(), was_pending)
        };
        if was_pending {
            self.emit(user, ActivityKind::AttachmentAdded, note, Some(&ready), Some(ready.filename.clone()));
        }
        Ok(ready)
    }

    async fn delete_attachment(&self, user: &UserId, note: Id, attachment: Id) -> Result<Attachment, StoreError> {
        let removed = lock(&self.data)
            .attachments
            .get_mut(user)
            .and_then(|all| all.remove(&(note, attachment)))
            .ok_or(StoreError::NotFound)?;
        if removed.state == AttachmentState::Ready {
            self.emit(user, ActivityKind::AttachmentDeleted, note, Some(&removed), Some(removed.filename.clone()));
        }
        Ok(removed)
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Activity log in memory: the recorded events, in order; stats replay them.
#[derive(Default)]
pub struct MemoryActivity {
    events: Mutex<Vec<(i64, ActivityEvent)>>,
}

impl MemoryActivity {
    pub fn new() -> MemoryActivity {
        MemoryActivity::default()
    }

    fn push(&self, event: ActivityEvent) -> bool {
        let mut events = lock(&self.events);
        if events.iter().any(|(_, e)| e.event_id == event.event_id) {
            return false;
        }
        let seq = events.len() as i64 + 1;
        events.push((seq, event));
        true
    }
}

#[async_trait]
impl Activity for MemoryActivity {
    async fn record(&self, event: &ActivityEvent) -> Result<bool, StoreError> {
        Ok(self.push(event.clone()))
    }

    async fn list(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<&ActivityCursor>,
    ) -> Result<Page<ActivityItem>, StoreError> {
        let limit = limit.clamp(1, notes_core::MAX_PAGE);
        let events = lock(&self.events);
        let mut mine: Vec<&(i64, ActivityEvent)> = events
            .iter()
            .filter(|(seq, e)| &e.user == user && after.is_none_or(|c| (e.at, *seq) < (c.at, c.seq)))
            .collect();
        mine.sort_by_key(|(seq, e)| std::cmp::Reverse((e.at, *seq)));
        let more = mine.len() > limit;
        let page: Vec<&(i64, ActivityEvent)> = mine.into_iter().take(limit).collect();
        let next_cursor =
            if more { page.last().map(|(seq, e)| ActivityCursor { at: e.at, seq: *seq }.encode()) } else { None };
        let items = page
            .into_iter()
            .map(|(seq, e)| ActivityItem {
                id: seq.to_string(),
                kind: e.kind,
                note_id: e.note_id.clone(),
                attachment_id: e.attachment_id.clone(),
                title: e.title.clone(),
                at: e.at,
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    async fn stats(&self, user: &UserId, today: Date) -> Result<Stats, StoreError> {
        let events = lock(&self.events);
        let mut notes = std::collections::HashSet::new();
        let mut attachments = std::collections::HashSet::new();
        let first = today - time::Duration::days(29);
        let mut per_day: BTreeMap<Date, u64> = (0..30).map(|i| (first + time::Duration::days(i), 0)).collect();
        for (_, e) in events.iter().filter(|(_, e)| &e.user == user) {
            match e.kind {
                ActivityKind::NoteCreated => {
                    notes.insert(e.note_id.clone());
                }
                ActivityKind::NoteUpdated => {}
                ActivityKind::NoteDeleted => {
                    notes.remove(&e.note_id);
                    attachments.retain(|(n, _): &(String, Option<String>)| n != &e.note_id);
                }
                ActivityKind::AttachmentAdded => {
                    attachments.insert((e.note_id.clone(), e.attachment_id.clone()));
                }
                ActivityKind::AttachmentDeleted => {
                    attachments.remove(&(e.note_id.clone(), e.attachment_id.clone()));
                }
            }
            let day = e.at.to_offset(time::UtcOffset::UTC).date();
            if let Some(count) = per_day.get_mut(&day) {
                *count += 1;
            }
        }
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Ok(Stats {
            notes_total: notes.len() as u64,
            attachments_total: attachments.len() as u64,
            per_day: per_day
                .into_iter()
                .map(|(day, count)| DayCount { day: day.format(&format).unwrap_or_default(), count })
                .collect(),
        })
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Expiry and fields of one cached key.
type Entry = (Instant, HashMap<String, String>);

/// A cache in memory with time to live.
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryCache {
    pub fn new() -> MemoryCache {
        MemoryCache::default()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str, field: &str) -> Result<Option<String>, StoreError> {
        let mut entries = lock(&self.entries);
        match entries.get(key) {
            Some((expires, _)) if *expires <= Instant::now() => {
                entries.remove(key);
                Ok(None)
            }
            Some((_, fields)) => Ok(fields.get(field).cloned()),
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, field: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut entries = lock(&self.entries);
        let now = Instant::now();
        let entry = entries.entry(key.to_string()).or_insert_with(|| (now, HashMap::new()));
        if entry.0 <= now {
            entry.1.clear();
        }
        entry.0 = now + ttl;
        entry.1.insert(field.to_string(), value.to_string());
        Ok(())
    }

    async fn invalidate(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut entries = lock(&self.entries);
        for key in keys {
            entries.remove(key);
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
