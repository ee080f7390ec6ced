//! One contract, two implementations: S3 (on moto) and memory.

use std::time::Duration;

use notes_core::blobs::S3Blobs;
use notes_core::ports::Blobs;
use notes_memory::MemoryBlobs;

/// Uploads `body` to a presigned URL with its headers.
type Upload<'a> = &'a dyn Fn(&str, &[(String, String)], &[u8]);

async fn check(blobs: &dyn Blobs, upload: Upload<'_>, download: &dyn Fn(&str) -> Vec<u8>) {
    blobs.health().await.unwrap();
    let key = format!("users/{}/notes/n/a", testkit::unique_name("u"));
    let before = notes_core::now();
    let up = blobs.presign_upload(&key, "text/plain", 5, Duration::from_secs(900)).await.unwrap();
    assert!(
        up.expires_at >= before + Duration::from_secs(899)
            && up.expires_at <= notes_core::now() + Duration::from_secs(901)
    );
    assert!(up.headers.contains(&("content-type".into(), "text/plain".into())), "{:?}", up.headers);
    assert!(!blobs.exists(&key).await.unwrap());
    upload(&up.url, &up.headers, b"hello");
    assert!(blobs.exists(&key).await.unwrap());
    let url = blobs.presign_download(&key, "hello world.txt", Duration::from_secs(900)).await.unwrap();
    assert_eq!(download(&url), b"hello");
    blobs.delete(std::slice::from_ref(&key)).await.unwrap();
    assert!(!blobs.exists(&key).await.unwrap());
    blobs.delete(&[key]).await.unwrap(); // absent is fine
}

/// `%XX` and `+` decoded (the presigned URLs' query values).
fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn memory_blobs_keep_the_contract() {
    let blobs = MemoryBlobs::new("http://localhost:9/blobs/", [1; 32]);
    // What the dev server's blob endpoint does with a presigned URL: verify it, then serve it.
    let parse = |url: &str| {
        let (path, query) = url.strip_prefix("http://localhost:9/blobs/").unwrap().split_once('?').unwrap();
        let query: std::collections::HashMap<String, String> =
            query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.into(), decode(v))).collect();
        let grant = blobs.verify(path, &query).expect("a valid presigned URL");
        (path.to_string(), grant)
    };
    check(
        &blobs,
        &|url, headers, body| {
            let ct = headers.iter().find(|(n, _)| n == "content-type").map(|(_, v)| v.clone()).unwrap();
            let (key, grant) = parse(url);
            assert_eq!((grant.method.as_str(), grant.content_type.as_deref()), ("PUT", Some(ct.as_str())));
            assert_eq!(grant.size, Some(body.len() as u64));
            blobs.put_object(&key, &ct, body.to_vec());
        },
        &|url| {
            let (key, grant) = parse(url);
            assert_eq!(grant.method, "GET");
            assert!(grant.disposition.is_some_and(|d| d.contains("filename=\"hello world.txt\"")));
            blobs.get_object(&key).unwrap().1
        },
    )
    .await;
}

#[tokio::test]
async fn s3_blobs_keep_the_contract() {
    let moto = testkit::moto::Moto::start();
    let config = testkit::aws::sdk_config(&moto.endpoint());
    let client = testkit::aws::s3_client(&config);
    let bucket = testkit::unique_name("blobs-");
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    // As the api builds it: the client on first use, from the SDK config.
    let blobs = S3Blobs::lazy(config, bucket);
    let upload = |url: &str, headers: &[(String, String)], body: &[u8]| {
        let url = url.to_string();
        let headers = headers.to_vec();
        let body = body.to_vec();
        let response =
            std::thread::spawn(move || testkit::http::send("PUT", &url, &headers, &body).unwrap()).join().unwrap();
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    };
    let download = |url: &str| {
        // moto ignores response-content-disposition; S3 honours it.
        assert!(url.contains("response-content-disposition=attachment"), "{url}");
        let url = url.to_string();
        let response = std::thread::spawn(move || testkit::http::send("GET", &url, &[], b"").unwrap()).join().unwrap();
        assert_eq!(response.status, 200);
        response.body
    };
    check(&blobs, &upload, &download).await;
}
