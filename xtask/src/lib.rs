//! `cargo xtask`: the project's Makefile, written in Rust.
//!
//! This file only parses the command line and dispatches. Commands live in [`commands`], one module
//! each; they import the subsystems below and never one another (a tidy test reads their `use`
//! lines):
//!
//! - [`ctx`]: `Ctx` (shell, project root, global flags); [`settings`]: where a setting comes from
//!   and the placeholder guard; [`error`]: `Refusal` (cause + hint); [`report`]: phases, notes,
//!   prompts, the summary, `--json` and the failure epilogue; [`tools`]: the pinned Python tools;
//! - [`aws`]: the only door to AWS (SDK config, counted clients, one error formatter) and the
//!   CloudFormation, S3, CloudFront and Lambda operations;
//! - [`cloud`]: the CloudFormation contract (template, parameters, what the deploy injects, stack
//!   outputs) and its checks; [`lint`]: every check `lint` runs (with [`workflows_lint`] for the GitHub
//!   workflows); [`stack`]: change sets, repairs, migrations and traffic shifts of the stack;
//!   [`pipeline`]: the phases `deploy`, `plan` and `rollback` share, from a build, a dist or a
//!   recorded release;
//! - [`ops`]: day-2 reads of a deployed stack (function logs, status);
//! - [`compile`]: cargo-lambda builds; [`package`]: the ELF check and the deterministic zip;
//!   [`artifacts`]: the dist format (key, manifest, writer, reader, budgets); [`site`]: the site
//!   bundle, its config.json, and publishing it to S3 and CloudFront.

pub mod artifacts;
pub mod aws;
pub mod cloud;
pub mod commands;
pub mod compile;
pub mod ctx;
pub mod error;
pub mod lint;
pub mod ops;
pub mod package;
pub mod pipeline;
pub mod report;
pub mod settings;
pub mod site;
pub mod stack;
pub mod tools;
pub mod workflows_lint;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use ctx::{Ctx, GlobalArgs};

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

#[derive(Subcommand, Debug)]
pub enum Cmd {
    Build(commands::build::Build),
    Dist(commands::dist::Dist),
    Deploy(commands::deploy::Deploy),
    Plan(commands::plan::Plan),
    Rollback(commands::rollback::Rollback),
    Bootstrap(commands::bootstrap::Bootstrap),
    Destroy(commands::destroy::Destroy),
    Sync(commands::sync::Sync),
    Outputs(commands::outputs::Outputs),
    Releases(commands::releases::Releases),
    Smoke(commands::smoke::Smoke),
    Status(commands::status::Status),
    Logs(commands::logs::Logs),
    Lint(commands::lint::Lint),
    Dev(commands::dev::Dev),
    Test(commands::test::Test),
    Bench(commands::bench::Bench),
    Migrate(commands::migrate::Migrate),
    Config(commands::config::Config),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Ctx::new(cli.global).and_then(|ctx| cli.command.run(&ctx));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error::print(&err);
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
            Cmd::Plan(cmd) => cmd.run(ctx),
            Cmd::Rollback(cmd) => cmd.run(ctx),
            Cmd::Bootstrap(cmd) => cmd.run(ctx),
            Cmd::Destroy(cmd) => cmd.run(ctx),
            Cmd::Sync(cmd) => cmd.run(ctx),
            Cmd::Outputs(cmd) => cmd.run(ctx),
            Cmd::Releases(cmd) => cmd.run(ctx),
            Cmd::Smoke(cmd) => cmd.run(ctx),
            Cmd::Status(cmd) => cmd.run(ctx),
            Cmd::Logs(cmd) => cmd.run(ctx),
            Cmd::Lint(cmd) => cmd.run(ctx),
            Cmd::Dev(cmd) => cmd.run(ctx),
            Cmd::Test(cmd) => cmd.run(ctx),
            Cmd::Bench(cmd) => cmd.run(ctx),
            Cmd::Migrate(cmd) => cmd.run(ctx),
            Cmd::Config(cmd) => cmd.run(ctx),
        }
    }
}
