//! `cargo xtask smoke [--env NAME]`: checks a deployed stack from outside, from its outputs (API
//! health, site root, `config.json`, an API call without a token answering 401): one line per
//! check, non-zero exit naming the first failing one. The release workflow runs it after each
//! deploy.

use std::time::Duration;

use crate::Ctx;
use crate::aws::{Aws, Clients, Deadline, block_on, cfn, parse_duration};
use crate::error::Refusal;
use crate::ops::smoke::{self, Targets};

/// Check a deployed stack: API health, site root, config.json, 401 without a token
#[derive(clap::Args, Debug)]
pub struct Smoke {
    /// Send the API checks here instead of the ApiUrl output (config.json must still name ApiUrl)
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Send the site checks here instead of the SiteUrl output
    #[arg(long, value_name = "URL")]
    pub site_url: Option<String>,
    /// Time limit of each request
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "20s")]
    pub request_timeout: Duration,
}

impl Smoke {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let aws = Aws::connect(ctx)?;
        let stack_name = aws.settings.stack_name()?.to_string();
        let c = Clients::new(&aws, Deadline::after(Duration::from_secs(300)));
        let state = block_on(cfn::describe(&c.cfn, &stack_name))?.ok_or_else(|| {
            Refusal::new(
                format!("stack {stack_name} does not exist in {}", aws.region()),
                "deploy it first (cargo xtask deploy), or pick another with --env / --stack-name",
            )
        })?;
        let targets = Targets::of(&state.outputs, self.api_url.as_deref(), self.site_url.as_deref())
            .map_err(|why| Refusal::new(format!("{stack_name}: {why}"), "deploy the current cloud/stack.yaml"))?;
        let checks = smoke::run(&targets, &|url| smoke::curl(&ctx.sh, url, self.request_timeout));
        for check in &checks {
            println!("{}", check.line());
        }
        match checks.iter().find_map(|c| c.result.as_ref().err().map(|why| (c.name, why))) {
            None => Ok(()),
            Some((name, why)) => Err(Refusal::new(
                format!("smoke check `{name}` failed on {stack_name}: {why}"),
                "its line above shows what answered; `cargo xtask status` and `cargo xtask logs api` show the stack's side",
            )
            .into()),
        }
    }
}
