//! `cargo xtask dev`: Run the app locally (site + API) on in-memory backends [not implemented yet: issue #7].

use crate::Ctx;

/// Run the app locally (site + API) on in-memory backends [not implemented yet: issue #7]
#[derive(clap::Args, Debug)]
pub struct Dev {}

impl Dev {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<()> {
        Err(crate::errors::not_yet("dev", 7))
    }
}
