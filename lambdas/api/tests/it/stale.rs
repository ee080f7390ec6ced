//! Reads around a Redis blip: Redis frozen (SIGSTOP) while notes are written, then thawed. Every
//! read, during the blip and after it, returns what DynamoDB holds (reads during the blip skip the
//! cache; the invalidations the blip swallowed are sent before the cache is used again).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{Api, Call, stores, user};
use notes_core::cache::RedisCache;
use serde_json::{Value, json};

#[tokio::test]
async fn no_stale_read_after_redis_is_back() {
    let redis = testkit::redis::RedisServer::start();
    let mut s = stores().await;
    s.state.cache = Some(Arc::new(RedisCache::new(&redis.url()).unwrap()));
    let api = Api::new(s.state.clone());
    let a = user();
    let edited = api.create(&a, "to edit").await;
    let deleted = api.create(&a, "to delete").await;
    let edit_path = format!("/v1/notes/{}", edited["id"].as_str().unwrap());
    let delete_path = format!("/v1/notes/{}", deleted["id"].as_str().unwrap());
    // Cached: the notes and the first page.
    for _ in 0..2 {
        api.call(Call::get(&edit_path).by(&a)).await;
        api.call(Call::get(&delete_path).by(&a)).await;
        api.call(Call::get("/v1/notes").by(&a)).await;
    }

    redis.pause();
    let put = api
        .call(Call::put(&edit_path, json!({"title": "edited", "body": "new"})).by(&a).header("if-match", "\"1\""))
        .await;
    assert_eq!(put.status.as_u16(), 200, "writes do not need Redis");
    assert_eq!(api.call(Call::delete(&delete_path).by(&a)).await.status.as_u16(), 204);
    let added = api.create(&a, "added during the blip").await;
    let fresh = |list: &Value| {
        let titles: Vec<&str> =
            list["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap()).collect();
        titles == ["added during the blip", "edited"]
    };
    assert!(fresh(&api.call(Call::get("/v1/notes").by(&a)).await.json), "fresh during the blip");
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.resume();
    let back = Instant::now();

    // Read for a while (past the adapter's 5 s backoff, when it uses Redis again): never stale.
    while back.elapsed() < Duration::from_secs(7) {
        let note = api.call(Call::get(&edit_path).by(&a)).await;
        assert_eq!(
            (note.json["title"].clone(), note.header("etag")),
            (json!("edited"), Some("\"2\"")),
            "{:?} after",
            back.elapsed()
        );
        assert_eq!(api.call(Call::get(&delete_path).by(&a)).await.status.as_u16(), 404, "{:?} after", back.elapsed());
        let list = api.call(Call::get("/v1/notes").by(&a)).await;
        assert!(fresh(&list.json), "{:?} after: {}", back.elapsed(), list.json);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = added;
    // And the cache is in use again.
    let health = api.call(Call::get("/v1/health")).await;
    assert_eq!(health.json["dependencies"]["redis"], json!("ok"));
}
