//! Attachment states: pending until the object exists (the client confirms, or a listing finds it
//! with one HEAD), pending ones past their upload URL's expiry hidden and deleted, downloads saved
//! under the file's own name.

use crate::support::{Api, Call, stores, user};
use http::Method;
use notes_core::{Attachment, AttachmentState, Id, UserId, blob_key};
use serde_json::{Value, json};

fn upload(created: &Value, body: &'static [u8]) -> u16 {
    let url = created["upload_url"].as_str().unwrap().to_string();
    let headers: Vec<(String, String)> = created["upload_headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    std::thread::spawn(move || testkit::http::send("PUT", &url, &headers, body).unwrap().status).join().unwrap()
}

#[tokio::test]
async fn pending_until_uploaded_then_ready_and_expired_ones_are_cleaned_up() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let a = user();
    let note = api.create(&a, "files").await;
    let note_id = note["id"].as_str().unwrap().to_string();
    let base = format!("/v1/notes/{note_id}/attachments");
    let register = async |name: &str| {
        let reply = api
            .call(Call::post(&base, json!({"filename": name, "content_type": "text/plain", "size": 5})).by(&a))
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{reply:?}");
        assert_eq!(reply.json["state"], json!("pending"));
        reply.json
    };
    let confirmed = register("confirmed.txt").await;
    let found = register("found.txt").await;
    let waiting = register("waiting.txt").await;
    let confirm =
        |att: &Value| Call::new(Method::POST, &format!("{base}/{}/confirm", att["id"].as_str().unwrap())).by(&a);

    // Not uploaded yet: confirming is refused, the listing says pending and offers no download.
    assert_eq!(api.call(confirm(&confirmed)).await.summary(), "409 not_uploaded");
    let list = api.call(Call::get(&base).by(&a)).await;
    let states: Vec<(&str, &str, bool)> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["filename"].as_str().unwrap(), i["state"].as_str().unwrap(), i["download_url"].is_null()))
        .collect();
    assert_eq!(
        states,
        vec![("confirmed.txt", "pending", true), ("found.txt", "pending", true), ("waiting.txt", "pending", true)]
    );

    // Uploaded: one is confirmed by the client, the other found by the next listing (one HEAD).
    assert_eq!(upload(&confirmed, b"hello"), 200);
    assert_eq!(upload(&found, b"world"), 200);
    let reply = api.call(confirm(&confirmed)).await;
    assert_eq!((reply.status.as_u16(), reply.json["state"].clone()), (200, json!("ready")));
    assert!(reply.json["download_url"].as_str().unwrap().contains("response-content-disposition=attachment"));
    assert_eq!(api.call(confirm(&confirmed)).await.json["state"], json!("ready"), "confirming twice is fine");
    let list = api.call(Call::get(&base).by(&a)).await;
    let states: Vec<(&str, &str)> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["filename"].as_str().unwrap(), i["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, vec![("confirmed.txt", "ready"), ("found.txt", "ready"), ("waiting.txt", "pending")]);

    // One registered long ago and never uploaded: hidden, and its metadata deleted.
    let uid = UserId::new(&a).unwrap();
    let nid = Id::parse(&note_id).unwrap();
    let aid = Id::new();
    let stale = Attachment {
        id: aid,
        note_id: nid,
        filename: "never.txt".into(),
        content_type: "text/plain".into(),
        size: 5,
        key: blob_key(&uid, nid, aid),
        created_at: notes_core::now() - time::Duration::minutes(16),
        state: AttachmentState::Pending,
    };
    s.state.notes.add_attachment(&uid, &stale).await.unwrap();
    let names = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|i| i["filename"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&api.call(Call::get(&base).by(&a)).await.json), ["confirmed.txt", "found.txt", "waiting.txt"]);
    let stored = s.state.notes.list_attachments(&uid, nid).await.unwrap();
    assert!(!stored.iter().any(|x| x.id == aid), "cleaned up, not only hidden");

    // Another user can neither confirm nor see them.
    let b = user();
    let theirs = Call::new(Method::POST, &format!("{base}/{}/confirm", waiting["id"].as_str().unwrap())).by(&b);
    assert_eq!(api.call(theirs).await.summary(), "404 not_found");
    assert_eq!(api.call(Call::get(&base).by(&b)).await.summary(), "404 not_found");
}
