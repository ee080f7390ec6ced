//! The notes listing's queries: creation order, update order, text search and tag filter, each
//! with two users (isolation), on the real stores (DynamoDB on moto, PostgreSQL) and on the
//! in-memory ones. On the real stores the search index is fed here with what the stream consumer
//! would write (the consumer itself is tested in `lambdas/activity` and end to end in
//! `lambdas/dev`).

use std::sync::Arc;

use crate::support::{Api, Call, stores, user};
use notes_core::{Id, IndexedNote, UserId};
use serde_json::{Value, json};

fn titles(reply: &Value) -> Vec<String> {
    reply["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap().to_string()).collect()
}

/// What the stream consumer does for a written note.
async fn feed(state: &notes_api::AppState, user: &str, note: &Value) {
    let note: notes_core::Note = serde_json::from_value(note.clone()).unwrap();
    state.search.index(&IndexedNote::of(&UserId::new(user).unwrap(), &note)).await.unwrap();
}

async fn check(state: notes_api::AppState) {
    let api = Api::new(state.clone());
    let (a, b) = (user(), user());
    let mut ids = std::collections::HashMap::new();
    for (who, title, body, tags) in [
        (&a, "Groceries", "milk and bread", json!(["home", "shopping"])),
        (&a, "Trip to Lisbon", "train, then bread", json!(["travel"])),
        (&a, "Report", "numbers", json!(["work"])),
        (&b, "Bob's bread", "bread", json!(["home"])),
    ] {
        let reply =
            api.call(Call::post("/v1/notes", json!({"title": title, "body": body, "tags": tags})).by(who)).await;
        assert_eq!(reply.status.as_u16(), 201, "{reply:?}");
        feed(&state, who, &reply.json).await;
        ids.insert(title, reply.json["id"].as_str().unwrap().to_string());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let list = async |who: &str, query: &str| {
        let reply = api.call(Call::get(&format!("/v1/notes?{query}")).by(who)).await;
        assert_eq!(reply.status.as_u16(), 200, "{query}: {reply:?}");
        reply.json
    };
    assert_eq!(titles(&list(&a, "").await), ["Report", "Trip to Lisbon", "Groceries"]);

    // An edit moves the note up in update order, not in creation order (the default).
    let path = format!("/v1/notes/{}", ids["Groceries"]);
    let edited = api
        .call(
            Call::put(&path, json!({"title": "Groceries", "body": "milk, bread, eggs", "tags": ["home"]}))
                .by(&a)
                .header("if-match", "\"1\""),
        )
        .await;
    assert_eq!(edited.status.as_u16(), 200);
    feed(&state, &a, &edited.json).await;
    assert_eq!(titles(&list(&a, "sort=updated").await), ["Groceries", "Report", "Trip to Lisbon"]);
    assert_eq!(titles(&list(&a, "sort=created").await), ["Report", "Trip to Lisbon", "Groceries"]);
    assert_eq!(titles(&list(&a, "").await), ["Report", "Trip to Lisbon", "Groceries"]);
    let first = list(&a, "sort=updated&limit=2").await;
    assert_eq!(titles(&first), ["Groceries", "Report"]);
    let rest = list(&a, &format!("sort=updated&limit=2&cursor={}", first["next_cursor"].as_str().unwrap())).await;
    assert_eq!((titles(&rest), rest["next_cursor"].clone()), (vec!["Trip to Lisbon".to_string()], Value::Null));

    // Text search: prefixes of words, all of them, newest first; tag filter: exact.
    assert_eq!(titles(&list(&a, "q=bread&sort=updated").await), ["Groceries", "Trip to Lisbon"]);
    assert_eq!(titles(&list(&a, "q=BRE+train").await), ["Trip to Lisbon"]);
    assert_eq!(titles(&list(&a, "q=eggs").await), ["Groceries"], "the edit is searchable");
    assert_eq!(titles(&list(&a, "tag=home").await), ["Groceries"]);
    assert_eq!(titles(&list(&a, "tag=shopping").await), Vec::<String>::new(), "the edit removed the tag");
    assert_eq!(titles(&list(&a, "q=bread&tag=travel").await), ["Trip to Lisbon"]);
    let page = list(&a, "q=bread&limit=1&sort=updated").await;
    assert_eq!(titles(&page), ["Groceries"]);
    let next =
        list(&a, &format!("q=bread&limit=1&sort=updated&cursor={}", page["next_cursor"].as_str().unwrap())).await;
    assert_eq!(titles(&next), ["Trip to Lisbon"]);
    // The search result is read back from the notes store: a deleted note is never listed, even
    // before the index hears of the deletion.
    api.call(Call::delete(&format!("/v1/notes/{}", ids["Trip to Lisbon"])).by(&a)).await;
    assert_eq!(titles(&list(&a, "q=bread").await), ["Groceries"]);

    // Isolation, per query type.
    for query in
        ["", "sort=updated", "sort=created", "q=bread", "q=groceries", "tag=home", "tag=work", "q=bread&tag=home"]
    {
        let theirs = titles(&list(&b, query).await);
        assert!(theirs.iter().all(|t| t.starts_with("Bob")), "{query}: {theirs:?}");
        let mine = titles(&list(&a, query).await);
        assert!(mine.iter().all(|t| !t.starts_with("Bob")), "{query}: {mine:?}");
    }
    assert_eq!(titles(&list(&b, "q=bread").await), ["Bob's bread"]);
    assert_eq!(titles(&list(&b, "tag=home").await), ["Bob's bread"]);

    // Malformed parameters are the client's mistake.
    for query in [
        "sort=oldest",
        "tag=",
        "tag=%20x",
        &format!("q={}", "x".repeat(201)),
        "cursor=zz&q=a",
        "cursor=6e3a78&sort=updated",
    ] {
        let reply = api.call(Call::get(&format!("/v1/notes?{query}")).by(&a)).await;
        assert_eq!(reply.summary(), "400 bad_request", "{query}");
    }
    assert_eq!(list(&a, "q=").await["items"].as_array().unwrap().len(), 2, "an empty q filters nothing");
    let _ = Id::new();
}

#[tokio::test]
async fn list_search_and_tags_on_the_real_stores() {
    let s = stores().await;
    check(s.state.clone()).await;
}

#[tokio::test]
async fn list_search_and_tags_on_the_memory_stores() {
    let activity = Arc::new(notes_memory::MemoryActivity::new());
    let search = Arc::new(notes_memory::MemorySearch::new());
    let state = notes_api::AppState {
        notes: Arc::new(notes_memory::MemoryNotes::with_stream(activity.clone(), search.clone())),
        activity,
        search,
        blobs: Arc::new(notes_memory::MemoryBlobs::new("http://127.0.0.1:9/_blobs", [2; 32])),
        cache: Some(Arc::new(notes_memory::MemoryCache::new())),
        site_origin: None,
    };
    check(state).await;
}
