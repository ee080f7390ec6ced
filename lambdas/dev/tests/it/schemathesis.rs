//! The API against its own OpenAPI document: schemathesis (pinned in `xtask/python-tools.txt`)
//! runs every check (response schemas and statuses, positive data accepted, negative data
//! rejected, missing headers, unsupported methods, authentication, resources after create and
//! delete, stateful sequences through the document's links) against the dev server on in-memory
//! stores, bounded in examples per operation and in time. `tests/schemathesis.toml` names the two
//! statuses the document cannot express (412 for a well-formed If-Match of another version, 428
//! for a missing one).
//!
//! Skipped, saying so, only when no `schemathesis` is on PATH; `cargo xtask test` puts the pinned
//! tools first, so there it always runs.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Server, project_root, token};

/// Examples per operation and phase; the seed makes a run reproducible (`st replay` shows more).
const MAX_EXAMPLES: &str = "30";
const SEED: &str = "20261202";
const TIME_LIMIT: Duration = Duration::from_secs(300);

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

#[test]
fn the_api_keeps_its_openapi_document() {
    let Some(schemathesis) = on_path("schemathesis") else {
        eprintln!("SKIPPED: no `schemathesis` on PATH (`cargo xtask test` puts the pinned one first)");
        return;
    };
    let server = Server::start(&[]);
    let bearer = format!("Authorization: Bearer {}", token(&server, "schemathesis"));
    let config = project_root().join("lambdas/dev/tests/schemathesis.toml");
    let report = tempfile::tempdir().unwrap();
    let mut child = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
        .args(["--no-color", "run", &format!("{}/v1/openapi.json", server.api), "--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1", "--request-timeout", "10"])
        .args(["-H", &bearer, "--report-dir"])
        .arg(report.path())
        .current_dir(report.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schemathesis runs");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            testkit::process::terminate(&mut child, Duration::from_secs(5));
            panic!("schemathesis did not finish within {TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = reader.join().unwrap();
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    let summary: Vec<&str> = out.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
    eprintln!("schemathesis: {}", summary.join("\n"));
    assert!(status.success(), "schemathesis found failures:\n{out}\n{err}");
    assert!(out.contains("0 failures") || !out.contains("failure"), "{out}");
}
