//! `cargo xtask sync`: Upload the site bundle to the stack's bucket and invalidate CloudFront [not implemented yet: issue #6].

use crate::Ctx;
use crate::aws::Aws;

/// Upload the site bundle to the stack's bucket and invalidate CloudFront [not implemented yet: issue #6]
#[derive(clap::Args, Debug)]
pub struct Sync {}

impl Sync {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        // The preflight already works: settings resolved, placeholders refused, credentials found.
        let _aws = Aws::connect(ctx)?;
        Err(crate::errors::not_yet("sync", 6))
    }
}
