//! The GitHub workflows (`.github/workflows/ci.yml`, `release.yml`) keep the properties that
//! actionlint and zizmor do not check: every action pinned by commit SHA, least permissions, OIDC
//! only where AWS is used and only in a GitHub environment, build once and promote the same bytes
//! (prod after dev, `--from-dist`), one concurrency group per environment, no `${{ }}` in scripts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use serde_norway::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

fn text(name: &str) -> String {
    let path = root().join(".github/workflows").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(name: &str) -> Value {
    serde_norway::from_str(&text(name)).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

const WORKFLOWS: [&str; 2] = ["ci.yml", "release.yml"];

const CONFIGURE_AWS: &str = "aws-actions/configure-aws-credentials";
const ATTEST: &str = "actions/attest-build-provenance";

fn jobs(workflow: &Value) -> Vec<(String, &Value)> {
    let jobs = workflow["jobs"].as_mapping().expect("a workflow has jobs");
    jobs.iter().map(|(name, job)| (name.as_str().expect("job ids are strings").to_string(), job)).collect()
}

fn job<'a>(workflow: &'a Value, name: &str) -> &'a Value {
    let found = &workflow["jobs"][name];
    assert!(found.is_mapping(), "job {name} exists");
    found
}

fn steps(job: &Value) -> Vec<&Value> {
    job["steps"].as_sequence().map(|s| s.iter().collect()).unwrap_or_default()
}

/// `owner/repo` of each `uses:` of a job, without the ref.
fn actions(job: &Value) -> Vec<String> {
    steps(job)
        .iter()
        .filter_map(|s| s["uses"].as_str())
        .map(|u| u.split('@').next().expect("split yields one item").to_string())
        .collect()
}

fn uses(job: &Value, action: &str) -> bool {
    actions(job).iter().any(|a| a == action)
}

/// Every `run:` script of a job, joined.
fn scripts(job: &Value) -> String {
    steps(job).iter().filter_map(|s| s["run"].as_str()).collect::<Vec<_>>().join("\n")
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value[key].as_str()
}

fn environment(job: &Value) -> Option<&str> {
    str_at(job, "environment").or_else(|| job["environment"]["name"].as_str())
}

fn permission<'a>(job: &'a Value, scope: &str) -> Option<&'a str> {
    job["permissions"][scope].as_str()
}

