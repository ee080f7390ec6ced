//! Repository-wide checks ("tidy"), as ordinary tests: formatting, whitespace, module docs, and
//! that the README's commands are real xtask commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace root").to_path_buf()
}

/// Files git tracks or would track (untracked but not ignored), relative to the root.
fn files() -> Vec<PathBuf> {
    let out = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard", "-z"])
        .current_dir(project_root())
        .output()
        .expect("git is installed");
    assert!(out.status.success(), "git ls-files failed");
    out.stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .filter(|p| project_root().join(p).is_file())
        .collect()
}

fn text_files() -> Vec<(PathBuf, String)> {
    files()
        .into_iter()
        .filter(|p| !p.ends_with("package-lock.json"))
        .filter_map(|p| {
            let bytes = std::fs::read(project_root().join(&p)).ok()?;
            let text = String::from_utf8(bytes).ok()?;
            (!text.contains('\0')).then_some((p, text))
        })
        .collect()
}

#[test]
fn code_is_formatted() {
    let status = Command::new("cargo")
        .args(["fmt", "--all", "--", "--check"])
        .current_dir(project_root())
        .status()
        .expect("cargo fmt runs");
    assert!(status.success(), "run `cargo fmt --all`");
}

#[test]
fn no_trailing_whitespace() {
    let mut offenders = Vec::new();
    for (path, text) in text_files() {
        for (n, line) in text.lines().enumerate() {
            if line.ends_with(' ') || line.ends_with('\t') {
                offenders.push(format!("{}:{}", path.display(), n + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "trailing whitespace at:\n{}", offenders.join("\n"));
}

#[test]
fn every_rust_module_starts_with_a_doc_comment() {
    let missing: Vec<_> = text_files()
        .into_iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "rs"))
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "these files do not start with a `//!` module doc line:\n{}", missing.join("\n"));
}

/// The lines of the README's "Quick start" section that run a command.
fn quick_start_commands(readme: &str) -> Vec<String> {
    let section = readme.split("\n## ").find(|s| s.starts_with("Quick start")).expect("README has a `## Quick start`");
    let mut in_code = false;
    let mut commands = Vec::new();
    for line in section.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if in_code && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            commands.push(line.trim().to_string());
        }
    }
    commands
}

#[test]
fn readme_quick_start_is_two_real_xtask_commands() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).expect("README.md exists");
    let commands = quick_start_commands(&readme);
    assert_eq!(commands, ["cargo xtask dev", "cargo xtask test"], "the quick start is exactly these two commands");
    let cli = xtask::Cli::command();
    for command in &commands {
        let name = command.split_whitespace().nth(2).expect("cargo xtask <command>");
        assert!(cli.find_subcommand(name).is_some(), "`{command}` is in README but not an xtask command");
    }
}

#[test]
fn readme_mentions_every_xtask_command() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).expect("README.md exists");
    let missing: Vec<_> = xtask::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|name| !readme.contains(&format!("cargo xtask {name}")))
        .collect();
    assert!(missing.is_empty(), "README.md does not mention: {}", missing.join(", "));
}
