//! [`Notes`] on DynamoDB: the source of truth.
//!
//! One table, key `pk` (S, hash) + `sk` (S, range), stream `NEW_AND_OLD_IMAGES` (the activity
//! function consumes it). Items:
//!
//! | item | pk | sk | other attributes |
//! | --- | --- | --- | --- |
//! | note | `USER#<sub>` | `NOTE#<id>` | `kind`=note, `user`, `id`, `title`, `body`, `tags` (L), `version` (N), `created_at`, `updated_at`, `usk` |
//! | attachment | `USER#<sub>` | `ATT#<note id>#<id>` | `kind`=attachment, `user`, `id`, `note_id`, `filename`, `content_type`, `size` (N), `key`, `created_at`, `state` |
//!
//! Note ids are UUIDv7, so a descending query on `NOTE#` lists newest first. The global secondary
//! index [`UPDATED_INDEX`] (`pk` + `usk` = zero-padded update time in milliseconds `#` id, only on
//! notes: a sparse index) lists most recently updated first. Every read of the table is strongly
//! consistent (a client sees its own writes; the index is eventually consistent, as every GSI)
//! and every key starts with the caller's `pk`, so no operation can reach another user's items.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue, Select, TransactWriteItem,
};

use crate::error::StoreError;
use crate::model::{
    Attachment, AttachmentState, Id, Note, NoteContent, NoteKey, UserId, millis, now, parse_rfc3339, rfc3339,
};
use crate::ports::Notes;
use crate::sdk_client::SdkClient;

type Item = HashMap<String, AttributeValue>;

/// The global secondary index that lists notes most recently updated first (`pk` + `usk`);
/// `cloud/stack.yaml` declares the same.
pub const UPDATED_INDEX: &str = "by-updated";

#[derive(Clone, Debug)]
pub struct DynamoNotes {
    client: SdkClient<Client>,
    table: String,
}

impl DynamoNotes {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoNotes {
        DynamoNotes { client: SdkClient::built(client), table: table.into() }
    }

    /// The client is built on the first call ([`SdkClient::lazy`]): a cold start that serves a
    /// request the API rejects, the activity log or the stats never builds it.
    pub fn lazy(config: aws_config::SdkConfig, table: impl Into<String>) -> DynamoNotes {
        DynamoNotes { client: SdkClient::lazy(config, Client::new), table: table.into() }
    }

