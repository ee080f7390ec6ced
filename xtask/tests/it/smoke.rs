//! `cargo xtask smoke` end to end. moto serves no CloudFront distribution and no API Gateway
//! custom domain (the stack's SiteUrl and ApiUrl, https://www.example.com and
//! https://api.example.com here, are not reachable), so smoke runs with `--site-url` and `--api-url`
//! pointed at a local stand-in on 127.0.0.1 (free port, bounded in time): it serves the site files
//! the deploy put in moto's site bucket (the real `config.json` among them) in CloudFront's place,
//! and answers the API's health and an unauthenticated call as API Gateway's authorizer would.
//! The stack outputs are moto's, read by smoke itself.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use crate::e2e::*;

/// Serves `site` (path -> body) and the two API routes until `lifetime` has passed; the health
/// status is read from `health` on each request.
fn stand_in(site: Vec<(String, Vec<u8>)>, health: Arc<AtomicU16>, lifetime: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let end = Instant::now() + lifetime;
        while Instant::now() < end {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let (status, body) = match path.as_str() {
                "/v1/health" => (health.load(Ordering::SeqCst), b"{\"status\":\"ok\"}".to_vec()),
                p if p.starts_with("/v1/") => (401, b"{\"message\":\"Unauthorized\"}".to_vec()),
                p => {
                    let key = if p == "/" { "index.html" } else { p.trim_start_matches('/') };
                    match site.iter().find(|(k, _)| k == key) {
                        Some((_, body)) => (200, body.clone()),
                        None => (404, Vec::new()),
                    }
                }
            };
            let mut stream = stream;
            let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
        }
    });
    url
}

#[test]
fn smoke_checks_a_deployed_stack_and_names_the_failing_check() {
    let moto = Moto::start();
    let rt = rt();
    let stack = "notes-smoke";
    let distribution = rt.block_on(create_distribution(&moto));
    let (project, _) = Project::new(&distribution, "api v1", &site_v1());
    let dist = project.path("dist");
    let deployed = xtask(&moto, &project, stack, &["--allow-example-domains", "deploy", "--from-dist", &dist]);
    assert!(deployed.status.success(), "{}", deployed.stderr);

    // The stand-in serves what the deploy put in the site bucket.
    let site_bucket = rt.block_on(outputs(&moto, stack))["SiteBucketName"].clone();
    let s3 = rt.block_on(moto.s3());
    let site: Vec<(String, Vec<u8>)> = ["index.html", "config.json"]
        .iter()
        .map(|key| {
            let object = rt.block_on(s3.get_object().bucket(&site_bucket).key(*key).send()).unwrap();
            (key.to_string(), rt.block_on(object.body.collect()).unwrap().into_bytes().to_vec())
        })
        .collect();
    let health = Arc::new(AtomicU16::new(200));
    let url = stand_in(site, health.clone(), Duration::from_secs(120));
    let smoke = |site: &str| {
        let args = ["smoke", "--api-url", &url, "--site-url", site, "--request-timeout", "5s"];
        let out = xtask_command(&moto, &project, stack, &args).output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&url, "http://stand-in");
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    let (code, stdout, stderr) = smoke(&url);
    assert_eq!(code, Some(0), "{stderr}");
    expect_test::expect![[r#"
        ok    api health   http://stand-in/v1/health 200
        ok    site root    http://stand-in/ 200, HTML
        ok    config.json  http://stand-in/config.json 200, apiUrl https://api.example.com
        ok    api auth     http://stand-in/v1/notes 401 without a token
    "#]]
    .assert_eq(&stdout);

    health.store(503, Ordering::SeqCst);
    let (code, stdout, stderr) = smoke(&url);
    assert_eq!(code, Some(1));
    assert!(
        stdout.starts_with("FAIL  api health   http://stand-in/v1/health answered 503, expected 200\n"),
        "{stdout}"
    );
    expect_test::expect![[r#"
        error: smoke check `api health` failed on notes-smoke: answered 503, expected 200
        hint: its line above shows what answered; `cargo xtask status` and `cargo xtask logs api` show the stack's side
    "#]]
    .assert_eq(&stderr);

    // A site that does not answer at all (a closed port) fails its first check with curl's reason.
    health.store(200, Ordering::SeqCst);
    let (code, _, stderr) = smoke("http://127.0.0.1:9");
    assert_eq!(code, Some(1));
    assert!(stderr.starts_with("error: smoke check `site root` failed on notes-smoke: "), "{stderr}");
}
