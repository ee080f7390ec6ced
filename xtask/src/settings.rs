//! Settings: where the stack name, region, environment, profile and credentials come from.
//!
//! Precedence, highest first: command-line flag > process environment > `.env` (git-ignored,
//! optional) > `deploy.toml` (checked in, non-secret) > built-in default. Every resolved value
//! remembers its [`Source`] so that errors can name the file and key to fix.
//!
//! Environments: `--env NAME` (or `APP_ENV`) selects the `[env.NAME]` table of `deploy.toml`, whose
//! keys come before `[stack]`'s in the `deploy.toml` layer (flags and variables still win). The
//! name itself is the `environment` (the `EnvironmentName` stack parameter) unless something
//! above it or the table's own `environment` says otherwise. Without `--env` nothing changes.
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
    DotEnv {
        file: PathBuf,
        key: &'static str,
    },
    /// `key` is dotted, e.g. `stack.region` or `env.prod.region`.
    ConfigFile {
        file: PathBuf,
        key: String,
    },
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
    /// The `[env.NAME]` table selected with `--env` / `APP_ENV`, if any.
    pub env: Option<Setting>,
    pub stack_name: Option<Setting>,
    pub region: Option<Setting>,
    pub environment: Setting,
    pub profile: Option<Setting>,
    pub access_key_id: Option<Setting>,
    pub secret_access_key: Option<Setting>,
    pub session_token: Option<Setting>,
    pub endpoint_url: Option<Setting>,
    /// The 12-digit account the selected environment lives in (`[env.NAME].account`): commands
    /// authenticated into another account are refused before any write.
    pub account: Option<Setting>,
    /// The selected environment's parameters overlay, when its table names one
    /// (`[env.NAME].parameters`; otherwise `parameters.NAME.json` next to the parameters file).
    pub parameters_overlay: Option<Setting>,
    /// `[github].repository` (`owner/repo`), whose environment's jobs the deploy role trusts.
    pub github_repository: Option<Setting>,
    /// `[env.NAME].artifact_bucket`: a bucket shared with another environment.
    pub artifact_bucket: Option<Setting>,
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
    /// `[env.<name>]` tables, one per environment.
    #[serde(default)]
    pub env: BTreeMap<String, EnvSection>,
    #[serde(default)]
    pub github: GithubSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSection {
    pub name: Option<String>,
    pub region: Option<String>,
    pub environment: Option<String>,
}

/// One `[env.<name>]` table: where that environment lives.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSection {
    pub stack_name: Option<String>,
    pub region: Option<String>,
    /// The `EnvironmentName` parameter [default: the table's name].
    pub environment: Option<String>,
    /// The 12-digit AWS account id.
    pub account: Option<String>,
    /// Parameters overlay, relative to the project [default: `parameters.<name>.json` next to
    /// the parameters file, when it exists].
    pub parameters: Option<String>,
    /// The artifact bucket [default: the environment's own, `<stack>-artifacts-<account>-<region>`].
    /// Naming another environment's bucket (same account and region) shares it: a dist promoted
    /// from one to the other is uploaded once.
    pub artifact_bucket: Option<String>,
}

/// `[github]`: the repository whose workflows deploy (the deploy role's trust, `bootstrap`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSection {
    /// `owner/repo`.
    pub repository: Option<String>,
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
    /// The key in the selected `[env.NAME]` table, which comes before `[stack]`'s.
    env_table: Option<(&'static str, EnvGetter)>,
}

type FlagGetter = fn(&GlobalArgs) -> Option<String>;
type FileGetter = fn(&StackSection) -> Option<String>;
type EnvGetter = fn(&EnvSection) -> Option<String>;

