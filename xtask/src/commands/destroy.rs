//! `cargo xtask destroy`: refuse what would make the deletion fail, take the database's final
//! snapshot, stop writes to and empty the stack's buckets (every version), delete the stack, and say
//! what is left and what it costs.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use futures::StreamExt;

use crate::Ctx;
use crate::artifacts::{bucket, releases};
use crate::aws::s3::{Bucket, bucket_size, deny_writes, empty_bucket};
use crate::aws::{Aws, Clients, TimeoutArgs, block_on, cfn};
use crate::cloud::{Template, injected};
use crate::error::Refusal;
use crate::report::{Ui, human_bytes};
use crate::stack::lock::{self, LockArgs};

/// Empty the stack's buckets (all versions), delete the stack and wait; say what is retained
#[derive(clap::Args, Debug)]
pub struct Destroy {
    /// Do not ask for the stack name (required when standard input is not a terminal)
    #[arg(long)]
    pub yes: bool,
    /// Keep the app-data bucket (AppDataBucketName output) and everything in it
    #[arg(long)]
    pub keep_data: bool,
    /// Print the summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Batch deletions in flight at once (1,000 keys each)
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub parallel: usize,
    #[command(flatten)]
    pub timeout: TimeoutArgs,
    #[command(flatten)]
    pub lock: LockArgs,
}

fn monthly_s3_cost(bytes: u64) -> String {
    // S3 Standard, us-east-1 list price: $0.023 per GB-month.
    format!("about ${:.2}/month", bytes as f64 / 1e9 * 0.023)
}

