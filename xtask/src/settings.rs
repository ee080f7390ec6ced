//! Settings: where the stack name, region, environment, profile and credentials come from.
//!
//! Precedence, highest first: command-line flag > process environment > `.env` (git-ignored,
//! optional) > `deploy.toml` (checked in, non-secret) > built-in default. Every resolved value
//! remembers its [`Source`] so that errors can name the file and key to fix.
//!
//! `.env` is read, never exported into the process: credentials found there are handed to the AWS
//! SDK as an explicit provider, so the standard chain (env vars, profiles, SSO) keeps working
//! unchanged when `.env` is absent.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use anyhow::Context;
use regex::Regex;
use serde::Deserialize;

use crate::error::Refusal;
use crate::{Ctx, GlobalArgs};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    DotEnv { file: PathBuf, key: &'static str },
    ConfigFile { file: PathBuf, key: &'static str },
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::DotEnv { file, key } => write!(f, "{}: {key}", file.display()),
            Source::ConfigFile { file, key } => write!(f, "{}: {key}", file.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub source: Source,
}

/// The effective settings of one `cargo xtask` invocation.
#[derive(Debug, Clone)]
pub struct Settings {
    pub stack_name: Option<Setting>,
    pub region: Option<Setting>,
    pub environment: Setting,
    pub profile: Option<Setting>,
    pub access_key_id: Option<Setting>,
    pub secret_access_key: Option<Setting>,
    pub session_token: Option<Setting>,
    pub endpoint_url: Option<Setting>,
}

/// Where one run's AWS credentials come from (see [`Settings::credentials`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// `--profile NAME`: that profile of the shared config (SSO included), whatever else is set.
    Profile(&'a Setting),
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` or `AWS_PROFILE` in the process environment.
    Environment,
    /// Keys in `.env` (never exported), with `.env`'s session token if it has one.
    DotEnvKeys { id: &'a Setting, secret: &'a Setting, token: Option<&'a Setting> },
    /// The SDK's default chain (default profile, SSO, instance or container role).
    DefaultChain,
}

impl fmt::Display for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Profile(p) => write!(f, "profile {} ({})", p.value, p.source),
            Credentials::Environment => f.write_str("the process environment (AWS_ACCESS_KEY_ID or AWS_PROFILE)"),
            Credentials::DotEnvKeys { id, token, .. } => {
                write!(f, "keys from {}{}", id.source, if token.is_some() { " with its session token" } else { "" })
            }
            Credentials::DefaultChain => f.write_str("the AWS SDK's default chain (default profile, SSO, role)"),
        }
    }
}

/// `deploy.toml`: the checked-in, non-secret settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub stack: StackSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSection {
    pub name: Option<String>,
    pub region: Option<String>,
    pub environment: Option<String>,
}

/// Everything resolution reads, passed in explicitly so that precedence is testable.
pub struct Inputs<'a> {
    pub flags: &'a GlobalArgs,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub dotenv: Option<(PathBuf, BTreeMap<String, String>)>,
    pub file: Option<(PathBuf, ConfigFile)>,
}

/// How one setting is found in each layer: the flag (name, getter), the environment variable
/// names (also looked up in `.env`), and the `deploy.toml` key (name, getter).
struct Key {
    flag: Option<(&'static str, FlagGetter)>,
    env: &'static [&'static str],
    file: Option<(&'static str, FileGetter)>,
}

type FlagGetter = fn(&GlobalArgs) -> Option<String>;
type FileGetter = fn(&StackSection) -> Option<String>;

impl Inputs<'_> {
    fn resolve(&self, key: &Key) -> Option<Setting> {
        if let Some((flag, get)) = key.flag
            && let Some(value) = get(self.flags)
        {
            return Some(Setting { value, source: Source::Flag(flag) });
        }
        for &var in key.env {
            if let Some(value) = (self.env)(var).filter(|v| !v.is_empty()) {
                return Some(Setting { value, source: Source::Env(var) });
            }
        }
        if let Some((file, vars)) = &self.dotenv {
            for &var in key.env {
                if let Some(value) = vars.get(var).filter(|v| !v.is_empty()) {
                    let source = Source::DotEnv { file: file.clone(), key: var };
                    return Some(Setting { value: value.clone(), source });
                }
            }
        }
        if let (Some((name, get)), Some((file, config))) = (key.file, &self.file)
            && let Some(value) = get(&config.stack)
        {
            let source = Source::ConfigFile { file: file.clone(), key: name };
            return Some(Setting { value, source });
        }
        None
    }

    pub fn settings(&self) -> Settings {
        let stack_name = Key {
            flag: Some(("--stack-name", |g| g.stack_name.clone())),
            env: &["STACK_NAME"],
            file: Some(("stack.name", |s| s.name.clone())),
        };
        let region = Key {
            flag: Some(("--region", |g| g.region.clone())),
            env: &["AWS_REGION", "AWS_DEFAULT_REGION"],
            file: Some(("stack.region", |s| s.region.clone())),
        };
        let environment = Key {
            flag: Some(("--environment", |g| g.environment.clone())),
            env: &["APP_ENVIRONMENT"],
            file: Some(("stack.environment", |s| s.environment.clone())),
        };
        let profile = Key { flag: Some(("--profile", |g| g.profile.clone())), env: &["AWS_PROFILE"], file: None };
        let env_only = |var: &'static [&'static str]| Key { flag: None, env: var, file: None };
        Settings {
            stack_name: self.resolve(&stack_name),
            region: self.resolve(&region),
            environment: self.resolve(&environment).unwrap_or(Setting { value: "dev".into(), source: Source::Default }),
            profile: self.resolve(&profile),
            access_key_id: self.resolve(&env_only(&["AWS_ACCESS_KEY_ID"])),
            secret_access_key: self.resolve(&env_only(&["AWS_SECRET_ACCESS_KEY"])),
            session_token: self.resolve(&env_only(&["AWS_SESSION_TOKEN"])),
            endpoint_url: self.resolve(&env_only(&["AWS_ENDPOINT_URL"])),
        }
    }
}

impl Settings {
    /// Reads `deploy.toml` (or `--config`), `.env` and the process environment.
    pub fn load(ctx: &Ctx) -> anyhow::Result<Settings> {
        // Sources are named relative to the project so messages read "deploy.toml: stack.name".
        let file = match &ctx.global.config_file {
            Some(path) => Some((path.clone(), read_config_file(path, path)?)),
            None => {
                let path = ctx.root.join("deploy.toml");
                let shown = PathBuf::from("deploy.toml");
                if path.exists() { Some((shown.clone(), read_config_file(&path, &shown)?)) } else { None }
            }
        };
        let dotenv_path = ctx.root.join(".env");
        let dotenv = if dotenv_path.exists() {
            let text = std::fs::read_to_string(&dotenv_path)
                .with_context(|| format!("cannot read {}", dotenv_path.display()))?;
            let vars = parse_dotenv(&text)
                .map_err(|e| Refusal::new(format!(".env: {e}"), "each line of .env is KEY=VALUE; see .env.example"))?;
            Some((PathBuf::from(".env"), vars))
        } else {
            None
        };
        let env = |var: &str| std::env::var(var).ok();
        Ok(Inputs { flags: &ctx.global, env: &env, dotenv, file }.settings())
    }

    /// Every resolved value, named, in a stable order (for `cargo xtask config` and the guard).
    pub fn all(&self) -> Vec<(&'static str, Option<&Setting>)> {
        vec![
            ("stack name", self.stack_name.as_ref()),
            ("region", self.region.as_ref()),
            ("environment", Some(&self.environment)),
            ("profile", self.profile.as_ref()),
            ("access key id", self.access_key_id.as_ref()),
            ("secret access key", self.secret_access_key.as_ref()),
            ("session token", self.session_token.as_ref()),
            ("endpoint url", self.endpoint_url.as_ref()),
        ]
    }

    /// Where the AWS credentials come from, by the documented precedence (flag > environment >
    /// `.env`): `--profile`, then keys or a profile in the process environment (the SDK's own chain
    /// decides between those two: keys first), then keys in `.env` (with `.env`'s session token
    /// only: a token from another layer belongs to other keys), then the SDK's default chain.
    pub fn credentials(&self) -> Credentials<'_> {
        if let Some(profile) = self.profile.as_ref().filter(|p| matches!(p.source, Source::Flag(_))) {
            return Credentials::Profile(profile);
        }
        fn from(s: &Option<Setting>, pick: fn(&Source) -> bool) -> Option<&Setting> {
            s.as_ref().filter(|s| pick(&s.source))
        }
        let env = |s: &Source| matches!(s, Source::Env(_));
        let dotenv = |s: &Source| matches!(s, Source::DotEnv { .. });
        if from(&self.access_key_id, env).is_some() || from(&self.profile, env).is_some() {
            return Credentials::Environment;
        }
        if let (Some(id), Some(secret)) = (from(&self.access_key_id, dotenv), from(&self.secret_access_key, dotenv)) {
            return Credentials::DotEnvKeys { id, secret, token: from(&self.session_token, dotenv) };
        }
        Credentials::DefaultChain
    }

    /// The guard every command that would touch AWS runs first.
    pub fn refuse_placeholders(&self) -> anyhow::Result<()> {
        for (_, setting) in self.all() {
            if let Some(setting) = setting {
                refuse_placeholder(&setting.source.to_string(), &setting.value, true)?;
            }
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            let (have, missing) = match &self.access_key_id {
                Some(s) => (s, "AWS_SECRET_ACCESS_KEY"),
                None => (self.secret_access_key.as_ref().expect("one of the two is set"), "AWS_ACCESS_KEY_ID"),
            };
            return Err(Refusal::new(
                format!("{} is set but {missing} is not", have.source),
                "set both keys (environment or .env), or neither to use your AWS profile or SSO",
            )
            .into());
        }
        Ok(())
    }

    pub fn stack_name(&self) -> anyhow::Result<&str> {
        match &self.stack_name {
            Some(s) => Ok(&s.value),
            None => Err(Refusal::new(
                "no stack name is configured",
                "set stack.name in deploy.toml, STACK_NAME in the environment, or pass --stack-name",
            )
            .into()),
        }
    }
}

pub static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"YOUR_[A-Z0-9_]*HERE").expect("valid regex"));
static EXAMPLE_DOMAIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(^|[./@])example\.(com|net|org)\b").expect("valid regex"));

/// Refuses a value that is still a `YOUR_*_HERE` placeholder or, unless allowed, uses an example
/// domain. `origin` names the file and key (or variable) so the message says what to edit.
pub fn refuse_placeholder(origin: &str, value: &str, allow_example_domains: bool) -> anyhow::Result<()> {
    if let Some(found) = PLACEHOLDER.find(value) {
        return Err(Refusal::new(
            format!("{origin} is still the placeholder {}", found.as_str()),
            format!("replace it with your real value (or remove it) in {}", origin_file(origin)),
        )
        .into());
    }
    if !allow_example_domains && EXAMPLE_DOMAIN.is_match(value) {
        return Err(Refusal::new(
            format!("{origin} is {value}, an example domain"),
            format!(
                "set your own domain in {}; for a local emulator pass --allow-example-domains",
                origin_file(origin)
            ),
        )
        .into());
    }
    Ok(())
}

fn origin_file(origin: &str) -> &str {
    origin.split_once(": ").map_or(origin, |(file, _)| file)
}

fn read_config_file(path: &Path, shown: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        Refusal::new(
            format!("{} is not valid: {}", shown.display(), e.message().trim_end()),
            "deploy.toml holds only [stack] name, region and environment; see README.md",
        )
        .into()
    })
}

/// Parses `KEY=VALUE` lines (optionally `export KEY=VALUE`, quoted values, `#` comments).
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", n + 1));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("line {}: {key:?} is not a variable name", n + 1));
        }
        let value = value.trim();
        let value = match value.chars().next() {
            // A quoted value ends at its closing quote; only a comment may follow it.
            Some(q @ ('"' | '\'')) => {
                let Some(end) = value[1..].find(q).map(|i| i + 1) else {
                    return Err(format!("line {}: the {q} quote is not closed", n + 1));
                };
                let rest = value[end + 1..].trim();
                if !rest.is_empty() && !rest.starts_with('#') {
                    return Err(format!("line {}: {rest:?} after the closing quote", n + 1));
                }
                &value[1..end]
            }
            _ => value.split(" #").next().unwrap_or(value).trim_end(),
        };
        vars.insert(key.to_string(), value.to_string());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resolves the stack name from the given layers and renders "value (source)".
    fn check(flag: Option<&str>, env: Option<&str>, dotenv: Option<&str>, file: Option<&str>, expect: &str) {
        let flags = GlobalArgs { stack_name: flag.map(String::from), ..GlobalArgs::default() };
        let env_value = env.map(String::from);
        let env = move |var: &str| (var == "STACK_NAME").then(|| env_value.clone()).flatten();
        let dotenv =
            dotenv.map(|v| (PathBuf::from(".env"), BTreeMap::from([("STACK_NAME".to_string(), v.to_string())])));
        let file = file.map(|v| {
            let stack = StackSection { name: Some(v.to_string()), ..StackSection::default() };
            (PathBuf::from("deploy.toml"), ConfigFile { stack })
        });
        let settings = Inputs { flags: &flags, env: &env, dotenv, file }.settings();
        let got = settings.stack_name.map_or("none".to_string(), |s| format!("{} ({})", s.value, s.source));
        assert_eq!(got, expect);
    }

    #[test]
    fn precedence_is_flag_then_env_then_dotenv_then_file() {
        check(Some("f"), Some("e"), Some("d"), Some("c"), "f (flag --stack-name)");
        check(None, Some("e"), Some("d"), Some("c"), "e (environment variable STACK_NAME)");
        check(None, None, Some("d"), Some("c"), "d (.env: STACK_NAME)");
        check(None, None, None, Some("c"), "c (deploy.toml: stack.name)");
        check(None, None, None, None, "none");
        // An empty environment variable does not hide lower layers.
        check(None, Some(""), Some("d"), None, "d (.env: STACK_NAME)");
    }

    fn check_guard(origin: &str, value: &str, allow_example: bool, expect: &str) {
        let got = match refuse_placeholder(origin, value, allow_example) {
            Ok(()) => "ok".to_string(),
            Err(err) => {
                let hint = &err.downcast_ref::<Refusal>().expect("a refusal").hint;
                format!("{err} | {hint}")
            }
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn placeholders_and_example_domains_are_refused() {
        check_guard(
            ".env: AWS_ACCESS_KEY_ID",
            "YOUR_ACCESS_KEY_ID_HERE",
            true,
            ".env: AWS_ACCESS_KEY_ID is still the placeholder YOUR_ACCESS_KEY_ID_HERE | replace it with your real value (or remove it) in .env",
        );
        check_guard(
            "cloud/parameters.json: WwwDomainName",
            "www.example.com",
            false,
            "cloud/parameters.json: WwwDomainName is www.example.com, an example domain | set your own domain in cloud/parameters.json; for a local emulator pass --allow-example-domains",
        );
        check_guard("cloud/parameters.json: WwwDomainName", "www.example.com", true, "ok");
        check_guard("cloud/parameters.json: WwwDomainName", "www.counterexample.community", false, "ok");
        check_guard(
            "x",
            "arn:aws:acm:us-east-1:1:certificate/YOUR_WWW_CERTIFICATE_ID_HERE",
            true,
            "x is still the placeholder YOUR_WWW_CERTIFICATE_ID_HERE | replace it with your real value (or remove it) in x",
        );
    }

    /// The credential source for the given layers, as `config` prints it.
    fn credentials(flag_profile: Option<&str>, env: &[(&str, &str)], dotenv: &[(&str, &str)]) -> String {
        let flags = GlobalArgs { profile: flag_profile.map(String::from), ..GlobalArgs::default() };
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = move |var: &str| env.get(var).cloned();
        let dotenv =
            Some((PathBuf::from(".env"), dotenv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()));
        let settings = Inputs { flags: &flags, env: &lookup, dotenv, file: None }.settings();
        settings.credentials().to_string()
    }

    #[test]
    fn credentials_follow_the_documented_precedence() {
        let keys = [("AWS_ACCESS_KEY_ID", "AKIAENV"), ("AWS_SECRET_ACCESS_KEY", "secret")];
        let dot = [("AWS_ACCESS_KEY_ID", "AKIADOT"), ("AWS_SECRET_ACCESS_KEY", "secret")];
        // --profile wins over keys anywhere.
        assert_eq!(credentials(Some("ops"), &keys, &dot), "profile ops (flag --profile)");
        // The environment wins over .env.
        assert_eq!(credentials(None, &keys, &dot), "the process environment (AWS_ACCESS_KEY_ID or AWS_PROFILE)");
        assert_eq!(
            credentials(None, &[("AWS_PROFILE", "ops")], &dot),
            "the process environment (AWS_ACCESS_KEY_ID or AWS_PROFILE)"
        );
        // .env keys, and a session token only from .env itself.
        assert_eq!(credentials(None, &[("AWS_SESSION_TOKEN", "from-env")], &dot), "keys from .env: AWS_ACCESS_KEY_ID");
        let with_token = [dot[0], dot[1], ("AWS_SESSION_TOKEN", "t")];
        assert_eq!(credentials(None, &[], &with_token), "keys from .env: AWS_ACCESS_KEY_ID with its session token");
        assert_eq!(credentials(None, &[], &[]), "the AWS SDK's default chain (default profile, SSO, role)");
    }

    #[test]
    fn dotenv_parsing() {
        let vars = parse_dotenv(
            "# c\nexport A=1\nB = \"two words\"\nC='x' \nD=plain # note\nE=\"quoted\" # note\nF='a # b'\n",
        )
        .unwrap();
        assert_eq!(
            format!("{vars:?}"),
            r#"{"A": "1", "B": "two words", "C": "x", "D": "plain", "E": "quoted", "F": "a # b"}"#
        );
        assert_eq!(parse_dotenv("A=\"open").unwrap_err(), "line 1: the \" quote is not closed");
        assert_eq!(parse_dotenv("A=\"x\" y").unwrap_err(), "line 1: \"y\" after the closing quote");
        assert_eq!(parse_dotenv("oops").unwrap_err(), "line 1: expected KEY=VALUE");
        assert_eq!(parse_dotenv("A B=1").unwrap_err(), "line 1: \"A B\" is not a variable name");
    }
}
