//! moto's server on a free loopback port: the one launcher of the workspace (tests, the bench and
//! `cargo xtask dev --backends local` all start moto here).
//!
//! ```no_run
//! let moto = testkit::moto::Moto::start();
//! let config = testkit::aws::sdk_config(&moto.endpoint());
//! // ... run code against it; `moto.requests()` lists what reached the server.
//! ```
//!
//! moto runs through `moto_server.py` (next to this crate's Cargo.toml, embedded here), which stops
//! it when this process's end of its stdin closes (this process exited, even killed) and after
//! [`MotoOptions::lifetime`] at the latest, and which completes moto's change-set bookkeeping the
//! way CloudFormation does. [`Moto`] stops it on drop. The Python interpreter must have moto
//! installed: `python3` on PATH by default (`cargo xtask test` puts the pinned tools first), or
//! `MOTO_PYTHON`, or [`MotoOptions::python`].
//!
//! Two views of what reached the server: [`Moto::requests`] (moto's recorder: method, URL, headers)
//! and [`Moto::access_log_since`] (werkzeug's access log: method, path, status).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The wrapper moto runs under (see the module docs).
pub const WRAPPER: &str = include_str!("../moto_server.py");

/// The repository's pinned copy of the CloudFormation resource schema facts (createOnlyProperties).
const RESOURCE_SCHEMA_FACTS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../cloud/aws/cfn-resource-permissions.json");
/// How long to wait for moto to answer after spawning it.
const STARTUP: Duration = Duration::from_secs(60);

/// How to run moto.
#[derive(Debug, Clone)]
pub struct MotoOptions {
    /// The Python interpreter that has moto (`MOTO_PYTHON`, else `python3` on PATH).
    pub python: PathBuf,
    /// moto stops by itself after this long, whatever happens to the process that started it.
    pub lifetime: Duration,
    /// Extra environment for moto, e.g. `INITIAL_NO_AUTH_ACTION_COUNT` to enforce IAM.
    pub env: Vec<(String, String)>,
}

impl Default for MotoOptions {
    fn default() -> MotoOptions {
        MotoOptions {
            python: std::env::var_os("MOTO_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from),
            lifetime: Duration::from_secs(900),
            env: Vec::new(),
        }
    }
}

pub struct Moto {
    child: Child,
    /// Closing it stops moto (see `moto_server.py`).
    stdin: Option<std::process::ChildStdin>,
    port: u16,
    dir: tempfile::TempDir,
}

/// One request moto received (from its recorder).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Full URL as moto saw it, e.g. `http://127.0.0.1:4567/bucket/key?x-id=PutObject`.
    pub url: String,
    /// Request headers (names as sent).
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The body as sent (lossy UTF-8: enough to read a query-protocol `Action`).
    pub body: String,
}

impl Request {
    /// The JSON-protocol operation (`X-Amz-Target: DynamoDB_20120810.PutItem` -> `PutItem`), if any.
    pub fn target(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
            .and_then(|(_, v)| v.as_str())
            .and_then(|t| t.rsplit('.').next())
    }

    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
    }

    /// The operation, whatever the client: the JSON protocol's target, the query protocol's
    /// `Action=` (CloudFormation, STS, IAM), else S3's REST form: `S3 PUT object`, `S3 GET bucket?list-type`.
    pub fn operation(&self) -> String {
        if let Some(target) = self.target() {
            return target.to_string();
        }
        if let Some(action) = self.body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
            return action.to_string();
        }
        let path = self.url.splitn(4, '/').nth(3).unwrap_or_default();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        // Lambda's REST API: /2015-03-31/functions[/<name>[/code|/configuration|/versions]].
        if let Some(rest) = path.strip_prefix("2015-03-31/functions") {
            let tail = rest.trim_start_matches('/').split_once('/').map(|(_, t)| t);
            return match (self.method.as_str(), rest.is_empty(), tail) {
                ("POST", true, _) => "CreateFunction".into(),
                ("GET", false, None) => "GetFunction".into(),
                ("PUT", false, Some("code")) => "UpdateFunctionCode".into(),
                ("PUT", false, Some("configuration")) => "UpdateFunctionConfiguration".into(),
                ("GET", false, Some("configuration")) => "GetFunctionConfiguration".into(),
                ("POST", false, Some("versions")) => "PublishVersion".into(),
                (method, _, tail) => format!("Lambda {method} {}", tail.unwrap_or("function")),
            };
        }
        let what = if path.trim_end_matches('/').contains('/') { "object" } else { "bucket" };
        let sub = query.split('&').map(|kv| kv.split('=').next().unwrap_or_default()).find(|k| *k != "x-id");
        match sub.filter(|k| !k.is_empty()) {
            Some(sub) => format!("S3 {} {what}?{sub}", self.method),
            None => format!("S3 {} {what}", self.method),
        }
    }

    /// Whether the request changes something (anything but a read: GET, HEAD, Describe*, Get*, List*).
    pub fn is_write(&self) -> bool {
        let op = self.operation();
        if let Some(s3) = op.strip_prefix("S3 ") {
            return !(s3.starts_with("GET") || s3.starts_with("HEAD"));
        }
        !["Describe", "Get", "List", "Validate", "Estimate"].iter().any(|p| op.starts_with(p))
    }
}

