//! `cargo xtask outputs`: prints the deployed stack's status and outputs (what deploy and sync read).

use crate::Ctx;
use crate::aws::{Aws, Clients, Deadline, block_on, cfn};
use crate::error::Refusal;

/// Print the stack's status and outputs (API URL, bucket names, Cognito ids, ...)
#[derive(clap::Args, Debug)]
pub struct Outputs {
    /// Print the outputs as one JSON object (name -> value)
    #[arg(long)]
    pub json: bool,
}

impl Outputs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let aws = Aws::connect(ctx)?;
        let stack_name = aws.settings.stack_name()?.to_string();
        // One read: a short deadline is plenty (the SDK's retries still apply).
        let c = Clients::new(&aws, Deadline::after(std::time::Duration::from_secs(300)));
        let state = block_on(cfn::describe(&c.cfn, &stack_name))?.ok_or_else(|| {
            Refusal::new(
                format!("stack {stack_name} does not exist in {}", aws.region()),
                "deploy it with `cargo xtask deploy`, or pick another with --stack-name / --region",
            )
        })?;
        let outputs = &state.outputs.all;
        if self.json {
            println!("{}", serde_json::to_string_pretty(outputs)?);
            return Ok(());
        }
        println!("stack    {stack_name} ({}) in {}", state.status, aws.region());
        let width = outputs.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in outputs {
            println!("  {key:<width$}  {value}");
        }
        Ok(())
    }
}
