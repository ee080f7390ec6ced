//! Scenario `cold-init`: time from process start to the first Runtime API poll
//! (`GET /2018-06-01/runtime/invocation/next`) of each Lambda function, host release build, side by
//! side with the smallest lambda_http function (`xtask/bench/hello-lambda`, same lambda_http and
//! tokio, same release profile). The Runtime API is ours: a loopback listener that timestamps the
//! first poll and never answers it. Plus each function's arm64 zip size, and where the time goes:
//! the functions log one `init` line (`notes_core::init`, µs per phase) that the bench reads back.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::report::{Section, Table};
use super::stats::{Summary, bytes, fmt_secs, ratio};
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
    // The api once more as moto or a proxy would see it: with an endpoint override the SDK client
    // trusts the system's roots (`notes_core::config::SdkRoots`), the cost the default avoids.
    let mut runs: Vec<(String, PathBuf, bool)> = binaries.iter().map(|(n, p)| (n.clone(), p.clone(), false)).collect();
    if let Some((_, api)) = binaries.iter().find(|(n, _)| n == "api") {
        runs.push((OVERRIDE_ROW.to_string(), api.clone(), true));
    }

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel::<(Instant, String, TcpStream)>();
    std::thread::spawn(move || runtime_api(&listener, &tx));

    let mut samples: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for rep in 0..reps {
        // Rotate the order so no function always runs right after another.
        let n = runs.len();
        for i in 0..n {
            let (name, path, endpoint_override) = &runs[(i + rep) % n];
            let sample = measure(path, &addr.to_string(), *endpoint_override, &rx)
                .with_context(|| format!("{name}: no first Runtime API poll"))?;
            samples.entry(name.clone()).or_default().push(sample);
        }
    }
    let secs_of = |name: &str| samples[name].iter().map(|s| s.secs).collect::<Vec<_>>();
    let hello = Summary::of(&secs_of(HELLO)).expect("reps > 0");
    let zips = zip_sizes(b);
    let mut table = Table::new(
        format!(
            "Process start → first `GET …/runtime/invocation/next`, host release builds, {reps} runs each (interleaved)"
        ),
        &["function", "cold init", "ratio to hello", "host binary", "arm64 zip"],
    );
    for (name, path, _) in &runs {
        let s = Summary::of(&secs_of(name)).expect("reps > 0");
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
             `NOTES_TABLE`, `APP_DATA_BUCKET`, `DATABASE_URL`, `REDIS_URL`, no endpoint override: nothing is \
             called before the first poll) and `AWS_LAMBDA_RUNTIME_API` pointing at the bench's own Runtime API \
             on loopback. The time from just before spawning the process to the moment its first \
             `GET /2018-06-01/runtime/invocation/next` is read is the cold init; the poll is never answered and \
             the process is killed. `{OVERRIDE_ROW}` is the api with `AWS_ENDPOINT_URL` set, as under moto. \
             The baseline is `xtask/bench/hello-lambda` (lambda_http with the workspace's features, same \
             profile). {reps} runs per function, interleaved; median (min–max). The breakdown comes from the \
             `init` line each function logs (`notes_core::init`): medians per phase; `before main` is the rest \
             of the cold init (exec, loader, tokio runtime) and the Runtime API client's start. The api builds \
             its DynamoDB and S3 clients on first use (`notes_core::sdk_client`), so `clients` holds only \
             the Redis and PostgreSQL settings; building the DynamoDB client is paid by the first request \
             that reads or writes a note instead. This is the init the function itself does, not Lambda's \
             sandbox start or the arm64 CPU."
        ),
        tables: vec![table, breakdown(&runs, &samples)],
        notes,
        charts: Vec::new(),
    })
}

const OVERRIDE_ROW: &str = "api, endpoint override";

/// One cold start: seconds to the first poll, and the phases the function logged (µs).
struct Sample {
    secs: f64,
    phases: Vec<(String, u64)>,
}

