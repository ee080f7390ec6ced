//! `cargo xtask lint`: Validate cloud/stack.yaml with cfn-lint and checkov [not implemented yet: issue #3].

use crate::Ctx;

/// Validate cloud/stack.yaml with cfn-lint and checkov [not implemented yet: issue #3]
#[derive(clap::Args, Debug, Default)]
pub struct Lint {}

impl Lint {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<()> {
        Err(crate::errors::not_yet("lint", 3))
    }
}