fn needs(job: &Value) -> Vec<String> {
    match &job["needs"] {
        Value::String(one) => vec![one.clone()],
        Value::Sequence(many) => many.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// The events a workflow runs on (`on:` as a mapping, a list or one name).
fn triggers(workflow: &Value) -> BTreeSet<String> {
    match &workflow["on"] {
        Value::String(one) => BTreeSet::from([one.clone()]),
        Value::Sequence(many) => many.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Value::Mapping(map) => map.keys().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => BTreeSet::new(),
    }
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[test]
fn every_action_is_pinned_by_commit_sha_with_its_version_in_a_comment() {
    let mut problems = Vec::new();
    for name in WORKFLOWS {
        for (n, line) in text(name).lines().enumerate() {
            let Some((_, rest)) = line.split_once("uses:") else { continue };
            if line.trim_start().starts_with('#') {
                continue;
            }
            let (reference, comment) = rest.split_once('#').unwrap_or((rest, ""));
            let reference = reference.trim().trim_matches(['"', '\'']);
            let pinned = reference.split_once('@').is_some_and(|(action, sha)| action.contains('/') && is_sha(sha));
            let version = comment.trim();
            let versioned = version.strip_prefix('v').is_some_and(|v| {
                let parts: Vec<&str> = v.split('.').collect();
                parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            });
            if !pinned || !versioned {
                problems.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
        // And through the parser: no `uses:` that the line scan could have missed.
        for (job_name, job) in jobs(&load(name)) {
            assert!(job["uses"].is_null(), "{name}: job {job_name} calls a reusable workflow; pin and check it");
            for step in steps(job) {
                if let Some(reference) = step["uses"].as_str() {
                    let sha = reference.rsplit_once('@').map(|(_, s)| s).unwrap_or("");
                    if !is_sha(sha) {
                        problems.push(format!("{name}: job {job_name}: {reference}"));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "pin each action to the full commit SHA of a release, `uses: owner/repo@<40 hex> # vX.Y.Z`:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_same_action_is_pinned_to_the_same_commit_everywhere() {
    let mut seen = std::collections::BTreeMap::new();
    for name in WORKFLOWS {
        for (_, job) in jobs(&load(name)) {
            for step in steps(job) {
                if let Some((action, sha)) = step["uses"].as_str().and_then(|u| u.split_once('@')) {
                    let first = seen.entry(action.to_string()).or_insert_with(|| sha.to_string());
                    assert_eq!(first, sha, "{action} is pinned to two different commits");
                }
            }
        }
    }
}

#[test]
fn workflow_permissions_are_contents_read_and_every_job_declares_its_own() {
    for name in WORKFLOWS {
        let workflow = load(name);
        let top = &workflow["permissions"];
        let only_contents_read =
            top.as_mapping().is_some_and(|m| m.len() == 1 && m.get("contents").and_then(Value::as_str) == Some("read"));
        let empty = top.as_mapping().is_some_and(|m| m.is_empty());
        assert!(only_contents_read || empty, "{name}: workflow-level permissions must be `contents: read` (or {{}})");
        for (job_name, job) in jobs(&workflow) {
            let permissions = job["permissions"].as_mapping();
            assert!(permissions.is_some(), "{name}: job {job_name} declares no permissions of its own");
            for (scope, level) in permissions.into_iter().flatten() {
                let (scope, level) = (scope.as_str().unwrap_or("?"), level.as_str().unwrap_or("?"));
                assert!(
                    matches!(
                        (scope, level),
                        ("contents", "read")
                            | ("id-token", "write")
                            | ("attestations", "write")
                            | ("pull-requests", "write")
                    ),
                    "{name}: job {job_name} asks for `{scope}: {level}`, which no job here needs"
                );
            }
        }
    }
}

#[test]
fn id_token_only_where_an_oidc_consumer_runs_and_aws_only_from_a_github_environment() {
    for name in WORKFLOWS {
        let workflow = load(name);
        assert!(workflow["permissions"]["id-token"].is_null(), "{name}: id-token at workflow level");
        for (job_name, job) in jobs(&workflow) {
            let aws = uses(job, CONFIGURE_AWS);
            let attest = uses(job, ATTEST);
            let id_token = permission(job, "id-token") == Some("write");
            assert_eq!(
                id_token,
                aws || attest,
                "{name}: job {job_name}: `id-token: write` exactly on the jobs that run {CONFIGURE_AWS} or {ATTEST}"
            );
            assert!(!(aws && attest), "{name}: job {job_name} both attests and holds AWS credentials");
            if aws {
                // The deploy roles trust `repo:<owner>/<repo>:environment:<env>` only.
                let env = environment(job)
                    .unwrap_or_else(|| panic!("{name}: job {job_name} uses AWS outside an environment"));
                let role_var = format!("${{{{ vars.{}_DEPLOY_ROLE_ARN }}}}", env.to_uppercase());
                for step in
                    steps(job).into_iter().filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(CONFIGURE_AWS)))
                {
                    assert_eq!(
                        str_at(&step["with"], "role-to-assume"),
                        Some(role_var.as_str()),
                        "{name}: job {job_name} in environment {env} must assume {role_var}"
                    );
                    for stored_key in ["aws-access-key-id", "aws-secret-access-key", "aws-session-token"] {
                        assert!(step["with"][stored_key].is_null(), "{name}: job {job_name} passes {stored_key}");
                    }
                }
            }
        }
    }
}

#[test]
fn only_the_plan_comment_job_writes_to_pull_requests_and_only_dist_writes_attestations() {
    let ci = load("ci.yml");
    let release = load("release.yml");
    for (name, workflow) in [("ci.yml", &ci), ("release.yml", &release)] {
        for (job_name, job) in jobs(workflow) {
            let pr_write = permission(job, "pull-requests") == Some("write");
            assert_eq!(
                pr_write,
                name == "ci.yml" && job_name == "plan-comment",
                "{name}: job {job_name} pull-requests"
            );
            let attest_write = permission(job, "attestations") == Some("write");
            assert_eq!(
                attest_write,
                name == "release.yml" && job_name == "dist",
                "{name}: job {job_name} attestations"
            );
        }
    }
    // The job that can write to the PR has no cloud credentials and checks out no code.
    let comment = job(&ci, "plan-comment");
    assert!(!uses(comment, CONFIGURE_AWS) && !uses(comment, "actions/checkout"));
    assert!(permission(comment, "id-token").is_none());
}

#[test]
fn no_expression_is_interpolated_into_a_script() {
    // zizmor's template-injection audit flags the dangerous contexts; this forbids them all, so
    // that data (a plan, a PR title, a step output) only ever reaches a script through `env:`.
    for name in WORKFLOWS {
        for (job_name, job) in jobs(&load(name)) {
            for step in steps(job) {
                if let Some(script) = step["run"].as_str() {
                    assert!(!script.contains("${{"), "{name}: job {job_name}: `${{{{ }}}}` inside run:\n{script}");
                }
            }
        }
    }
}

#[test]
fn every_checkout_drops_its_credentials() {
    for name in WORKFLOWS {
        for (job_name, job) in jobs(&load(name)) {
            for step in steps(job) {
                if step["uses"].as_str().is_some_and(|u| u.starts_with("actions/checkout@")) {
                    assert_eq!(
                        step["with"]["persist-credentials"].as_bool(),
                        Some(false),
                        "{name}: job {job_name}: checkout without `persist-credentials: false`"
                    );
                }
            }
        }
    }
}

#[test]
fn ci_runs_the_test_command_with_its_services_and_plans_only_for_this_repository() {
    let ci = load("ci.yml");
    assert!(triggers(&ci).contains("pull_request"), "ci runs on pull requests");
    for dangerous in ["pull_request_target", "workflow_run"] {
        assert!(!triggers(&ci).contains(dangerous), "ci must not run on {dangerous} (fork code with write tokens)");
    }
    let test = job(&ci, "test");
    assert_eq!(str_at(test, "runs-on"), Some("ubuntu-24.04"));
    assert!(scripts(test).lines().any(|l| l.trim() == "cargo xtask test"), "the test job runs `cargo xtask test`");
    assert_eq!(str_at(&test["env"], "DATABASE_URL"), Some("postgres://postgres@127.0.0.1:5432/test"));
    assert_eq!(str_at(&test["env"], "REDIS_URL"), Some("redis://127.0.0.1:6379"));
    let postgres = &test["services"]["postgres"];
    assert_eq!(str_at(&postgres["env"], "POSTGRES_HOST_AUTH_METHOD"), Some("trust"));
    assert_eq!(str_at(&postgres["env"], "POSTGRES_DB"), Some("test"));
    let major: u32 = str_at(postgres, "image")
        .and_then(|i| i.strip_prefix("postgres:"))
        .and_then(|t| t.split(['.', '-']).next())
        .and_then(|m| m.parse().ok())
        .expect("postgres:<major>");
    assert!(major >= 15, "PostgreSQL 15+");
    assert!(str_at(&test["services"]["redis"], "image").is_some_and(|i| i.starts_with("redis:")));

    let plan = job(&ci, "plan");
    let condition = str_at(plan, "if").expect("the plan job is conditional");
    assert!(
        condition.contains("github.event.pull_request.head.repo.full_name == github.repository"),
        "the plan runs only for PRs from this repository (forks get no OIDC token): {condition}"
    );
    assert_eq!(environment(plan), Some("dev"));
    assert!(scripts(plan).lines().any(|l| l.trim() == "cargo xtask plan --env dev --out plan.md"));
    assert_eq!(needs(job(&ci, "plan-comment")), ["plan"]);
}

#[test]
fn release_builds_once_and_promotes_the_same_bytes_dev_then_prod() {
    let release = load("release.yml");
    let tags = &release["on"]["push"]["tags"];
    assert!(tags.as_sequence().is_some_and(|t| t.iter().any(|t| t.as_str() == Some("v*"))), "release runs on tags v*");
    assert_eq!(triggers(&release), BTreeSet::from(["push".to_string()]), "release runs on tag pushes only");
    assert!(release["on"]["push"]["branches"].is_null(), "release runs on tags, not on branch pushes");

    let dist = job(&release, "dist");
    assert_eq!(scripts(dist).matches("cargo xtask dist").count(), 1, "the dist job runs `cargo xtask dist` once");
    assert!(uses(dist, ATTEST), "the dist job attests what it built");
    let upload = steps(dist)
        .into_iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .expect("the dist job uploads the dist");
    assert_eq!(str_at(&upload["with"], "name"), Some("dist"));
    assert_eq!(str_at(&upload["with"], "path").map(|p| p.trim_end_matches('/')), Some("target/dist"));
    // No cache in the release: its bytes come from a clean build only (zizmor: cache-poisoning).
    for (job_name, job) in jobs(&release) {
        assert!(!uses(job, "actions/cache"), "release.yml: job {job_name} restores a cache");
    }

    let mut deploy_jobs = BTreeSet::new();
    for (job_name, job) in jobs(&release) {
        if job_name == "dist" {
            continue;
        }
        let env = environment(job).unwrap_or_else(|| panic!("release job {job_name} has no environment"));
        deploy_jobs.insert(env.to_string());
        let script = scripts(job);
        for forbidden in ["cargo xtask dist", "cargo xtask build", "cargo build", "cargo lambda"] {
            assert!(!script.contains(forbidden), "{job_name} runs `{forbidden}`: build once, in the dist job");
        }
        assert!(needs(job).contains(&"dist".to_string()), "{job_name} needs dist");
        let download = steps(job)
            .into_iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/download-artifact@")))
            .unwrap_or_else(|| panic!("{job_name} downloads the dist artifact"));
        assert_eq!(str_at(&download["with"], "name"), Some("dist"), "{job_name} downloads the dist job's artifact");
        let dir = str_at(&download["with"], "path").expect("download path");
        assert!(script.contains(&format!("cd {dir} && sha256sum")), "{job_name} verifies SHA256SUMS in {dir}");
        let deploy = format!("cargo xtask deploy --env {env} --from-dist {dir}");
        assert!(script.contains(&deploy), "{job_name} runs `{deploy}`");
        assert!(script.contains(&format!("cargo xtask smoke --env {env}")), "{job_name} smoke-tests {env}");
        let concurrency = &job["concurrency"];
        assert_eq!(str_at(concurrency, "group"), Some(format!("release-{env}").as_str()), "{job_name}'s group");
        assert_eq!(concurrency["cancel-in-progress"].as_bool(), Some(false), "a deploy is never cancelled midway");
    }
    assert_eq!(deploy_jobs, BTreeSet::from(["dev".to_string(), "prod".to_string()]));
    assert!(needs(job(&release, "deploy-prod")).contains(&"deploy-dev".to_string()), "prod needs dev");
}

/// `cargo xtask <command>` lines of the workflows name real commands. `plan` is being written
/// alongside these workflows; remove it from the list when it lands.
const NOT_YET_COMMANDS: &[&str] = &[];

#[test]
fn the_workflows_call_real_xtask_commands() {
    let cli = xtask::Cli::command();
    let mut called = BTreeSet::new();
    for name in WORKFLOWS {
        for (_, job) in jobs(&load(name)) {
            let script = scripts(job);
            let mut words = script.split_whitespace().peekable();
            while let Some(word) = words.next() {
                if word == "cargo" && words.peek() == Some(&"xtask") {
                    words.next();
                    called.insert(words.next().expect("a command after `cargo xtask`").to_string());
                }
            }
        }
    }
    for command in &called {
        let exists = cli.find_subcommand(command).is_some();
        if NOT_YET_COMMANDS.contains(&command.as_str()) {
            assert!(!exists, "`cargo xtask {command}` exists now: remove it from NOT_YET_COMMANDS");
        } else {
            assert!(exists, "the workflows call `cargo xtask {command}`, which is not an xtask command");
        }
    }
    assert!(called.contains("test") && called.contains("deploy") && called.contains("dist"));
}

#[test]
fn the_repository_variables_are_the_two_role_arns_and_the_readme_names_them() {
    let mut used = BTreeSet::new();
    for name in WORKFLOWS {
        let text = text(name);
        for (at, _) in text.match_indices("vars.") {
            let rest = &text[at + "vars.".len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            used.insert(rest[..end].to_string());
        }
        assert!(!text.contains("secrets."), "{name} reads a secret: the workflows need none (OIDC)");
    }
    let expected = BTreeSet::from(["DEV_DEPLOY_ROLE_ARN".to_string(), "PROD_DEPLOY_ROLE_ARN".to_string()]);
    assert_eq!(used, expected);
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section =
        readme.split("\n## ").find(|s| s.starts_with("Release from CI")).expect("README has `## Release from CI`");
    for var in &expected {
        assert!(section.contains(var.as_str()), "README's Release from CI does not name {var}");
    }
    let config = std::fs::read_to_string(root().join(".github/actionlint.yaml")).expect(".github/actionlint.yaml");
    let config: Value = serde_norway::from_str(&config).expect("YAML");
    let declared: BTreeSet<String> = config["config-variables"]
        .as_sequence()
        .expect("config-variables")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert_eq!(declared, expected, "actionlint's config-variables are the variables the README tells users to set");
}

#[test]
fn env_target_script_reads_region_and_account_from_deploy_toml() {
    let dir = tempfile::tempdir().expect("temp dir");
    let toml = dir.path().join("deploy.toml");
    std::fs::write(
        &toml,
        "[stack]\nname = \"notes-app-dev\"\nregion = \"us-east-1\"\n\n\
         [env.dev]\naccount = \"111122223333\"\n\n[env.prod]\nregion = \"eu-west-1\"\naccount = \"444455556666\"\n",
    )
    .expect("write");
    let run = |env: &str| {
        let out = Command::new("python3")
            .arg(root().join(".github/scripts/env-target.py"))
            .args([env, toml.to_str().expect("utf-8 path")])
            .output()
            .expect("python3 runs");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    assert_eq!(run("dev"), (true, "region=us-east-1\naccount=111122223333\n".to_string()));
    assert_eq!(run("prod"), (true, "region=eu-west-1\naccount=444455556666\n".to_string()));
    assert_eq!(run("qa"), (false, String::new()), "an environment without a table is refused");
}

#[test]
fn the_toolchain_channel_is_where_the_workflows_read_it() {
    // Each job installs the toolchain with `sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml`.
    let toolchain = std::fs::read_to_string(root().join("rust-toolchain.toml")).expect("rust-toolchain.toml");
    let channels: Vec<&str> = toolchain
        .lines()
        .filter_map(|l| l.strip_prefix("channel = \"").and_then(|rest| rest.strip_suffix('"')))
        .collect();
    assert_eq!(channels.len(), 1, "rust-toolchain.toml has exactly one `channel = \"...\"` line");
    for name in WORKFLOWS {
        for (job_name, job) in jobs(&load(name)) {
            if scripts(job).contains("cargo ") {
                assert!(
                    scripts(job).contains(r#"sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml"#),
                    "{name}: job {job_name} runs cargo without installing the pinned toolchain"
                );
            }
        }
    }
}
