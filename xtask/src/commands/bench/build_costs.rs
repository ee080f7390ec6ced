//! Scenario `build-costs`: what a developer waits for before the first command runs, and after an
//! edit. In a clone of this checkout's HEAD (uncommitted changes are not in it): `cargo build -p
//! xtask` (what the first `cargo xtask …` compiles) from an empty target dir, then again after a
//! one-line edit in `lambdas/api` (goal: nothing rebuilt, the xtask depends on no app crate), then
//! after a one-line edit in the xtask itself. Each row says which crates cargo compiled, from its
//! JSON messages. `--quick` starts from the bench's warm target dir instead of an empty one.
//!
//! Then `dist` through its own code path ([`build_dist`]): clean, again with nothing changed (goal
//! ≤ 3 s), and after a one-line code edit in one function (goal: exactly that function's zip
//! changes): the workspace in the same clone, or with `--quick` the build tests' one-function fixture
//! from an empty target dir. Last, in the full run only, `cargo xtask test` from an empty target dir
//! and once more warm.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::report::{Section, Table};
use super::stats::fmt_secs;
use super::{Env, proc};
use crate::artifacts::build::{Budgets, build_dist};
use crate::compile::Compiler;
use crate::report::Ui;

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
    let mut tables = vec![table];

    let (dist_table, dist_notes) = if b.quick {
        let fixture = scratch.path().join("lambda-fixture");
        proc::copy_tree(&b.ctx.root.join("xtask/tests/fixtures/lambda-fixture"), &fixture)?;
        std::fs::copy(b.ctx.root.join("rust-toolchain.toml"), fixture.join("rust-toolchain.toml"))?;
        let fixture_target = scratch.path().join("fixture-target");
        dist_costs(b, "the build tests' one-function fixture", &fixture, &fixture_target, "src/main.rs")?
    } else {
        dist_costs(b, "the workspace (same clone and target dir)", &clone, &target, "lambdas/api/src/main.rs")?
    };
    tables.push(dist_table);
    notes.extend(dist_notes);

    if b.quick {
        notes.push("`cargo xtask test` cold and warm: in the full run only (tens of minutes here)".into());
    } else {
        tables.push(test_costs(&clone, &scratch.path().join("test-target"))?);
    }
    Ok(Section {
        method: "One clone of this checkout's HEAD, one build each (a build from empty is minutes on this \
                 machine): the time is indicative, the list of compiled crates is exact (cargo's \
                 `compiler-artifact` messages that were not fresh). `dist` runs in process through \
                 `build_dist` (what `cargo xtask dist` runs after its own startup; the tool venv is the \
                 bench's); the zips that changed are read from the dist's manifest."
            .into(),
        tables,
        notes,
        charts: Vec::new(),
    })
}

