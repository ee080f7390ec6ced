//! Fault tests: Redis unreachable (requests still succeed), DynamoDB unreachable (503 +
//! Retry-After, never a silent loss), PostgreSQL unreachable (activity 503, notes fine), and the
//! cache actually sparing DynamoDB reads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{Api, Call, stores, stores_on, user};
use http::StatusCode;
use notes_core::cache::RedisCache;
use notes_core::dynamo::DynamoNotes;
use notes_core::postgres::{Pg, PgActivity};
use serde_json::json;

/// Create, read, list, replace, delete: the whole note flow must work; returns the statuses.
async fn note_flow(api: &Api) -> Vec<u16> {
    let a = user();
    let mut statuses = Vec::new();
    let created = api.call(Call::post("/v1/notes", json!({"title": "t", "body": "b"})).by(&a)).await;
    statuses.push(created.status.as_u16());
    let Some(id) = created.json["id"].as_str() else { return statuses };
    let path = format!("/v1/notes/{id}");
    statuses.push(api.call(Call::get(&path).by(&a)).await.status.as_u16());
    statuses.push(api.call(Call::get("/v1/notes").by(&a)).await.status.as_u16());
    let replaced =
        api.call(Call::put(&path, json!({"title": "t2", "body": "b"})).by(&a).header("if-match", "\"1\"")).await;
    statuses.push(replaced.status.as_u16());
    let read = api.call(Call::get(&path).by(&a)).await;
    assert_eq!(read.json["title"], json!("t2"), "reads see the write");
    statuses.push(api.call(Call::delete(&path).by(&a)).await.status.as_u16());
    statuses.push(api.call(Call::get(&path).by(&a)).await.status.as_u16());
    statuses
}

#[tokio::test]
async fn redis_unreachable_requests_still_succeed() {
    let mut s = stores().await;
    s.state.cache = Some(Arc::new(RedisCache::new(&format!("redis://127.0.0.1:{}", testkit::closed_port())).unwrap()));
    let api = Api::new(s.state.clone());
    let started = Instant::now();
    assert_eq!(note_flow(&api).await, vec![201, 200, 200, 200, 204, 404]);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let health = api.call(Call::get("/v1/health")).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(
        (health.json["status"].clone(), health.json["dependencies"]["redis"].clone()),
        (json!("degraded"), json!("unavailable"))
    );
}

#[tokio::test]
async fn redis_outage_mid_way_fails_open() {
    let mut s = stores().await;
    let url = testkit::redis_url();
    let proxy = testkit::proxy::Proxy::start(testkit::proxy::target_of(&url, 6379));
    s.state.cache = Some(Arc::new(RedisCache::new(&testkit::proxy::rewrite_url(&url, proxy.port())).unwrap()));
    let api = Api::new(s.state.clone());
    assert_eq!(note_flow(&api).await, vec![201, 200, 200, 200, 204, 404]);
    proxy.set_up(false);
    assert_eq!(note_flow(&api).await, vec![201, 200, 200, 200, 204, 404]);
}

