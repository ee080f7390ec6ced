//! [`Search`] in memory: the same rules as `notes_core::search::PgSearch` (every word of the query
//! a prefix of a word of the title or body, case-insensitive; the tag exact; version-ordered
//! writes; removed notes stay removed), checked by the same contract test.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use notes_core::error::StoreError;
use notes_core::model::{Id, IndexedNote, NoteKey, Order, SearchQuery, UserId, millis, words};
use notes_core::ports::Search;

use crate::lock;

enum Entry {
    Note(IndexedNote),
    Removed,
}

/// The search index in memory.
#[derive(Default)]
pub struct MemorySearch {
    entries: Mutex<HashMap<(UserId, Id), Entry>>,
}

impl MemorySearch {
    pub fn new() -> MemorySearch {
        MemorySearch::default()
    }

    /// [`Search::index`], synchronously (the in-memory notes store feeds it as the stream would).
    pub fn put(&self, note: &IndexedNote) {
        let mut entries = lock(&self.entries);
        let key = (note.user.clone(), note.id);
        let newer = match entries.get(&key) {
            Some(Entry::Removed) => false,
            Some(Entry::Note(old)) => old.version <= note.version,
            None => true,
        };
        if newer {
            entries.insert(key, Entry::Note(note.clone()));
        }
    }

    /// [`Search::remove`], synchronously.
    pub fn drop_note(&self, user: &UserId, id: Id) {
        lock(&self.entries).insert((user.clone(), id), Entry::Removed);
    }
}

fn matches(note: &IndexedNote, query: &SearchQuery) -> bool {
    if query.tag.as_ref().is_some_and(|t| !note.tags.contains(t)) {
        return false;
    }
    let mut have = words(&note.title);
    have.extend(words(&note.body));
    query.words().iter().all(|w| have.iter().any(|h| h.starts_with(w.as_str())))
}

#[async_trait]
impl Search for MemorySearch {
    async fn index(&self, note: &IndexedNote) -> Result<(), StoreError> {
        self.put(note);
        Ok(())
    }

    async fn remove(&self, user: &UserId, id: Id) -> Result<(), StoreError> {
        self.drop_note(user, id);
        Ok(())
    }

    async fn search(
        &self,
        user: &UserId,
        query: &SearchQuery,
        limit: usize,
        after: Option<NoteKey>,
    ) -> Result<(Vec<Id>, Option<NoteKey>), StoreError> {
        let limit = limit.clamp(1, notes_core::MAX_PAGE);
        let entries = lock(&self.entries);
        let mut found: Vec<NoteKey> = entries
            .iter()
            .filter(|((u, _), _)| u == user)
            .filter_map(|(_, e)| match e {
                Entry::Note(n) if matches(n, query) => {
                    let at = match query.order {
                        Order::Created => n.created_at,
                        Order::Updated => n.updated_at,
                    };
                    Some(NoteKey { millis: millis(at), id: n.id })
                }
                _ => None,
            })
            .filter(|k| after.is_none_or(|a| *k < a))
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        let more = found.len() > limit;
        found.truncate(limit);
        let next = if more { found.last().copied() } else { None };
        Ok((found.into_iter().map(|k| k.id).collect(), next))
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
