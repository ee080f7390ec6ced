//! The stream consumer on synthetic DynamoDB-stream events built from real items (written by the
//! DynamoDB adapter to moto), against a real PostgreSQL (activity, search index) and Redis.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use notes_core::cache::RedisCache;
use notes_core::dynamo::DynamoNotes;
use notes_core::ports::{Activity, Cache, Notes, Search};
use notes_core::postgres::{Pg, PgActivity};
use notes_core::search::PgSearch;
use notes_core::{
    ActivityKind, Attachment, AttachmentState, Id, NoteContent, Order, SearchQuery, UserId, blob_key, now,
};
use notes_memory::MemorySearch;
use serde_json::{Value, json};

/// The consumer's sinks: `activity`, a search index, no cache unless given.
fn sinks<'a>(
    activity: &'a dyn Activity,
    search: &'a dyn Search,
    cache: Option<&'a dyn Cache>,
) -> notes_activity::Sinks<'a> {
    notes_activity::Sinks { activity, search, cache, invalidation_budget: std::time::Duration::from_secs(10) }
}

/// DynamoDB JSON of an SDK item (`{"S": ...}`, `{"N": ...}`, `{"L": [...]}`), as streams carry it.
fn ddb_json(item: &HashMap<String, AttributeValue>) -> Value {
    fn value(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => json!({"S": s}),
            AttributeValue::N(n) => json!({"N": n}),
            AttributeValue::Bool(b) => json!({"BOOL": b}),
            AttributeValue::L(l) => json!({"L": l.iter().map(value).collect::<Vec<_>>()}),
            AttributeValue::M(m) => json!({"M": ddb_json(m)}),
            _ => json!({"NULL": true}),
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}

struct Stream {
    records: Vec<Value>,
    seq: u64,
}

impl Stream {
    fn new() -> Stream {
        Stream { records: Vec::new(), seq: 1000 }
    }

    fn push(&mut self, name: &str, old: Option<Value>, new: Option<Value>) -> String {
        self.seq += 1;
        let image = new.as_ref().or(old.as_ref()).unwrap();
        let mut dynamodb = json!({
            "ApproximateCreationDateTime": now().unix_timestamp(),
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "SequenceNumber": self.seq.to_string(),
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        });
        if let Some(old) = old {
            dynamodb["OldImage"] = old;
        }
        if let Some(new) = new {
            dynamodb["NewImage"] = new;
        }
        let id = testkit::unique_name("event-");
        self.records.push(json!({
            "eventID": id,
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/notes/stream/2026-01-01T00:00:00.000",
            "dynamodb": dynamodb,
        }));
        self.seq.to_string()
    }

    fn event(&self, records: std::ops::Range<usize>) -> Event {
        serde_json::from_value(json!({"Records": self.records[records].to_vec()})).expect("a valid DynamoDB event")
    }
}

async fn raw_item(client: &aws_sdk_dynamodb::Client, table: &str, user: &UserId, sk: String) -> Value {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("USER#{}", user.as_str())))
        .key("sk", AttributeValue::S(sk))
        .send()
        .await
        .unwrap();
    ddb_json(&out.item.expect("item exists"))
}

async fn activity_db() -> (testkit::pg::TestDb, Arc<Pg>) {
    let db = testkit::pg::TestDb::create().await;
    let pg = Arc::new(Pg::from_url(db.url()));
    pg.migrate().await.unwrap();
    (db, pg)
}