impl Destroy {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::new("destroy", false);
        let (aws, stack_name) = ui.preflight(|| {
            let aws = Aws::connect(ctx)?;
            let name = aws.settings.stack_name()?.to_string();
            // Before any AWS call: nobody can type the stack name without a terminal.
            if !self.yes && !std::io::stdin().is_terminal() {
                return Err(Refusal::new(
                    "destroy needs confirmation and standard input is not a terminal",
                    "pass --yes to delete the stack and empty its buckets without asking",
                )
                .into());
            }
            let detail = format!("stack {name} in {}", aws.region());
            Ok(((aws, name), detail))
        })?;
        ui.with(|s| {
            s.stack = Some(stack_name.clone());
            s.region = aws.region().to_string();
        });
        let result = block_on(self.run_async(&aws, &stack_name, &ui));
        ui.conclude(result, self.json)
    }

    async fn run_async(&self, aws: &Aws, stack_name: &str, ui: &Ui) -> anyhow::Result<()> {
        let c = Clients::new(aws, self.timeout.deadline());
        let Some(state) = cfn::describe(&c.cfn, stack_name).await? else {
            ui.with(|s| s.stack_action = "already deleted".into());
            ui.line(format!("    stack {stack_name} does not exist in {}: nothing to destroy", aws.region()));
            return Ok(());
        };
        // Everything that would make the deletion fail is refused before any data is touched:
        // emptying the buckets of a stack that then refuses to go would be the worst outcome.
        if !cfn::is_terminal(&state.status) && state.status != "REVIEW_IN_PROGRESS" {
            return Err(Refusal::new(
                format!("stack {stack_name} is {}: another operation is running", state.status),
                "let it finish (`cargo xtask deploy --repair` follows it), then run destroy again",
            )
            .into());
        }
        if state.termination_protection {
            return Err(Refusal::new(
                format!("stack {stack_name} has termination protection enabled"),
                format!(
                    "turn it off first: aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name {stack_name}"
                ),
            )
            .into());
        }
        if state.parameters.get(injected::DELETION_PROTECTION).is_some_and(|v| v == "true") {
            return Err(Refusal::new(
                format!(
                    "stack {stack_name} was deployed with {}=true (the database and user pool refuse deletion)",
                    injected::DELETION_PROTECTION
                ),
                format!(
                    "deploy it with `cargo xtask deploy --parameter {}=false` first, then destroy",
                    injected::DELETION_PROTECTION
                ),
            )
            .into());
        }
        let account = crate::aws::account(&c, Some(&state)).await?;
        // Under the stack's lock: no deploy or sync runs while it goes.
        let name = bucket::artifact_bucket_of(None, &aws.settings, stack_name, &account, aws.region());
        let artifacts = Bucket::new(name, &account);
        let req = lock::Request { bucket: &artifacts, stack: stack_name, command: "destroy", commit: "-" };
        let held = ui.phase("lock", lock::acquire(&c, &req, &self.lock, ui)).await?;
        let result = self.locked(&c, aws, stack_name, &state, &artifacts, ui).await;
        match held {
            Some(held) => lock::released(result, held.release(&c, ui).await, ui),
            None => result,
        }
    }

    async fn locked(
        &self,
        c: &Clients,
        aws: &Aws,
        stack_name: &str,
        state: &cfn::StackState,
        artifacts: &Bucket,
        ui: &Ui,
    ) -> anyhow::Result<()> {
        let account = artifacts.owner.as_str();
        let template =
            cfn::deployed_template(&c.cfn, &state.id).await.ok().flatten().and_then(|b| Template::parse(&b).ok());
        let retained = template.map(|t| t.retained()).unwrap_or_default();
        let resources = cfn::resources(&c.cfn, &state.id).await?;
        // Buckets to empty: the site and app-data buckets (outputs), and any other bucket of the stack
        // that CloudFormation will delete (it cannot delete a bucket that is not empty). Retained
        // buckets other than those two (the log bucket's audit trail) are left alone.
        let site_bucket = state.outputs.site_bucket_name.clone();
        let data_bucket = state.outputs.app_data_bucket_name.clone();
        let mut buckets: Vec<(String, Bucket)> = resources
            .iter()
            .filter(|r| r.kind == "AWS::S3::Bucket" && !r.physical_id.is_empty())
            .filter(|r| {
                Some(&r.physical_id) == site_bucket.as_ref()
                    || Some(&r.physical_id) == data_bucket.as_ref()
                    || !retained.iter().any(|(l, _, _)| *l == r.logical_id)
            })
            .map(|r| (r.logical_id.clone(), Bucket::new(&r.physical_id, account)))
            .collect();
        let kept: Vec<(String, Bucket)> =
            buckets.iter().filter(|(_, b)| self.keep_data && Some(&b.name) == data_bucket.as_ref()).cloned().collect();
        buckets.retain(|b| !kept.contains(b));
        let databases: Vec<String> = resources
            .iter()
            .filter(|r| r.kind == "AWS::RDS::DBInstance" && !r.physical_id.is_empty())
            .map(|r| r.physical_id.clone())
            .collect();
        if !self.yes {
            eprintln!("This deletes stack {stack_name} ({}) in {} and empties, for good:", state.status, aws.region());
            for (_, b) in &buckets {
                eprintln!("  {b} (every object version)");
            }
            for db in &databases {
                eprintln!("  the database {db} (after a final snapshot)");
            }
            let typed = ui.ask("Type the stack name to confirm:", "pass --yes to delete without asking")?;
            if typed != stack_name {
                return Err(Refusal::new(
                    "destroy cancelled: the name typed is not the stack name",
                    "type it exactly, or pass --yes",
                )
                .into());
            }
        }
        if !databases.is_empty() {
            ui.phase("final snapshot", async {
                let mut taken = Vec::new();
                for db in &databases {
                    // One per day: a rerun after an interruption waits for the snapshot it
                    // already started instead of taking another.
                    let day: String = releases::rfc3339_now().chars().take(10).filter(|c| *c != '-').collect();
                    let snapshot = format!("{db}-final-{day}");
                    crate::aws::rds::final_snapshot(&c.rds, db, &snapshot, &c.deadline).await?;
                    taken.push(snapshot);
                }
                Ok(((), format!("kept as {} (billed as backup storage until you delete it)", taken.join(", "))))
            })
            .await?;
        }
        ui.phase("empty buckets", async {
            // Stop writes first, then empty: nothing refills a bucket while it is being emptied.
            for (_, b) in &buckets {
                deny_writes(c, b).await?;
            }
            let jobs = buckets.iter().map(|(_, b)| {
                let c = &c;
                async move { (b.clone(), empty_bucket(c, b, self.parallel).await) }
            });
            let results = futures::stream::iter(jobs).buffer_unordered(4).collect::<Vec<_>>().await;
            let mut emptied = 0;
            for (b, r) in results {
                match r? {
                    Some(e) => {
                        ui.line(format!(
                            "    {b}: {} versions ({}), {} delete markers, {} incomplete uploads removed",
                            e.versions,
                            human_bytes(e.bytes),
                            e.delete_markers,
                            e.uploads
                        ));
                        ui.with(|s| {
                            s.objects_deleted += e.versions + e.delete_markers;
                            s.emptied_buckets.push(b.name.clone());
                        });
                        emptied += 1;
                    }
                    None => ui.line(format!("    {b}: already gone")),
                }
            }
            Ok(((), format!("{emptied} buckets emptied")))
        })
        .await?;
        ui.phase("delete stack", async {
            match cfn::delete_and_wait(&c.cfn, &state.id, &[], ui, &c.deadline).await {
                Ok(()) => {}
                Err(err) if !kept.is_empty() => {
                    // The kept bucket is not empty, so CloudFormation could not delete it: retain it.
                    ui.note(format!(
                        "{err}; deleting again, retaining {}",
                        kept.iter().map(|k| k.0.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                    let retain: Vec<String> = kept.iter().map(|k| k.0.clone()).collect();
                    cfn::delete_and_wait(&c.cfn, &state.id, &retain, ui, &c.deadline).await?;
                }
                Err(err) => return Err(err),
            }
            ui.with(|s| s.stack_action = "DELETE_COMPLETE".into());
            Ok(((), "DELETE_COMPLETE".into()))
        })
        .await?;
        self.report_retained(c, artifacts, &retained, &kept, ui).await;
        Ok(())
    }

    /// What outlives the stack and what it costs.
    async fn report_retained(
        &self,
        c: &Clients,
        artifacts: &Bucket,
        retained: &[(String, String, String)],
        kept: &[(String, Bucket)],
        ui: &Ui,
    ) {
        ui.line("    retained (not deleted by destroy):");
        for (_, b) in kept {
            let size = bucket_size(c, b).await;
            let (n, bytes) = size.unwrap_or_default();
            ui.line(format!(
                "      {b} (--keep-data): {n} object versions, {}, {}",
                human_bytes(bytes),
                monthly_s3_cost(bytes)
            ));
        }
        if let Some((n, bytes)) = bucket_size(c, artifacts).await {
            ui.line(format!(
                "      {artifacts} (deploy artifacts and release records, reused by the next deploy): {n} versions, {}, {}; old versions expire after {} days",
                human_bytes(bytes),
                monthly_s3_cost(bytes),
                bucket::NONCURRENT_DAYS
            ));
        }
        let mut by_policy: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (logical, kind, policy) in retained {
            by_policy.entry(policy.clone()).or_default().push(format!("{logical} ({kind})"));
        }
        for (policy, items) in by_policy {
            let cost = if policy == "Snapshot" {
                "final snapshots are billed as backup storage (RDS: about $0.095 per GB-month) until you delete them"
            } else {
                "billed as the resource itself until you delete it"
            };
            ui.line(format!("      DeletionPolicy {policy}: {} — {cost}", items.join(", ")));
        }
        ui.line("      outside the stack: ACM certificates (free) and Route 53 hosted zones ($0.50/month each) named in cloud/parameters.json");
    }
}