    fn client(&self) -> &Client {
        self.client.get()
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(user: &UserId, sk: String) -> Item {
        HashMap::from([(String::from("pk"), s(pk(user))), (String::from("sk"), s(sk))])
    }

    async fn note_exists(&self, user: &UserId, id: Id) -> Result<bool, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user, note_sk(id))))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        Ok(out.item.is_some())
    }

    async fn attachments_of(&self, user: &UserId, note: Id) -> Result<Vec<Attachment>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk(user)))
                .expression_attribute_values(":prefix", s(format!("ATT#{note}#")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk)?;
            for item in page.items() {
                out.push(attachment_from_item(item)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        out.sort_by_key(|a| a.id);
        Ok(out)
    }
}

#[async_trait]
impl Notes for DynamoNotes {
    async fn create(&self, user: &UserId, content: NoteContent) -> Result<Note, StoreError> {
        let note = Note::new(content);
        self.client()
            .put_item()
            .table_name(&self.table)
            .set_item(Some(note_item(user, &note)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(sdk)?;
        Ok(note)
    }

    async fn get(&self, user: &UserId, id: Id) -> Result<Note, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user, note_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        match out.item {
            Some(item) => note_from_item(&item),
            None => Err(StoreError::NotFound),
        }
    }

    async fn list(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<Id>,
    ) -> Result<(Vec<Note>, Option<Id>), StoreError> {
        // One more than asked: a full page then knows whether more follow (no empty last page).
        let limit = limit.clamp(1, crate::MAX_PAGE);
        let out = self
            .client()
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk(user)))
            .expression_attribute_values(":prefix", s("NOTE#".into()))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(after.map(|id| Self::key(user, note_sk(id))))
            .send()
            .await
            .map_err(sdk)?;
        let mut notes = out.items().iter().map(note_from_item).collect::<Result<Vec<_>, _>>()?;
        let next = if notes.len() > limit {
            notes.truncate(limit);
            notes.last().map(|n| n.id)
        } else {
            // Fewer than asked but a LastEvaluatedKey: DynamoDB's 1 MB page ended early.
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => notes.last().map(|n| n.id),
                _ => None,
            }
        };
        Ok((notes, next))
    }

    async fn list_updated(
        &self,
        user: &UserId,
        limit: usize,
        after: Option<NoteKey>,
    ) -> Result<(Vec<Note>, Option<NoteKey>), StoreError> {
        let limit = limit.clamp(1, crate::MAX_PAGE);
        let start = after.map(|k| {
            let mut key = Self::key(user, note_sk(k.id));
            key.insert("usk".into(), s(usk(k.millis, k.id)));
            key
        });
        let out = self
            .client()
            .query()
            .table_name(&self.table)
            .index_name(UPDATED_INDEX)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk(user)))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk)?;
        let mut notes = out.items().iter().map(note_from_item).collect::<Result<Vec<_>, _>>()?;
        let more = notes.len() > limit || out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        notes.truncate(limit);
        let next = if more { notes.last().map(|n| NoteKey::of(n.updated_at, n.id)) } else { None };
        Ok((notes, next))
    }

    async fn get_many(&self, user: &UserId, ids: &[Id]) -> Result<Vec<Note>, StoreError> {
        let mut unique: Vec<Id> = ids.iter().copied().take(crate::MAX_PAGE).collect();
        unique.sort();
        unique.dedup();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let keys = unique.iter().map(|id| Self::key(user, note_sk(*id))).collect::<Vec<_>>();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(StoreError::other)?,
        );
        let mut found: HashMap<Id, Note> = HashMap::new();
        for _round in 0..10 {
            let Some(request) = pending.take() else { break };
            let out = self.client().batch_get_item().request_items(&self.table, request).send().await.map_err(sdk)?;
            for item in out.responses.as_ref().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                let note = note_from_item(item)?;
                found.insert(note.id, note);
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
        }
        if pending.is_some() {
            return Err(StoreError::Unavailable("BatchGetItem left keys unprocessed".into()));
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    async fn update(
        &self,
        user: &UserId,
        id: Id,
        expected: Option<u64>,
        content: NoteContent,
    ) -> Result<Note, StoreError> {
        let at = now();
        let mut request = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user, note_sk(id))))
            .update_expression(
                "SET title = :title, body = :body, tags = :tags, version = version + :one, updated_at = :at, usk = :usk",
            )
            .expression_attribute_values(":title", s(content.title))
            .expression_attribute_values(":body", s(content.body))
            .expression_attribute_values(
                ":tags",
                AttributeValue::L(content.tags.into_iter().map(AttributeValue::S).collect()),
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", s(rfc3339(at)))
            .expression_attribute_values(":usk", s(usk(millis(at), id)))
            .return_values(ReturnValue::AllNew);
        request = match expected {
            Some(version) => request
                .condition_expression("attribute_exists(pk) AND version = :expected")
                .expression_attribute_values(":expected", n(version)),
            None => request.condition_expression("attribute_exists(pk)"),
        };
        match request.send().await {
            Ok(out) => note_from_item(&out.attributes.unwrap_or_default()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                if self.note_exists(user, id).await? {
                    Err(StoreError::VersionMismatch)
                } else {
                    Err(StoreError::NotFound)
                }
            }
            Err(e) => Err(sdk(e)),
        }
    }

    async fn delete(&self, user: &UserId, id: Id) -> Result<Vec<Attachment>, StoreError> {
        let attachments = self.attachments_of(user, id).await?;
        let mut items = vec![
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(user, note_sk(id))))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .map_err(StoreError::other)?,
                )
                .build(),
        ];
        for a in &attachments {
            items.push(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(Self::key(user, attachment_sk(id, a.id))))
                            .build()
                            .map_err(StoreError::other)?,
                    )
                    .build(),
            );
        }
        match self.client().transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(attachments),
            Err(e) if transaction_condition_failed(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn add_attachment(&self, user: &UserId, attachment: &Attachment) -> Result<(), StoreError> {
        let count = self
            .client()
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk(user)))
            .expression_attribute_values(":prefix", s(format!("ATT#{}#", attachment.note_id)))
            .select(Select::Count)
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?
            .count;
        if usize::try_from(count).unwrap_or(usize::MAX) >= crate::MAX_ATTACHMENTS_PER_NOTE {
            return if self.note_exists(user, attachment.note_id).await? {
                Err(StoreError::Limit(format!("at most {} attachments per note", crate::MAX_ATTACHMENTS_PER_NOTE)))
            } else {
                Err(StoreError::NotFound)
            };
        }
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(user, note_sk(attachment.note_id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(StoreError::other)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(attachment_item(user, attachment)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::other)?;
        match self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if transaction_condition_failed(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn list_attachments(&self, user: &UserId, note: Id) -> Result<Vec<Attachment>, StoreError> {
        if !self.note_exists(user, note).await? {
            return Err(StoreError::NotFound);
        }
        self.attachments_of(user, note).await
    }

    async fn mark_attachment_ready(&self, user: &UserId, note: Id, attachment: Id) -> Result<Attachment, StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user, attachment_sk(note, attachment))))
            .update_expression("SET #state = :ready")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":ready", s(AttachmentState::Ready.as_str().into()))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => attachment_from_item(&out.attributes.unwrap_or_default()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(sdk(e)),
        }
    }

    async fn delete_attachment(&self, user: &UserId, note: Id, attachment: Id) -> Result<Attachment, StoreError> {
        let out = self
            .client()
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user, attachment_sk(note, attachment))))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => attachment_from_item(&out.attributes.unwrap_or_default()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(sdk(e)),
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.client().describe_table().table_name(&self.table).send().await.map_err(sdk)?;
        Ok(())
    }
}

