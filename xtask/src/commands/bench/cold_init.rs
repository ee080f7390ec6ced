//! Scenario `cold-init`: time from process start to the first Runtime API poll
//! (`GET /2018-06-01/runtime/invocation/next`) of each Lambda function, host release build, side by
//! side with the smallest lambda_http function (`xtask/bench/hello-lambda`, same lambda_http and
//! tokio, same release profile). The Runtime API is ours: a loopback listener that timestamps the
//! first poll and never answers it. Plus each function's arm64 zip size.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::report::{Section, Table};
use super::stats::{Summary, bytes, ratio};
use super::{Env, proc};
use crate::artifacts::Manifest;

const HELLO: &str = "hello (lambda_http baseline)";
/// How long a function may take to reach its first poll before the run counts as failed.
const INIT_LIMIT: Duration = Duration::from_secs(20);

/// The workspace's Lambda functions: (function, package, bin).
const FUNCTIONS: [(&str, &str, &str); 3] =
    [("api", "notes-api", "api"), ("activity", "notes-activity", "activity"), ("migrate", "notes-migrate", "migrate")];

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let reps = if b.quick { 5 } else { 25 };
    let bin_dir = tempfile::tempdir()?;
    let binaries = build(b, bin_dir.path())?;

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel::<(Instant, String, TcpStream)>();
    std::thread::spawn(move || runtime_api(&listener, &tx));

    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for rep in 0..reps {
        // Rotate the order so no function always runs right after another.
        let n = binaries.len();
        for i in 0..n {
            let (name, path) = &binaries[(i + rep) % n];
            let secs =
                measure(path, &addr.to_string(), &rx).with_context(|| format!("{name}: no first Runtime API poll"))?;
            samples.entry(name.clone()).or_default().push(secs);
        }
    }
    let hello = Summary::of(&samples[HELLO]).expect("reps > 0");
    let zips = zip_sizes(b);
    let mut table = Table::new(
        format!(
            "Process start → first `GET …/runtime/invocation/next`, host release builds, {reps} runs each (interleaved)"
        ),
        &["function", "cold init", "ratio to hello", "host binary", "arm64 zip"],
    );
    for (name, path) in &binaries {
        let s = Summary::of(&samples[name]).expect("reps > 0");
        let size = std::fs::metadata(path).map(|m| bytes(m.len())).unwrap_or_default();
        let zip = zips.as_ref().ok().and_then(|(z, _)| z.get(name)).map_or("–".to_string(), |z| bytes(*z));
        table.row([name.clone(), s.secs(), ratio(s.median, hello.median), size, zip]);
    }
    let mut notes = Vec::new();
    match &zips {
        Ok((_, source)) => notes.push(format!("arm64 zip sizes from {source}")),
        Err(e) => notes.push(format!("arm64 zip sizes not available: {e}")),
    }
    Ok(Section {
        method: format!(
            "Each function is built for the host (`cargo build --release --locked`, the workspace's release profile) \
             and started with a Lambda-like environment (function name, memory, region, static credentials, \
             `NOTES_TABLE`, `APP_DATA_BUCKET`, `DATABASE_URL`, `REDIS_URL`) and `AWS_LAMBDA_RUNTIME_API` pointing \
             at the bench's own Runtime API on loopback. The time from just before spawning the process to the \
             moment its first `GET /2018-06-01/runtime/invocation/next` is read is the cold init; the poll is never \
             answered and the process is killed. The baseline is `xtask/bench/hello-lambda` (lambda_http with \
             the workspace's features, same profile). {reps} runs per function, interleaved; median (min–max). \
             This is the init the function itself does (runtime, SDK config, clients), not Lambda's sandbox \
             start or the arm64 CPU."
        ),
        tables: vec![table],
        notes,
    })
}

