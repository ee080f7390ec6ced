//! `cargo xtask test`: every check CI runs, in phases, each compiled or installed once before it is
//! used: what this machine needs (the pinned Python tools, the arm64 Rust target), the local
//! servers, clippy with `-D warnings`, the test binaries (`cargo test --no-run`), the tests (the
//! tidy tests include rustfmt), the browser test, and the template lint.

mod browser;

use xshell::cmd;

use crate::Ctx;
use crate::compile::Compiler;
use crate::lint;
use crate::report::Ui;
use crate::tools::{self, Tools};

/// Run every check: clippy -D warnings, all tests against real Postgres/Redis/moto (fmt included), browser, lint
#[derive(clap::Args, Debug)]
pub struct Test {
    /// Skip `cargo xtask lint` (cfn-lint and checkov)
    #[arg(long)]
    pub no_lint: bool,
    /// Skip the browser test (headless Chromium against the dev server)
    #[arg(long)]
    pub no_browser: bool,
    /// Extra arguments for `cargo test`, e.g. `-- --nocapture` or a test name filter
    #[arg(last = true)]
    pub cargo_test_args: Vec<String>,
}

impl Test {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let ui = Ui::plain("test");
        let result = self.phases(ctx, &ui);
        ui.conclude(result, false)
    }

    fn phases(&self, ctx: &Ctx, ui: &Ui) -> anyhow::Result<()> {
        let sh = &ctx.sh;
        // Installed once, here: tests running in parallel must not each try (rustup refuses two
        // concurrent installs of one target).
        let tools = ui.phase_blocking("tools", || {
            let tools = Tools::ensure(ctx)?;
            let target = Compiler::from_ctx(ctx)?.ensure_target()?;
            Ok((tools, format!("pinned Python tools in {}, Rust target {target}", tools_dir(ctx))))
        })?;
        let (database_url, redis_url) = ui.phase_blocking("services", || {
            let db = tools::require(&testkit::services::POSTGRES)?;
            let redis = tools::require(&testkit::services::REDIS)?;
            let detail = format!("PostgreSQL at {db}, Redis at {redis}");
            Ok(((db, redis), detail))
        })?;
        ui.phase_blocking("clippy", || {
            cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?;
            Ok(((), "-D warnings".into()))
        })?;
        let _path = sh.push_env("PATH", tools.path_env());
        let _db = sh.push_env("DATABASE_URL", database_url);
        let _redis = sh.push_env("REDIS_URL", redis_url);
        ui.phase_blocking("compile tests", || {
            cmd!(sh, "cargo test --workspace --locked --no-run").run()?;
            Ok(((), "cargo test --no-run".into()))
        })?;
        let args = &self.cargo_test_args;
        ui.phase_blocking("tests", || {
            cmd!(sh, "cargo test --workspace --locked --no-fail-fast {args...}").run()?;
            Ok(((), "unit, integration and tidy tests".into()))
        })?;
        if !self.no_browser {
            ui.phase_blocking("browser", || {
                browser::run(ctx)?;
                Ok(((), "headless Chromium against the dev server".into()))
            })?;
        }
        if !self.no_lint {
            ui.phase_blocking("lint", || {
                lint::run_and_report(ctx, Some(&tools))?;
                Ok(((), "cloud/ and .github/workflows".into()))
            })?;
        }
        Ok(())
    }
}

fn tools_dir(ctx: &Ctx) -> String {
    ctx.shown(&ctx.target_dir().join("tools/venv"))
}
