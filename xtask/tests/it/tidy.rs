//! Repository-wide checks ("tidy"), as ordinary tests: formatting, whitespace, module docs, the
//! README's commands, and the layout's invariants (ARCHITECTURE.md states them as absences: no
//! command imports another, no SDK client outside `aws/`, no app crate in the xtask, no dev tooling
//! in a Lambda, no second TLS stack, no file over 600 lines, no codemap path that does not exist).

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

// ---- the layout: ARCHITECTURE.md's invariants, each stated as an absence --------------------------

/// `(path, text)` of every Rust file under `dir` (relative to the root).
fn rust_files_under(dir: &str) -> Vec<(PathBuf, String)> {
    text_files().into_iter().filter(|(p, _)| p.starts_with(dir) && p.extension().is_some_and(|e| e == "rs")).collect()
}

#[test]
fn no_command_imports_another_command() {
    let mut offenders = Vec::new();
    for (path, text) in rust_files_under("xtask/src/commands") {
        // The command this file belongs to: `commands/<name>.rs` or `commands/<name>/...`.
        let own = path.strip_prefix("xtask/src/commands").unwrap().components().next().unwrap();
        let own = own.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            let mentions = line.match_indices("commands::").map(|(at, _)| &line[at + "commands::".len()..]);
            for rest in mentions {
                let other: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if other != own {
                    offenders.push(format!("{}:{}: {line}", path.display(), n + 1));
                }
            }
            if line.starts_with("use super::super") {
                offenders.push(format!("{}:{}: {line}", path.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "a command uses another command (move the shared part into a subsystem):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn no_rust_file_is_over_600_lines() {
    let long: Vec<String> = text_files()
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "rs"))
        .filter(|(_, text)| text.lines().count() > 600)
        .map(|(p, text)| format!("{} ({} lines)", p.display(), text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these into modules:\n{}", long.join("\n"));
}

#[test]
fn no_openssl_and_no_aws_lc_in_cargo_lock() {
    let lock = std::fs::read_to_string(project_root().join("Cargo.lock")).expect("Cargo.lock exists");
    let names: Vec<&str> = lock.lines().filter_map(|l| l.strip_prefix("name = \"")?.strip_suffix('"')).collect();
    let banned: Vec<&&str> = names
        .iter()
        .filter(|n| ["openssl", "openssl-sys", "native-tls"].contains(n) || n.starts_with("aws-lc"))
        .collect();
    assert!(banned.is_empty(), "one TLS stack (rustls with ring), but Cargo.lock has: {banned:?}");
}

#[test]
fn no_sdk_config_or_client_is_built_outside_the_aws_module() {
    let builders = ["aws_config::defaults", "SdkConfig::builder", "::Client::new(", "::Client::from_conf("];
    let offenders: Vec<String> = rust_files_under("xtask/src")
        .into_iter()
        .filter(|(p, _)| !p.starts_with("xtask/src/aws"))
        .flat_map(|(p, text)| {
            let found: Vec<String> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| builders.iter().any(|b| l.contains(b)))
                .map(|(n, l)| format!("{}:{}: {}", p.display(), n + 1, l.trim()))
                .collect();
            found
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "AWS is reached only through xtask/src/aws (counted clients):\n{}",
        offenders.join("\n")
    );
}

/// The resolved dependency graph: package name -> (dependency name, kinds) from `cargo metadata`.
fn dependency_graph() -> std::collections::BTreeMap<String, Vec<(String, Vec<String>)>> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(project_root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of = |id: &str| {
        meta["packages"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut graph = std::collections::BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let kinds = d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k["kind"].as_str().unwrap_or("normal").to_string());
                (name_of(d["pkg"].as_str().unwrap()), kinds.collect())
            })
            .collect();
        graph.insert(name_of(node["id"].as_str().unwrap()), deps);
    }
    graph
}

/// Every package reachable from `root` over dependencies of the given kinds.
fn closure(
    graph: &std::collections::BTreeMap<String, Vec<(String, Vec<String>)>>,
    root: &str,
    kinds: &[&str],
) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(package) = todo.pop() {
        for (dep, dep_kinds) in graph.get(&package).into_iter().flatten() {
            if dep_kinds.iter().any(|k| kinds.contains(&k.as_str())) && seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen.into_iter().collect()
}

#[test]
fn the_xtask_links_no_app_crate_and_no_lambda_links_dev_tooling() {
    let graph = dependency_graph();
    let xtask = closure(&graph, "xtask", &["normal", "build", "dev"]);
    let app: Vec<&String> =
        xtask.iter().filter(|p| p.starts_with("notes-") || ["axum", "lambda_http"].contains(&p.as_str())).collect();
    assert!(
        app.is_empty(),
        "`cargo tree -p xtask` must not contain {app:?}: the automation would rebuild on every app change"
    );
    let functions = xtask::compile::discover(&project_root()).expect("cargo metadata");
    assert_eq!(functions.len(), 3);
    for f in functions {
        let linked = closure(&graph, &f.package, &["normal"]);
        let dev: Vec<&String> = linked
            .iter()
            .filter(|p| ["notes-dev", "testkit", "notes-memory", "site-bundle"].contains(&p.as_str()))
            .collect();
        assert!(dev.is_empty(), "the {} Lambda ({}) links {dev:?}", f.function, f.package);
    }
}

#[test]
fn every_path_the_codemap_names_exists() {
    let doc = std::fs::read_to_string(project_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md exists");
    let mut missing = Vec::new();
    let mut named = 0;
    for (i, part) in doc.split('`').enumerate() {
        // Odd parts are inside backticks; a path has a slash or a file extension and no spaces.
        let looks_like_path = i % 2 == 1
            && !part.contains(' ')
            && !part.contains("::")
            && (part.contains('/') || part.ends_with(".md") || part.ends_with(".toml") || part.ends_with(".rs"))
            && !part.contains('<')
            && !part.contains('*')
            && !part.starts_with("http")
            && !part.starts_with('/')
            && !part.starts_with("--");
        if !looks_like_path {
            continue;
        }
        let path = part.trim_end_matches(['.', ',', ':', ')']);
        named += 1;
        if !project_root().join(path).exists() && !project_root().join("xtask/src").join(path).exists() {
            missing.push(path.to_string());
        }
    }
    assert!(named > 20, "the codemap names {named} paths: is the check reading it?");
    assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:?}");
}

/// The cold-init bench compares the functions with `xtask/bench/hello-lambda`: a ratio means
/// something only if both are built alike, so the baseline's `[profile.release]` is the workspace's.
#[test]
fn the_bench_baseline_builds_with_the_workspaces_release_profile() {
    let profile = |path: &str| {
        let text = std::fs::read_to_string(project_root().join(path)).unwrap();
        let manifest: toml::Table = toml::from_str(&text).unwrap();
        manifest["profile"]["release"].clone()
    };
    assert_eq!(
        profile("xtask/bench/hello-lambda/Cargo.toml"),
        profile("Cargo.toml"),
        "make [profile.release] of xtask/bench/hello-lambda/Cargo.toml the workspace's"
    );
}

/// The xtask runs in its debug build; `[profile.dev.package.NAME]` compiles its hot dependencies and
/// its own hot path (`xtask-formats`) optimised. Cargo only warns about a NAME that matches no
/// package, so a renamed or replaced crate would silently lose it: every NAME must be in Cargo.lock.
#[test]
fn every_crate_the_debug_profile_optimises_exists() {
    let read = |path: &str| std::fs::read_to_string(project_root().join(path)).unwrap();
    let manifest: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let lock: toml::Table = toml::from_str(&read("Cargo.lock")).unwrap();
    let locked: std::collections::BTreeSet<&str> =
        lock["package"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    let optimised: Vec<&String> = manifest["profile"]["dev"]["package"]
        .as_table()
        .unwrap()
        .iter()
        .filter(|(_, settings)| settings.get("opt-level").is_some())
        .map(|(name, _)| name)
        .collect();
    assert!(optimised.iter().any(|n| *n == "xtask-formats"), "the xtask's hot path is not optimised: {optimised:?}");
    let unknown: Vec<&&String> = optimised.iter().filter(|n| !locked.contains(n.as_str())).collect();
    assert!(unknown.is_empty(), "[profile.dev.package.*] names crates that are not in Cargo.lock: {unknown:?}");
}

/// GitHub's anchor of a heading: lower case, punctuation other than `-` and `_` dropped, spaces
/// turned into `-`.
fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// README's speed and minimality figures link to the BENCHMARKS.md section that measured them: a
/// link whose section was renamed or dropped would point at nothing.
#[test]
fn every_link_into_benchmarks_md_names_one_of_its_sections() {
    let bench = std::fs::read_to_string(project_root().join("BENCHMARKS.md")).expect("BENCHMARKS.md exists");
    let anchors: std::collections::BTreeSet<String> =
        bench.lines().filter_map(|l| l.strip_prefix("## ")).map(heading_anchor).collect();
    let mut links = 0;
    let mut broken = Vec::new();
    for (path, text) in text_files().iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "md")) {
        for part in text.split("BENCHMARKS.md#").skip(1) {
            let anchor: String = part.chars().take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect();
            links += 1;
            if !anchors.contains(&anchor) {
                broken.push(format!("{}: #{anchor}", path.display()));
            }
        }
    }
    assert!(links >= 5, "the docs link {links} BENCHMARKS.md sections: README's figures should each link theirs");
    assert!(broken.is_empty(), "links to BENCHMARKS.md sections that do not exist: {broken:?} (sections: {anchors:?})");
    assert_eq!(heading_anchor("1. Site sync vs `aws s3 sync` (`sync`)"), "1-site-sync-vs-aws-s3-sync-sync");
}