/// Builds the functions and the hello baseline; returns (name, private copy of the binary).
fn build(b: &Env<'_>, into: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let target = b.ctx.target_dir();
    let mut missing = Vec::new();
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&b.ctx.root).args(["build", "--release", "--locked", "--quiet"]);
    for (_, package, bin) in FUNCTIONS {
        if !b.ctx.root.join("lambdas").join(package.trim_start_matches("notes-")).join("Cargo.toml").is_file() {
            missing.push(package);
        }
        cmd.args(["-p", package, "--bin", bin]);
    }
    anyhow::ensure!(missing.is_empty(), "the workspace has no {} yet (issue #4)", missing.join(", "));
    eprintln!("    cargo build --release (host) of {}", FUNCTIONS.map(|f| f.1).join(", "));
    proc::run(cmd, Duration::from_secs(3600))?.check("cargo build --release of the functions")?;
    let mut out = Vec::new();
    // Copy right away: another checkout sharing the target dir could replace them.
    for (function, _, bin) in FUNCTIONS {
        let dest = into.join(function);
        std::fs::copy(target.join("release").join(bin), &dest).with_context(|| format!("no release binary {bin}"))?;
        out.push((function.to_string(), dest));
    }
    let hello_dir = b.ctx.root.join("xtask/bench/hello-lambda");
    let mut cmd = Command::new("cargo");
    // Into the workspace's target dir: nothing the bench builds lands in the source tree.
    cmd.current_dir(&hello_dir).args(["build", "--release", "--locked", "--quiet", "--target-dir"]).arg(&target);
    eprintln!("    cargo build --release (host) of the hello baseline");
    proc::run(cmd, Duration::from_secs(3600))?.check("cargo build --release of xtask/bench/hello-lambda")?;
    let dest = into.join("hello");
    std::fs::copy(target.join("release/bench-hello"), &dest).context("no release binary bench-hello")?;
    out.insert(0, (HELLO.to_string(), dest));
    Ok(out)
}

/// Accepts connections forever; reports each request line with the instant it was read. Holds every
/// connection (never answers) until the bench drops it.
fn runtime_api(listener: &TcpListener, tx: &mpsc::Sender<(Instant, String, TcpStream)>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let tx = tx.clone();
        std::thread::spawn(move || {
            let Ok(read_half) = stream.try_clone() else { return };
            let mut line = String::new();
            if BufReader::new(read_half).read_line(&mut line).is_ok() {
                let _ = tx.send((Instant::now(), line.trim().to_string(), stream));
            }
        });
    }
}

/// One cold start: seconds from spawn to the first `/next` poll.
fn measure(binary: &Path, api: &str, rx: &mpsc::Receiver<(Instant, String, TcpStream)>) -> anyhow::Result<f64> {
    while rx.try_recv().is_ok() {}
    let scratch = std::env::temp_dir();
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .env("AWS_CONFIG_FILE", scratch.join("bench-no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", scratch.join("bench-no-aws-credentials"))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("NOTES_TABLE", "bench-notes")
        .env("APP_DATA_BUCKET", "bench-data")
        .env("DATABASE_URL", testkit::services::POSTGRES.url())
        .env("REDIS_URL", testkit::services::REDIS.url())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("cannot start {}", binary.display()))?;
    let mut child = proc::Guard(child);
    let deadline = start + INIT_LIMIT;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((at, line, _held)) => {
                if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                    return Ok(at.duration_since(start).as_secs_f64());
                }
                anyhow::ensure!(!line.contains("/init/error"), "the function reported an init error ({line})");
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => anyhow::bail!("the Runtime API listener stopped"),
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            anyhow::bail!("exited with {status} before polling: {}", err.lines().last().unwrap_or(""));
        }
        anyhow::ensure!(Instant::now() < deadline, "no poll within {} s", INIT_LIMIT.as_secs());
    }
}

/// Function -> arm64 zip size: from this run's `repro` build if it built the workspace, else from
/// the newest `manifest.json` of `cargo xtask dist` / `build` in the target dir.
fn zip_sizes(b: &Env<'_>) -> anyhow::Result<(BTreeMap<String, u64>, String)> {
    if let Some(sizes) = b.zip_sizes.borrow().clone() {
        return Ok((sizes, "the `repro` scenario's clean workspace build in this run".into()));
    }
    let target = b.ctx.target_dir();
    let candidates = [target.join("dist/manifest.json"), target.join("xtask/artifacts/manifest.json")];
    let newest = candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p.clone())
        .ok_or_else(|| anyhow::anyhow!("run `cargo xtask dist` first (or the `repro` scenario on the workspace)"))?;
    let manifest: Manifest = serde_json::from_str(&std::fs::read_to_string(&newest)?)
        .with_context(|| format!("cannot read {}", newest.display()))?;
    let sizes: BTreeMap<String, u64> = manifest.functions.iter().map(|(f, e)| (f.clone(), e.size)).collect();
    anyhow::ensure!(!sizes.is_empty(), "{} lists no function", newest.display());
    Ok((sizes, format!("{} (commit {})", newest.display(), manifest.git_commit)))
}
