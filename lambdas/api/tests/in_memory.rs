//! The in-memory state `cargo xtask dev` embeds: the same router, with note writes feeding the
//! activity log and presigned URLs served by `dev_blob_routes`.

mod common;

use common::{Api, Call, user};
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn in_memory_state_serves_the_whole_api() {
    let (state, blobs) = notes_api::AppState::in_memory("http://127.0.0.1:9/dev-blobs", Some(common::SITE.into()));
    let app = notes_api::router(state).nest_service("/dev-blobs", notes_api::dev_blob_routes(blobs));
    let api = Api { router: app };
    let a = user();

    assert_eq!(api.call(Call::get("/v1/health")).await.status, StatusCode::OK);
    let note = api.create(&a, "local").await;
    let id = note["id"].as_str().unwrap();
    let att = api
        .call(
            Call::post(
                &format!("/v1/notes/{id}/attachments"),
                json!({"filename": "a.txt", "content_type": "text/plain", "size": 2}),
            )
            .by(&a),
        )
        .await;
    assert_eq!(att.status, StatusCode::CREATED);
    let upload = att.json["upload_url"].as_str().unwrap().strip_prefix("http://127.0.0.1:9").unwrap().to_string();
    let put = api.call(Call::new(http::Method::PUT, &upload).raw("text/plain", b"hi".to_vec())).await;
    assert_eq!(put.status, StatusCode::OK);
    let list = api.call(Call::get(&format!("/v1/notes/{id}/attachments")).by(&a)).await;
    let download =
        list.json["items"][0]["download_url"].as_str().unwrap().strip_prefix("http://127.0.0.1:9").unwrap().to_string();
    let got = api.call(Call::get(&download)).await;
    assert_eq!((got.status, got.json.clone()), (StatusCode::OK, json!("hi")));

    let activity = api.call(Call::get("/v1/activity").by(&a)).await;
    let kinds: Vec<&str> =
        activity.json["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["attachment_added", "note_created"]);
    let stats = api.call(Call::get("/v1/stats").by(&a)).await;
    assert_eq!((stats.json["notes_total"].clone(), stats.json["attachments_total"].clone()), (json!(1), json!(1)));
    assert_eq!(api.call(Call::get("/v1/activity").by(&user())).await.json["items"], json!([]));
}