/// A recorded request's body: moto's recorder keeps bytes base64-encoded (`body_encoded`).
fn recorded_body(entry: &serde_json::Value) -> String {
    let text = entry.get("body").and_then(|b| b.as_str()).unwrap_or_default();
    if entry.get("body_encoded").and_then(|e| e.as_bool()) == Some(true) {
        let bytes = aws_smithy_types::base64::decode(text).unwrap_or_default();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    text.to_string()
}

/// One line of moto's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    /// Path and query, e.g. `/bucket/key?versionId=x`.
    pub path: String,
    pub status: u16,
}

impl Moto {
    /// Starts moto with the default options and waits until it answers. Panics with a hint when
    /// moto is not installed or does not come up (for tests).
    pub fn start() -> Moto {
        Moto::launch(&MotoOptions::default()).unwrap_or_else(|e| {
            panic!(
                "{e}\nInstall moto with `pip install 'moto[server]'` or run the tests through `cargo xtask test`, \
                 which puts the pinned moto on PATH."
            )
        })
    }

    /// Starts moto with `options` (three attempts: a free port can be taken in between).
    pub fn launch(options: &MotoOptions) -> Result<Moto, String> {
        let mut last_error = String::new();
        for _attempt in 0..3 {
            match Moto::try_launch(options) {
                Ok(moto) => return Ok(moto),
                Err(e) => last_error = e,
            }
        }
        Err(format!("moto did not start: {last_error}"))
    }