impl Key {
    fn new(flag: Option<(&'static str, FlagGetter)>, env: &'static [&'static str]) -> Key {
        Key { flag, env, file: None, env_table: None }
    }

    /// A key only the selected `[env.NAME]` table has.
    fn in_table(name: &'static str, get: EnvGetter) -> Key {
        Key { env_table: Some((name, get)), ..Key::new(None, &[]) }
    }
}

impl Inputs<'_> {
    /// The layers above `deploy.toml`, then the selected env table, then `[stack]`.
    fn resolve(&self, key: &Key, selected: Option<&(String, EnvSection)>) -> Option<Setting> {
        self.resolve_above_file(key).or_else(|| self.resolve_in_file(key, selected))
    }

    fn resolve_in_file(&self, key: &Key, selected: Option<&(String, EnvSection)>) -> Option<Setting> {
        let (file, config) = self.file.as_ref()?;
        if let (Some((name, get)), Some((env, table))) = (key.env_table, selected)
            && let Some(value) = get(table)
        {
            return Some(Setting {
                value,
                source: Source::ConfigFile { file: file.clone(), key: format!("env.{env}.{name}") },
            });
        }
        let (name, get) = key.file?;
        let value = get(&config.stack)?;
        Some(Setting { value, source: Source::ConfigFile { file: file.clone(), key: name.to_string() } })
    }

    fn resolve_above_file(&self, key: &Key) -> Option<Setting> {
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
        None
    }

    pub fn settings(&self) -> anyhow::Result<Settings> {
        let selected = self.selected_env()?;
        let (env, table) = match &selected {
            Some((setting, table)) => (Some(setting.clone()), Some((setting.value.clone(), table.clone()))),
            None => (None, None),
        };
        let table = table.as_ref();
        let stack_name = Key {
            file: Some(("stack.name", |s| s.name.clone())),
            env_table: Some(("stack_name", |t| t.stack_name.clone())),
            ..Key::new(Some(("--stack-name", |g| g.stack_name.clone())), &["STACK_NAME"])
        };
        let region = Key {
            file: Some(("stack.region", |s| s.region.clone())),
            env_table: Some(("region", |t| t.region.clone())),
            ..Key::new(Some(("--region", |g| g.region.clone())), &["AWS_REGION", "AWS_DEFAULT_REGION"])
        };
        // --environment (and its variable) > the selected table's `environment` > the selected
        // table's own name > [stack].environment > dev.
        let environment = Key::new(Some(("--environment", |g| g.environment.clone())), &["APP_ENVIRONMENT"]);
        let stack_environment =
            Key { file: Some(("stack.environment", |s| s.environment.clone())), ..Key::new(None, &[]) };
        let environment = self
            .resolve_above_file(&environment)
            .or_else(|| self.resolve_in_file(&Key::in_table("environment", |t| t.environment.clone()), table))
            .or_else(|| env.clone())
            .or_else(|| self.resolve_in_file(&stack_environment, None))
            .unwrap_or(Setting { value: "dev".into(), source: Source::Default });
        let profile = Key::new(Some(("--profile", |g| g.profile.clone())), &["AWS_PROFILE"]);
        let env_only = |var: &'static [&'static str]| Key::new(None, var);
        let account = self.resolve_in_file(&Key::in_table("account", |t| t.account.clone()), table);
        if let Some(account) = &account {
            check_account_id(account)?;
        }
        Ok(Settings {
            env,
            stack_name: self.resolve(&stack_name, table),
            region: self.resolve(&region, table),
            environment,
            profile: self.resolve(&profile, table),
            access_key_id: self.resolve(&env_only(&["AWS_ACCESS_KEY_ID"]), table),
            secret_access_key: self.resolve(&env_only(&["AWS_SECRET_ACCESS_KEY"]), table),
            session_token: self.resolve(&env_only(&["AWS_SESSION_TOKEN"]), table),
            endpoint_url: self.resolve(&env_only(&["AWS_ENDPOINT_URL"]), table),
            account,
            parameters_overlay: self.resolve_in_file(&Key::in_table("parameters", |t| t.parameters.clone()), table),
            artifact_bucket: self
                .resolve_in_file(&Key::in_table("artifact_bucket", |t| t.artifact_bucket.clone()), table),
            github_repository: self.file.as_ref().and_then(|(file, config)| {
                let value = config.github.repository.clone()?;
                Some(Setting {
                    value,
                    source: Source::ConfigFile { file: file.clone(), key: "github.repository".into() },
                })
            }),
        })
    }

    /// `--env NAME` / `APP_ENV` and its `[env.NAME]` table; a name without a table is refused.
    fn selected_env(&self) -> anyhow::Result<Option<(Setting, EnvSection)>> {
        let key = Key::new(Some(("--env", |g| g.env.clone())), &["APP_ENV"]);
        let Some(setting) = self.resolve_above_file(&key) else { return Ok(None) };
        let tables = self.file.as_ref().map(|(_, config)| &config.env);
        match tables.and_then(|t| t.get(&setting.value)) {
            // Falling back to [stack].name would deploy one environment over another's stack.
            Some(table) if table.stack_name.is_none() => Err(Refusal::new(
                format!("[env.{}] has no stack_name", setting.value),
                "each environment names its own stack: add stack_name = \"...\" to its table",
            )
            .into()),
            Some(table) => Ok(Some((setting, table.clone()))),
            None => {
                let known: Vec<&str> = tables.into_iter().flat_map(|t| t.keys().map(String::as_str)).collect();
                let file = self.file.as_ref().map_or("deploy.toml".to_string(), |(f, _)| f.display().to_string());
                Err(Refusal::new(
                    format!("{file} has no [env.{}] table ({})", setting.value, setting.source),
                    if known.is_empty() {
                        format!("add [env.{}] with stack_name, region and account, or drop --env", setting.value)
                    } else {
                        format!("the environments in {file} are: {}", known.join(", "))
                    },
                )
                .into())
            }
        }
    }
}

/// An account id is 12 digits (or a placeholder, which the guard names before any AWS call).
fn check_account_id(account: &Setting) -> anyhow::Result<()> {
    let digits = account.value.len() == 12 && account.value.bytes().all(|b| b.is_ascii_digit());
    if digits || PLACEHOLDER.is_match(&account.value) {
        return Ok(());
    }
    Err(Refusal::new(
        format!("{} is {:?}, not a 12-digit AWS account id", account.source, account.value),
        "write the account id the environment lives in, e.g. account = \"123456789012\"",
    )
    .into())
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
        Inputs { flags: &ctx.global, env: &env, dotenv, file }.settings()
    }

    /// Every resolved value, named, in a stable order (for `cargo xtask config` and the guard).
    pub fn all(&self) -> Vec<(&'static str, Option<&Setting>)> {
        vec![
            ("env", self.env.as_ref()),
            ("stack name", self.stack_name.as_ref()),
            ("region", self.region.as_ref()),
            ("environment", Some(&self.environment)),
            ("profile", self.profile.as_ref()),
            ("access key id", self.access_key_id.as_ref()),
            ("secret access key", self.secret_access_key.as_ref()),
            ("session token", self.session_token.as_ref()),
            ("endpoint url", self.endpoint_url.as_ref()),
            ("account", self.account.as_ref()),
            ("parameters overlay", self.parameters_overlay.as_ref()),
            ("artifact bucket", self.artifact_bucket.as_ref()),
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
            "deploy.toml holds [stack] (name, region, environment), [env.<name>] tables and [github]; see README.md",
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
mod tests;
