//! `cargo xtask build`: Build every Lambda for arm64 (provided.al2023) and the site bundle [in progress: issue #5].

use crate::Ctx;
use crate::artifacts::Artifacts;

/// Build every Lambda for arm64 (provided.al2023) and the site bundle
#[derive(clap::Args, Debug)]
pub struct Build {}

impl Build {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        build_artifacts(ctx).map(|_| ())
    }
}

/// Builds every Lambda function and the site bundle (what `cargo xtask build` and `deploy` call).
pub fn build_artifacts(_ctx: &Ctx) -> anyhow::Result<Artifacts> {
    Err(crate::errors::not_yet("build", 5))
}
