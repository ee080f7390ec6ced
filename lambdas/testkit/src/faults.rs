//! A fault-injecting AWS proxy: an HTTP proxy on a free loopback port between a client (the xtask)
//! and moto that makes moto behave like the real AWS the tests must survive: throttling, 5xx,
//! dropped connections and slow answers on chosen operations; eventually consistent
//! DescribeStacks (the stack as it was before the last operation, for a few polls); buckets owned
//! by another account (`ExpectedBucketOwner` refused with 403); and CloudFront's
//! TooManyInvalidationsInProgress. It also counts every operation it forwards.
//!
//! Operations are named `Service.Operation` like the xtask's call counter (`CloudFormation.DescribeStacks`,
//! `S3.PutObject`, `CloudFront.CreateInvalidation`): the service from the request's SigV4
//! credential scope, the operation from the query protocol's `Action`, a JSON `X-Amz-Target`, the
//! SDK's `x-id` query parameter, or the REST shape of S3 and CloudFront requests.
//!
//! Every connection carries one request (`Connection: close` both ways); the proxy stops when
//! dropped.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a faulty operation answers instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 `Throttling` (query protocol) / 503 `SlowDown` (S3).
    Throttle,
    /// 500 `InternalError` / `InternalFailure`.
    Internal,
    /// The connection is closed without an answer.
    Reset,
    /// CloudFront's 400 `TooManyInvalidationsInProgress`.
    TooManyInvalidations,
    /// Answered normally, after this long.
    Delay(Duration),
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub operation: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Rules {
    faults: HashMap<String, Vec<Fault>>,
    /// After the next ExecuteChangeSet/DeleteStack/ContinueUpdateRollback, this many DescribeStacks
    /// answers are the last one from before it.
    stale_polls: usize,
    stale_left: usize,
    last_describe: Option<(u16, Vec<u8>)>,
    frozen: Option<(u16, Vec<u8>)>,
    /// Bucket -> the account that owns it (requests naming another expected owner get 403).
    owners: HashMap<String, String>,
    seen: Vec<Seen>,
}

pub struct FaultProxy {
    port: u16,
    rules: Arc<Mutex<Rules>>,
    stop: Arc<AtomicBool>,
}

fn lock(rules: &Mutex<Rules>) -> std::sync::MutexGuard<'_, Rules> {
    rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (e.g. moto's endpoint `http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr =
            upstream.trim_start_matches("http://").trim_end_matches('/').parse().expect("an http://host:port endpoint");
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let rules = Arc::new(Mutex::new(Rules::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (rules.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let r = r.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, upstream, &r);
                });
            }
        });
        FaultProxy { port, rules, stop }
    }

    /// `http://127.0.0.1:<port>`: give it to the client as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next `times` calls of `operation` get `fault`.
    pub fn fail(&self, operation: &str, fault: Fault, times: usize) {
        lock(&self.rules).faults.entry(operation.to_string()).or_default().extend(std::iter::repeat_n(fault, times));
    }

    /// After the next stack operation, `polls` DescribeStacks answers show the stack as before it.
    pub fn stale_describe_stacks(&self, polls: usize) {
        lock(&self.rules).stale_polls = polls;
    }

    /// `bucket` belongs to `account`: a request naming another expected owner gets 403.
    pub fn bucket_owner(&self, bucket: &str, account: &str) {
        lock(&self.rules).owners.insert(bucket.to_string(), account.to_string());
    }

    /// Every request forwarded or faulted so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.rules).seen.clone()
    }

    /// How many times `operation` was called.
    pub fn calls(&self, operation: &str) -> usize {
        lock(&self.rules).seen.iter().filter(|s| s.operation == operation).count()
    }

    /// Calls per operation.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for s in &lock(&self.rules).seen {
            *counts.entry(s.operation.clone()).or_default() += 1;
        }
        counts
    }

    /// Forgets what was seen and every fault not yet used.
    pub fn reset(&self) {
        let mut r = lock(&self.rules);
        r.seen.clear();
        r.faults.clear();
        r.stale_polls = 0;
        r.stale_left = 0;
        r.frozen = None;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("/").to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        body = read_chunked(reader)?;
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case("transfer-encoding"));
        headers.push(("Content-Length".into(), body.len().to_string()));
    } else if let Some(len) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(Request { method, target, headers, body }))
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if size == 0 {
            // Trailers up to the empty line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk[..size]);
    }
}

