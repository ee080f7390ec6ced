//! moto for the AWS scenarios: the test kit's launcher with the pinned moto from the tools venv, a
//! lifetime of hours, and its access log read so that every tool (ours, the AWS CLI) is counted by
//! the same server-side request log.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub use testkit::moto::Logged as Request;
use testkit::moto::MotoOptions;

use crate::tools::Tools;

pub struct Moto {
    inner: testkit::moto::Moto,
    pub url: String,
}

impl Moto {
    /// Starts the pinned moto from the tools venv, alive for at most 3 hours.
    pub fn start(tools: &Tools) -> anyhow::Result<Moto> {
        let options = MotoOptions { python: tools.bin("python"), lifetime: Duration::from_secs(3 * 3600), env: vec![] };
        let inner = testkit::moto::Moto::launch(&options).map_err(anyhow::Error::msg)?;
        Ok(Moto { url: inner.endpoint(), inner })
    }

    /// A position in the access log; [`Moto::since`] returns what came after it.
    pub fn mark(&self) -> usize {
        self.inner.mark()
    }

    /// Requests logged after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Request> {
        self.inner.access_log_since(mark)
    }

    /// Every request recorded since [`Moto::forget`] (or the start), with its body: for counting
    /// the operations of a tool whose calls our interceptor does not see.
    pub fn recorded(&self) -> Vec<testkit::moto::Request> {
        self.inner.requests()
    }

    pub fn forget(&self) {
        self.inner.reset_requests();
    }

    /// The environment an AWS tool needs to talk to this moto and nothing else.
    pub fn env(&self, cmd: &mut Command, scratch: &Path) {
        for (name, value) in self.inner.aws_env(scratch) {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        cmd.env_remove("STACK_NAME");
    }

    pub async fn sdk(&self) -> aws_config::SdkConfig {
        testkit::aws::sdk_config(&self.url)
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        testkit::aws::s3_client(&self.sdk().await)
    }
}

/// What one run of a tool did, as moto recorded it: operations, writes, bytes sent in uploads.
pub struct Step {
    pub exit: i32,
    pub wall: f64,
    pub ops: std::collections::BTreeMap<String, u64>,
    pub writes: u64,
    pub uploaded: u64,
}

impl Step {
    pub fn op(&self, name: &str) -> u64 {
        self.ops.get(name).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.ops.values().sum()
    }
}

/// The operations whose request bodies carry the bytes a tool uploads.
const UPLOADS: [&str; 3] = ["S3 PUT object", "UpdateFunctionCode", "CreateFunction"];

impl Moto {
    /// The requests recorded since the last [`Moto::forget`], as one tool's [`Step`]; forgets them.
    pub fn step(&self, exit: i32, wall: f64) -> Step {
        let requests = self.recorded();
        self.forget();
        let mut ops = std::collections::BTreeMap::new();
        let (mut writes, mut uploaded) = (0, 0);
        for r in &requests {
            let op = r.operation();
            writes += u64::from(r.is_write());
            if UPLOADS.contains(&op.as_str()) {
                uploaded += r.header("Content-Length").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
            }
            *ops.entry(op).or_insert(0) += 1;
        }
        Step { exit, wall, ops, writes, uploaded }
    }
}

/// The table of a side-by-side scenario: per deploy, a row for each tool (exit, wall, requests,
/// writes, bytes uploaded), then one column per operation in `columns` (header, operation).
pub fn side_by_side(
    caption: &str,
    tools: [&str; 2],
    rows: &[(&str, Step, Step)],
    columns: &[(&str, &str)],
) -> super::report::Table {
    let mut header = vec!["deploy", "tool", "exit", "wall", "requests", "writes", "bytes uploaded"];
    header.extend(columns.iter().map(|(h, _)| *h));
    let mut table = super::report::Table::new(caption, &header);
    for (what, theirs, ours) in rows {
        for (tool, s) in [(tools[0], theirs), (tools[1], ours)] {
            let mut cells = vec![
                what.to_string(),
                tool.to_string(),
                s.exit.to_string(),
                super::stats::fmt_secs(s.wall),
                s.total().to_string(),
                s.writes.to_string(),
                super::stats::bytes(s.uploaded),
            ];
            cells.extend(columns.iter().map(|(_, op)| s.op(op).to_string()));
            table.row(cells);
        }
    }
    table
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
    fn object_puts_are_uploads_only() {
        let log = [
            "PUT /site/a.html HTTP/1.1",
            "PUT /site/b.js?x-id=PutObject HTTP/1.1",
            "PUT /site/c.js?tagging HTTP/1.1",
            "PUT /site HTTP/1.1",
            "PUT /other/a.html HTTP/1.1",
            "GET /site/a.html HTTP/1.1",
        ];
        let requests: Vec<_> =
            log.iter().filter_map(|r| testkit::moto::parse_access_line(&format!("x - - [d] \"{r}\" 200 -"))).collect();
        assert_eq!(super::object_puts(&requests, "site").count(), 2);
    }
}
