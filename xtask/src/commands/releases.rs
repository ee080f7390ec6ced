//! `cargo xtask releases`: the stack's release records in the artifact bucket, newest first, and
//! which one the stack runs. Read-only (no lock).

use crate::Ctx;
use crate::artifacts::bucket;
use crate::artifacts::releases::{self, Release};
use crate::aws::s3::Bucket;
use crate::aws::{Aws, Clients, Deadline, block_on, cfn};

/// List the stack's releases (number, time, commit, who) and which one is live
#[derive(clap::Args, Debug)]
pub struct Releases {
    /// Show at most this many, newest first
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub last: usize,
    /// Print them as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Artifact bucket holding the records [default: deploy.toml's env.NAME.artifact_bucket, else <stack>-artifacts-<account>-<region>]
    #[arg(long, value_name = "NAME")]
    pub artifact_bucket: Option<String>,
}

impl Releases {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let aws = Aws::connect(ctx)?;
        let stack = aws.settings.stack_name()?.to_string();
        // Reads only: a short deadline is plenty (the SDK's retries still apply).
        let c = Clients::new(&aws, Deadline::after(std::time::Duration::from_secs(300)));
        let (records, live) = block_on(async {
            let state = cfn::describe(&c.cfn, &stack).await?;
            let account = crate::aws::account(&c, state.as_ref()).await?;
            let name = bucket::artifact_bucket_of(
                self.artifact_bucket.as_deref(),
                &aws.settings,
                &stack,
                &account,
                aws.region(),
            );
            let bucket = Bucket::new(name, &account);
            let numbers = releases::numbers(&c, &bucket, &stack).await?;
            let mut records: Vec<Release> = Vec::new();
            for number in numbers.iter().rev().take(self.last.max(1)) {
                if let Some(release) = releases::read(&c, &bucket, &stack, *number).await? {
                    records.push(release);
                }
            }
            let live = state.and_then(|s| releases::live(&records, &s.parameters));
            anyhow::Ok((records, live))
        })?;
        if self.json {
            let rows: Vec<serde_json::Value> = records
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "number": r.number, "time": r.time, "commit": r.commit, "who": r.who,
                        "live": Some(r.number) == live, "functions": r.functions, "rollback_of": r.rollback_of,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        if records.is_empty() {
            println!("stack {stack} has no release records yet (each deploy that changes something writes one)");
            return Ok(());
        }
        println!("  {:>7}  {:<20}  {:<12}  who", "release", "time", "commit");
        for r in &records {
            let mark = if Some(r.number) == live { "*" } else { " " };
            let commit: String = r.commit.chars().take(12).collect();
            let rollback = r.rollback_of.map_or(String::new(), |n| format!("  (rollback to {n})"));
            println!("{mark} {:>7}  {:<20}  {commit:<12}  {}{rollback}", r.number, r.time, r.who);
        }
        match live {
            Some(n) => println!("* live: release {n} is what the stack runs"),
            None => println!("no release is live: the stack runs parameters no release recorded"),
        }
        Ok(())
    }
}
