//! `cargo xtask sync`: deploy phases 7-8 alone — site sync from the stack outputs, then invalidation.

use std::path::PathBuf;

use crate::Ctx;
use crate::artifacts;
use crate::aws::{Aws, Clients, block_on, cfn};
use crate::error::Refusal;
use crate::report::Ui;
use crate::site::invalidation;
use crate::site::publish::{self, SiteArgs};

/// Upload the changed site files to the stack's bucket (config.json from the outputs), then invalidate
#[derive(clap::Args, Debug)]
pub struct Sync {
    /// Sync the site of this dist directory (from `cargo xtask dist`) instead of building
    #[arg(long, value_name = "DIR")]
    pub from_dist: Option<PathBuf>,
    /// Compute everything, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub site: SiteArgs,
}

impl Sync {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::new("sync", self.dry_run);
        let (aws, stack_name, artifacts) = ui.preflight(|| {
            let aws = Aws::connect(ctx)?;
            let stack_name = aws.settings.stack_name()?.to_string();
            let artifacts = artifacts::build::load(ctx, self.from_dist.as_deref(), &Ui::plain("build"))?;
            let detail = format!("{} site files", artifacts.site.files.len());
            Ok(((aws, stack_name, artifacts), detail))
        })?;
        ui.with(|s| {
            s.stack = Some(stack_name.clone());
            s.region = aws.region().to_string();
        });
        let opts = self.site.options(self.dry_run);
        let result = block_on(async {
            let c = Clients::new(&aws);
            let outputs = ui
                .phase("outputs", async {
                    let state = cfn::describe(&c.cfn, &stack_name).await?.ok_or_else(|| {
                        Refusal::new(
                            format!("stack {stack_name} does not exist in {}", aws.region()),
                            "deploy it first with `cargo xtask deploy`",
                        )
                    })?;
                    let detail = format!("{} is {}, {} outputs", stack_name, state.status, state.outputs.all.len());
                    Ok((state.outputs, detail))
                })
                .await?;
            let changed = ui.phase("site", publish::sync_site(&c, &outputs, &artifacts.site, &opts, &ui)).await?;
            ui.phase("invalidation", async {
                Ok(((), invalidation::invalidate(&c, &outputs, &changed, &opts, &ui).await?))
            })
            .await
        });
        ui.conclude(result, self.json)
    }
}
