//! `cargo xtask destroy`: Empty the buckets and delete the stack [not implemented yet: issue #6].

use crate::Ctx;
use crate::aws::Aws;

/// Empty the buckets and delete the stack [not implemented yet: issue #6]
#[derive(clap::Args, Debug)]
pub struct Destroy {}

impl Destroy {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        // The preflight already works: settings resolved, placeholders refused, credentials found.
        let _aws = Aws::connect(ctx)?;
        Err(crate::errors::not_yet("destroy", 6))
    }
}
