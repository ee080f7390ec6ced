//! `cargo xtask status`: the stack's status, where each function's `live` alias points (with the
//! traffic weights during a shift), the alarms in ALARM and the last release. Read-only.

use crate::Ctx;
use crate::aws::{Aws, Clients, block_on, cfn};
use crate::error::Refusal;
use crate::ops::status;

/// Show the stack's status, alias -> version per function (weights during a shift), alarms in ALARM, last release
#[derive(clap::Args, Debug)]
pub struct Status {
    /// Print it as one JSON object
    #[arg(long)]
    pub json: bool,
}

impl Status {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let aws = Aws::connect(ctx)?;
        let stack_name = aws.settings.stack_name()?.to_string();
        // Reads only: five minutes is long enough for any retry.
        let c = Clients::new(&aws, crate::aws::Deadline::after(std::time::Duration::from_secs(300)));
        let found = block_on(async {
            let state = cfn::describe(&c.cfn, &stack_name).await?.ok_or_else(|| {
                Refusal::new(
                    format!("stack {stack_name} does not exist in {}", aws.region()),
                    "deploy it with `cargo xtask deploy`, or pick another with --stack-name / --region",
                )
            })?;
            status::gather(&c, &stack_name, &state).await
        })?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&status::to_json(&found))?);
        } else {
            println!("{}", status::render(&found));
        }
        Ok(())
    }
}
