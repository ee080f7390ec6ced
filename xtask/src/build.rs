//! `cargo xtask build`: Build every Lambda for arm64 (provided.al2023) and the site bundle [not implemented yet: issue #5].

use crate::Ctx;

/// Build every Lambda for arm64 (provided.al2023) and the site bundle [not implemented yet: issue #5]
#[derive(clap::Args, Debug)]
pub struct Build {}

impl Build {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<()> {
        Err(crate::errors::not_yet("build", 5))
    }
}
