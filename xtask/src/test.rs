//! `cargo xtask test`: every check CI runs — fmt, clippy, unit/integration/tidy tests, template lint.

use xshell::cmd;

use crate::Ctx;
use crate::step::Steps;
use crate::tools::Tools;
use crate::{lint, services};

/// Run every check: rustfmt, clippy -D warnings, all tests against real Postgres/Redis/moto, template lint
#[derive(clap::Args, Debug)]
pub struct Test {
    /// Skip `cargo xtask lint` (cfn-lint and checkov)
    #[arg(long)]
    pub no_lint: bool,
    /// Extra arguments for `cargo test`, e.g. `-- --nocapture` or a test name filter
    #[arg(last = true)]
    pub cargo_test_args: Vec<String>,
}

impl Test {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let sh = &ctx.sh;
        let mut steps = Steps::default();
        let tools = steps.run("pinned Python tools (moto, cfn-lint, checkov, cargo-lambda)", || Tools::ensure(ctx))?;
        steps.run("PostgreSQL and Redis reachable", || {
            services::require_postgres()?;
            services::require_redis()
        })?;
        steps.run("cargo fmt --check", || Ok(cmd!(sh, "cargo fmt --all -- --check").run()?))?;
        steps.run("cargo clippy -D warnings", || {
            Ok(cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?)
        })?;
        let args = &self.cargo_test_args;
        steps.run("cargo test (unit, integration, tidy)", || {
            let _path = sh.push_env("PATH", tools.path_env());
            let _db = sh.push_env("DATABASE_URL", services::database_url());
            let _redis = sh.push_env("REDIS_URL", services::redis_url());
            Ok(cmd!(sh, "cargo test --workspace --locked {args...}").run()?)
        })?;
        if !self.no_lint {
            steps.run("cargo xtask lint", || lint::Lint::default().run(ctx))?;
        }
        steps.summary();
        Ok(())
    }
}
