//! `cargo xtask rollback [--to N]`: redeploy an earlier release straight from the artifact bucket
//! — its zips (already there), its template, its effective parameters and its site files — through
//! the deploy's own phases and no-op rules ([`crate::pipeline`]), under the same lock. Nothing is
//! built and no local dist or template is read. Schema migrations are not undone: the earlier
//! release's migration function finds its migrations applied and does nothing.

use crate::Ctx;
use crate::aws::{Aws, block_on};
use crate::pipeline::{self, RunArgs, Source};
use crate::report::Ui;

/// Redeploy an earlier release (code, template, parameters, site files) from the artifact bucket, without building
#[derive(clap::Args, Debug)]
pub struct Rollback {
    /// The release to go back to (`cargo xtask releases` lists them) [default: the one before the live release]
    #[arg(long, value_name = "N")]
    pub to: Option<u64>,
    #[command(flatten)]
    pub run: RunArgs,
}

impl Rollback {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::new("rollback", self.run.dry_run);
        let (stack_name, aws) = ui.preflight(|| {
            self.run.check_terminal()?;
            let settings = ctx.settings()?;
            settings.refuse_placeholders()?;
            let stack_name = settings.stack_name()?.to_string();
            let aws = Aws::connect(ctx)?;
            let to = self.to.map_or("the release before the live one".to_string(), |n| format!("release {n}"));
            let detail = format!("stack {stack_name}, back to {to}");
            Ok(((stack_name, aws), detail))
        })?;
        ui.with(|s| {
            s.stack = Some(stack_name.clone());
            s.region = aws.region().to_string();
        });
        let scratch = ctx.target_dir().join("xtask/rollback").join(&stack_name);
        let source = Source::Release { stack_name, number: self.to, scratch };
        let result = block_on(pipeline::run(&aws, source, &self.run, self.run.mode(), &ui));
        ui.conclude(result, self.run.json)
    }
}
