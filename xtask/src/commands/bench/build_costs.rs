//! Scenario `build-costs`: what a developer waits for before the first command runs, and after an
//! edit. In a clone of this checkout's HEAD (uncommitted changes are not in it): `cargo build -p
//! xtask` (what the first `cargo xtask …` compiles) from an empty target dir, then again after a
//! one-line edit in `lambdas/api` (goal: nothing rebuilt, the xtask depends on no app crate), then
//! after a one-line edit in the xtask itself. Each row says which crates cargo compiled, from its
//! JSON messages. `--quick` starts from the bench's warm target dir instead of an empty one.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use super::report::{Section, Table};
use super::{Env, proc};

const LIMIT: Duration = Duration::from_secs(3600);

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let scratch = tempfile::tempdir()?;
    let clone = scratch.path().join("checkout");
    let mut git = Command::new("git");
    git.args(["clone", "--quiet", "--no-hardlinks"]).arg(&b.ctx.root).arg(&clone);
    proc::run(git, LIMIT)?.check("git clone of this checkout")?;
    let target = if b.quick { b.ctx.target_dir() } else { scratch.path().join("target") };

    let mut table = Table::new(
        format!(
            "`cargo build -p xtask --locked` in a clone, target dir {}",
            if b.quick { "shared with the bench (warm)" } else { "empty at the start" }
        ),
        &["build", "wall", "crates compiled", "which (the last 6)"],
    );
    let first = build(&clone, &target)?;
    table.row(row(if b.quick { "first in the clone (warm deps)" } else { "first, empty target dir" }, &first));
    append_line(&clone.join("lambdas/api/src/lib.rs"))?;
    let after_app = build(&clone, &target)?;
    table.row(row("after a one-line edit in lambdas/api", &after_app));
    append_line(&clone.join("xtask/src/lib.rs"))?;
    let after_xtask = build(&clone, &target)?;
    table.row(row("after a one-line edit in the xtask", &after_xtask));

    let mut notes = Vec::new();
    if !after_app.1.is_empty() {
        notes.push(format!("an edit in lambdas/api rebuilt {}: the goal is nothing", after_app.1.join(", ")));
    }
    Ok(Section {
        method: "One clone of this checkout's HEAD, one build each (a build from empty is minutes on this \
                 machine): the time is indicative, the list of compiled crates is exact (cargo's \
                 `compiler-artifact` messages that were not fresh)."
            .into(),
        tables: vec![table],
        notes,
    })
}

/// One build: wall time and the crates cargo compiled (not fresh).
fn build(root: &Path, target: &Path) -> anyhow::Result<(Duration, Vec<String>)> {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root)
        .args(["build", "-p", "xtask", "--locked", "--message-format=json", "--target-dir"])
        .arg(target)
        .env_remove("CARGO_TARGET_DIR");
    let run = proc::run(cmd, LIMIT)?.check("cargo build -p xtask")?;
    let mut compiled = Vec::new();
    for line in run.stdout().lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if message["reason"] == "compiler-artifact"
            && message["fresh"] == false
            && let Some(name) = message.pointer("/target/name").and_then(serde_json::Value::as_str)
        {
            compiled.push(name.to_string());
        }
    }
    Ok((run.wall, compiled))
}

fn row(what: &str, (wall, compiled): &(Duration, Vec<String>)) -> Vec<String> {
    let which = if compiled.is_empty() {
        "none".to_string()
    } else {
        let mut shown: Vec<&str> = compiled.iter().rev().take(6).map(String::as_str).collect();
        shown.reverse();
        shown.join(", ")
    };
    vec![what.to_string(), format!("{:.1} s", wall.as_secs_f64()), compiled.len().to_string(), which]
}

fn append_line(file: &Path) -> anyhow::Result<()> {
    let mut text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    text.push_str("// a one-line edit by `cargo xtask bench build-costs`\n");
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}
