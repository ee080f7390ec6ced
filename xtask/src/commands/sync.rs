//! `cargo xtask sync`: deploy phases 7-8 alone — site sync from the stack outputs, then invalidation.

use std::path::PathBuf;

use crate::Ctx;
use crate::artifacts::{self, bucket};
use crate::aws::s3::Bucket;
use crate::aws::{Aws, Clients, TimeoutArgs, block_on, cfn};
use crate::error::Refusal;
use crate::report::Ui;
use crate::site::invalidation;
use crate::site::publish::{self, SiteArgs, Target};
use crate::site::state::Store;
use crate::stack::lock::{self, LockArgs};

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
    /// Artifact bucket holding the site's bookkeeping [default: deploy.toml's env.NAME.artifact_bucket, else <stack>-artifacts-<account>-<region>]
    #[arg(long, value_name = "NAME")]
    pub artifact_bucket: Option<String>,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
    #[command(flatten)]
    pub lock: LockArgs,
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
            let c = Clients::new(&aws, self.timeout.deadline());
            let (outputs, account) = ui
                .phase("outputs", async {
                    let state = cfn::describe(&c.cfn, &stack_name).await?.ok_or_else(|| {
                        Refusal::new(
                            format!("stack {stack_name} does not exist in {}", aws.region()),
                            "deploy it first with `cargo xtask deploy`",
                        )
                    })?;
                    let account = crate::aws::account(&c, Some(&state)).await?;
                    let detail = format!(
                        "account {account}, region {}, {stack_name} is {}, {} outputs",
                        aws.region(),
                        state.status,
                        state.outputs.all.len()
                    );
                    Ok(((state.outputs, account), detail))
                })
                .await?;
            let artifact_bucket = bucket::artifact_bucket_of(
                self.artifact_bucket.as_deref(),
                &aws.settings,
                &stack_name,
                &account,
                aws.region(),
            );
            let store = Store { bucket: Bucket::new(artifact_bucket, &account), stack: stack_name.clone() };
            let Some(target) = Target::of(&outputs, &account, store, &ui) else { return Ok(()) };
            let held = if self.dry_run {
                None
            } else {
                let req = lock::Request {
                    bucket: &target.store.bucket,
                    stack: &stack_name,
                    command: "sync",
                    commit: &artifacts.git_commit,
                };
                ui.phase("lock", lock::acquire(&c, &req, &self.lock, &ui)).await?
            };
            let synced = async {
                let published =
                    ui.phase("site", publish::sync_site(&c, &target, &outputs, &artifacts.site, &opts, &ui)).await?;
                ui.phase("invalidation", async {
                    Ok(((), invalidation::invalidate(&c, &target, &published, &opts, &ui).await?))
                })
                .await
            }
            .await;
            match held {
                Some(held) => lock::released(synced, held.release(&c, &ui).await, &ui),
                None => synced,
            }
        });
        ui.conclude(result, self.json)
    }
}