#[tokio::test]
async fn records_every_change_of_real_items() {
    let moto = testkit::moto::Moto::start();
    let client = testkit::aws::dynamodb_client(&testkit::aws::sdk_config(&moto.endpoint()));
    let table = testkit::unique_name("notes-");
    notes_core::dynamo_setup::create_table(&client, &table).await.unwrap();
    let notes = DynamoNotes::new(client.clone(), &table);
    let user = UserId::new(&testkit::unique_name("u-")).unwrap();
    let content = |t: &str| NoteContent { title: t.into(), body: "b".into(), tags: vec![] };

    let mut stream = Stream::new();
    let n1 = notes.create(&user, content("first")).await.unwrap();
    let v1 = raw_item(&client, &table, &user, format!("NOTE#{}", n1.id)).await;
    stream.push("INSERT", None, Some(v1.clone()));
    notes.update(&user, n1.id, Some(1), content("first, edited")).await.unwrap();
    let v2 = raw_item(&client, &table, &user, format!("NOTE#{}", n1.id)).await;
    stream.push("MODIFY", Some(v1), Some(v2));
    let aid = Id::new();
    let attachment = Attachment {
        id: aid,
        note_id: n1.id,
        filename: "a.png".into(),
        content_type: "image/png".into(),
        size: 42,
        key: blob_key(&user, n1.id, aid),
        created_at: now(),
        state: AttachmentState::Pending,
    };
    notes.add_attachment(&user, &attachment).await.unwrap();
    let pending = raw_item(&client, &table, &user, format!("ATT#{}#{aid}", n1.id)).await;
    stream.push("INSERT", None, Some(pending.clone())); // registered: not activity yet
    notes.mark_attachment_ready(&user, n1.id, aid).await.unwrap();
    let ready = raw_item(&client, &table, &user, format!("ATT#{}#{aid}", n1.id)).await;
    stream.push("MODIFY", Some(pending), Some(ready)); // uploaded: added
    let n2 = notes.create(&user, content("second")).await.unwrap();
    let v3 = raw_item(&client, &table, &user, format!("NOTE#{}", n2.id)).await;
    stream.push("INSERT", None, Some(v3.clone()));
    notes.delete(&user, n2.id).await.unwrap();
    stream.push("REMOVE", Some(v3), None);

    let (_db, pg) = activity_db().await;
    let activity = PgActivity::new(pg.clone());
    let search = PgSearch::new(pg);
    let response = notes_activity::handle(&sinks(&activity, &search, None), stream.event(0..6)).await;
    assert!(response.batch_item_failures.is_empty());

    let page = activity.list(&user, 10, None).await.unwrap();
    let got: Vec<(ActivityKind, String, Option<String>)> =
        page.items.iter().map(|i| (i.kind, i.note_id.clone(), i.title.clone())).collect();
    assert_eq!(
        got,
        vec![
            (ActivityKind::NoteDeleted, n2.id.to_string(), Some("second".into())),
            (ActivityKind::NoteCreated, n2.id.to_string(), Some("second".into())),
            (ActivityKind::AttachmentAdded, n1.id.to_string(), Some("a.png".into())),
            (ActivityKind::NoteUpdated, n1.id.to_string(), Some("first, edited".into())),
            (ActivityKind::NoteCreated, n1.id.to_string(), Some("first".into())),
        ]
    );
    let stats = activity.stats(&user, now().date()).await.unwrap();
    assert_eq!((stats.notes_total, stats.attachments_total), (1, 1));

    // The search index follows: the edited title is found, the deleted note is not.
    let find = async |text: &str| {
        let q = SearchQuery { text: Some(text.into()), tag: None, order: Order::Updated };
        search.search(&user, &q, 10, None).await.unwrap().0
    };
    assert_eq!(find("edited").await, vec![n1.id]);
    assert_eq!(find("second").await, vec![]);

    // Redelivery of the whole batch changes nothing.
    let response = notes_activity::handle(&sinks(&activity, &search, None), stream.event(0..6)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(activity.list(&user, 10, None).await.unwrap().items.len(), 5);
    assert_eq!((find("edited").await, find("second").await), (vec![n1.id], vec![]));
}

fn note_image(user: &str, id: Id, title: &str) -> Value {
    let at = notes_core::rfc3339(now());
    json!({
        "pk": {"S": format!("USER#{user}")}, "sk": {"S": format!("NOTE#{id}")}, "kind": {"S": "note"},
        "user": {"S": user}, "id": {"S": id.to_string()}, "title": {"S": title}, "body": {"S": ""},
        "tags": {"L": []}, "version": {"N": "1"}, "created_at": {"S": at}, "updated_at": {"S": at},
    })
}

#[tokio::test]
async fn postgres_outage_delays_activity_but_loses_none() {
    let db = testkit::pg::TestDb::create().await;
    let proxy = testkit::proxy::Proxy::start(testkit::proxy::target_of(db.url(), 5432));
    let pg = Arc::new(Pg::from_url(testkit::proxy::rewrite_url(db.url(), proxy.port())));
    pg.migrate().await.unwrap();
    let activity = PgActivity::new(pg);
    let search = MemorySearch::new();
    let sinks = sinks(&activity, &search, None);
    let user = testkit::unique_name("u-");
    let mut stream = Stream::new();
    let mut seqs = Vec::new();
    for i in 0..4 {
        seqs.push(stream.push("INSERT", None, Some(note_image(&user, Id::new(), &format!("n{i}")))));
    }
    let uid = UserId::new(&user).unwrap();

    // The first record goes through, then PostgreSQL goes away.
    assert!(notes_activity::handle(&sinks, stream.event(0..1)).await.batch_item_failures.is_empty());
    proxy.set_up(false);
    let response = notes_activity::handle(&sinks, stream.event(1..4)).await;
    let failed: Vec<Option<String>> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, vec![Some(seqs[1].clone())], "reports the first unrecorded record");
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire, json!({"batchItemFailures": [{"itemIdentifier": seqs[1]}]}));

    // Lambda retries from the failed record once PostgreSQL is back: everything arrives once.
    proxy.set_up(true);
    assert!(notes_activity::handle(&sinks, stream.event(1..4)).await.batch_item_failures.is_empty());
    assert!(notes_activity::handle(&sinks, stream.event(0..4)).await.batch_item_failures.is_empty());
    let titles: Vec<String> =
        activity.list(&uid, 10, None).await.unwrap().items.into_iter().filter_map(|i| i.title).collect();
    assert_eq!(titles, vec!["n3", "n2", "n1", "n0"]);
}

