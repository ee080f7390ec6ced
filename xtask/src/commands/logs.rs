//! `cargo xtask logs <function>`: a function's CloudWatch logs, readable (time, level, request id,
//! message) or raw (`--json`), filtered server-side, followed by polling with `--follow`.

use std::time::Duration;

use crate::Ctx;
use crate::aws::{Aws, Clients, block_on, cfn};
use crate::error::Refusal;
use crate::ops::logs;

/// Print a function's logs: time, level, request id, message (`--json`: the raw lines)
#[derive(clap::Args, Debug)]
pub struct Logs {
    /// api, activity or migrate (the stack's `<Name>FunctionName` outputs), or a function name
    pub function: String,
    /// How far back to start: 30s, 15m, 2h, 1d
    #[arg(long, default_value = "15m", value_name = "AGE", value_parser = logs::parse_duration)]
    pub since: Duration,
    /// Keep printing new events as they arrive (polls every 2 s; Ctrl-C stops)
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// CloudWatch Logs filter pattern: words match anywhere (`ERROR`, `"exact phrase"`), `{ $.level = "ERROR" }` matches JSON fields
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Only the lines of one invocation (the request id in the JSON lines and in START/END/REPORT)
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    /// Print each event's message as it was logged (one JSON object per line for the functions)
    #[arg(long)]
    pub json: bool,
}

impl Logs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let aws = Aws::connect(ctx)?;
        let stack_name = aws.settings.stack_name()?.to_string();
        // `--follow` runs until interrupted; the deadline only bounds retries of a failing call.
        let c = Clients::new(&aws, crate::aws::Deadline::after(Duration::from_secs(7 * 24 * 3600)));
        block_on(async {
            let state = cfn::describe(&c.cfn, &stack_name).await?.ok_or_else(|| {
                Refusal::new(
                    format!("stack {stack_name} does not exist in {}", aws.region()),
                    "deploy it with `cargo xtask deploy`, or pick another with --stack-name / --region",
                )
            })?;
            let group = logs::log_group(&c, &state.outputs, &self.function).await?;
            let (pattern, request_id_here) = logs::pattern(self.filter.as_deref(), self.request_id.as_deref());
            eprintln!(
                "logs: {group}, last {}s{}{}",
                self.since.as_secs(),
                pattern.as_deref().map(|p| format!(", pattern {p}")).unwrap_or_default(),
                if self.follow { ", following (Ctrl-C stops)" } else { "" }
            );
            let request = logs::Request {
                group: &group,
                since: self.since,
                follow: self.follow,
                pattern: pattern.as_deref(),
                request_id_here: if request_id_here { self.request_id.as_deref() } else { None },
                json: self.json,
            };
            let printed = logs::print(&c, &request, &mut |line| println!("{line}")).await?;
            if printed == 0 {
                eprintln!("logs: no events in {group} for that window and filter");
            }
            Ok(())
        })
    }
}
