//! The contract at its edges: what the OpenAPI document's patterns say is exactly what the API
//! validates (checked on samples with the `regex` crate), malformed paths get the JSON error shape,
//! titles of invisible characters and `null` tags are refused. (schemathesis fuzzes the whole
//! document against the dev server: `lambdas/dev/tests/it/schemathesis.rs`.)

use crate::support::{Api, Call, stores, user};
use notes_core::validate::{self, patterns};
use serde_json::{Value, json};

fn doc() -> Value {
    serde_json::from_str(notes_api::OPENAPI).unwrap()
}

fn regex(pattern: &str) -> regex::Regex {
    regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

#[test]
fn the_documents_patterns_are_the_validation() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    let note = &schemas["NoteInput"]["properties"];
    assert_eq!(note["title"]["pattern"], json!(patterns::title()));
    assert_eq!(note["tags"]["items"]["pattern"], json!(patterns::tag()));
    let att = &schemas["AttachmentInput"]["properties"];
    assert_eq!(att["filename"]["pattern"], json!(patterns::filename()));
    assert_eq!(att["content_type"]["pattern"], json!(patterns::CONTENT_TYPE));
    let params = &doc["components"]["parameters"];
    assert_eq!(params["NotesCursor"]["schema"]["pattern"], json!(patterns::notes_cursor()));
    assert_eq!(params["ActivityCursor"]["schema"]["pattern"], json!(patterns::activity_cursor()));
    assert_eq!(params["NoteId"]["schema"]["pattern"], json!(patterns::ID));
    let tag_param = doc["paths"]["/v1/notes"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tag")
        .unwrap()
        .clone();
    assert_eq!(tag_param["schema"]["pattern"], json!(patterns::tag()));

    // The patterns and the Rust rules agree, character by character, on the hard cases.
    let (title, tag, filename) = (regex(&patterns::title()), regex(&patterns::tag()), regex(&patterns::filename()));
    let mut samples: Vec<String> = [
        "a",
        " a ",
        "a b",
        "..",
        ".",
        ".a",
        "a.",
        "a/b",
        "a\\b",
        "\u{200b}",
        "x\u{200b}",
        "\u{200b}x",
        "é",
        "\t",
        "a\n",
        "\u{85}",
        "\u{3164}",
        "\u{ffa0}x",
        "😀",
        "a\u{7f}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for c in (0u32..0x3100).chain(0xfdf0..0x10000).filter_map(char::from_u32) {
        samples.push(c.to_string());
        samples.push(format!("x{c}"));
        samples.push(format!("{c}x"));
    }
    for s in &samples {
        let valid_title = validate::note(s.clone(), String::new(), None).is_ok();
        assert_eq!(title.is_match(s), valid_title, "title {s:?}");
        assert_eq!(tag.is_match(s), validate::tag_value(s).is_ok(), "tag {s:?}");
        let valid_name = validate::attachment(s.clone(), "a/b", 1).is_ok();
        assert_eq!(filename.is_match(s), valid_name, "filename {s:?}");
    }
    // Cursors: every one the API hands out matches, and what matches decodes.
    use notes_core::ports::{
        ActivityCursor, decode_key_cursor, decode_note_cursor, encode_key_cursor, encode_note_cursor,
    };
    let (notes, activity) = (regex(&patterns::notes_cursor()), regex(&patterns::activity_cursor()));
    let id = notes_core::Id::new();
    let key = notes_core::NoteKey { millis: 1_780_000_000_000, id };
    let handed_out =
        [encode_note_cursor(id), encode_key_cursor(key), encode_key_cursor(notes_core::NoteKey { millis: 0, id })];
    for c in &handed_out {
        assert!(notes.is_match(c), "{c}");
        assert!(decode_note_cursor(c).is_some() || decode_key_cursor(c).is_some(), "{c}");
    }
    let a = ActivityCursor { at: notes_core::now(), seq: 7 }.encode();
    assert!(activity.is_match(&a) && ActivityCursor::decode(&a).is_some(), "{a}");
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    for text in [
        format!("k:99999999999999:{id}"),
        format!("k:+5:{id}"),
        format!("k:-5:{id}"),
        format!("k:123456789012345:{id}"),
        format!("n:{}", id.to_string().to_uppercase()),
        "n:x".into(),
        "a:1:2".into(),
        "a:-1:-2".into(),
        "a:+1:2".into(),
        "a:12345678901234567:1".into(),
    ] {
        let c = hex(&text);
        let decodes = decode_note_cursor(&c).is_some() || decode_key_cursor(&c).is_some();
        assert_eq!(notes.is_match(&c), decodes, "{text}");
        assert_eq!(activity.is_match(&c), ActivityCursor::decode(&c).is_some(), "{text}");
    }
    let ct = regex(patterns::CONTENT_TYPE);
    for (s, ok) in [
        ("image/png", true),
        ("Text/Plain", true),
        ("a/b+c", true),
        ("a", false),
        ("a/b; c=d", false),
        ("a/b/c", false),
        ("/b", false),
    ] {
        assert_eq!(ct.is_match(s), ok, "{s}");
        assert_eq!(validate::attachment("f".into(), s, 1).is_ok(), ok, "{s}");
    }
}

#[tokio::test]
async fn malformed_requests_get_the_json_error_shape() {
    let s = stores().await;
    let api = Api::new(s.state.clone());
    let a = user();
    let note = api.create(&a, "n").await;
    let id = note["id"].as_str().unwrap();
    let cases: Vec<(&str, Call)> = vec![
        ("path id not UTF-8", Call::get("/v1/notes/%FF").by(&a)),
        (
            "path id not UTF-8 (put)",
            Call::put("/v1/notes/%FF%FE", json!({"title": "t", "body": ""})).by(&a).header("if-match", "\"1\""),
        ),
        ("attachment id not UTF-8", Call::delete(&format!("/v1/notes/{id}/attachments/%C3%28")).by(&a)),
        (
            "confirm with a bad id",
            Call::new(http::Method::POST, &format!("/v1/notes/{id}/attachments/nope/confirm")).by(&a),
        ),
        ("invisible title", Call::post("/v1/notes", json!({"title": "\u{200b}\u{2060}", "body": ""})).by(&a)),
        ("blank title", Call::post("/v1/notes", json!({"title": " \u{3000}", "body": ""})).by(&a)),
        ("null tags", Call::post("/v1/notes", json!({"title": "t", "body": "", "tags": null})).by(&a)),
        ("padded tag", Call::post("/v1/notes", json!({"title": "t", "body": "", "tags": [" x"]})).by(&a)),
        (
            "weak if-match",
            Call::put(&format!("/v1/notes/{id}"), json!({"title": "t", "body": ""}))
                .by(&a)
                .header("if-match", "W/\"1\""),
        ),
        (
            "dot file name",
            Call::post(
                &format!("/v1/notes/{id}/attachments"),
                json!({"filename": "..", "content_type": "a/b", "size": 1}),
            )
            .by(&a),
        ),
        ("empty cursor", Call::get("/v1/notes?cursor=").by(&a)),
    ];
    let mut out = String::new();
    for (name, call) in cases {
        let reply = api.call(call).await;
        assert!(reply.json["error"]["message"].is_string(), "{name}: {reply:?}");
        assert_eq!(reply.header("content-type"), Some("application/json"), "{name}");
        out.push_str(&format!("{name}: {}\n", reply.summary()));
    }
    expect_test::expect![[r#"
        path id not UTF-8: 400 bad_request
        path id not UTF-8 (put): 400 bad_request
        attachment id not UTF-8: 400 bad_request
        confirm with a bad id: 400 bad_request
        invisible title: 400 invalid
        blank title: 400 invalid
        null tags: 400 bad_request
        padded tag: 400 invalid
        weak if-match: 412 precondition_failed
        dot file name: 400 invalid
        empty cursor: 400 bad_request
    "#]]
    .assert_eq(&out);
    // Nothing changed.
    let got = api.call(Call::get(&format!("/v1/notes/{id}")).by(&a)).await;
    assert_eq!((got.json["version"].clone(), got.json["tags"].clone()), (json!(1), json!([])));
}