/// `dist` clean, with nothing changed, and after a one-line code edit in `edit` (relative to `root`).
fn dist_costs(b: &Env<'_>, what: &str, root: &Path, target: &Path, edit: &str) -> anyhow::Result<(Table, Vec<String>)> {
    let compiler = Compiler {
        root: root.to_path_buf(),
        target_dir: target.to_path_buf(),
        path_env: b.tools.path_env(),
        quiet: true,
    };
    let mut table = Table::new(
        format!("`dist` of {what}, through `build_dist`"),
        &["dist", "wall", "zips", "zips changed", "which"],
    );
    let mut notes = Vec::new();
    let mut previous: Option<BTreeMap<String, String>> = None;
    for step in [DistStep::Clean, DistStep::Unchanged, DistStep::Edited] {
        if step == DistStep::Edited {
            edit_main(&root.join(edit))?;
        }
        let label = match step {
            DistStep::Clean => "clean".to_string(),
            DistStep::Unchanged => "nothing changed".to_string(),
            DistStep::Edited => format!("after a one-line edit in `{edit}`"),
        };
        eprintln!("    dist: {label}");
        let start = Instant::now();
        let artifacts = build_dist(&compiler, &target.join("dist"), Budgets::Warn, &Ui::plain("bench"))
            .with_context(|| format!("dist ({label}) failed"))?;
        let wall = start.elapsed();
        let keys: BTreeMap<String, String> =
            artifacts.functions.iter().map(|f| (f.function.clone(), f.key.clone())).collect();
        let changed: Vec<&String> = match &previous {
            None => keys.keys().collect(),
            Some(before) => keys.iter().filter(|(f, k)| before.get(*f) != Some(*k)).map(|(f, _)| f).collect(),
        };
        let which = if changed.is_empty() {
            "none".to_string()
        } else {
            changed.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
        };
        table.row([label, fmt_secs(wall.as_secs_f64()), keys.len().to_string(), changed.len().to_string(), which]);
        match step {
            DistStep::Clean => {}
            DistStep::Unchanged => {
                if wall > Duration::from_secs(3) {
                    let took = fmt_secs(wall.as_secs_f64());
                    notes.push(format!("`dist` with nothing changed took {took}: the goal is ≤ 3 s"));
                }
                if !changed.is_empty() {
                    notes.push("`dist` with nothing changed changed a zip: the build is not reproducible".into());
                }
            }
            DistStep::Edited => {
                if changed.len() != 1 {
                    let n = changed.len();
                    notes.push(format!("a one-line edit in `{edit}` changed {n} zips: the goal is exactly one"));
                }
            }
        }
        previous = Some(keys);
    }
    Ok((table, notes))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DistStep {
    Clean,
    Unchanged,
    Edited,
}

/// A one-line code change the binary must show: a string kept alive at the top of `fn main`.
fn edit_main(file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let at = text
        .find("fn main(")
        .and_then(|m| text[m..].find('{').map(|b| m + b + 1))
        .with_context(|| format!("{} has no `fn main(…) {{`", file.display()))?;
    let line = "\n    std::hint::black_box(\"a one-line edit by cargo xtask bench build-costs\");";
    let edited = format!("{}{line}{}", &text[..at], &text[at..]);
    std::fs::write(file, edited).with_context(|| format!("cannot write {}", file.display()))
}

/// `cargo xtask test` in `root` from an empty target dir, then once more.
fn test_costs(root: &Path, target: &Path) -> anyhow::Result<Table> {
    let mut table = Table::new(
        "`cargo xtask test` in the clone (its own empty target dir; local PostgreSQL and Redis)",
        &["run", "wall", "result"],
    );
    for step in ["cold (empty target dir)", "warm (again, nothing changed)"] {
        eprintln!("    cargo xtask test: {step}");
        let mut cmd = Command::new("cargo");
        cmd.current_dir(root).args(["xtask", "test"]).env("CARGO_TARGET_DIR", target);
        let run = proc::run(cmd, Duration::from_secs(2 * 3600))?;
        let result = if run.output.status.success() { "passed".to_string() } else { format!("{}", run.output.status) };
        table.row([step.to_string(), fmt_secs(run.wall.as_secs_f64()), result]);
    }
    Ok(table)
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_one_line_edit_lands_at_the_top_of_main() {
        let check = |source: &str, expect: expect_test::Expect| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("main.rs");
            std::fs::write(&file, source).unwrap();
            let result = super::edit_main(&file).map(|()| std::fs::read_to_string(&file).unwrap());
            let shown = result.unwrap_or_else(|e| format!("error: {e}"));
            expect.assert_eq(&shown.replace(&dir.path().display().to_string(), "DIR"));
        };
        check(
            "#[tokio::main]\nasync fn main() -> Result<(), Error> {\n    run().await\n}\n",
            expect_test::expect![[r#"
                #[tokio::main]
                async fn main() -> Result<(), Error> {
                    std::hint::black_box("a one-line edit by cargo xtask bench build-costs");
                    run().await
                }
            "#]],
        );
        check("fn helper() {}\n", expect_test::expect!["error: DIR/main.rs has no `fn main(…) {`"]);
    }
}
