//! moto's server on a free loopback port for the AWS scenarios, bounded in time, with its access log
//! parsed so that every tool (ours, the AWS CLI) is counted by the same server-side request log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::proc::{free_port, terminate};
use crate::Ctx;
use crate::tools::Tools;

/// How long moto may live at most (coreutils `timeout`), whatever happens to the bench.
const LIFETIME: Duration = Duration::from_secs(3 * 3600);

pub struct Moto {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// One request from moto's (werkzeug's) access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. `/bucket/key?versionId=x`.
    pub path: String,
    pub status: u16,
}

impl Moto {
    /// Starts the pinned moto from the tools venv. Uses the deploy tests' `moto_server.py` wrapper
    /// (it completes moto's change-set bookkeeping the way CloudFormation does) when present.
    pub fn start(ctx: &Ctx, tools: &Tools) -> anyhow::Result<Moto> {
        let wrapper = ctx.root.join("xtask/tests/fixtures/moto_server.py");
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("moto.log");
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let file = std::fs::File::create(&log)?;
            let mut cmd = Command::new("timeout");
            cmd.arg(LIFETIME.as_secs().to_string());
            if wrapper.is_file() {
                cmd.arg(tools.bin("python")).arg(&wrapper);
            } else {
                cmd.arg(tools.bin("moto_server"));
            }
            let mut child = cmd
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(file.try_clone()?)
                .stderr(file)
                .spawn()
                .context("cannot start moto's server")?;
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("moto exited with {status}: {}", tail(&log));
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Running on"))
                {
                    return Ok(Moto { child, url: format!("http://127.0.0.1:{port}"), log, _dir: dir });
                }
                if Instant::now() > deadline {
                    terminate(&mut child, Duration::from_secs(2));
                    last = format!("moto did not answer within 60 s: {}", tail(&log));
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        anyhow::bail!("{last}")
    }

    /// A position in the access log; [`Moto::since`] returns what came after it.
    pub fn mark(&self) -> usize {
        std::fs::read_to_string(&self.log).map(|t| t.len()).unwrap_or(0)
    }

    /// Requests logged after `mark`. Waits briefly for the log to settle (werkzeug writes each line
    /// after the response is sent).
    pub fn since(&self, mark: usize) -> Vec<Request> {
        std::thread::sleep(Duration::from_millis(150));
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.get(mark..)
            .unwrap_or("")
            .lines()
            .filter_map(parse_line)
            .filter(|r| !r.path.starts_with("/moto-api"))
            .collect()
    }

    /// The environment an AWS tool needs to talk to this moto and nothing else.
    pub fn env(&self, cmd: &mut Command, scratch: &Path) {
        cmd.env("AWS_ENDPOINT_URL", &self.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("STACK_NAME")
            .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", scratch.join("no-aws-credentials"));
    }

    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(notes_core::config::https_client())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "bench"))
            .load()
            .await
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk().await).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // SIGTERM to `timeout` (this process id only) is forwarded to moto.
        terminate(&mut self.child, Duration::from_secs(5));
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" / ")
}

/// `127.0.0.1 - - [27/Nov/2026 07:55:01] "PUT /b/k HTTP/1.1" 200 -` -> PUT, /b/k, 200.
pub fn parse_line(line: &str) -> Option<Request> {
    let (_, rest) = line.split_once('"')?;
    let (request, rest) = rest.split_once('"')?;
    let mut parts = request.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = rest.split_whitespace().next()?.parse().ok()?;
    Some(Request { method, path, status })
}

/// S3 object uploads among `requests`: `PUT /bucket/key` with no query (AWS CLI), the Rust SDK's
/// `?x-id=PutObject`, or a multipart part (`?partNumber=`); not subresources (`?tagging`, `?acl`).
pub fn object_puts<'a>(requests: &'a [Request], bucket: &str) -> impl Iterator<Item = &'a Request> {
    let prefix = format!("/{bucket}/");
    requests.iter().filter(move |r| {
        let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
        r.method == "PUT"
            && path.len() > prefix.len()
            && path.starts_with(&prefix)
            && (query.is_empty() || query.starts_with("x-id=PutObject") || query.contains("partNumber="))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn access_log_lines() {
        let r = super::parse_line(r#"127.0.0.1 - - [27/Nov/2026 07:55:01] "PUT /site/a.html HTTP/1.1" 200 -"#).unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str(), r.status), ("PUT", "/site/a.html", 200));
        assert!(super::parse_line(" * Running on http://127.0.0.1:5000").is_none());
        let log = [
            "PUT /site/a.html HTTP/1.1",
            "PUT /site/b.js?x-id=PutObject HTTP/1.1",
            "PUT /site/c.js?tagging HTTP/1.1",
            "PUT /site HTTP/1.1",
            "PUT /other/a.html HTTP/1.1",
            "GET /site/a.html HTTP/1.1",
        ];
        let requests: Vec<_> =
            log.iter().filter_map(|r| super::parse_line(&format!("x - - [d] \"{r}\" 200 -"))).collect();
        assert_eq!(super::object_puts(&requests, "site").count(), 2);
    }
}
