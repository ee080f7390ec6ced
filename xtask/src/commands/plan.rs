//! `cargo xtask plan`: what a deploy would do, as markdown fit for a pull request comment. The
//! deploy's own pipeline in [`Mode::Plan`]: nothing is written, except that CloudFormation is
//! asked for the stack's change set (created, described, deleted again; never executed), and a
//! template too large to pass inline is put in the artifact bucket under the content-addressed
//! key the deploy would use.

use std::path::PathBuf;

use anyhow::Context;

use crate::Ctx;
use crate::aws::{Aws, TimeoutArgs, block_on};
use crate::cloud::parameters;
use crate::pipeline::{self, Mode, RunArgs, Source};
use crate::report::{Ui, markdown};
use crate::site::publish::SiteArgs;
use crate::stack::lock::LockArgs;

/// Write a markdown plan of a deploy: stack changes and replacements, code keys, site files, invalidation, AWS calls
#[derive(clap::Args, Debug)]
pub struct Plan {
    /// Plan the artifacts of this dist directory (from `cargo xtask dist`) instead of building
    #[arg(long, value_name = "DIR")]
    pub from_dist: Option<PathBuf>,
    /// Override a stack parameter (repeatable), as deploy's --parameter
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = parameters::parse_override)]
    pub overrides: Vec<(String, String)>,
    /// Write the markdown to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the run's summary as JSON on stdout (needs --out for the markdown)
    #[arg(long, requires = "out")]
    pub json: bool,
    /// Artifact bucket [default: deploy.toml's env.NAME.artifact_bucket, else <stack>-artifacts-<account>-<region>]
    #[arg(long, value_name = "NAME")]
    pub artifact_bucket: Option<String>,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
}

impl Plan {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::new("plan", true);
        let (local, aws) = ui.preflight(|| {
            let local = pipeline::load_local(ctx, &self.overrides)?;
            let aws = Aws::connect(ctx)?;
            let detail = format!("stack {}, template {}", local.stack_name, local.template_shown);
            Ok(((local, aws), detail))
        })?;
        ui.with(|s| {
            s.stack = Some(local.stack_name.clone());
            s.region = aws.region().to_string();
        });
        let artifacts = pipeline::artifacts(ctx, self.from_dist.as_deref(), &ui)?;
        let args = RunArgs {
            confirm: false,
            repair: false,
            migrate: false,
            dry_run: true,
            json: self.json,
            artifact_bucket: self.artifact_bucket.clone(),
            keep_releases: 0,
            site: self.site.clone(),
            timeout: self.timeout.clone(),
            lock: LockArgs { lock_timeout: std::time::Duration::ZERO, break_lock: false },
        };
        let result = block_on(pipeline::run(
            &aws,
            Source::Artifacts { local: Box::new(local), artifacts },
            &args,
            Mode::Plan,
            &ui,
        ));
        let result = ui.conclude(result, self.json);
        result?;
        let md = ui.with(|s| markdown::plan(s));
        match &self.out {
            Some(path) => std::fs::write(path, md).with_context(|| format!("cannot write {}", path.display()))?,
            None => print!("{md}"),
        }
        Ok(())
    }
}