#[tokio::test]
async fn skips_records_that_are_not_activity() {
    let (_db, pg) = activity_db().await;
    let activity = PgActivity::new(pg);
    let search = MemorySearch::new();
    let user = testkit::unique_name("u-");
    let mut stream = Stream::new();
    let mut other = note_image(&user, Id::new(), "x");
    other["kind"] = json!({"S": "something-else"});
    stream.push("INSERT", None, Some(other));
    let mut no_kind = note_image(&user, Id::new(), "y");
    no_kind.as_object_mut().unwrap().remove("kind");
    stream.push("INSERT", None, Some(no_kind));
    stream.push("INSERT", None, Some(note_image(&user, Id::new(), "kept")));
    let response = notes_activity::handle(&sinks(&activity, &search, None), stream.event(0..3)).await;
    assert!(response.batch_item_failures.is_empty());
    let page = activity.list(&UserId::new(&user).unwrap(), 10, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].title.as_deref(), Some("kept"));
}

/// A note changed while Redis is frozen: the consumer records the activity at once, keeps
/// retrying the invalidation, and deletes the note's cache entries within a second of Redis being
/// back (so other API instances, which never saw the blip, read nothing stale).
#[tokio::test]
async fn invalidates_the_cache_once_redis_is_back() {
    let redis = testkit::redis::RedisServer::start();
    let cache = RedisCache::new(&redis.url()).unwrap().with_backoff(std::time::Duration::ZERO);
    let (_db, pg) = activity_db().await;
    let activity = PgActivity::new(pg);
    let search = MemorySearch::new();
    let user = testkit::unique_name("u-");
    let uid = UserId::new(&user).unwrap();
    let id = Id::new();
    let reader = RedisCache::new(&redis.url()).unwrap();
    let keys = notes_core::cache::keys::of_note(&uid, id);
    for key in &keys {
        reader.put(key, "v", "stale", std::time::Duration::from_secs(60)).await.unwrap();
    }
    let mut stream = Stream::new();
    stream.push("INSERT", None, Some(note_image(&user, id, "changed")));
    redis.pause();
    let sinks = sinks(&activity, &search, Some(&cache));
    let handled = notes_activity::handle(&sinks, stream.event(0..1));
    let resume = async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        assert_eq!(activity.list(&uid, 10, None).await.unwrap().items.len(), 1, "activity does not wait for Redis");
        redis.resume();
        std::time::Instant::now()
    };
    let (response, resumed) = tokio::join!(handled, resume);
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(
        resumed.elapsed() < std::time::Duration::from_secs(1),
        "invalidated {:?} after the resume",
        resumed.elapsed()
    );
    for key in &keys {
        assert_eq!(reader.get(key, "v").await.unwrap(), None, "{key}");
    }

    // Redis frozen for longer than the budget: the record is reported, and redelivered.
    redis.pause();
    let short = notes_activity::Sinks { invalidation_budget: std::time::Duration::from_millis(300), ..sinks };
    let response = notes_activity::handle(&short, stream.event(0..1)).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    redis.resume();
    assert!(notes_activity::handle(&short, stream.event(0..1)).await.batch_item_failures.is_empty());
}
