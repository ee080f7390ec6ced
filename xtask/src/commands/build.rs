//! `cargo xtask build`: every Lambda for arm64 (`provided.al2023`) through cargo-lambda, plus the
//! site bundle, into `<target dir>/xtask/artifacts` (a dist directory; see [`crate::artifacts`]).

use crate::Ctx;
use crate::artifacts;
use crate::report::Ui;

/// Build every Lambda for arm64 (provided.al2023) and the site bundle into target/xtask/artifacts
#[derive(clap::Args, Debug)]
pub struct Build {}

impl Build {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::plain("build");
        let built = artifacts::build::build_from_source(ctx, &ui);
        let artifacts = ui.conclude(built, false)?;
        for line in artifacts.summary_lines() {
            println!("{line}");
        }
        Ok(())
    }
}
