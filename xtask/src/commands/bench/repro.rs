//! Scenario `repro`: the same commit built twice from clean — two checkouts at different absolute
//! paths, each with its own empty target dir — through `dist`'s own code path ([`build_dist`]);
//! the two `SHA256SUMS` are compared line by line (count of differing artifacts).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use super::report::{Section, Table};
use super::stats::{bytes, fmt_secs, ratio};
use super::{Env, ReproProject, proc};
use crate::artifacts::build::{Budgets, build_dist};
use crate::compile::Compiler;
use crate::report::Ui;

pub fn run(b: &Env<'_>) -> anyhow::Result<Section> {
    let scratch = tempfile::tempdir_in(b.ctx.target_dir()).context("cannot create a scratch dir in the target dir")?;
    let one = scratch.path().join("checkout-one");
    let two = scratch.path().join("somewhere/else/checkout-two");
    let (what, commit) = match b.repro_project {
        ReproProject::Workspace => {
            let commit = git_archive(&b.ctx.root, &one)?;
            git_archive(&b.ctx.root, &two)?;
            (format!("the whole workspace at commit {commit} (`git archive HEAD`)"), commit)
        }
        ReproProject::Fixture => {
            let fixture = b.ctx.root.join("xtask/tests/fixtures/lambda-fixture");
            anyhow::ensure!(fixture.is_dir(), "{} is missing (it comes with the build tests)", fixture.display());
            for dest in [&one, &two] {
                proc::copy_tree(&fixture, dest)?;
                std::fs::copy(b.ctx.root.join("rust-toolchain.toml"), dest.join("rust-toolchain.toml"))?;
            }
            (
                "the build tests' one-function fixture project (xtask/tests/fixtures/lambda-fixture)".to_string(),
                String::new(),
            )
        }
    };
    let mut walls = Vec::new();
    let mut sums = Vec::new();
    let mut sizes = BTreeMap::new();
    for (i, (checkout, target)) in
        [(&one, one.join("target")), (&two, scratch.path().join("cargo-target-two"))].into_iter().enumerate()
    {
        let compiler =
            Compiler { root: checkout.clone(), target_dir: target.clone(), path_env: b.tools.path_env(), quiet: true };
        let out = target.join("dist");
        eprintln!("    clean build {} of 2 in {}", i + 1, checkout.display());
        let start = Instant::now();
        let artifacts = build_dist(&compiler, &out, Budgets::Warn, &Ui::plain("bench"))
            .with_context(|| format!("clean build {} failed", i + 1))?;
        walls.push(start.elapsed().as_secs_f64());
        for f in &artifacts.functions {
            sizes.insert(f.function.clone(), f.size);
        }
        sums.push(parse_sums(&std::fs::read_to_string(out.join("SHA256SUMS"))?));
        // The first build's target dir is not needed any more: free the disk before the second.
        let _ = std::fs::remove_dir_all(target.join("aarch64-unknown-linux-gnu"));
        let _ = std::fs::remove_dir_all(target.join("release"));
    }
    if b.repro_project == ReproProject::Workspace {
        *b.zip_sizes.borrow_mut() = Some(sizes.clone());
    }
    let (a, bb) = (&sums[0], &sums[1]);
    let names: std::collections::BTreeSet<&String> = a.keys().chain(bb.keys()).collect();
    let differing: Vec<&String> = names.iter().copied().filter(|n| a.get(*n) != bb.get(*n)).collect();
    let zips = names.iter().filter(|n| n.ends_with(".zip")).count();
    let mut table = Table::new(format!("Two clean builds of {what}"), &["", "value"]);
    table.row(["artifacts listed in SHA256SUMS (zips, site files, manifest)".to_string(), names.len().to_string()]);
    table.row(["of which Lambda zips".to_string(), zips.to_string()]);
    table.row(["artifacts whose sha256 differs between the two builds".to_string(), differing.len().to_string()]);
    table.row(["clean build 1 (checkout-one, target inside)".to_string(), fmt_secs(walls[0])]);
    table.row(["clean build 2 (another path, target outside)".to_string(), fmt_secs(walls[1])]);
    table.row(["build 2 / build 1".to_string(), ratio(walls[1], walls[0])]);
    let mut size_table = Table::new("arm64 zip sizes (from the same build)", &["function", "zip size"]);
    for (f, size) in &sizes {
        size_table.row([f.clone(), bytes(*size)]);
    }
    let mut notes = Vec::new();
    if !differing.is_empty() {
        notes.push(format!(
            "differing: {}",
            differing.iter().take(20).map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    let _ = commit;
    Ok(Section {
        method: format!(
            "Two checkouts of {what} at different absolute paths (`checkout-one/` with its target dir inside, \
             `somewhere/else/checkout-two/` with its target dir elsewhere), each built from an empty target dir \
             through the code path of `cargo xtask dist` (cargo-lambda, arm64, release, remapped paths, fixed \
             SOURCE_DATE_EPOCH, deterministic zips). One build each (a clean arm64 build is minutes on this \
             machine); the result is a count, not a timing."
        ),
        tables: vec![table, size_table],
        notes,
        charts: Vec::new(),
    })
}

/// `git archive HEAD | tar -x -C dest`; returns the short commit.
fn git_archive(root: &Path, dest: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dest)?;
    let tar = dest.join(".checkout.tar");
    let status = Command::new("git")
        .current_dir(root)
        .args(["archive", "--format=tar", "-o"])
        .arg(&tar)
        .arg("HEAD")
        .status()
        .context("cannot run git archive")?;
    anyhow::ensure!(status.success(), "git archive HEAD failed in {}", root.display());
    let status = Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(dest).status().context("cannot run tar")?;
    anyhow::ensure!(status.success(), "cannot unpack the checkout into {}", dest.display());
    std::fs::remove_file(&tar)?;
    Ok(proc::version("git", &["-C", &root.display().to_string(), "rev-parse", "--short", "HEAD"]))
}

/// `SHA256SUMS` -> path -> hash.
fn parse_sums(text: &str) -> BTreeMap<String, String> {
    text.lines().filter_map(|l| l.split_once("  ")).map(|(h, p)| (p.to_string(), h.to_string())).collect()
}
