//! `cargo xtask`: the project's Makefile, written in Rust.
//!
//! One module per command (`build.rs`, `deploy.rs`, ...), each with
//! `impl Cmd { pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> }`. Shared pieces: [`config`]
//! (settings and their precedence), [`aws`] (SDK clients and the placeholder guard), [`tools`]
//! (pinned Python tools in a private virtualenv), [`services`] (Postgres/Redis reachability).

pub mod artifacts;
pub mod aws;
pub mod bench;
pub mod build;
pub mod calls;
pub mod config;
pub mod deploy;
pub mod destroy;
pub mod dev;
pub mod dist;
pub mod errors;
pub mod lint;
pub mod migrate;
pub mod outputs;
pub mod package;
pub mod services;
pub mod site;
pub mod step;
pub mod sync;
pub mod template;
pub mod test;
pub mod tools;
pub mod workflows_lint;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use xshell::Shell;

/// Build, ship and run the notes app: static site on CloudFront + S3, API on API Gateway + Lambda.
#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true,
    after_help = "Settings precedence: command-line flag > environment variable > .env > deploy.toml.\n\
                  AWS credentials come from the standard chain (env, profile, SSO); AWS_ENDPOINT_URL is honoured."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Options every command understands. Each overrides the matching environment variable, `.env`
/// entry and `deploy.toml` key (see `cargo xtask config`).
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// CloudFormation stack name [env: STACK_NAME] [deploy.toml: stack.name]
    #[arg(long, global = true, value_name = "NAME")]
    pub stack_name: Option<String>,
    /// AWS region [env: AWS_REGION] [deploy.toml: stack.region]
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// AWS shared-config profile [env: AWS_PROFILE]
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Deployment environment label, e.g. dev or prod [env: APP_ENVIRONMENT] [deploy.toml: stack.environment]
    #[arg(long, global = true, value_name = "ENV")]
    pub environment: Option<String>,
    /// Non-secret settings file [default: deploy.toml in the project directory]
    #[arg(long = "config", global = true, value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// CloudFormation template [default: cloud/stack.yaml]
    #[arg(long, global = true, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Stack parameters in AWS CLI JSON format [default: cloud/parameters.json]
    #[arg(long, global = true, value_name = "FILE")]
    pub parameters: Option<PathBuf>,
    /// Accept example.com domains (for local emulators such as moto; never for a real account)
    #[arg(long, global = true)]
    pub allow_example_domains: bool,
    /// Project directory [default: the workspace containing the current directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    Build(build::Build),
    Dist(dist::Dist),
    Deploy(deploy::Deploy),
    Destroy(destroy::Destroy),
    Sync(sync::Sync),
    Outputs(outputs::Outputs),
    Lint(lint::Lint),
    Dev(dev::Dev),
    Test(test::Test),
    Bench(bench::Bench),
    Migrate(migrate::Migrate),
    Config(config::Show),
}

/// What every command gets: a shell rooted at the project, the project root and the global flags.
pub struct Ctx {
    pub sh: Shell,
    pub root: PathBuf,
    pub global: GlobalArgs,
}

impl Ctx {
    pub fn new(global: GlobalArgs) -> anyhow::Result<Ctx> {
        let root = match &global.project_dir {
            Some(dir) => std::path::absolute(dir)?,
            None => project_root()?,
        };
        let sh = Shell::new()?;
        sh.change_dir(&root);
        Ok(Ctx { sh, root, global })
    }

    /// Effective settings (flag > env > .env > deploy.toml); see [`config`].
    pub fn settings(&self) -> anyhow::Result<config::Settings> {
        config::Settings::load(self)
    }

    pub fn template_path(&self) -> PathBuf {
        self.resolve(self.global.template.as_deref(), "cloud/stack.yaml")
    }

    pub fn parameters_path(&self) -> PathBuf {
        self.resolve(self.global.parameters.as_deref(), "cloud/parameters.json")
    }

    /// Cargo's target directory: `CARGO_TARGET_DIR` when set (CI shares one outside the clone).
    pub fn target_dir(&self) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => self.root.join(dir),
            None => self.root.join("target"),
        }
    }

    fn resolve(&self, flag: Option<&Path>, default: &str) -> PathBuf {
        match flag {
            Some(path) => std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or(path.into()),
            None => self.root.join(default),
        }
    }
}

/// The workspace root: the nearest ancestor of the current directory whose Cargo.toml declares a
/// `[workspace]` and which has an `xtask/` directory. Found at run time (not baked in at compile
/// time) so one binary serves any checkout, which the end-to-end tests rely on.
fn project_root() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if dir.join("xtask").is_dir()
            && std::fs::read_to_string(&manifest).is_ok_and(|text| text.contains("[workspace]"))
        {
            return Ok(dir.to_path_buf());
        }
    }
    Err(errors::Refusal::new(
        format!("{} is not inside the project", cwd.display()),
        "run cargo xtask from the repository, or pass --project-dir DIR",
    )
    .into())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Ctx::new(cli.global).and_then(|ctx| cli.command.run(&ctx));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            errors::report(&err);
            ExitCode::FAILURE
        }
    }
}

impl Cmd {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Cmd::Build(cmd) => cmd.run(ctx),
            Cmd::Dist(cmd) => cmd.run(ctx),
            Cmd::Deploy(cmd) => cmd.run(ctx),
            Cmd::Destroy(cmd) => cmd.run(ctx),
            Cmd::Sync(cmd) => cmd.run(ctx),
            Cmd::Outputs(cmd) => cmd.run(ctx),
            Cmd::Lint(cmd) => cmd.run(ctx),
            Cmd::Dev(cmd) => cmd.run(ctx),
            Cmd::Test(cmd) => cmd.run(ctx),
            Cmd::Bench(cmd) => cmd.run(ctx),
            Cmd::Migrate(cmd) => cmd.run(ctx),
            Cmd::Config(cmd) => cmd.run(ctx),
        }
    }
}
