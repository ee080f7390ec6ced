//! The `cargo xtask` command surface, driven through the real binary: help, settings precedence,
//! and the refusal to touch AWS while placeholders are in effect.

use std::path::Path;
use std::process::{Command, Output};

use expect_test::{Expect, expect};

/// A throwaway project directory: a workspace manifest, an `xtask/` dir and the given files.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
    std::fs::create_dir(dir.path().join("xtask")).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Runs the binary in `dir` with a clean AWS/settings environment plus `env`.
fn xtask(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.current_dir(dir).args(args);
    for var in [
        "STACK_NAME",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "APP_ENVIRONMENT",
        "APP_ENV",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
    ] {
        cmd.env_remove(var);
    }
    // Never reach a real account from tests: a closed local port answers nothing.
    cmd.env("AWS_CONFIG_FILE", "/nonexistent").env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.envs(env.iter().copied());
    cmd.output().expect("xtask runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_lists_every_command() {
    let out = xtask(&std::env::temp_dir(), &["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for command in [
        "build", "dist", "deploy", "destroy", "sync", "lint", "dev", "test", "bench", "migrate", "outputs", "plan",
        "rollback",
    ] {
        assert!(help.contains(&format!("\n  {command} ")), "`{command}` missing from --help:\n{help}");
    }
}

#[test]
fn no_arguments_prints_help_and_fails() {
    let out = xtask(&std::env::temp_dir(), &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Usage: cargo xtask [OPTIONS] <COMMAND>"), "{}", stderr(&out));
}

/// Renders the `source` of the stack name and region as `cargo xtask config --json` reports them.
fn check_sources(args: &[&str], env: &[(&str, &str)], expect: &Expect) {
    let dir = project(&[
        ("deploy.toml", "[stack]\nname = \"from-file\"\nregion = \"eu-west-1\"\n"),
        (".env", "STACK_NAME=from-dotenv\n"),
    ]);
    let mut all = vec!["config", "--json"];
    all.extend_from_slice(args);
    let out = xtask(dir.path(), &all, env);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let show = |key: &str| format!("{} <- {}", json[key]["value"], json[key]["source"]);
    expect.assert_eq(&format!("{}\n{}", show("stack name"), show("region")));
}

#[test]
fn settings_precedence_flag_env_dotenv_file() {
    check_sources(
        &["--stack-name", "from-flag"],
        &[("STACK_NAME", "from-env")],
        &expect![[r#"
            "from-flag" <- "flag --stack-name"
            "eu-west-1" <- "deploy.toml: stack.region""#]],
    );
    check_sources(
        &[],
        &[("STACK_NAME", "from-env"), ("AWS_REGION", "us-west-2")],
        &expect![[r#"
            "from-env" <- "environment variable STACK_NAME"
            "us-west-2" <- "environment variable AWS_REGION""#]],
    );
    check_sources(
        &[],
        &[],
        &expect![[r#"
            "from-dotenv" <- ".env: STACK_NAME"
            "eu-west-1" <- "deploy.toml: stack.region""#]],
    );
}

#[test]
fn aws_commands_refuse_placeholders_before_any_call() {
    let dir = project(&[
        ("deploy.toml", "[stack]\nname = \"s\"\nregion = \"us-east-1\"\n"),
        (".env", "AWS_ACCESS_KEY_ID=YOUR_ACCESS_KEY_ID_HERE\nAWS_SECRET_ACCESS_KEY=YOUR_SECRET_ACCESS_KEY_HERE\n"),
    ]);
    for command in ["outputs", "deploy", "plan", "rollback", "destroy", "sync"] {
        let out = xtask(dir.path(), &[command], &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        expect![[r#"
            error: .env: AWS_ACCESS_KEY_ID is still the placeholder YOUR_ACCESS_KEY_ID_HERE
            hint: replace it with your real value (or remove it) in .env
        "#]]
        .assert_eq(&stderr(&out));
    }
    // The real environment wins over .env: with keys there, .env's placeholders are not in effect.
    let out = xtask(dir.path(), &["config"], &[("AWS_ACCESS_KEY_ID", "AKIAREAL"), ("AWS_SECRET_ACCESS_KEY", "s")]);
    assert!(out.status.success());
}

#[test]
fn broken_settings_files_are_named() {
    let dir = project(&[("deploy.toml", "[stack]\nnmae = \"typo\"\n")]);
    let out = xtask(dir.path(), &["config"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error: deploy.toml is not valid: unknown field `nmae`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("hint: "), "{}", stderr(&out));
}

const TWO_ENVIRONMENTS: &str = r#"[stack]
name = "notes-app-dev"
region = "us-east-1"

[env.dev]
stack_name = "notes-app-dev"
account = "111122223333"

[env.prod]
stack_name = "notes-app-prod"
region = "eu-west-1"
account = "444455556666"
"#;

const SMALL_TEMPLATE: &str = "AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  EnvironmentName: {Type: String}
  WwwDomainName: {Type: String}
  ApiReservedConcurrency: {Type: Number}
Resources:
  Bucket: {Type: 'AWS::S3::Bucket'}
";

fn params(pairs: &[(&str, &str)]) -> String {
    let entries: Vec<_> =
        pairs.iter().map(|(k, v)| serde_json::json!({"ParameterKey": k, "ParameterValue": v})).collect();
    serde_json::to_string(&entries).unwrap()
}

/// `config --env prod`: the prod table over [stack], the prod overlay over parameters.json, and
/// where each value came from.
#[test]
fn config_shows_an_environment_merged_with_its_sources() {
    let base = params(&[
        ("EnvironmentName", "dev"),
        ("WwwDomainName", "www.dev.notes.test"),
        ("ApiReservedConcurrency", "10"),
    ]);
    let prod = params(&[("EnvironmentName", "prod"), ("WwwDomainName", "www.notes.test")]);
    let dir = project(&[
        ("deploy.toml", TWO_ENVIRONMENTS),
        ("cloud/stack.yaml", SMALL_TEMPLATE),
        ("cloud/parameters.json", &base),
        ("cloud/parameters.prod.json", &prod),
    ]);
    let out = xtask(dir.path(), &["config", "--env", "prod"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    expect![[r#"
        env                prod                                     (flag --env)
        stack name         notes-app-prod                           (deploy.toml: env.prod.stack_name)
        region             eu-west-1                                (deploy.toml: env.prod.region)
        environment        prod                                     (flag --env)
        profile            -
        access key id      -
        secret access key  -
        session token      -
        endpoint url       -
        account            444455556666                             (deploy.toml: env.prod.account)
        parameters overlay -
        artifact bucket    -
        credentials        the AWS SDK's default chain (default profile, SSO, role)
        template           cloud/stack.yaml
        parameters         cloud/parameters.json + cloud/parameters.prod.json
          ApiReservedConcurrency       10                                       (cloud/parameters.json)
          EnvironmentName              prod                                     (cloud/parameters.prod.json)
          WwwDomainName                www.notes.test                           (cloud/parameters.prod.json)
    "#]]
    .assert_eq(&String::from_utf8_lossy(&out.stdout));
    // dev has no overlay: the base file alone; an unknown environment is refused with the known ones.
    let out = xtask(dir.path(), &["config", "--json"], &[("APP_ENV", "dev")]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["parameters"]["EnvironmentName"]["source"], "cloud/parameters.json");
    assert_eq!(json["environment"]["value"], "dev");
    let out = xtask(dir.path(), &["config", "--env", "qa"], &[]);
    assert_eq!(out.status.code(), Some(1));
    expect![[r#"
        error: deploy.toml has no [env.qa] table (flag --env)
        hint: the environments in deploy.toml are: dev, prod
    "#]]
    .assert_eq(&stderr(&out));
}
