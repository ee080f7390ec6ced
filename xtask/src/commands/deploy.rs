//! `cargo xtask deploy`: upload what changed, update the stack, migrate, sync the site, invalidate.
//!
//! Preflight (everything local is checked before the first AWS call), then the artifacts (a build,
//! or `--from-dist`), then [`crate::pipeline`]'s phases; then a summary (`--json` for CI,
//! `--dry-run` writes nothing).

use std::path::PathBuf;

use crate::Ctx;
use crate::aws::{Aws, block_on};
use crate::cloud::parameters;
use crate::pipeline::{self, RunArgs, Source};
use crate::report::Ui;

/// Upload what changed, update the stack (change set), run migrations, sync the site, invalidate
#[derive(clap::Args, Debug)]
pub struct Deploy {
    /// Deploy the artifacts of this dist directory (from `cargo xtask dist`) instead of building
    #[arg(long, value_name = "DIR")]
    pub from_dist: Option<PathBuf>,
    /// Override a stack parameter (repeatable); wins over the parameters file and injected values
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = parameters::parse_override)]
    pub overrides: Vec<(String, String)>,
    #[command(flatten)]
    pub run: RunArgs,
}

impl Deploy {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::new("deploy", self.run.dry_run);
        // Nothing below touches AWS until the template and parameters are valid.
        let (local, aws) = ui.preflight(|| {
            self.run.check_terminal()?;
            let local = pipeline::load_local(ctx, &self.overrides)?;
            let aws = Aws::connect(ctx)?;
            let detail = format!(
                "{} parameters from {}, template {} ({} bytes)",
                local.parameters.values.len(),
                local.parameters.shown,
                local.template_shown,
                local.template.body.len()
            );
            Ok(((local, aws), detail))
        })?;
        ui.with(|s| {
            s.stack = Some(local.stack_name.clone());
            s.region = aws.region().to_string();
        });
        // Still before any AWS call: a fresh build can take minutes.
        let artifacts = pipeline::artifacts(ctx, self.from_dist.as_deref(), &ui)?;
        let source = Source::Artifacts { local: Box::new(local), artifacts };
        let result = block_on(pipeline::run(&aws, source, &self.run, self.run.mode(), &ui));
        // The summary is printed on failure too: what was uploaded and which calls were made.
        ui.conclude(result, self.run.json)
    }
}
