//! `cargo xtask dev` through the real binary: started on free ports with `--no-watch`, driven over
//! HTTP like the browser drives it (dev sign-in, notes, attachments through the presigned URLs),
//! with the production rules checked on the way: CORS only for the site origin, 401 without a
//! valid token, isolation between users. Every wait is bounded; the server is stopped on drop.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

struct Server {
    child: Child,
    site: String,
    api: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["dev", "--no-watch", "--site-port", "0", "--api-port", "0", "--project-dir"])
            .arg(project_root())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the xtask binary starts");
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
                .expect("`xtask dev` prints its URLs in time");
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

#[derive(Debug)]
struct Response {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A minimal HTTP/1.1 client (one request per connection), enough for loopback tests.
fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
    out
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
    res.json()["id_token"].as_str().unwrap().to_string()
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
    let config = http("GET", &format!("{site}/config.json"), &[], b"").json();
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
        assert!(res.json()["error"]["code"].is_string());
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
    let note = created.json();
    let id = note["id"].as_str().unwrap().to_string();
    assert_eq!(note["title"], "Hello from the test");

    // A token from the command line (same key on disk, same `sub` for the same name) sees the note.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["dev", "token", "alice", "--project-dir"])
        .arg(project_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let cli_bearer = format!("Bearer {cli_token}");
    let got = http("GET", &format!("{api}/v1/notes/{id}"), &[("Authorization", &cli_bearer)], b"");
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));

    // Bob sees none of it.
    let bob = format!("Bearer {}", token(&server, "bob"));
    assert_eq!(http("GET", &format!("{api}/v1/notes/{id}"), &[("Authorization", &bob)], b"").status, 404);
    let bobs = http("GET", &format!("{api}/v1/notes"), &[("Authorization", &bob)], b"").json();
    assert_eq!(bobs["items"].as_array().map(Vec::len), Some(0), "{bobs}");

    // An attachment goes up and comes back through the presigned URLs the dev server serves.
    let content = b"attachment bytes\n".repeat(100);
    let declared = format!(r#"{{"filename":"a.txt","content_type":"text/plain","size":{}}}"#, content.len());
    let att = http("POST", &format!("{api}/v1/notes/{id}/attachments"), &json, declared.as_bytes());
    assert_eq!(att.status, 201, "{}", String::from_utf8_lossy(&att.body));
    let upload_url = att.json()["upload_url"].as_str().unwrap().to_string();
    let put = http("PUT", &upload_url, &[("Origin", &site), ("Content-Type", "text/plain")], &content);
    assert!(put.status < 300, "{put:?}");
    assert_eq!(put.header("access-control-allow-origin"), Some(site.as_str()));
    let list = http("GET", &format!("{api}/v1/notes/{id}/attachments"), &json, b"").json();
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
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["dev", "--no-watch", "--api-port", "0", "--site-port", &port, "--project-dir"])
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
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["dev", "token", "not a name", "--project-dir"])
        .arg(project_root())
        .output()
        .unwrap();
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
    let health = http("GET", &format!("{api}/v1/health"), &[], b"").json();
    assert_eq!(health["status"], "ok", "{health}");

    let user = format!("local-{}", std::process::id());
    let bearer = format!("Bearer {}", token(&server, &user));
    let json = [("Origin", site.as_str()), ("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let created = http("POST", &format!("{api}/v1/notes"), &json, br#"{"title":"On real stores","body":"x"}"#);
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    let id = created.json()["id"].as_str().unwrap().to_string();

    // The attachment goes to moto's S3 through the presigned URL, from the site origin (CORS).
    let declared = r#"{"filename":"b.txt","content_type":"text/plain","size":5}"#;
    let att = http("POST", &format!("{api}/v1/notes/{id}/attachments"), &json, declared.as_bytes());
    assert_eq!(att.status, 201, "{}", String::from_utf8_lossy(&att.body));
    let upload_url = att.json()["upload_url"].as_str().unwrap().to_string();
    let put = http("PUT", &upload_url, &[("Origin", &site), ("Content-Type", "text/plain")], b"hello");
    assert!(put.status < 300, "{put:?}");
    assert_eq!(put.header("access-control-allow-origin"), Some(site.as_str()));

    // Activity comes from PostgreSQL, written by the stream consumer: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let activity = http("GET", &format!("{api}/v1/activity"), &json, b"").json();
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
