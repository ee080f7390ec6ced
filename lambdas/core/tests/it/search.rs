//! One contract, two implementations: PostgreSQL full-text search and memory.

use std::sync::Arc;

use notes_core::ports::Search;
use notes_core::postgres::Pg;
use notes_core::search::PgSearch;
use notes_core::{Id, IndexedNote, NoteKey, Order, SearchQuery, UserId, now};
use notes_memory::MemorySearch;

fn user() -> UserId {
    UserId::new(&testkit::unique_name("user-")).unwrap()
}

fn note(user: &UserId, title: &str, body: &str, tags: &[&str], minutes_ago: i64) -> IndexedNote {
    let at = now() - time::Duration::minutes(minutes_ago);
    IndexedNote {
        user: user.clone(),
        id: Id::new(),
        title: title.into(),
        body: body.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        version: 1,
        created_at: at - time::Duration::hours(1),
        updated_at: at,
    }
}

fn query(text: Option<&str>, tag: Option<&str>, order: Order) -> SearchQuery {
    SearchQuery { text: text.map(str::to_string), tag: tag.map(str::to_string), order }
}

async fn check(search: &dyn Search) {
    let (a, b) = (user(), user());
    search.health().await.unwrap();
    let groceries = note(&a, "Groceries for Sunday", "milk, eggs and Bread", &["home", "shopping"], 30);
    let trip = note(&a, "Trip to Lisbon", "book the train; buy bread on the way", &["travel"], 20);
    let work = note(&a, "Quarterly report", "numbers for Q3", &["work", "Home"], 10);
    let bobs = note(&b, "Bob's groceries", "bread", &["home"], 5);
    for n in [&groceries, &trip, &work, &bobs] {
        search.index(n).await.unwrap();
    }
    let ids = |(ids, _): (Vec<Id>, Option<NoteKey>)| ids;
    let find = async |user: &UserId, q: SearchQuery| ids(search.search(user, &q, 10, None).await.unwrap());

    // Words are prefixes, case-insensitive, all required; tags exact; newest first.
    assert_eq!(find(&a, query(Some("bread"), None, Order::Updated)).await, vec![trip.id, groceries.id]);
    assert_eq!(find(&a, query(Some("BRE"), None, Order::Updated)).await, vec![trip.id, groceries.id]);
    assert_eq!(find(&a, query(Some("bread milk"), None, Order::Updated)).await, vec![groceries.id]);
    assert_eq!(find(&a, query(Some("groc"), None, Order::Updated)).await, vec![groceries.id]);
    assert_eq!(find(&a, query(Some("nothing-like-it"), None, Order::Updated)).await, vec![]);
    assert_eq!(find(&a, query(None, Some("home"), Order::Updated)).await, vec![groceries.id]);
    assert_eq!(find(&a, query(None, Some("Home"), Order::Updated)).await, vec![work.id]);
    assert_eq!(find(&a, query(Some("bread"), Some("travel"), Order::Created)).await, vec![trip.id]);
    assert_eq!(
        find(&a, query(Some(" ;; "), None, Order::Updated)).await,
        vec![work.id, trip.id, groceries.id],
        "no words: no text filter"
    );

    // Isolation: each user finds only their own notes, whatever the query.
    assert_eq!(find(&b, query(Some("bread"), None, Order::Updated)).await, vec![bobs.id]);
    assert_eq!(find(&b, query(None, Some("shopping"), Order::Created)).await, vec![]);
    assert_eq!(find(&b, query(Some("lisbon"), None, Order::Created)).await, vec![]);

    // Pages: time descending, then id descending, continued after the last position.
    let (page, next) = search.search(&a, &query(None, None, Order::Updated), 2, None).await.unwrap();
    assert_eq!(page, vec![work.id, trip.id]);
    assert_eq!(next, Some(NoteKey::of(trip.updated_at, trip.id)));
    let (page, next) = search.search(&a, &query(None, None, Order::Updated), 2, next).await.unwrap();
    assert_eq!((page, next), (vec![groceries.id], None));
    let created = find(&a, query(None, None, Order::Created)).await;
    assert_eq!(created, vec![work.id, trip.id, groceries.id]);

    // Versions only move forward; a removed note stays removed.
    let edited =
        IndexedNote { title: "Groceries for Monday".into(), version: 2, updated_at: now(), ..groceries.clone() };
    search.index(&edited).await.unwrap();
    search.index(&groceries).await.unwrap(); // a late redelivery of version 1
    assert_eq!(find(&a, query(Some("monday"), None, Order::Updated)).await, vec![groceries.id]);
    assert_eq!(find(&a, query(Some("sunday"), None, Order::Updated)).await, vec![]);
    assert_eq!(find(&a, query(None, None, Order::Updated)).await[0], groceries.id, "the edit moved it up");
    search.remove(&a, trip.id).await.unwrap();
    search.index(&trip).await.unwrap(); // redelivered after the removal
    assert_eq!(find(&a, query(Some("lisbon"), None, Order::Updated)).await, vec![]);
    search.remove(&a, Id::new()).await.unwrap(); // unknown: fine
}

#[tokio::test]
async fn memory_search_keeps_the_contract() {
    check(&MemorySearch::new()).await;
}

#[tokio::test]
async fn postgres_search_keeps_the_contract() {
    let db = testkit::pg::TestDb::create().await;
    let pg = Arc::new(Pg::from_url(db.url()));
    pg.migrate().await.unwrap();
    check(&PgSearch::new(pg)).await;
}
