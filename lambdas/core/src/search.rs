//! [`Search`] on PostgreSQL: full-text search (`simple` configuration, every word of the query as a
//! prefix) and tag filter over `note_search`, a table the activity function keeps from the
//! DynamoDB stream (see `migrations/0002_search.sql`). A derived index: the API reads what it finds
//! back from DynamoDB, so a result is never older than the source of truth, only possibly missing
//! for the moment the stream takes.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::model::{Id, IndexedNote, NoteKey, Order, SearchQuery, UserId, millis};
use crate::ports::Search;
use crate::postgres::Pg;

pub struct PgSearch {
    pg: Arc<Pg>,
}

impl PgSearch {
    pub fn new(pg: Arc<Pg>) -> PgSearch {
        PgSearch { pg }
    }
}

/// `'word':* & 'other':*` for `to_tsquery`: words are letters and digits only, so quoting them
/// is all the escaping they need.
fn tsquery(words: &[String]) -> Option<String> {
    (!words.is_empty()).then(|| words.iter().map(|w| format!("'{w}':*")).collect::<Vec<_>>().join(" & "))
}

fn time_of(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::other("bad cursor time"))
}

#[async_trait]
impl Search for PgSearch {
    async fn index(&self, note: &IndexedNote) -> Result<(), StoreError> {
        let version = i64::try_from(note.version).unwrap_or(i64::MAX);
        self.pg
            .with(async |client| {
                client
                    .execute(
                        "INSERT INTO note_search (user_id, note_id, title, body, tags, version, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                         ON CONFLICT (user_id, note_id) DO UPDATE SET
                             title = EXCLUDED.title, body = EXCLUDED.body, tags = EXCLUDED.tags,
                             version = EXCLUDED.version, created_at = EXCLUDED.created_at,
                             updated_at = EXCLUDED.updated_at
                         WHERE NOT note_search.deleted AND note_search.version <= EXCLUDED.version",
                        &[
                            &note.user.as_str(),
                            &note.id.to_string(),
                            &note.title,
                            &note.body,
                            &note.tags,
                            &version,
                            &note.created_at,
                            &note.updated_at,
                        ],
                    )
                    .await
            })
            .await?;
        Ok(())
    }

    async fn remove(&self, user: &UserId, id: Id) -> Result<(), StoreError> {
        self.pg
            .with(async |client| {
                client
                    .execute(
                        "INSERT INTO note_search (user_id, note_id, version, created_at, updated_at, deleted)
                         VALUES ($1, $2, 0, now(), now(), true)
                         ON CONFLICT (user_id, note_id) DO UPDATE SET
                             deleted = true, title = '', body = '', tags = '{}'",
                        &[&user.as_str(), &id.to_string()],
                    )
                    .await
            })
            .await?;
        Ok(())
    }

    async fn search(
        &self,
        user: &UserId,
        query: &SearchQuery,
        limit: usize,
        after: Option<NoteKey>,
    ) -> Result<(Vec<Id>, Option<NoteKey>), StoreError> {
        let limit = limit.clamp(1, crate::MAX_PAGE);
        let fetch = i64::try_from(limit + 1).unwrap_or(101);
        let text = tsquery(&query.words());
        let (after_at, after_id) = match after {
            Some(k) => (Some(time_of(k.millis)?), Some(k.id.to_string())),
            None => (None, None),
        };
        let column = match query.order {
            Order::Created => "created_at",
            Order::Updated => "updated_at",
        };
        let sql = format!(
            "SELECT note_id, {column} FROM note_search
             WHERE user_id = $1 AND NOT deleted
               AND ($2::text IS NULL OR doc @@ to_tsquery('simple', $2))
               AND ($3::text IS NULL OR tags @> ARRAY[$3::text])
               AND ($4::timestamptz IS NULL OR ({column}, note_id) < ($4, $5))
             ORDER BY {column} DESC, note_id DESC LIMIT $6"
        );
        let rows = self
            .pg
            .with(async |client| {
                client.query(&sql, &[&user.as_str(), &text, &query.tag, &after_at, &after_id, &fetch]).await
            })
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.get(0);
            let at: OffsetDateTime = row.get(1);
            let id = Id::parse(&id).ok_or_else(|| StoreError::other(format!("bad note id in note_search: {id}")))?;
            keys.push(NoteKey { millis: millis(at), id });
        }
        let more = keys.len() > limit;
        keys.truncate(limit);
        let next = if more { keys.last().copied() } else { None };
        Ok((keys.into_iter().map(|k| k.id).collect(), next))
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.pg.with(async |client| client.batch_execute("SELECT 1").await).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tsquery_of_words() {
        let words = crate::model::words("Grocery list, été 2026!");
        assert_eq!(super::tsquery(&words).as_deref(), Some("'grocery':* & 'list':* & 'été':* & '2026':*"));
        assert_eq!(super::tsquery(&crate::model::words("  !! ")), None);
    }
}
