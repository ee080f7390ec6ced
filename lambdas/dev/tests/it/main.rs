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

mod gateway;
mod schemathesis;

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
    /// The first two lines on stdout, as printed.
    lines: Vec<String>,
    /// Where stderr goes, when captured.
    stderr: Option<tempfile::NamedTempFile>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::start_with(extra, &[], false)
    }

    /// With extra environment, and stderr captured (see [`Server::stderr`]) when asked.
    fn start_with(extra: &[&str], env: &[(&str, &str)], capture: bool) -> Server {
        let stderr_file = capture.then(|| tempfile::NamedTempFile::new().unwrap());
        let stderr = match &stderr_file {
            Some(f) => Stdio::from(f.reopen().unwrap()),
            None => Stdio::inherit(),
        };
        let mut child = dev_server()
            .args(["--no-watch", "--site-port", "0", "--api-port", "0", "--project-dir"])
            .arg(project_root())
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
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
        let mut lines = Vec::new();
        // Generous: `--backends local` may install the pinned moto first.
        let deadline = Instant::now() + Duration::from_secs(300);
        while site.is_none() || api.is_none() {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the dev server prints its URLs in time");
            lines.push(line.clone());
            if let Some(url) = line.strip_prefix("site ") {
                site = Some(url.trim().trim_end_matches('/').to_string());
            } else if let Some(url) = line.strip_prefix("api ") {
                api = Some(url.trim().to_string());
            }
        }
        Server { child, site: site.unwrap(), api: api.unwrap(), lines, stderr: stderr_file }
    }

    /// What it printed on stderr so far (when captured).
    fn stderr(&self) -> String {
        self.stderr.as_ref().map(|f| std::fs::read_to_string(f.path()).unwrap_or_default()).unwrap_or_default()
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
    let mut server = Server::start_with(&[], &[("RUST_LOG", "info")], true);
    let site = server.site.clone();
    let api = server.api.clone();
    // Both lines name an origin, in the same form.
    let origin = regex::Regex::new(r"^(site  |api   )http://127\.0\.0\.1:[0-9]+$").unwrap();
    assert!(server.lines.iter().all(|l| origin.is_match(l)), "{:?}", server.lines);

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
    // Saved under its own name, not its id.
    assert_eq!(download.header("content-disposition"), Some("attachment; filename=\"a.txt\"; filename*=UTF-8''a.txt"));
    // The API's tracing honours RUST_LOG (info: one line per request).
    assert!(server.stderr().contains("/v1/notes"), "{}", server.stderr());

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
    // The client confirms the upload (one HEAD on moto): the attachment is ready, and added.
    let aid = body_json(&att)["id"].as_str().unwrap().to_string();
    let confirmed = http("POST", &format!("{api}/v1/notes/{id}/attachments/{aid}/confirm"), &json, b"");
    assert_eq!(confirmed.status, 200, "{}", String::from_utf8_lossy(&confirmed.body));
    assert_eq!(body_json(&confirmed)["state"], "ready");

    // A DELETE of a note that does not exist is a failed DynamoDB transaction: the stream
    // consumer must keep delivering after it (moto's iterators go blind after one).
    let missing = format!("{api}/v1/notes/{}", "0190a5d2-0000-7000-8000-000000000000");
    assert_eq!(http("DELETE", &missing, &json, b"").status, 404);
    let later =
        http("POST", &format!("{api}/v1/notes"), &json, br#"{"title":"After the failed delete","body":"kiwi"}"#);
    assert_eq!(later.status, 201);
    let later_id = body_json(&later)["id"].as_str().unwrap().to_string();

    // Activity comes from PostgreSQL, written by the stream consumer: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let activity = body_json(&http("GET", &format!("{api}/v1/activity"), &json, b""));
        let for_note = activity["items"]
            .as_array()
            .map_or(0, |items| items.iter().filter(|i| i["note_id"] == id.as_str()).count());
        let after_failure =
            activity["items"].as_array().is_some_and(|items| items.iter().any(|i| i["note_id"] == later_id.as_str()));
        if for_note >= 2 && after_failure {
            break;
        }
        assert!(Instant::now() < deadline, "no stream-fed activity for the notes within 30 s: {activity}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Search is fed by the same consumer (PostgreSQL full-text), read back from DynamoDB.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = body_json(&http("GET", &format!("{api}/v1/notes?q=kiw&sort=updated"), &json, b""));
        if found["items"].as_array().is_some_and(|items| items.len() == 1 && items[0]["id"] == later_id.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "the note is not searchable within 30 s: {found}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // In its own database, never the tests' one.
    let own = testkit::pg::replace_database(&testkit::database_url(), "notes_dev");
    let rows = count_rows(&own, &user);
    assert!(rows >= 3, "{rows} activity rows of the user in notes_dev");
    if !testkit::database_url().ends_with("/notes_dev") {
        assert_eq!(count_rows(&testkit::database_url(), &user), 0, "nothing in DATABASE_URL's own database");
    }
    let status = server.stop().expect("the dev server stops within 5 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// Activity rows of `user` in the database at `url` (0 when it has no activity table).
fn count_rows(url: &str, user: &str) -> i64 {
    let url = url.to_string();
    let sub = notes_dev_sub(user);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            match client.query_one("SELECT count(*) FROM activity WHERE user_id = $1", &[&sub]).await {
                Ok(row) => row.get(0),
                Err(_) => 0,
            }
        })
    })
    .join()
    .unwrap()
}

/// The `sub` the dev sign-in gives a user name.
fn notes_dev_sub(user: &str) -> String {
    let out = dev_server().args(["token", user, "--project-dir"]).arg(project_root()).output().unwrap();
    let token = String::from_utf8(out.stdout).unwrap();
    let payload = token.trim().split('.').nth(1).unwrap().to_string();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    claims["sub"].as_str().unwrap().to_string()
}
