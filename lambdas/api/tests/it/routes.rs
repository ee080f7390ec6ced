//! The API end to end on real stores: notes, attachments, activity, errors, isolation, CORS,
//! stage prefix, OpenAPI.

use crate::support::{Api, Call, SITE, stores, user};
use http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use notes_core::{ActivityEvent, ActivityKind, UserId};
use serde_json::{Value, json};

#[tokio::test]
async fn health_reports_every_dependency() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let reply = api.call(Call::get("/v1/health")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json,
        json!({"status": "ok", "dependencies": {"dynamodb": "ok", "postgres": "ok", "s3": "ok", "redis": "ok"}})
    );
}

#[tokio::test]
async fn notes_lifecycle() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let a = user();

    let reply =
        api.call(Call::post("/v1/notes", json!({"title": "Hello", "body": "World", "tags": ["x", "y"]})).by(&a)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.json["id"].as_str().unwrap().to_string();
    assert_eq!(reply.header("location"), Some(format!("/v1/notes/{id}").as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(
        (
            reply.json["title"].clone(),
            reply.json["body"].clone(),
            reply.json["tags"].clone(),
            reply.json["version"].clone()
        ),
        (json!("Hello"), json!("World"), json!(["x", "y"]), json!(1))
    );
    assert_eq!(reply.json["created_at"], reply.json["updated_at"]);

    let got = api.call(Call::get(&format!("/v1/notes/{id}")).by(&a)).await;
    assert_eq!((got.status, got.header("etag")), (StatusCode::OK, Some("\"1\"")));
    assert_eq!(got.json, reply.json);
    // Served again (from the cache this time) identically.
    let again = api.call(Call::get(&format!("/v1/notes/{id}")).by(&a)).await;
    assert_eq!((again.status, again.json.clone()), (StatusCode::OK, reply.json.clone()));

    // Replace: If-Match required, stale versions refused.
    let path = format!("/v1/notes/{id}");
    let body = json!({"title": "Hello 2", "body": "World 2"});
    let r = api.call(Call::put(&path, body.clone()).by(&a)).await;
    assert_eq!(r.summary(), "428 precondition_required");
    let r = api.call(Call::put(&path, body.clone()).by(&a).header("if-match", "\"1\"")).await;
    assert_eq!((r.status, r.header("etag")), (StatusCode::OK, Some("\"2\"")));
    assert_eq!(
        (r.json["title"].clone(), r.json["tags"].clone(), r.json["version"].clone()),
        (json!("Hello 2"), json!([]), json!(2))
    );
    let r = api.call(Call::put(&path, body.clone()).by(&a).header("if-match", "\"1\"")).await;
    assert_eq!(r.summary(), "412 precondition_failed");
    // RFC 9110: If-Match compares strongly, so a weak tag never matches.
    let r = api.call(Call::put(&path, body.clone()).by(&a).header("if-match", "W/\"2\"")).await;
    assert_eq!(r.summary(), "412 precondition_failed");
    let r = api.call(Call::put(&path, body.clone()).by(&a).header("if-match", "\"7\", \"2\"")).await;
    assert_eq!(r.json["version"], json!(3), "a list matches when one of its tags does");
    // The cache was invalidated by the writes.
    let got = api.call(Call::get(&path).by(&a)).await;
    assert_eq!((got.json["version"].clone(), got.header("etag")), (json!(3), Some("\"3\"")));

    // List, newest first, paged with an opaque cursor.
    let second = api.create(&a, "second").await;
    let third = api.create(&a, "third").await;
    let page = api.call(Call::get("/v1/notes?limit=2").by(&a)).await;
    assert_eq!(page.status, StatusCode::OK);
    let ids: Vec<&Value> = page.json["items"].as_array().unwrap().iter().map(|n| &n["id"]).collect();
    assert_eq!(ids, vec![&third["id"], &second["id"]]);
    let cursor = page.json["next_cursor"].as_str().unwrap().to_string();
    let rest = api.call(Call::get(&format!("/v1/notes?limit=2&cursor={cursor}")).by(&a)).await;
    assert_eq!(rest.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.json["items"][0]["id"], json!(id));
    assert_eq!(rest.json["next_cursor"], Value::Null);
    // The cached first page follows writes.
    let all = api.call(Call::get("/v1/notes").by(&a)).await;
    assert_eq!(all.json["items"].as_array().unwrap().len(), 3);
    api.call(Call::delete(&format!("/v1/notes/{}", second["id"].as_str().unwrap())).by(&a)).await;
    let all = api.call(Call::get("/v1/notes").by(&a)).await;
    assert_eq!(all.json["items"].as_array().unwrap().len(), 2);

    // Delete.
    assert_eq!(api.call(Call::delete(&path).by(&a)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.call(Call::get(&path).by(&a)).await.summary(), "404 not_found");
    assert_eq!(api.call(Call::delete(&path).by(&a)).await.summary(), "404 not_found");
}

/// Every client mistake gets its 4xx with the documented shape; never a 500.
#[tokio::test]
async fn client_errors() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let a = user();
    let note = api.create(&a, "n").await;
    let id = note["id"].as_str().unwrap();
    let path = format!("/v1/notes/{id}");
    let att = format!("/v1/notes/{id}/attachments");
    let big = "x".repeat(1024 * 1024 + 1);
    let cases: Vec<(&str, Call)> = vec![
        ("no identity", Call::get("/v1/notes")),
        (
            "malformed json",
            Call::new(Method::POST, "/v1/notes").raw("application/json", b"{\"title\":".to_vec()).by(&a),
        ),
        ("wrong type", Call::post("/v1/notes", json!({"title": 5, "body": ""})).by(&a)),
        ("unknown field", Call::post("/v1/notes", json!({"title": "t", "body": "", "owner": "x"})).by(&a)),
        ("missing field", Call::post("/v1/notes", json!({"title": "t"})).by(&a)),
        ("empty title", Call::post("/v1/notes", json!({"title": "", "body": ""})).by(&a)),
        ("long title", Call::post("/v1/notes", json!({"title": "t".repeat(201), "body": ""})).by(&a)),
        ("body over 64 KiB", Call::post("/v1/notes", json!({"title": "t", "body": "b".repeat(65537)})).by(&a)),
        (
            "21 tags",
            Call::post(
                "/v1/notes",
                json!({"title": "t", "body": "", "tags": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}),
            )
            .by(&a),
        ),
        ("request over 1 MiB", Call::new(Method::POST, "/v1/notes").raw("application/json", big.into_bytes()).by(&a)),
        ("not json", Call::new(Method::POST, "/v1/notes").raw("text/plain", b"hi".to_vec()).by(&a)),
        ("no content type", Call::new(Method::POST, "/v1/notes").by(&a)),
        ("bad id", Call::get("/v1/notes/nope").by(&a)),
        ("upper-case id", Call::get(&path.to_uppercase().replace("/V1/NOTES", "/v1/notes")).by(&a)),
        ("unknown note", Call::get(&format!("/v1/notes/{}", notes_core::Id::new())).by(&a)),
        ("bad cursor", Call::get("/v1/notes?cursor=zz").by(&a)),
        ("forged cursor", Call::get("/v1/notes?cursor=6e3a78").by(&a)),
        ("limit 0", Call::get("/v1/notes?limit=0").by(&a)),
        ("limit 101", Call::get("/v1/notes?limit=101").by(&a)),
        ("limit abc", Call::get("/v1/notes?limit=abc").by(&a)),
        ("bad activity cursor", Call::get("/v1/activity?cursor=00").by(&a)),
        ("no if-match", Call::put(&path, json!({"title": "t", "body": ""})).by(&a)),
        ("garbage if-match", Call::put(&path, json!({"title": "t", "body": ""})).by(&a).header("if-match", "abc")),
        ("stale if-match", Call::put(&path, json!({"title": "t", "body": ""})).by(&a).header("if-match", "\"7\"")),
        (
            "attachment size 0",
            Call::post(&att, json!({"filename": "a", "content_type": "text/plain", "size": 0})).by(&a),
        ),
        (
            "attachment too big",
            Call::post(&att, json!({"filename": "a", "content_type": "text/plain", "size": 26214401})).by(&a),
        ),
        (
            "attachment path name",
            Call::post(&att, json!({"filename": "../a", "content_type": "text/plain", "size": 1})).by(&a),
        ),
        ("attachment bad type", Call::post(&att, json!({"filename": "a", "content_type": "nope", "size": 1})).by(&a)),
        (
            "attachment negative size",
            Call::post(&att, json!({"filename": "a", "content_type": "a/b", "size": -1})).by(&a),
        ),
        ("bad attachment id", Call::delete(&format!("{att}/nope")).by(&a)),
        ("unknown route", Call::get("/v1/nope").by(&a)),
        ("method not allowed", Call::new(Method::PATCH, &path).by(&a)),
        ("delete collection", Call::delete("/v1/notes").by(&a)),
    ];
    let mut out = String::new();
    for (name, call) in cases {
        let reply = api.call(call).await;
        assert!(reply.json["error"]["message"].is_string(), "{name}: {reply:?}");
        assert!(reply.status.is_client_error(), "{name}: {reply:?}");
        out.push_str(&format!("{name}: {}\n", reply.summary()));
    }
    expect_test::expect![[r#"
        no identity: 401 unauthorized
        malformed json: 400 bad_request
        wrong type: 400 bad_request
        unknown field: 400 bad_request
        missing field: 400 bad_request
        empty title: 400 invalid
        long title: 400 invalid
        body over 64 KiB: 400 invalid
        21 tags: 400 invalid
        request over 1 MiB: 413 payload_too_large
        not json: 415 unsupported_media_type
        no content type: 415 unsupported_media_type
        bad id: 400 bad_request
        upper-case id: 400 bad_request
        unknown note: 404 not_found
        bad cursor: 400 bad_request
        forged cursor: 400 bad_request
        limit 0: 400 bad_request
        limit 101: 400 bad_request
        limit abc: 400 bad_request
        bad activity cursor: 400 bad_request
        no if-match: 428 precondition_required
        garbage if-match: 412 precondition_failed
        stale if-match: 412 precondition_failed
        attachment size 0: 400 invalid
        attachment too big: 400 invalid
        attachment path name: 400 invalid
        attachment bad type: 400 invalid
        attachment negative size: 400 bad_request
        bad attachment id: 400 bad_request
        unknown route: 404 not_found
        method not allowed: 405 method_not_allowed
        delete collection: 405 method_not_allowed
    "#]]
    .assert_eq(&out);
}

#[tokio::test]
async fn attachments_upload_download_delete() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let a = user();
    let note = api.create(&a, "with files").await;
    let base = format!("/v1/notes/{}/attachments", note["id"].as_str().unwrap());

    let reply = api
        .call(Call::post(&base, json!({"filename": "hello.txt", "content_type": "text/plain", "size": 5})).by(&a))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let created = reply.json;
    for field in ["id", "upload_url", "expires_at", "created_at"] {
        assert!(created[field].is_string(), "{field} in {created}");
    }
    assert_eq!(created["upload_method"], json!("PUT"));
    assert_eq!(created["upload_headers"]["content-type"], json!("text/plain"));
    let url = created["upload_url"].as_str().unwrap().to_string();
    assert!(url.contains(&format!("users/{a}/notes/")), "key under the caller's prefix: {url}");
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    let headers: Vec<(String, String)> = created["upload_headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let put = std::thread::spawn(move || testkit::http::send("PUT", &url, &headers, b"hello").unwrap()).join().unwrap();
    assert_eq!(put.status, 200);

    let list = api.call(Call::get(&base).by(&a)).await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.json["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0]["id"].clone(),
            items[0]["filename"].clone(),
            items[0]["content_type"].clone(),
            items[0]["size"].clone()
        ),
        (created["id"].clone(), json!("hello.txt"), json!("text/plain"), json!(5))
    );
    let download = items[0]["download_url"].as_str().unwrap().to_string();
    let got = std::thread::spawn(move || testkit::http::send("GET", &download, &[], b"").unwrap()).join().unwrap();
    assert_eq!((got.status, got.body.as_slice()), (200, b"hello".as_slice()));

    let key = format!("users/{a}/notes/{}/{}", note["id"].as_str().unwrap(), created["id"].as_str().unwrap());
    let exists = |key: String| {
        let s3 = s.s3.clone();
        let bucket = s.bucket.clone();
        async move { s3.head_object().bucket(bucket).key(key).send().await.is_ok() }
    };
    assert!(exists(key.clone()).await);
    let del = api.call(Call::delete(&format!("{base}/{}", created["id"].as_str().unwrap())).by(&a)).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert!(!exists(key).await, "object deleted with its attachment");
    assert_eq!(api.call(Call::get(&base).by(&a)).await.json, json!({"items": []}));

    // Deleting a note deletes its attachments' objects.
    let reply = api
        .call(
            Call::post(&base, json!({"filename": "b.bin", "content_type": "application/octet-stream", "size": 3}))
                .by(&a),
        )
        .await;
    let url = reply.json["upload_url"].as_str().unwrap().to_string();
    let headers: Vec<(String, String)> = reply.json["upload_headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    std::thread::spawn(move || testkit::http::send("PUT", &url, &headers, b"abc").unwrap()).join().unwrap();
    let key = format!("users/{a}/notes/{}/{}", note["id"].as_str().unwrap(), reply.json["id"].as_str().unwrap());
    assert!(exists(key.clone()).await);
    api.call(Call::delete(&format!("/v1/notes/{}", note["id"].as_str().unwrap())).by(&a)).await;
    assert!(!exists(key).await);
    assert_eq!(api.call(Call::get(&base).by(&a)).await.summary(), "404 not_found");
}

#[tokio::test]
async fn users_are_isolated() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let (a, b) = (user(), user());
    let note = api.create(&a, "private").await;
    let id = note["id"].as_str().unwrap();
    let path = format!("/v1/notes/{id}");
    let att = api
        .call(
            Call::post(
                &format!("{path}/attachments"),
                json!({"filename": "a.txt", "content_type": "text/plain", "size": 1}),
            )
            .by(&a),
        )
        .await;
    let aid = att.json["id"].as_str().unwrap();
    s.state
        .activity
        .record(&ActivityEvent {
            event_id: testkit::unique_name("ev-"),
            user: UserId::new(&a).unwrap(),
            kind: ActivityKind::NoteCreated,
            note_id: id.into(),
            attachment_id: None,
            title: Some("private".into()),
            size: None,
            at: notes_core::now(),
        })
        .await
        .unwrap();

    let body = json!({"title": "mine now", "body": ""});
    let attempts: Vec<(&str, Call)> = vec![
        ("get", Call::get(&path)),
        ("replace", Call::put(&path, body.clone()).header("if-match", "\"1\"")),
        ("replace any", Call::put(&path, body.clone()).header("if-match", "*")),
        ("delete", Call::delete(&path)),
        ("list attachments", Call::get(&format!("{path}/attachments"))),
        (
            "add attachment",
            Call::post(&format!("{path}/attachments"), json!({"filename": "x", "content_type": "a/b", "size": 1})),
        ),
        ("delete attachment", Call::delete(&format!("{path}/attachments/{aid}"))),
    ];
    for (name, call) in attempts {
        assert_eq!(api.call(call.by(&b)).await.summary(), "404 not_found", "{name}");
    }
    assert_eq!(api.call(Call::get("/v1/notes").by(&b)).await.json, json!({"items": [], "next_cursor": null}));
    assert_eq!(api.call(Call::get("/v1/activity").by(&b)).await.json, json!({"items": [], "next_cursor": null}));
    let stats = api.call(Call::get("/v1/stats").by(&b)).await;
    assert_eq!((stats.json["notes_total"].clone(), stats.json["attachments_total"].clone()), (json!(0), json!(0)));
    // A client-supplied identity header changes nothing.
    let forged = api.call(Call::get(&path).by(&b).header("x-user-id", &a).header("x-amzn-oidc-identity", &a)).await;
    assert_eq!(forged.summary(), "404 not_found");
    assert_eq!(api.call(Call::get(&path).header("x-user-id", &a)).await.summary(), "401 unauthorized");

    // A's data is untouched.
    let mine = api.call(Call::get(&path).by(&a)).await;
    assert_eq!((mine.json["title"].clone(), mine.json["version"].clone()), (json!("private"), json!(1)));
    assert_eq!(
        api.call(Call::get(&format!("{path}/attachments")).by(&a)).await.json["items"].as_array().unwrap().len(),
        1
    );
    assert_eq!(api.call(Call::get("/v1/activity").by(&a)).await.json["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn activity_and_stats() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let a = user();
    let uid = UserId::new(&a).unwrap();
    let base = notes_core::now() - time::Duration::minutes(10);
    for (i, kind) in
        [ActivityKind::NoteCreated, ActivityKind::NoteCreated, ActivityKind::NoteUpdated, ActivityKind::AttachmentAdded]
            .into_iter()
            .enumerate()
    {
        let note = if i == 0 || i == 2 { "n1" } else { "n2" };
        s.state
            .activity
            .record(&ActivityEvent {
                event_id: format!("{a}-{i}"),
                user: uid.clone(),
                kind,
                note_id: note.into(),
                attachment_id: (kind == ActivityKind::AttachmentAdded).then(|| "x".to_string()),
                title: Some(format!("t{i}")),
                size: Some(1),
                at: base + time::Duration::minutes(i as i64),
            })
            .await
            .unwrap();
    }
    let page = api.call(Call::get("/v1/activity?limit=3").by(&a)).await;
    assert_eq!(page.status, StatusCode::OK);
    let kinds: Vec<&str> = page.json["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["attachment_added", "note_updated", "note_created"]);
    let first = &page.json["items"][0];
    assert_eq!((first["note_id"].clone(), first["title"].clone()), (json!("n2"), json!("t3")));
    assert!(first["id"].is_string() && first["at"].is_string());
    let cursor = page.json["next_cursor"].as_str().unwrap();
    let rest = api.call(Call::get(&format!("/v1/activity?limit=3&cursor={cursor}")).by(&a)).await;
    assert_eq!(rest.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.json["next_cursor"], Value::Null);

    let stats = api.call(Call::get("/v1/stats").by(&a)).await;
    assert_eq!(stats.status, StatusCode::OK);
    assert_eq!((stats.json["notes_total"].clone(), stats.json["attachments_total"].clone()), (json!(2), json!(1)));
    let per_day = stats.json["per_day"].as_array().unwrap();
    assert_eq!(per_day.len(), 30);
    assert_eq!(per_day.iter().map(|d| d["count"].as_u64().unwrap()).sum::<u64>(), 4);
}

#[tokio::test]
async fn stage_prefix_of_rest_api_paths() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let a = user();
    let staged = |call: Call| {
        let mut request = call.request();
        let mut ctx = match request.extensions_mut().remove::<RequestContext>() {
            Some(RequestContext::ApiGatewayV1(ctx)) => ctx,
            _ => Default::default(),
        };
        ctx.stage = Some("prod".into());
        request.extensions_mut().insert(RequestContext::ApiGatewayV1(ctx));
        request
    };
    assert_eq!(api.send(staged(Call::get("/prod/v1/health"))).await.status, StatusCode::OK);
    let created = api.send(staged(Call::post("/prod/v1/notes", json!({"title": "t", "body": "b"})).by(&a))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let listed = api.send(staged(Call::get("/prod/v1/notes?limit=1").by(&a))).await;
    assert_eq!(listed.json["items"][0]["id"], created.json["id"]);
    // Without a stage in the context (custom domain, local server) paths are used as they are.
    assert_eq!(api.call(Call::get("/v1/health")).await.status, StatusCode::OK);
    assert_eq!(api.call(Call::get("/prod/v1/health")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cors_only_for_the_site_origin() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let preflight = |origin: &str| {
        Call::new(Method::OPTIONS, "/v1/notes")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, authorization")
    };
    let ok = api.call(preflight(SITE)).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    assert_eq!(ok.header("access-control-allow-origin"), Some(SITE));
    assert!(ok.header("access-control-allow-methods").unwrap().contains("PUT"));
    assert!(ok.header("access-control-allow-headers").unwrap().contains("if-match"));
    let evil = api.call(preflight("https://evil.example")).await;
    assert_eq!(evil.header("access-control-allow-origin"), None);
    assert_eq!(evil.header("access-control-allow-methods"), None);

    let a = user();
    let get = api.call(Call::get("/v1/notes").by(&a).header("origin", SITE)).await;
    assert_eq!(get.header("access-control-allow-origin"), Some(SITE));
    assert!(get.header("access-control-expose-headers").unwrap().contains("etag"));
    let other = api.call(Call::get("/v1/notes").by(&a).header("origin", "https://evil.example")).await;
    assert_eq!((other.status, other.header("access-control-allow-origin")), (StatusCode::OK, None));
    // Errors carry CORS headers too, so the site can read them.
    let err = api.call(Call::get("/v1/notes").header("origin", SITE)).await;
    assert_eq!((err.status, err.header("access-control-allow-origin")), (StatusCode::UNAUTHORIZED, Some(SITE)));
}

/// The OpenAPI document lists exactly the router's routes, and each documented operation is routed.
#[tokio::test]
async fn openapi_matches_the_routes() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let served = api.call(Call::get("/v1/openapi.json")).await;
    assert_eq!(served.status, StatusCode::OK);
    let doc: Value = served.json;
    assert_eq!(doc["openapi"], json!("3.0.3"));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap().iter().filter(|(m, _)| *m != "parameters") {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut routed: Vec<(String, String)> =
        notes_api::route_table().into_iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    routed.sort();
    assert_eq!(documented, routed);

    // Every documented operation reaches a handler (not the 404/405 fallbacks).
    let a = user();
    for (method, path) in &routed {
        let concrete = path
            .replace("{id}", &notes_core::Id::new().to_string())
            .replace("{attachment_id}", &notes_core::Id::new().to_string());
        let reply = api.call(Call::new(method.parse().unwrap(), &concrete).by(&a)).await;
        assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(reply.json["error"]["message"], json!("no such route"), "{method} {path}");
    }
    // Every $ref resolves.
    let text = serde_json::to_string(&doc).unwrap();
    for r in regex::Regex::new(r##""\$ref":"#/components/(\w+)/(\w+)""##).unwrap().captures_iter(&text) {
        assert!(doc["components"][&r[1]][&r[2]].is_object(), "unresolved {}/{}", &r[1], &r[2]);
    }
}
