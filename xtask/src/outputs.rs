//! `cargo xtask outputs`: prints the deployed stack's status and outputs (what deploy and sync read).

use std::collections::BTreeMap;

use anyhow::Context;
use aws_sdk_cloudformation::error::DisplayErrorContext;

use crate::Ctx;
use crate::aws::{Aws, block_on};
use crate::errors::Refusal;

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
        let (status, outputs) = block_on(stack_outputs(&aws, &stack_name))?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&outputs)?);
            return Ok(());
        }
        println!("stack    {stack_name} ({status}) in {}", aws.region());
        let width = outputs.keys().map(String::len).max().unwrap_or(0);
        for (key, value) in &outputs {
            println!("  {key:<width$}  {value}");
        }
        Ok(())
    }
}

/// The stack's status and its outputs by name; a clear refusal when the stack does not exist.
pub async fn stack_outputs(aws: &Aws, stack_name: &str) -> anyhow::Result<(String, BTreeMap<String, String>)> {
    let response = aws.cloudformation().describe_stacks().stack_name(stack_name).send().await;
    let response = match response {
        Ok(r) => r,
        Err(err) if DisplayErrorContext(&err).to_string().contains("does not exist") => {
            return Err(Refusal::new(
                format!("stack {stack_name} does not exist in {}", aws.region()),
                "deploy it with `cargo xtask deploy`, or pick another with --stack-name / --region",
            )
            .into());
        }
        Err(err) => {
            return Err(anyhow::Error::new(err)).with_context(|| format!("cannot describe stack {stack_name}"));
        }
    };
    let stack =
        response.stacks().first().with_context(|| format!("stack {stack_name}: empty DescribeStacks answer"))?;
    let status = stack.stack_status().map_or("UNKNOWN".to_string(), |s| s.as_str().to_string());
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value().unwrap_or_default().to_string())))
        .collect();
    Ok((status, outputs))
}