fn pk(user: &UserId) -> String {
    format!("USER#{}", user.as_str())
}

fn note_sk(id: Id) -> String {
    format!("NOTE#{id}")
}

fn attachment_sk(note: Id, id: Id) -> String {
    format!("ATT#{note}#{id}")
}

/// Sort key of the updated-first index: fixed-width milliseconds, so text order is time order.
fn usk(millis: i64, id: Id) -> String {
    format!("{millis:015}#{id}")
}

fn s(v: String) -> AttributeValue {
    AttributeValue::S(v)
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn note_item(user: &UserId, note: &Note) -> Item {
    HashMap::from([
        ("pk".into(), s(pk(user))),
        ("sk".into(), s(note_sk(note.id))),
        ("kind".into(), s("note".into())),
        ("user".into(), s(user.as_str().into())),
        ("id".into(), s(note.id.to_string())),
        ("title".into(), s(note.title.clone())),
        ("body".into(), s(note.body.clone())),
        ("tags".into(), AttributeValue::L(note.tags.iter().cloned().map(AttributeValue::S).collect())),
        ("version".into(), n(note.version)),
        ("created_at".into(), s(rfc3339(note.created_at))),
        ("updated_at".into(), s(rfc3339(note.updated_at))),
        ("usk".into(), s(usk(millis(note.updated_at), note.id))),
    ])
}

fn attachment_item(user: &UserId, a: &Attachment) -> Item {
    HashMap::from([
        ("pk".into(), s(pk(user))),
        ("sk".into(), s(attachment_sk(a.note_id, a.id))),
        ("kind".into(), s("attachment".into())),
        ("user".into(), s(user.as_str().into())),
        ("id".into(), s(a.id.to_string())),
        ("note_id".into(), s(a.note_id.to_string())),
        ("filename".into(), s(a.filename.clone())),
        ("content_type".into(), s(a.content_type.clone())),
        ("size".into(), n(a.size)),
        ("key".into(), s(a.key.clone())),
        ("created_at".into(), s(rfc3339(a.created_at))),
        ("state".into(), s(a.state.as_str().into())),
    ])
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::other(format!("item without string attribute {name}")))
}

fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::other(format!("item without number attribute {name}")))
}

fn get_time(item: &Item, name: &str) -> Result<time::OffsetDateTime, StoreError> {
    parse_rfc3339(get_s(item, name)?).ok_or_else(|| StoreError::other(format!("bad time in {name}")))
}

fn get_id(item: &Item, name: &str) -> Result<Id, StoreError> {
    Id::parse(get_s(item, name)?).ok_or_else(|| StoreError::other(format!("bad id in {name}")))
}

fn note_from_item(item: &Item) -> Result<Note, StoreError> {
    let tags = match item.get("tags") {
        Some(AttributeValue::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    };
    Ok(Note {
        id: get_id(item, "id")?,
        title: get_s(item, "title")?.to_string(),
        body: get_s(item, "body")?.to_string(),
        tags,
        version: get_n(item, "version")?,
        created_at: get_time(item, "created_at")?,
        updated_at: get_time(item, "updated_at")?,
    })
}

fn attachment_from_item(item: &Item) -> Result<Attachment, StoreError> {
    Ok(Attachment {
        id: get_id(item, "id")?,
        note_id: get_id(item, "note_id")?,
        filename: get_s(item, "filename")?.to_string(),
        content_type: get_s(item, "content_type")?.to_string(),
        size: get_n(item, "size")?,
        key: get_s(item, "key")?.to_string(),
        created_at: get_time(item, "created_at")?,
        state: AttachmentState::parse(item.get("state").and_then(|v| v.as_s().ok()).map(String::as_str)),
    })
}

fn transaction_condition_failed<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
            t.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    }
}

/// Every SDK failure other than a lost condition means "try again later" for the caller; the full
/// context goes to the log only.
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(sdk)`
fn sdk<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    tracing::warn!(error = %DisplayErrorContext(&e), "DynamoDB request failed");
    StoreError::unavailable(DisplayErrorContext(&e))
}
