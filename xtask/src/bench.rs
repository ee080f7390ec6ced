//! `cargo xtask bench`: Measure sync, deploy, builds, cold start and API latency; write BENCHMARKS.md [not implemented yet: issue #8].

use crate::Ctx;

/// Measure sync, deploy, builds, cold start and API latency; write BENCHMARKS.md [not implemented yet: issue #8]
#[derive(clap::Args, Debug)]
pub struct Bench {}

impl Bench {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<()> {
        Err(crate::errors::not_yet("bench", 8))
    }
}
