//! `cargo xtask dist`: Write byte-reproducible release artifacts and SHA256SUMS to target/dist [not implemented yet: issue #5].

use crate::Ctx;

/// Write byte-reproducible release artifacts and SHA256SUMS to target/dist [not implemented yet: issue #5]
#[derive(clap::Args, Debug)]
pub struct Dist {}

impl Dist {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<()> {
        Err(crate::errors::not_yet("dist", 5))
    }
}
