//! The dev server through its real binary (`notes-dev`, what `cargo xtask dev` runs): started on
//! free ports with `--no-watch`, driven over
//! HTTP like the browser drives it (dev sign-in, notes, attachments through the presigned URLs),
//! with the production rules checked on the way: CORS only for the site origin, 401 without a
//! valid token, isolation between users. Every wait is bounded; the server is stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::http::Response;

fn project_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn dev_server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_notes-dev"))
}

struct Server {
    child: Child,
    site: String,
    api: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = dev_server()
            .args(["--no-watch", "--site-port", "0", "--api-port", "0", "--project-dir"])
            .arg(project_root())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the dev server starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut site, mut api) = (None, None);
        // Generous: `--backends local` may install the pinned moto first.
        let deadline = Instant::now() + Duration::from_secs(300);
        while site.is_none() || api.is_none() {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the dev server prints its URLs in time");
            if let Some(url) = line.strip_prefix("site ") {
                site = Some(url.trim().trim_end_matches('/').to_string());
            } else if let Some(url) = line.strip_prefix("api ") {
                api = Some(url.trim().to_string());
            }
        }
        Server { child, site: site.unwrap(), api: api.unwrap() }
    }

    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One request with the test kit's HTTP client.
fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    testkit::http::send(method, url, &headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

fn body_json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&response.body)))
}

fn token(server: &Server, username: &str) -> String {
    let body = format!(r#"{{"username":"{username}"}}"#);
    let res = http(
        "POST",
        &format!("{}/dev/token", server.api),
        &[("Content-Type", "application/json"), ("Origin", &server.site)],
        body.as_bytes(),
    );
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.header("access-control-allow-origin"), Some(server.site.as_str()));
    body_json(&res)["id_token"].as_str().unwrap().to_string()
}

