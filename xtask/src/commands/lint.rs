//! `cargo xtask lint`: the project's own checks on the template, the parameters and the deployer
//! policy, then cfn-lint and checkov at their pinned versions (xtask/python-tools.txt).
//!
//! Each check prints what it compared and how many problems it found; every problem is one line
//! (`lint: <check> <what>`), and the command fails when there is any. Passing means zero cfn-lint
//! findings at every level (`-c I` includes informational ones) and zero failed checkov checks. A
//! suppression belongs in the resource's Metadata with a reason. The checks are
//! [`crate::lint`]'s; `cargo xtask test` runs the same.

use crate::Ctx;
use crate::lint;
use crate::tools::Tools;

/// Validate cloud/ (consistency, authorization, parliament, cfn-lint -c I, checkov) and .github/workflows (actionlint, zizmor)
#[derive(clap::Args, Debug, Default)]
pub struct Lint {
    /// Only the built-in checks; skip parliament, cfn-lint, checkov, actionlint and zizmor
    #[arg(long)]
    pub no_tools: bool,
}

impl Lint {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let tools = if self.no_tools { None } else { Some(Tools::ensure(ctx)?) };
        lint::run_and_report(ctx, tools.as_ref())
    }
}
