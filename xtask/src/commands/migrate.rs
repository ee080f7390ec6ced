//! `cargo xtask migrate`: Apply the embedded SQL migrations to DATABASE_URL.
//!
//! Runs the `migrate` function's binary locally (outside Lambda it migrates once and exits), so
//! the xtask itself does not link the database stack.

use xshell::cmd;

use crate::Ctx;
use crate::tools;

/// Apply the embedded SQL migrations to DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
#[derive(clap::Args, Debug)]
pub struct Migrate {}

impl Migrate {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let url = tools::require(&testkit::services::POSTGRES)?;
        let sh = &ctx.sh;
        let _db = sh.push_env("DATABASE_URL", url);
        cmd!(sh, "cargo run --quiet --locked -p notes-migrate --bin migrate").run()?;
        Ok(())
    }
}