/// Median per phase per function, in the order the functions log them.
fn breakdown(runs: &[(String, PathBuf, bool)], samples: &BTreeMap<String, Vec<Sample>>) -> Table {
    let mut phases: Vec<String> = Vec::new();
    for sample in samples.values().flatten() {
        for (name, _) in &sample.phases {
            if !phases.contains(name) {
                phases.push(name.clone());
            }
        }
    }
    let mut header = vec!["function", "before main"];
    header.extend(phases.iter().map(String::as_str));
    let mut table = Table::new("Where the cold init goes: median per phase, from each function's `init` line", &header);
    for (name, _, _) in runs {
        let taken = &samples[name];
        if taken.iter().all(|s| s.phases.is_empty()) {
            continue;
        }
        let median_ms = |values: Vec<f64>| Summary::of(&values).map_or("–".to_string(), |s| fmt_secs(s.median));
        let rest = taken.iter().map(|s| s.secs - s.phases.iter().map(|(_, us)| *us as f64 / 1e6).sum::<f64>());
        let mut row = vec![name.clone(), median_ms(rest.collect())];
        for phase in &phases {
            let values: Vec<f64> = taken
                .iter()
                .filter_map(|s| s.phases.iter().find(|(n, _)| n == phase).map(|(_, us)| *us as f64 / 1e6))
                .collect();
            row.push(median_ms(values));
        }
        table.row(row);
    }
    table
}

/// The phases of the `init` line a function logged (`"phases_us":"crypto=12 logging=40 …"`), or
/// none when it logged none (the hello baseline).
fn init_phases(stdout: &str) -> anyhow::Result<Vec<(String, u64)>> {
    for line in stdout.lines() {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let fields = json.get("fields").unwrap_or(&json);
        if fields.get("message").and_then(|m| m.as_str()) != Some("init") {
            continue;
        }
        let summary = fields.get("phases_us").and_then(|p| p.as_str()).context("an `init` line without phases_us")?;
        return summary
            .split_whitespace()
            .map(|pair| {
                let (name, us) = pair.split_once('=').with_context(|| format!("phase `{pair}` is not name=µs"))?;
                Ok((name.to_string(), us.parse().with_context(|| format!("phase `{pair}` is not name=µs"))?))
            })
            .collect();
    }
    Ok(Vec::new())
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

/// One cold start: seconds from spawn to the first `/next` poll, and the phases logged before it.
fn measure(
    binary: &Path,
    api: &str,
    endpoint_override: bool,
    rx: &mpsc::Receiver<(Instant, String, TcpStream)>,
) -> anyhow::Result<Sample> {
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
        .env("NOTES_TABLE", "bench-notes")
        .env("APP_DATA_BUCKET", "bench-data")
        .env("DATABASE_URL", testkit::services::POSTGRES.url())
        .env("REDIS_URL", testkit::services::REDIS.url())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if endpoint_override {
        cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    }
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("cannot start {}", binary.display()))?;
    let mut child = proc::Guard(child);
    let deadline = start + INIT_LIMIT;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((at, line, _held)) => {
                if line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                    let secs = at.duration_since(start).as_secs_f64();
                    // The `init` line was written before the poll: it is in the pipe once the process is gone.
                    let _ = child.0.kill();
                    let _ = child.0.wait();
                    let mut stdout = String::new();
                    if let Some(mut out) = child.0.stdout.take() {
                        std::io::Read::read_to_string(&mut out, &mut stdout)?;
                    }
                    return Ok(Sample { secs, phases: init_phases(&stdout)? });
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_init_line_is_read_back_from_json_logs() {
        let stdout = concat!(
            r#"{"level":"INFO","fields":{"message":"connected"}}"#,
            "\n",
            r#"{"level":"INFO","fields":{"message":"init","phases_us":"crypto=12 sdk_config=3400","total_us":3412}}"#,
            "\n"
        );
        let phases = super::init_phases(stdout).unwrap();
        assert_eq!(phases, [("crypto".to_string(), 12), ("sdk_config".to_string(), 3400)]);
        assert!(super::init_phases("plain text\n").unwrap().is_empty());
        assert!(super::init_phases(r#"{"fields":{"message":"init","phases_us":"crypto"}}"#).is_err());
    }
}
