//! `cargo xtask deploy`: Build, upload what changed, update the stack, migrate, sync the site [not implemented yet: issue #6].

use crate::Ctx;
use crate::aws::Aws;

/// Build, upload what changed, update the stack, migrate, sync the site [not implemented yet: issue #6]
#[derive(clap::Args, Debug)]
pub struct Deploy {}

impl Deploy {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        // The preflight already works: settings resolved, placeholders refused, credentials found.
        let _aws = Aws::connect(ctx)?;
        Err(crate::errors::not_yet("deploy", 6))
    }
}
