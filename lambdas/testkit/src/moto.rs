//! moto's server on a free loopback port, one per test binary (or per test).
//!
//! ```no_run
//! let moto = testkit::moto::Moto::start();
//! let config = testkit::aws::sdk_config(&moto.endpoint());
//! // ... run code against it; `moto.requests()` lists what reached the server.
//! ```
//!
//! The server runs under coreutils `timeout 900`, so it stops by itself even if the test process is
//! killed; [`Moto`] stops it on drop. `moto_server` is looked up on PATH (`cargo xtask test` puts
//! the pinned moto first). Requests are recorded (moto's recorder, to a temporary file) so tests
//! can count them with [`Moto::requests`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long moto may live at most, in seconds (coreutils `timeout`).
const LIFETIME_SECS: u32 = 900;
/// Runs moto in the background and stops it when stdin reaches end of file or on a signal.
const WATCHDOG: &str = r#"moto_server "$@" & m=$!; trap 'kill $m 2>/dev/null' EXIT INT TERM; read -r _ || true; kill $m 2>/dev/null; wait $m"#;
/// How long to wait for moto to answer after spawning it.
const STARTUP: Duration = Duration::from_secs(60);

pub struct Moto {
    child: Child,
    /// Closing it stops moto (see `WATCHDOG`).
    stdin: Option<std::process::ChildStdin>,
    port: u16,
    recording: PathBuf,
}

/// One request moto received (from its recorder).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Full URL as moto saw it, e.g. `http://127.0.0.1:4567/bucket/key?x-id=PutObject`.
    pub url: String,
    /// Request headers (names as sent).
    pub headers: serde_json::Map<String, serde_json::Value>,
}

impl Request {
    /// The DynamoDB operation (`X-Amz-Target: DynamoDB_20120810.PutItem` -> `PutItem`), if any.
    pub fn target(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
            .and_then(|(_, v)| v.as_str())
            .and_then(|t| t.rsplit('.').next())
    }
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers. Panics with a
    /// hint when moto is not installed or does not come up.
    pub fn start() -> Moto {
        let mut last_error = String::new();
        for _attempt in 0..3 {
            match Moto::try_start() {
                Ok(moto) => return moto,
                Err(e) => last_error = e,
            }
        }
        panic!(
            "moto_server did not start: {last_error}\n\
             Install it with `pip install 'moto[server]'` or run the tests through `cargo xtask test`, \
             which puts the pinned moto on PATH."
        )
    }

    fn try_start() -> Result<Moto, String> {
        let port = super::free_port();
        let recording = std::env::temp_dir().join(super::unique_name("moto-recording-"));
        // `sh` keeps moto only as long as our end of its stdin is open: when this value is dropped
        // or the test process exits (even killed), `read` sees end of file and moto is stopped.
        let mut child = Command::new("timeout")
            .arg(LIFETIME_SECS.to_string())
            .args(["sh", "-c", WATCHDOG, "sh", "-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "true")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot spawn `timeout {LIFETIME_SECS} moto_server`: {e}"))?;
        let stdin = child.stdin.take();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("moto_server exited with {status} (is it on PATH? port {port} taken?)"));
            }
            if http_get(addr, "/moto-api/reset-auth").is_ok() {
                return Ok(Moto { child, port, recording, stdin });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("moto_server did not answer on {addr} within {STARTUP:?}"));
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
        let Ok(text) = std::fs::read_to_string(&self.recording) else {
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
                })
            })
            .collect()
    }

    /// Forgets the requests recorded so far.
    pub fn reset_requests(&self) {
        let _ = std::fs::write(&self.recording, "");
    }

    /// Resets all of moto's state (every table, bucket, ...).
    pub fn reset(&self) {
        let _ = http_post(SocketAddr::from(([127, 0, 0, 1], self.port)), "/moto-api/reset");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // SIGTERM to `timeout` is forwarded to the watchdog shell, which stops moto.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_file(&self.recording);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.recording);
    }
}

fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    http(addr, "GET", path)
}

fn http_post(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    http(addr, "POST", path)
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