#[test]
fn the_app_runs_locally_with_dev_sign_in_cors_and_isolation() {
    let mut server = Server::start(&[]);
    let site = server.site.clone();
    let api = server.api.clone();

    // The site: the bundled index with the production security headers, and its settings.
    let index = http("GET", &format!("{site}/"), &[], b"");
    assert_eq!(index.status, 200);
    let csp = index.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && csp.contains(&format!("connect-src 'self' {api}")), "{csp}");
    let html = String::from_utf8_lossy(&index.body);
    assert!(
        regex::Regex::new(r#"src="/assets/app\.[0-9a-f]{10}\.js""#).unwrap().is_match(&html),
        "fingerprinted: {html}"
    );
    let config = body_json(&http("GET", &format!("{site}/config.json"), &[], b""));
    assert_eq!(config["apiUrl"], api.as_str());
    assert_eq!(config["auth"]["mode"], "dev");
    assert_eq!(config["auth"]["tokenUrl"], format!("{api}/dev/token").as_str());

    // Health answers without a token.
    let health = http("GET", &format!("{api}/v1/health"), &[("Origin", &site)], b"");
    assert_eq!(health.status, 200, "{}", String::from_utf8_lossy(&health.body));

    // Without a valid token: 401 with the error JSON, readable by the site (CORS on errors too).
    let alice = token(&server, "alice");
    let bogus = format!("{}x", &alice[..alice.len() - 1]);
    for auth in [None, Some("Bearer not-a-token".to_string()), Some(format!("Bearer {bogus}"))] {
        let mut headers = vec![("Origin", site.as_str())];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let res = http("GET", &format!("{api}/v1/notes"), &headers, b"");
        assert_eq!(res.status, 401, "{auth:?}: {}", String::from_utf8_lossy(&res.body));
        assert!(body_json(&res)["error"]["code"].is_string());
        assert_eq!(res.header("access-control-allow-origin"), Some(site.as_str()));
    }

    // Preflight from the site: allowed, with If-Match; from another origin: no CORS grant.
    let preflight = |origin: &str| {
        http(
            "OPTIONS",
            &format!("{api}/v1/notes/abc"),
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "authorization,content-type,if-match"),
            ],
            b"",
        )
    };
    let ok = preflight(&site);
    assert!(ok.status < 300, "{ok:?}");
    assert_eq!(ok.header("access-control-allow-origin"), Some(site.as_str()));
    assert!(ok.header("access-control-allow-headers").unwrap_or("").to_ascii_lowercase().contains("if-match"));
    let evil = preflight("http://evil.test");
    assert_eq!(evil.header("access-control-allow-origin"), None, "{evil:?}");

    // Alice creates a note: 201 + Location + ETag, exposed to the site's scripts.
    let bearer = format!("Bearer {alice}");
    let json = [("Origin", site.as_str()), ("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let created =
        http("POST", &format!("{api}/v1/notes"), &json, br#"{"title":"Hello from the test","body":"hi","tags":["t"]}"#);
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.header("access-control-allow-origin"), Some(site.as_str()));
    let exposed = created.header("access-control-expose-headers").unwrap_or("").to_ascii_lowercase();
    assert!(exposed.contains("etag") && exposed.contains("location"), "{exposed}");
    assert!(created.header("etag").is_some() && created.header("location").is_some(), "{created:?}");
    let note = body_json(&created);
    let id = note["id"].as_str().unwrap().to_string();
    assert_eq!(note["title"], "Hello from the test");

    // A token from the command line (same key on disk, same `sub` for the same name) sees the note.
    let out = dev_server().args(["token", "alice", "--project-dir"]).arg(project_root()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let cli_bearer = format!("Bearer {cli_token}");
    let got = http("GET", &format!("{api}/v1/notes/{id}"), &[("Authorization", &cli_bearer)], b"");
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));

    // Bob sees none of it.
    let bob = format!("Bearer {}", token(&server, "bob"));
    assert_eq!(http("GET", &format!("{api}/v1/notes/{id}"), &[("Authorization", &bob)], b"").status, 404);
    let bobs = body_json(&http("GET", &format!("{api}/v1/notes"), &[("Authorization", &bob)], b""));
    assert_eq!(bobs["items"].as_array().map(Vec::len), Some(0), "{bobs}");

    // An attachment goes up and comes back through the presigned URLs the dev server serves.
    let content = b"attachment bytes\n".repeat(100);
    let declared = format!(r#"{{"filename":"a.txt","content_type":"text/plain","size":{}}}"#, content.len());
    let att = http("POST", &format!("{api}/v1/notes/{id}/attachments"), &json, declared.as_bytes());
    assert_eq!(att.status, 201, "{}", String::from_utf8_lossy(&att.body));
    let upload_url = body_json(&att)["upload_url"].as_str().unwrap().to_string();
    let put = http("PUT", &upload_url, &[("Origin", &site), ("Content-Type", "text/plain")], &content);
    assert!(put.status < 300, "{put:?}");
    assert_eq!(put.header("access-control-allow-origin"), Some(site.as_str()));
    let list = body_json(&http("GET", &format!("{api}/v1/notes/{id}/attachments"), &json, b""));
    let download_url = list["items"][0]["download_url"].as_str().expect("a download URL").to_string();
    let download = http("GET", &download_url, &[("Origin", &site)], b"");
    assert_eq!(download.status, 200);
    assert_eq!(download.body, content);

    // Ctrl-C / SIGTERM stops it cleanly.
    let status = server.stop().expect("the dev server stops within 5 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_port_in_use_is_refused_with_a_hint() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = dev_server()
        .args(["--no-watch", "--api-port", "0", "--site-port", &port, "--project-dir"])
        .arg(project_root())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already in use") && stderr.contains("--site-port"), "{stderr}");
}

#[test]
fn dev_token_refuses_bad_user_names() {
    let out = dev_server().args(["token", "not a name", "--project-dir"]).arg(project_root()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
}

/// `--backends local`: the same app on PostgreSQL (`DATABASE_URL`), Redis (`REDIS_URL`) and moto,
/// with activity arriving through the DynamoDB stream consumer. Needs the services `cargo xtask test`
/// makes sure of (and the pinned moto it installs).
#[test]
fn local_backends_serve_notes_attachments_and_stream_fed_activity() {
    let mut server = Server::start(&["--backends", "local"]);
    let (site, api) = (server.site.clone(), server.api.clone());
    let health = body_json(&http("GET", &format!("{api}/v1/health"), &[], b""));
    assert_eq!(health["status"], "ok", "{health}");

    let user = format!("local-{}", std::process::id());
    let bearer = format!("Bearer {}", token(&server, &user));
    let json = [("Origin", site.as_str()), ("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let created = http("POST", &format!("{api}/v1/notes"), &json, br#"{"title":"On real stores","body":"x"}"#);
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let id = body_json(&created)["id"].as_str().unwrap().to_string();

    // The attachment goes to moto's S3 through the presigned URL, from the site origin (CORS).
    let declared = r#"{"filename":"b.txt","content_type":"text/plain","size":5}"#;
    let att = http("POST", &format!("{api}/v1/notes/{id}/attachments"), &json, declared.as_bytes());
    assert_eq!(att.status, 201, "{}", String::from_utf8_lossy(&att.body));
    let upload_url = body_json(&att)["upload_url"].as_str().unwrap().to_string();
    let put = http("PUT", &upload_url, &[("Origin", &site), ("Content-Type", "text/plain")], b"hello");
    assert!(put.status < 300, "{put:?}");
    assert_eq!(put.header("access-control-allow-origin"), Some(site.as_str()));

    // Activity comes from PostgreSQL, written by the stream consumer: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let activity = body_json(&http("GET", &format!("{api}/v1/activity"), &json, b""));
        let for_note = activity["items"]
            .as_array()
            .map_or(0, |items| items.iter().filter(|i| i["note_id"] == id.as_str()).count());
        if for_note >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no stream-fed activity for the note within 30 s: {activity}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = server.stop().expect("the dev server stops within 5 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}
