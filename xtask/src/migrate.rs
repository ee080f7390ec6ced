//! `cargo xtask migrate`: Apply the embedded SQL migrations to DATABASE_URL [not implemented yet: issue #4].

use crate::Ctx;

/// Apply the embedded SQL migrations to DATABASE_URL [not implemented yet: issue #4]
#[derive(clap::Args, Debug)]
pub struct Migrate {}

impl Migrate {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<()> {
        Err(crate::errors::not_yet("migrate", 4))
    }
}
