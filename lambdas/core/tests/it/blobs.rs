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

#[tokio::test]
async fn memory_blobs_keep_the_contract() {
    let blobs = MemoryBlobs::new("http://localhost:9/blobs/");
    let key_of = |url: &str| {
        url.strip_prefix("http://localhost:9/blobs/").and_then(|r| r.split('?').next()).unwrap().to_string()
    };
    check(
        &blobs,
        &|url, headers, body| {
            let ct = headers.iter().find(|(n, _)| n == "content-type").map(|(_, v)| v.clone()).unwrap();
            blobs.put_object(&key_of(url), &ct, body.to_vec());
        },
        &|url| blobs.get_object(&key_of(url)).unwrap().1,
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
    let blobs = S3Blobs::new(client, bucket);
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
