//! Scenario `api-load`: the notes API under load on loopback with real backends — `cargo xtask dev
//! --backends local` (the same router as the Lambda; PostgreSQL, Redis, moto's DynamoDB/S3) with a
//! dev token — driven by `wrk`: a cache-hit read, a cache-miss read and a write; p50/p99 latency and
//! throughput, errors reported.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use super::report::{Section, Table};
use super::stats::{Summary, fmt_secs, ratio, thousands};
use super::{Env, proc};

/// The Redis database the bench's dev server caches in (flushed before each cache-miss run).
const REDIS_DB: u32 = 13;
const CONNECTIONS: u32 = 8;
const THREADS: u32 = 2;

/// One wrk run, from the script's `done()` line.
#[derive(Debug, Clone, Default)]
struct Load {
    requests: f64,
    seconds: f64,
    p50: f64,
    p99: f64,
    errors: u64,
    non_2xx: u64,
    /// Cache-miss run only: reads past the end of the id list (possibly cache hits).
    wrapped: u64,
}

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let (reps, secs, misses) = if b.quick { (2, 3, 1000) } else { (3, 10, 4000) };
    let wrk = ensure_wrk()?;
    let scratch = tempfile::tempdir()?;
    let redis_url = with_db(&testkit::services::REDIS.url(), REDIS_DB);
    crate::tools::require(&testkit::services::REDIS)?;
    crate::tools::require(&testkit::services::POSTGRES)?;

    let site_port = proc::free_port()?;
    let api_port = proc::free_port()?;
    let log = scratch.path().join("dev.log");
    let mut cmd = Command::new(&b.xtask_exe);
    cmd.arg("--project-dir")
        .arg(&b.ctx.root)
        .args(["dev", "--no-watch", "--backends", "local"])
        .args(["--site-port", &site_port.to_string(), "--api-port", &api_port.to_string()])
        .env("REDIS_URL", &redis_url)
        .env("DATABASE_URL", testkit::services::POSTGRES.url())
        .env("PATH", b.tools.path_env())
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(scratch.path().join("dev.err"))?);
    let mut dev = proc::Guard(cmd.spawn().context("cannot start `cargo xtask dev`")?);
    let api = format!("127.0.0.1:{api_port}");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(Some(status)) = dev.0.try_wait() {
            let err = std::fs::read_to_string(scratch.path().join("dev.err")).unwrap_or_default();
            anyhow::bail!("`cargo xtask dev --backends local` exited with {status}: {}", last_lines(&err, 3));
        }
        if http(&api, "GET", "/v1/health", None, None).is_ok_and(|(s, _)| s == 200) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the dev API did not answer /v1/health within 180 s");
        std::thread::sleep(Duration::from_millis(250));
    }

    let mut token_cmd = Command::new(&b.xtask_exe);
    token_cmd.arg("--project-dir").arg(&b.ctx.root).args(["dev", "token", "bench-user"]);
    let token =
        proc::run(token_cmd, Duration::from_secs(60))?.check("cargo xtask dev token")?.stdout().trim().to_string();
    anyhow::ensure!(!token.is_empty(), "`cargo xtask dev token` printed nothing");

    // Data: one hot note (read again and again), `misses` notes read once each per cache-miss run.
    let create = |i: usize| -> anyhow::Result<String> {
        let body = format!(r#"{{"title":"bench {i}","body":"{}","tags":["bench"]}}"#, "x".repeat(400));
        let (status, text) = http(&api, "POST", "/v1/notes", Some(&token), Some(&body))?;
        anyhow::ensure!(status == 201, "creating a note answered {status}: {}", last_lines(&text, 1));
        let note: Value = serde_json::from_str(&text)?;
        note["id"].as_str().map(String::from).context("the created note has no id")
    };
    let hot = create(0)?;
    eprintln!("    creating {misses} notes for the cache-miss reads");
    let ids: Vec<String> = (1..=misses).map(create).collect::<anyhow::Result<_>>()?;

    let auth = format!("Bearer {token}");
    let hit_script = scratch.path().join("hit.lua");
    std::fs::write(&hit_script, format!("{}\nwrk.path = \"/v1/notes/{hot}\"\n", common_lua(&auth)))?;
    let write_script = scratch.path().join("write.lua");
    std::fs::write(
        &write_script,
        format!(
            "{}\nwrk.method = \"POST\"\nwrk.path = \"/v1/notes\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.body = '{{\"title\":\"load\",\"body\":\"{}\",\"tags\":[\"bench\"]}}'\n",
            common_lua(&auth),
            "y".repeat(400)
        ),
    )?;
    let miss_script = scratch.path().join("miss.lua");
    std::fs::write(&miss_script, miss_lua(&auth, &ids))?;

    let url = format!("http://{api}");
    let mut hits = Vec::new();
    let mut miss_runs = Vec::new();
    let mut writes = Vec::new();
    let mut cached_after_miss = Vec::new();
    for rep in 0..reps {
        // Warm the hot note into the cache, then hammer it.
        http(&api, "GET", &format!("/v1/notes/{hot}"), Some(&token), None)?;
        hits.push(wrk_run(&wrk, &url, &hit_script, &format!("{secs}s"))?);
        redis(&redis_url, &["FLUSHDB"])?;
        miss_runs.push(wrk_run(&wrk, &url, &miss_script, &format!("{secs}s"))?);
        cached_after_miss.push(redis(&redis_url, &["DBSIZE"])?.trim_start_matches(':').parse::<u64>().unwrap_or(0));
        writes.push(wrk_run(&wrk, &url, &write_script, &format!("{secs}s"))?);
        eprintln!(
            "    run {}: hit {:.0} req/s, miss {:.0} req/s, write {:.0} req/s",
            rep + 1,
            hits[rep].requests / hits[rep].seconds,
            miss_runs[rep].requests / miss_runs[rep].seconds,
            writes[rep].requests / writes[rep].seconds
        );
    }
    let _ = dev.0.stdin.take();
    proc::terminate(&mut dev.0, Duration::from_secs(5));

    let summarize = |runs: &[Load]| {
        let s = |f: fn(&Load) -> f64| Summary::of(&runs.iter().map(f).collect::<Vec<_>>()).expect("reps > 0");
        (s(|l| l.requests / l.seconds), s(|l| l.p50), s(|l| l.p99), s(|l| l.requests))
    };
    let hit = summarize(&hits);
    let miss = summarize(&miss_runs);
    let write = summarize(&writes);
    let mut table = Table::new(
        format!("wrk -t{THREADS} -c{CONNECTIONS}, {reps} runs per row (interleaved); p50/p99 are medians over runs"),
        &["request", "throughput (req/s)", "p50", "p99", "requests per run", "errors", "non-2xx", "p50 vs cache hit"],
    );
    let errors = |runs: &[Load]| runs.iter().map(|l| l.errors).sum::<u64>().to_string();
    let non_2xx = |runs: &[Load]| runs.iter().map(|l| l.non_2xx).sum::<u64>().to_string();
    for (name, (tput, p50, p99, n), runs) in [
        ("`GET /v1/notes/{id}`, cache hit", hit, &hits),
        ("`GET /v1/notes/{id}`, cache miss", miss, &miss_runs),
        ("`POST /v1/notes` (write)", write, &writes),
    ] {
        table.row([
            name.to_string(),
            tput.rate(),
            format!("{} ({}–{})", fmt_secs(p50.median), fmt_secs(p50.min), fmt_secs(p50.max)),
            format!("{} ({}–{})", fmt_secs(p99.median), fmt_secs(p99.min), fmt_secs(p99.max)),
            n.count(),
            errors(runs),
            non_2xx(runs),
            ratio(p50.median, hit.1.median),
        ]);
    }
    let mut notes = vec![format!(
        "cache-miss runs: Redis db {REDIS_DB} flushed before each, held {} keys right after (one per note read and \
         cached, vs {} requests): every read found the cache empty for its note",
        cached_after_miss.iter().map(|n| thousands(*n)).collect::<Vec<_>>().join(", "),
        miss_runs.iter().map(|l| thousands(l.requests as u64)).collect::<Vec<_>>().join(", "),
    )];
    let wrapped: u64 = miss_runs.iter().map(|l| l.wrapped).sum();
    if wrapped > 0 {
        notes.push(format!(
            "{wrapped} cache-miss requests went past the end of the {misses}-note list and re-read a note (possibly a \
             cache hit): raise the list size"
        ));
    }
    let total_errors: u64 =
        [&hits, &miss_runs, &writes].iter().flat_map(|r| r.iter()).map(|l| l.errors + l.non_2xx).sum();
    if total_errors > 0 {
        notes.push(format!("{total_errors} failed requests (socket errors or non-2xx answers) — expected 0"));
    }
    Ok(Section {
        method: format!(
            "`cargo xtask dev --backends local --no-watch` (the xtask binary run directly) serves the API router on \
             loopback with PostgreSQL, Redis (db {REDIS_DB}) and moto behind it; requests carry a token from `cargo \
             xtask dev token`, turned into Cognito claims by the dev authorizer as API Gateway would. wrk ({THREADS} \
             threads, {CONNECTIONS} connections) runs, {reps} times in turn: a cache-hit read (one note, warmed, \
             {secs} s), a cache-miss read (Redis flushed, then a Lua script walks a list of {} notes, each thread its \
             own slice, so no note is read twice and every read goes to DynamoDB on moto; {secs} s), \
             and a write (`POST /v1/notes`, {secs} s). Everything shares this machine's {} cores (wrk, the server, \
             moto, Postgres, Redis), so throughput is a floor, not a capacity.",
            thousands(misses as u64),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        tables: vec![table],
        notes,
        charts: Vec::new(),
    })
}

/// Authorization header and a `done()` printing `BENCH requests duration_us p50_us p99_us
/// socket_errors non_2xx wrapped` (`wrapped`: see [`miss_lua`]; 0 for the other scripts).
fn common_lua(auth: &str) -> String {
    format!(
        "wrk.headers[\"Authorization\"] = \"{auth}\"\n\
         function wrapped_total()\n  return 0\nend\n\
         function done(summary, latency, requests)\n\
           local e = summary.errors\n\
           io.write(string.format('BENCH %.0f %.0f %.0f %.0f %.0f %.0f %.0f\\n', summary.requests, summary.duration, \
             latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status, \
             wrapped_total()))\n\
         end\n"
    )
}

/// Each thread walks its own slice of `ids` (thread k reads ids k+1, k+1+threads, ...), so no note is
/// read twice while the list lasts; past its end a thread starts over (those reads may hit the
/// cache) and counts them: `wrapped` in the `BENCH` line.
fn miss_lua(auth: &str, ids: &[String]) -> String {
    let list = ids.iter().map(|id| format!("\"{id}\"")).collect::<Vec<_>>().join(",");
    format!(
        "{common}\n\
         local ids = {{{list}}}\n\
         local threads = {{}}\n\
         local counter = 0\n\
         function setup(thread)\n  thread:set(\"tid\", counter)\n  counter = counter + 1\n  table.insert(threads, thread)\nend\n\
         function wrapped_total()\n  local n = 0\n  for _, t in ipairs(threads) do n = n + (t:get(\"wrapped\") or 0) end\n  return n\nend\n\
         function init(args)\n  next_index = tid + 1\n  wrapped = 0\n  laps = 0\nend\n\
         function request()\n\
         \x20 if next_index > #ids then\n    next_index = tid + 1\n    laps = laps + 1\n  end\n\
         \x20 if laps > 0 then wrapped = wrapped + 1 end\n\
         \x20 local id = ids[next_index]\n  next_index = next_index + {THREADS}\n\
         \x20 return wrk.format(\"GET\", \"/v1/notes/\" .. id)\nend\n",
        common = common_lua(auth)
    )
}

fn wrk_run(wrk: &Path, url: &str, script: &Path, duration: &str) -> anyhow::Result<Load> {
    let mut cmd = Command::new(wrk);
    cmd.args([
        &format!("-t{THREADS}"),
        &format!("-c{CONNECTIONS}"),
        &format!("-d{duration}"),
        "--timeout",
        "10s",
        "-s",
    ])
    .arg(script)
    .arg(url);
    let run = proc::run(cmd, Duration::from_secs(400))?.check("wrk")?;
    let out = run.stdout();
    let line =
        out.lines().find(|l| l.starts_with("BENCH ")).with_context(|| format!("wrk printed no summary: {out}"))?;
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    anyhow::ensure!(v.len() == 7, "unexpected wrk summary {line:?}");
    Ok(Load {
        requests: v[0],
        seconds: v[1] / 1e6,
        p50: v[2] / 1e6,
        p99: v[3] / 1e6,
        errors: v[4] as u64,
        non_2xx: v[5] as u64,
        wrapped: v[6] as u64,
    })
}

/// `wrk` on PATH; installed from Debian when missing and running as root.
fn ensure_wrk() -> anyhow::Result<std::path::PathBuf> {
    let found = |dir: &str| Path::new(dir).join("wrk").is_file().then(|| Path::new(dir).join("wrk"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(p) = std::env::split_paths(&path).find_map(|d| found(&d.to_string_lossy())) {
        return Ok(p);
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    anyhow::ensure!(
        root && Path::new("/usr/bin/apt-get").exists(),
        "the load generator wrk is not installed: `sudo apt-get install -y wrk` (Debian/Ubuntu), then rerun"
    );
    eprintln!("    installing wrk (apt-get install -y wrk)");
    let mut cmd = Command::new("apt-get");
    cmd.args(["install", "-y", "--no-install-recommends", "wrk"]).env("DEBIAN_FRONTEND", "noninteractive");
    let run = proc::run(cmd, Duration::from_secs(600))?;
    if !run.output.status.success() {
        let mut update = Command::new("apt-get");
        update.arg("update").env("DEBIAN_FRONTEND", "noninteractive");
        proc::run(update, Duration::from_secs(600))?.check("apt-get update")?;
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y", "--no-install-recommends", "wrk"]).env("DEBIAN_FRONTEND", "noninteractive");
        proc::run(cmd, Duration::from_secs(600))?.check("apt-get install -y wrk")?;
    }
    found("/usr/bin").context("apt-get installed wrk but /usr/bin/wrk is missing")
}

/// `redis://host:port[/db]` with the database set to `db`.
fn with_db(url: &str, db: u32) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{authority}/{db}")
}

/// Runs `SELECT db` then `args` on a plain-TCP Redis; returns the last reply line.
fn redis(url: &str, args: &[&str]) -> anyhow::Result<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let db = rest.split_once('/').map_or("0", |(_, d)| d);
    let mut stream = TcpStream::connect(host).with_context(|| format!("cannot reach Redis at {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let encode = |parts: &[&str]| {
        let mut out = format!("*{}\r\n", parts.len());
        for p in parts {
            out.push_str(&format!("${}\r\n{p}\r\n", p.len()));
        }
        out
    };
    stream.write_all(format!("{}{}", encode(&["SELECT", db]), encode(args)).as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    for _ in 0..2 {
        line.clear();
        reader.read_line(&mut line)?;
        anyhow::ensure!(!line.starts_with('-'), "Redis answered {}", line.trim());
    }
    Ok(line.trim().to_string())
}

/// A one-shot HTTP/1.1 request on loopback (`Connection: close`); returns status and body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("not an HTTP response")?;
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let rest =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(rest) } else { rest.to_string() };
    Ok((status, rest))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}