#[tokio::test]
async fn dynamodb_unreachable_is_503_with_retry_after() {
    let mut s = stores().await;
    let config = testkit::aws::sdk_config(&format!("http://127.0.0.1:{}", testkit::closed_port()));
    s.state.notes = Arc::new(DynamoNotes::new(testkit::aws::dynamodb_client(&config), "notes"));
    let api = Api::new(s.state.clone());
    let a = user();
    let id = notes_core::Id::new();
    let calls = vec![
        Call::post("/v1/notes", json!({"title": "t", "body": "b"})),
        Call::get("/v1/notes"),
        Call::get(&format!("/v1/notes/{id}")),
        Call::put(&format!("/v1/notes/{id}"), json!({"title": "t", "body": "b"})).header("if-match", "\"1\""),
        Call::delete(&format!("/v1/notes/{id}")),
        Call::get(&format!("/v1/notes/{id}/attachments")),
        Call::post(&format!("/v1/notes/{id}/attachments"), json!({"filename": "a", "content_type": "a/b", "size": 1})),
    ];
    for call in calls {
        let what = format!("{} {}", call.method, call.path);
        let reply = api.call(call.by(&a)).await;
        assert_eq!(reply.summary(), "503 unavailable", "{what}");
        assert_eq!(reply.header("retry-after"), Some("5"), "{what}");
        assert!(!reply.json["error"]["message"].as_str().unwrap().contains("127.0.0.1"), "no internal detail");
    }
    let health = api.call(Call::get("/v1/health")).await;
    assert_eq!(
        (health.status, health.json["dependencies"]["dynamodb"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("unavailable"))
    );
    assert_eq!(health.header("retry-after"), Some("5"));
    // Activity does not depend on DynamoDB.
    assert_eq!(api.call(Call::get("/v1/activity").by(&a)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn dynamodb_outage_then_recovery() {
    let moto = testkit::moto::Moto::shared();
    let proxy = testkit::proxy::Proxy::start(testkit::proxy::target_of(&moto.endpoint(), 80));
    let mut s = stores_on(moto).await;
    let config = testkit::aws::sdk_config(&format!("http://127.0.0.1:{}", proxy.port()));
    let table = testkit::unique_name("notes-");
    notes_core::dynamo_setup::create_table(&testkit::aws::dynamodb_client(&config), &table).await.unwrap();
    s.state.notes = Arc::new(DynamoNotes::new(testkit::aws::dynamodb_client(&config), table));
    s.state.cache = None; // every read goes to DynamoDB
    let api = Api::new(s.state.clone());
    let a = user();
    let note = api.create(&a, "before").await;
    let path = format!("/v1/notes/{}", note["id"].as_str().unwrap());
    proxy.set_up(false);
    assert_eq!(api.call(Call::get(&path).by(&a)).await.summary(), "503 unavailable");
    let lost = api.call(Call::post("/v1/notes", json!({"title": "during", "body": ""})).by(&a)).await;
    assert_eq!(lost.summary(), "503 unavailable", "a write that did not happen is not acknowledged");
    proxy.set_up(true);
    assert_eq!(api.call(Call::get(&path).by(&a)).await.status, StatusCode::OK);
    let list = api.call(Call::get("/v1/notes").by(&a)).await;
    assert_eq!(list.json["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn postgres_unreachable_activity_503_notes_fine() {
    let mut s = stores().await;
    let url = format!("postgres://postgres@127.0.0.1:{}/x", testkit::closed_port());
    s.state.activity = Arc::new(PgActivity::new(Arc::new(Pg::from_url(url))));
    let api = Api::new(s.state.clone());
    let a = user();
    for path in ["/v1/activity", "/v1/stats"] {
        let reply = api.call(Call::get(path).by(&a)).await;
        assert_eq!(
            (reply.summary(), reply.header("retry-after")),
            ("503 unavailable".to_string(), Some("5")),
            "{path}"
        );
    }
    assert_eq!(note_flow(&api).await, vec![201, 200, 200, 200, 204, 404]);
    let health = api.call(Call::get("/v1/health")).await;
    assert_eq!((health.status, health.json["status"].clone()), (StatusCode::OK, json!("degraded")));
}

#[tokio::test]
async fn cache_spares_dynamodb_reads() {
    let moto = testkit::moto::Moto::start();
    let s = stores_on(&moto).await;
    let api = Api::new(s.state.clone());
    let a = user();
    let note = api.create(&a, "cached").await;
    let path = format!("/v1/notes/{}", note["id"].as_str().unwrap());
    let dynamodb_reads = || moto.requests().iter().filter(|r| matches!(r.target(), Some("GetItem" | "Query"))).count();

    let before = dynamodb_reads();
    api.call(Call::get(&path).by(&a)).await;
    api.call(Call::get("/v1/notes").by(&a)).await;
    assert_eq!(dynamodb_reads(), before + 2, "misses read DynamoDB");
    for _ in 0..3 {
        assert_eq!(api.call(Call::get(&path).by(&a)).await.status, StatusCode::OK);
        assert_eq!(api.call(Call::get("/v1/notes").by(&a)).await.json["items"].as_array().unwrap().len(), 1);
    }
    assert_eq!(dynamodb_reads(), before + 2, "hits do not");
    // A write invalidates: the next reads go to DynamoDB and see it.
    let put =
        api.call(Call::put(&path, json!({"title": "changed", "body": ""})).by(&a).header("if-match", "\"1\"")).await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(api.call(Call::get(&path).by(&a)).await.json["title"], json!("changed"));
    assert_eq!(api.call(Call::get("/v1/notes").by(&a)).await.json["items"][0]["title"], json!("changed"));
    assert_eq!(dynamodb_reads(), before + 4);
}
