//! One contract, two implementations: DynamoDB (on moto) and memory.

use notes_core::dynamo::DynamoNotes;
use notes_core::ports::Notes;
use notes_core::{Attachment, AttachmentState, Id, NoteContent, NoteKey, StoreError, UserId, blob_key, now};
use notes_memory::MemoryNotes;

fn user() -> UserId {
    UserId::new(&testkit::unique_name("user-")).unwrap()
}

fn content(title: &str) -> NoteContent {
    NoteContent { title: title.into(), body: format!("body of {title}"), tags: vec!["t1".into(), "t2".into()] }
}

fn attachment(user: &UserId, note: Id, name: &str) -> Attachment {
    let id = Id::new();
    Attachment {
        id,
        note_id: note,
        filename: name.into(),
        content_type: "text/plain".into(),
        size: 5,
        key: blob_key(user, note, id),
        created_at: now(),
        state: AttachmentState::Pending,
    }
}

async fn check(store: &dyn Notes) {
    let (a, b) = (user(), user());
    store.health().await.expect("healthy");

    // Create and read back.
    let n1 = store.create(&a, content("one")).await.unwrap();
    assert_eq!((n1.version, n1.title.as_str(), n1.tags.len()), (1, "one", 2));
    assert_eq!(store.get(&a, n1.id).await.unwrap(), n1);
    let n2 = store.create(&a, content("two")).await.unwrap();
    let n3 = store.create(&a, content("three")).await.unwrap();

    // Newest first, paged without an empty last page.
    let (page, next) = store.list(&a, 2, None).await.unwrap();
    assert_eq!(page.iter().map(|n| n.id).collect::<Vec<_>>(), vec![n3.id, n2.id]);
    let next = next.expect("more to come");
    let (page, next) = store.list(&a, 2, Some(next)).await.unwrap();
    assert_eq!(page.iter().map(|n| n.id).collect::<Vec<_>>(), vec![n1.id]);
    assert_eq!(next, None);
    let (page, next) = store.list(&a, 3, None).await.unwrap();
    assert_eq!((page.len(), next), (3, None));

    // Most recently updated first: an edit moves a note to the top, in pages.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let n1 = store.update(&a, n1.id, Some(1), content("one, edited")).await.unwrap();
    let (page, next) = store.list_updated(&a, 2, None).await.unwrap();
    assert_eq!(page.iter().map(|n| n.id).collect::<Vec<_>>(), vec![n1.id, n3.id]);
    assert_eq!(next, Some(NoteKey::of(n3.updated_at, n3.id)));
    let (page, next) = store.list_updated(&a, 2, next).await.unwrap();
    assert_eq!((page.iter().map(|n| n.id).collect::<Vec<_>>(), next), (vec![n2.id], None));
    assert_eq!(
        store.list(&a, 3, None).await.unwrap().0.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![n3.id, n2.id, n1.id]
    );
    // Several by id, in the order asked; unknown and other users' ids left out.
    let got = store.get_many(&a, &[n2.id, Id::new(), n1.id]).await.unwrap();
    assert_eq!(got, vec![n2.clone(), n1.clone()]);
    assert_eq!(store.get_many(&b, &[n1.id, n2.id]).await.unwrap(), vec![]);
    assert_eq!(store.list_updated(&b, 10, None).await.unwrap(), (vec![], None));

    // Isolation: b sees and changes nothing of a's.
    assert!(matches!(store.get(&b, n1.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.list(&b, 10, None).await.unwrap().0, vec![]);
    assert!(matches!(store.update(&b, n1.id, None, content("x")).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete(&b, n1.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.add_attachment(&b, &attachment(&b, n1.id, "x")).await, Err(StoreError::NotFound)));
    assert!(matches!(store.list_attachments(&b, n1.id).await, Err(StoreError::NotFound)));

    // Optimistic concurrency.
    let u = store.update(&a, n1.id, Some(2), content("one v3")).await.unwrap();
    assert_eq!((u.version, u.title.as_str(), u.created_at), (3, "one v3", n1.created_at));
    assert!(u.updated_at >= n1.updated_at);
    assert!(matches!(store.update(&a, n1.id, Some(2), content("stale")).await, Err(StoreError::VersionMismatch)));
    let u = store.update(&a, n1.id, None, content("one v4")).await.unwrap();
    assert_eq!(u.version, 4);
    assert_eq!(store.get(&a, n1.id).await.unwrap(), u);
    assert!(matches!(store.update(&a, Id::new(), Some(1), content("x")).await, Err(StoreError::NotFound)));

    // Attachments.
    let x = attachment(&a, n1.id, "x.txt");
    let y = attachment(&a, n1.id, "y.txt");
    store.add_attachment(&a, &x).await.unwrap();
    store.add_attachment(&a, &y).await.unwrap();
    // Pending until marked ready (by its owner only).
    assert!(matches!(store.mark_attachment_ready(&b, n1.id, y.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.mark_attachment_ready(&a, n1.id, Id::new()).await, Err(StoreError::NotFound)));
    let y = Attachment { state: AttachmentState::Ready, ..y };
    assert_eq!(store.mark_attachment_ready(&a, n1.id, y.id).await.unwrap(), y);
    assert_eq!(store.mark_attachment_ready(&a, n1.id, y.id).await.unwrap(), y, "idempotent");
    store.add_attachment(&a, &attachment(&a, n2.id, "other.txt")).await.unwrap();
    assert_eq!(store.list_attachments(&a, n1.id).await.unwrap(), vec![x.clone(), y.clone()]);
    assert!(matches!(store.add_attachment(&a, &attachment(&a, Id::new(), "z")).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete_attachment(&b, n1.id, x.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.delete_attachment(&a, n1.id, x.id).await.unwrap(), x);
    assert!(matches!(store.delete_attachment(&a, n1.id, x.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.list_attachments(&a, n1.id).await.unwrap(), vec![y.clone()]);

    // Deleting a note deletes its attachments' metadata and says which.
    assert_eq!(store.delete(&a, n1.id).await.unwrap(), vec![y]);
    assert!(matches!(store.get(&a, n1.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.delete(&a, n1.id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.list_attachments(&a, n1.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.list(&a, 10, None).await.unwrap().0.len(), 2);
    assert_eq!(store.list_attachments(&a, n2.id).await.unwrap().len(), 1);
}

async fn check_attachment_limit(store: &dyn Notes) {
    let a = user();
    let note = store.create(&a, content("full")).await.unwrap();
    for i in 0..notes_core::MAX_ATTACHMENTS_PER_NOTE {
        store.add_attachment(&a, &attachment(&a, note.id, &format!("{i}"))).await.unwrap();
    }
    assert!(matches!(
        store.add_attachment(&a, &attachment(&a, note.id, "one too many")).await,
        Err(StoreError::Limit(_))
    ));
    assert_eq!(store.delete(&a, note.id).await.unwrap().len(), notes_core::MAX_ATTACHMENTS_PER_NOTE);
}

async fn dynamo() -> DynamoNotes {
    let config = testkit::aws::sdk_config(&testkit::moto::Moto::shared().endpoint());
    let client = testkit::aws::dynamodb_client(&config);
    let table = testkit::unique_name("notes-");
    notes_core::dynamo_setup::create_table(&client, &table).await.unwrap();
    DynamoNotes::new(client, table)
}

#[tokio::test]
async fn memory_notes_keep_the_contract() {
    check(&MemoryNotes::new()).await;
    check_attachment_limit(&MemoryNotes::new()).await;
}

#[tokio::test]
async fn dynamodb_notes_keep_the_contract() {
    check(&dynamo().await).await;
}

#[tokio::test]
async fn dynamodb_notes_limit_attachments() {
    check_attachment_limit(&dynamo().await).await;
}

#[tokio::test]
async fn dynamodb_down_is_unavailable() {
    let config = testkit::aws::sdk_config(&format!("http://127.0.0.1:{}", testkit::closed_port()));
    let store = DynamoNotes::new(testkit::aws::dynamodb_client(&config), "absent");
    let started = std::time::Instant::now();
    assert!(matches!(store.get(&user(), Id::new()).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.health().await, Err(StoreError::Unavailable(_))));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
