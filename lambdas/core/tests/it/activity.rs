//! One contract, two implementations: PostgreSQL (a fresh database per test) and memory.

use std::sync::Arc;

use notes_core::ports::{Activity, ActivityCursor};
use notes_core::postgres::{Pg, PgActivity};
use notes_core::{ActivityEvent, ActivityKind, StoreError, UserId, now};
use notes_memory::MemoryActivity;
use time::Duration;

fn user() -> UserId {
    UserId::new(&testkit::unique_name("user-")).unwrap()
}

fn event(user: &UserId, kind: ActivityKind, note: &str, attachment: Option<&str>, minutes_ago: i64) -> ActivityEvent {
    ActivityEvent {
        event_id: testkit::unique_name("ev-"),
        user: user.clone(),
        kind,
        note_id: note.into(),
        attachment_id: attachment.map(str::to_string),
        title: Some(format!("title of {note}")),
        size: attachment.map(|_| 10),
        at: now() - Duration::minutes(minutes_ago),
    }
}

async fn check(store: &dyn Activity) {
    let (a, b) = (user(), user());
    store.health().await.unwrap();
    let events = [
        event(&a, ActivityKind::NoteCreated, "n1", None, 50),
        event(&a, ActivityKind::NoteCreated, "n2", None, 40),
        event(&a, ActivityKind::NoteUpdated, "n1", None, 30),
        event(&a, ActivityKind::AttachmentAdded, "n1", Some("x"), 20),
        event(&a, ActivityKind::AttachmentAdded, "n2", Some("y"), 15),
        event(&a, ActivityKind::NoteDeleted, "n2", None, 10),
        event(&b, ActivityKind::NoteCreated, "n9", None, 5),
    ];
    for e in &events {
        assert!(store.record(e).await.unwrap(), "first time");
    }
    // Replays (the stream redelivers) change nothing.
    for e in &events {
        assert!(!store.record(e).await.unwrap(), "replay");
    }

    // Newest first, paged.
    let page = store.list(&a, 4, None).await.unwrap();
    let kinds: Vec<(ActivityKind, &str)> = page.items.iter().map(|i| (i.kind, i.note_id.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (ActivityKind::NoteDeleted, "n2"),
            (ActivityKind::AttachmentAdded, "n2"),
            (ActivityKind::AttachmentAdded, "n1"),
            (ActivityKind::NoteUpdated, "n1"),
        ]
    );
    assert_eq!(page.items[2].attachment_id.as_deref(), Some("x"));
    assert_eq!(page.items[0].title.as_deref(), Some("title of n2"));
    let cursor = ActivityCursor::decode(page.next_cursor.as_deref().expect("more")).expect("valid cursor");
    let rest = store.list(&a, 4, Some(&cursor)).await.unwrap();
    assert_eq!(rest.items.iter().map(|i| i.note_id.as_str()).collect::<Vec<_>>(), vec!["n2", "n1"]);
    assert_eq!(rest.next_cursor, None);
    let all = store.list(&a, 6, None).await.unwrap();
    assert_eq!((all.items.len(), all.next_cursor), (6, None));

    // Isolation.
    let theirs = store.list(&b, 10, None).await.unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(theirs.items[0].note_id, "n9");

    // Stats: n1 live with x; n2 deleted (with y).
    let today = now().date();
    let stats = store.stats(&a, today).await.unwrap();
    assert_eq!((stats.notes_total, stats.attachments_total), (1, 1));
    assert_eq!(stats.per_day.len(), 30);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    assert_eq!(stats.per_day[0].day, (today - Duration::days(29)).format(&format).unwrap());
    assert_eq!(stats.per_day[29].day, today.format(&format).unwrap());
    // Events were up to 50 minutes ago: today or (just after midnight) yesterday.
    let recent: u64 = stats.per_day[28..].iter().map(|d| d.count).sum();
    assert_eq!(recent, 6);
    let stats_b = store.stats(&b, today).await.unwrap();
    assert_eq!((stats_b.notes_total, stats_b.attachments_total), (1, 0));
    let empty = store.stats(&user(), today).await.unwrap();
    assert_eq!((empty.notes_total, empty.per_day.iter().map(|d| d.count).sum::<u64>()), (0, 0));
}

#[tokio::test]
async fn memory_activity_keeps_the_contract() {
    check(&MemoryActivity::new()).await;
}

#[tokio::test]
async fn postgres_activity_keeps_the_contract() {
    let db = testkit::pg::TestDb::create().await;
    let pg = Arc::new(Pg::from_url(db.url()));
    assert_eq!(pg.migrate().await.unwrap(), vec!["0001_activity".to_string(), "0002_search".to_string()]);
    assert_eq!(pg.migrate().await.unwrap(), Vec::<String>::new(), "migrations are idempotent");
    check(&PgActivity::new(pg)).await;
}

#[tokio::test]
async fn postgres_outage_is_unavailable_then_recovers() {
    let db = testkit::pg::TestDb::create().await;
    let proxy = testkit::proxy::Proxy::start(testkit::proxy::target_of(db.url(), 5432));
    let pg = Arc::new(Pg::from_url(testkit::proxy::rewrite_url(db.url(), proxy.port())));
    pg.migrate().await.unwrap();
    let store = PgActivity::new(pg);
    let a = user();
    assert!(store.record(&event(&a, ActivityKind::NoteCreated, "n1", None, 1)).await.unwrap());
    proxy.set_up(false);
    let e = event(&a, ActivityKind::NoteCreated, "n2", None, 0);
    assert!(matches!(store.record(&e).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.list(&a, 10, None).await, Err(StoreError::Unavailable(_))));
    proxy.set_up(true);
    assert!(store.record(&e).await.unwrap());
    assert_eq!(store.list(&a, 10, None).await.unwrap().items.len(), 2);
}