/// `Service.Operation` of a request (see the module docs).
pub fn operation(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> String {
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let service = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown");
    let name = match service {
        "s3" => "S3",
        "cloudformation" => "CloudFormation",
        "cloudfront" => "CloudFront",
        "lambda" => "Lambda",
        "sts" => "STS",
        "dynamodb" => "DynamoDB",
        "iam" => "IAM",
        "rds" => "RDS",
        other => other,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: Vec<(&str, &str)> =
        query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
    let param = |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let query_protocol = !matches!(name, "S3" | "CloudFront" | "Lambda");
    if query_protocol
        && let Some(action) =
            String::from_utf8_lossy(body).split('&').find_map(|p| p.strip_prefix("Action=").map(String::from))
    {
        return format!("{name}.{action}");
    }
    if let Some(t) = header("x-amz-target") {
        return format!("{name}.{}", t.rsplit('.').next().unwrap_or(t));
    }
    if let Some(op) = param("x-id") {
        return format!("{name}.{op}");
    }
    let op = match name {
        "S3" => s3_operation(method, path, &params),
        "CloudFront" if path.ends_with("/invalidation") && method == "POST" => "CreateInvalidation".into(),
        "CloudFront" if path.contains("/invalidation/") => "GetInvalidation".into(),
        _ => format!("{method} {path}"),
    };
    format!("{name}.{op}")
}

fn s3_operation(method: &str, path: &str, params: &[(&str, &str)]) -> String {
    let has = |key: &str| params.iter().any(|(k, _)| *k == key);
    // `/bucket/` (the SDK's form for bucket-level calls) is the bucket, `/bucket/key` an object.
    let object = path.trim_matches('/').contains('/');
    let sub = [
        "versioning",
        "encryption",
        "publicAccessBlock",
        "policy",
        "lifecycle",
        "versions",
        "uploads",
        "delete",
        "tagging",
        "cors",
    ]
    .into_iter()
    .find(|s| has(s));
    let op = match (method, object, sub) {
        ("GET", false, None) if has("list-type") => "ListObjectsV2",
        ("GET", false, None) => "ListObjects",
        ("GET", false, Some("versions")) => "ListObjectVersions",
        ("GET", false, Some("uploads")) => "ListMultipartUploads",
        ("POST", false, Some("delete")) => "DeleteObjects",
        ("PUT", false, None) => "CreateBucket",
        ("HEAD", false, None) => "HeadBucket",
        ("DELETE", false, None) => "DeleteBucket",
        ("GET", false, Some(s)) => return format!("GetBucket{}", capitalized(s)),
        ("PUT", false, Some(s)) => return format!("PutBucket{}", capitalized(s)),
        ("PUT", true, None) => "PutObject",
        ("GET", true, None) => "GetObject",
        ("HEAD", true, None) => "HeadObject",
        ("DELETE", true, _) if has("uploadId") => "AbortMultipartUpload",
        ("DELETE", true, _) => "DeleteObject",
        (m, _, s) => return format!("{m} {path} {}", s.unwrap_or("")),
    };
    op.to_string()
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

fn respond(conn: &mut TcpStream, status: u16, reason: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(body)?;
    conn.flush()
}

fn error_body(service: &str, code: &str, message: &str) -> Vec<u8> {
    if service == "S3" {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>faults</RequestId></Error>")
    } else {
        format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>faults</RequestId></ErrorResponse>")
    }
    .into_bytes()
}

fn handle(conn: TcpStream, upstream: SocketAddr, rules: &Mutex<Rules>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut client = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    let Some(req) = read_request(&mut reader)? else { return Ok(()) };
    let op = operation(&req.method, &req.target, &req.headers, &req.body);
    let service = op.split('.').next().unwrap_or("").to_string();
    let path = req.target.split('?').next().unwrap_or("/").to_string();
    let fault = {
        let mut r = lock(rules);
        r.seen.push(Seen {
            operation: op.clone(),
            path: path.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
        });
        r.faults.get_mut(&op).filter(|f| !f.is_empty()).map(|f| f.remove(0))
    };
    // A bucket another account owns: what S3 answers a request that names the wrong owner.
    if service == "S3" {
        let bucket = path.trim_start_matches('/').split('/').next().unwrap_or("").to_string();
        let expected = req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-expected-bucket-owner"))
            .map(|(_, v)| v.clone());
        let owner = lock(rules).owners.get(&bucket).cloned();
        if let (Some(owner), Some(expected)) = (owner, expected)
            && owner != expected
        {
            return respond(&mut client, 403, "Forbidden", &error_body("S3", "AccessDenied", "Access Denied"));
        }
    }
    match fault {
        Some(Fault::Reset) => return Ok(()),
        Some(Fault::Throttle) if service == "S3" => {
            return respond(
                &mut client,
                503,
                "Slow Down",
                &error_body("S3", "SlowDown", "Please reduce your request rate."),
            );
        }
        Some(Fault::Throttle) => {
            return respond(&mut client, 400, "Bad Request", &error_body(&service, "Throttling", "Rate exceeded"));
        }
        Some(Fault::Internal) => {
            let code = if service == "S3" { "InternalError" } else { "InternalFailure" };
            return respond(
                &mut client,
                500,
                "Internal Server Error",
                &error_body(&service, code, "We encountered an internal error."),
            );
        }
        Some(Fault::TooManyInvalidations) => {
            let body = error_body(
                &service,
                "TooManyInvalidationsInProgress",
                "Your request contains too many invalidations in progress.",
            );
            return respond(&mut client, 400, "Bad Request", &body);
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        None => {}
    }
    let (status, head, body) = forward(&req, upstream)?;
    let answer = after(rules, &op, status, &body);
    match answer {
        Some((status, body)) => respond(&mut client, status, "OK", &body),
        None => {
            client.write_all(&head)?;
            client.write_all(&body)?;
            client.flush()
        }
    }
}

/// Stale DescribeStacks: remembers the last answer, freezes it at a stack operation, serves the
/// frozen one for the configured number of polls. Returns a replacement answer, if any.
fn after(rules: &Mutex<Rules>, op: &str, status: u16, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut r = lock(rules);
    match op {
        "CloudFormation.ExecuteChangeSet" | "CloudFormation.DeleteStack" | "CloudFormation.ContinueUpdateRollback"
            if r.stale_polls > 0 =>
        {
            r.frozen = r.last_describe.clone();
            r.stale_left = r.stale_polls;
            r.stale_polls = 0;
            None
        }
        "CloudFormation.DescribeStacks" if r.stale_left > 0 && r.frozen.is_some() => {
            r.stale_left -= 1;
            r.frozen.clone()
        }
        "CloudFormation.DescribeStacks" => {
            if status == 200 {
                r.last_describe = Some((status, body.to_vec()));
            }
            None
        }
        _ => None,
    }
}

/// Sends `req` to `upstream` and reads the whole answer: (status, head bytes, body bytes). A
/// chunked answer is de-chunked and its head given a Content-Length.
fn forward(req: &Request, upstream: SocketAddr) -> std::io::Result<(u16, Vec<u8>, Vec<u8>)> {
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(10))?;
    up.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (name, value) in &req.headers {
        if !name.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    let mut reader = BufReader::new(up);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(502);
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end_matches(['\r', '\n']).to_string();
        if h.is_empty() {
            break;
        }
        headers.push(h);
    }
    let chunked = headers.iter().any(|h| {
        h.to_ascii_lowercase().starts_with("transfer-encoding:") && h.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        read_chunked(&mut reader)?
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    let mut out = status_line.trim_end().to_string() + "\r\n";
    for h in headers.iter().filter(|h| {
        let lower = h.to_ascii_lowercase();
        !lower.starts_with("transfer-encoding:")
            && !lower.starts_with("content-length:")
            && !lower.starts_with("connection:")
    }) {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    Ok((status, out.into_bytes(), body))
}

#[cfg(test)]
mod tests {
    use super::operation;

    fn auth(service: &str) -> Vec<(String, String)> {
        vec![(
            "Authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=x"
            ),
        )]
    }

    #[test]
    fn operations_are_named_like_the_xtask_counts_them() {
        let check = |method, target, service, body: &str, expect: &str| {
            assert_eq!(operation(method, target, &auth(service), body.as_bytes()), expect, "{method} {target}");
        };
        check(
            "POST",
            "/",
            "cloudformation",
            "Action=DescribeStacks&Version=2010-05-15",
            "CloudFormation.DescribeStacks",
        );
        check("PUT", "/b/k?x-id=PutObject", "s3", "", "S3.PutObject");
        check("PUT", "/b/k", "s3", "", "S3.PutObject");
        check("GET", "/b?list-type=2&prefix=x", "s3", "", "S3.ListObjectsV2");
        check("GET", "/b?versions", "s3", "", "S3.ListObjectVersions");
        check("GET", "/b?uploads", "s3", "", "S3.ListMultipartUploads");
        check("POST", "/b?delete", "s3", "", "S3.DeleteObjects");
        check("GET", "/b?versioning", "s3", "", "S3.GetBucketVersioning");
        check("PUT", "/b?policy", "s3", "", "S3.PutBucketPolicy");
        check("HEAD", "/b/k", "s3", "", "S3.HeadObject");
        check(
            "POST",
            "/2020-05-31/distribution/E1/invalidation",
            "cloudfront",
            "<x/>",
            "CloudFront.CreateInvalidation",
        );
        check("POST", "/", "sts", "Action=GetCallerIdentity&Version=2011-06-15", "STS.GetCallerIdentity");
    }
}