    fn try_launch(options: &MotoOptions) -> Result<Moto, String> {
        let port = super::free_port();
        let dir = tempfile::Builder::new().prefix("moto-").tempdir().map_err(|e| e.to_string())?;
        let wrapper = dir.path().join("moto_server.py");
        std::fs::write(&wrapper, WRAPPER).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.path().join("access.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(&options.python)
            .arg(&wrapper)
            .args(["--lifetime", &options.lifetime.as_secs().to_string(), "-H", "127.0.0.1", "-p", &port.to_string()])
            // Where addition 7 of the wrapper reads which properties replace a resource.
            .env("XTASK_RESOURCE_SCHEMA_FACTS", RESOURCE_SCHEMA_FACTS)
            .env("MOTO_ENABLE_RECORDING", "true")
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording.jsonl"))
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {} (moto's Python): {e}", options.python.display()))?;
        let stdin = child.stdin.take();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = tail(&dir.path().join("access.log"));
                return Err(format!("moto exited with {status} (port {port}): {tail}"));
            }
            if http(addr, "GET", "/moto-api/reset-auth").is_ok() {
                return Ok(Moto { child, stdin, port, dir });
            }
            if Instant::now() > deadline {
                crate::process::terminate(&mut child, Duration::from_secs(2));
                return Err(format!("moto did not answer on {addr} within {STARTUP:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One moto shared by all tests of this test binary (started on first use). Tests sharing it
    /// use unique table and bucket names ([`crate::unique_name`]). It stops when the test process
    /// exits.
    pub fn shared() -> &'static Moto {
        static SHARED: std::sync::OnceLock<Moto> = std::sync::OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL` / `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request moto received so far, oldest first (moto's own `/moto-api/` calls excluded).
    pub fn requests(&self) -> Vec<Request> {
        let Ok(text) = std::fs::read_to_string(self.dir.path().join("recording.jsonl")) else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|entry| {
                let url = entry.get("url")?.as_str()?.to_string();
                if url.contains("/moto-api/") {
                    return None;
                }
                Some(Request {
                    method: entry.get("method")?.as_str()?.to_string(),
                    url,
                    headers: entry.get("headers").and_then(|h| h.as_object().cloned()).unwrap_or_default(),
                    body: recorded_body(&entry),
                })
            })
            .collect()
    }

    /// Forgets the requests recorded so far.
    pub fn reset_requests(&self) {
        let _ = std::fs::write(self.dir.path().join("recording.jsonl"), "");
    }

    /// A position in the access log; [`Moto::access_log_since`] returns what came after it.
    pub fn mark(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("access.log")).map(|t| t.len()).unwrap_or(0)
    }

    /// The access log's requests after `mark` (moto's own `/moto-api/` calls excluded). Waits
    /// briefly for the log to settle: werkzeug writes each line after the response is sent.
    pub fn access_log_since(&self, mark: usize) -> Vec<Logged> {
        std::thread::sleep(Duration::from_millis(150));
        let text = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.get(mark..)
            .unwrap_or("")
            .lines()
            .filter_map(parse_access_line)
            .filter(|r| !r.path.starts_with("/moto-api"))
            .collect()
    }

    /// Resets all of moto's state (every table, bucket, ...).
    pub fn reset(&self) {
        let _ = http(SocketAddr::from(([127, 0, 0, 1], self.port)), "POST", "/moto-api/reset");
    }

    /// The environment an AWS tool (the xtask, the AWS CLI, SAM) needs to talk to this moto and
    /// nothing else: endpoint, dummy keys, region, and no profile or shared config of this machine.
    pub fn aws_env(&self, scratch: &Path) -> Vec<(&'static str, Option<String>)> {
        let none = |p: &str| Some(scratch.join(p).display().to_string());
        vec![
            ("AWS_ENDPOINT_URL", Some(self.endpoint())),
            ("AWS_ACCESS_KEY_ID", Some("testing".into())),
            ("AWS_SECRET_ACCESS_KEY", Some("testing".into())),
            ("AWS_REGION", Some(super::aws::REGION.into())),
            ("AWS_DEFAULT_REGION", Some(super::aws::REGION.into())),
            ("AWS_PROFILE", None),
            ("AWS_SESSION_TOKEN", None),
            ("AWS_CONFIG_FILE", none("no-aws-config")),
            ("AWS_SHARED_CREDENTIALS_FILE", none("no-aws-credentials")),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // End of file on its stdin stops moto (see moto_server.py); SIGTERM/SIGKILL if it lingers.
        drop(self.stdin.take());
        crate::process::wait_or_terminate(&mut self.child, Duration::from_secs(3));
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" / ")
}

/// `127.0.0.1 - - [27/Nov/2026 07:55:01] "PUT /b/k HTTP/1.1" 200 -` -> PUT, /b/k, 200.
pub fn parse_access_line(line: &str) -> Option<Logged> {
    let (_, rest) = line.split_once('"')?;
    let (request, rest) = rest.split_once('"')?;
    let mut parts = request.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = rest.split_whitespace().next()?.parse().ok()?;
    Some(Logged { method, path, status })
}

/// Minimal HTTP/1.0 exchange over loopback (no client library needed for moto's control API).
fn http(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if response.starts_with("HTTP/") { Ok(response) } else { Err(std::io::Error::other("not an HTTP response")) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn access_log_lines() {
        let r = super::parse_access_line(r#"127.0.0.1 - - [27/Nov/2026 07:55:01] "PUT /site/a.html HTTP/1.1" 200 -"#)
            .unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str(), r.status), ("PUT", "/site/a.html", 200));
        assert!(super::parse_access_line(" * Running on http://127.0.0.1:5000").is_none());
    }

    #[test]
    fn recorded_requests_name_their_operation_whatever_the_protocol() {
        let check = |method: &str, url: &str, headers: serde_json::Value, body: &str, expect: (&str, bool)| {
            let entry = serde_json::json!({
                "body": aws_smithy_types::base64::encode(body.as_bytes()),
                "body_encoded": true,
            });
            let r = super::Request {
                method: method.into(),
                url: url.into(),
                headers: headers.as_object().cloned().unwrap_or_default(),
                body: super::recorded_body(&entry),
            };
            assert_eq!((r.operation().as_str(), r.is_write()), expect, "{method} {url}");
        };
        let none = serde_json::json!({});
        let m = "http://localhost:5000";
        check(
            "POST",
            &format!("{m}/"),
            none.clone(),
            "Action=DescribeStacks&Version=2010-05-15",
            ("DescribeStacks", false),
        );
        check(
            "POST",
            &format!("{m}/"),
            none.clone(),
            "Version=2010-05-15&Action=ExecuteChangeSet",
            ("ExecuteChangeSet", true),
        );
        let target = serde_json::json!({"X-Amz-Target": "DynamoDB_20120810.PutItem"});
        check("POST", &format!("{m}/"), target, "{}", ("PutItem", true));
        check("PUT", &format!("{m}/b/k.zip?x-id=PutObject"), none.clone(), "", ("S3 PUT object", true));
        check("HEAD", &format!("{m}/b/k.zip"), none.clone(), "", ("S3 HEAD object", false));
        check("GET", &format!("{m}/b?list-type=2&prefix=x"), none.clone(), "", ("S3 GET bucket?list-type", false));
        check("POST", &format!("{m}/b?delete"), none.clone(), "<Delete/>", ("S3 POST bucket?delete", true));
        check("GET", &format!("{m}/2015-03-31/functions/api"), none.clone(), "", ("GetFunction", false));
        check("PUT", &format!("{m}/2015-03-31/functions/api/code"), none.clone(), "{}", ("UpdateFunctionCode", true));
        check("POST", &format!("{m}/2015-03-31/functions"), none, "{}", ("CreateFunction", true));
    }
}
