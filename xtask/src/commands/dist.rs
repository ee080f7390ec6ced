//! `cargo xtask dist`: byte-reproducible release artifacts in `target/dist/` (layout in
//! [`crate::artifacts`]); `deploy --from-dist DIR` uploads exactly these bytes.

use std::path::PathBuf;

use crate::Ctx;
use crate::artifacts::build::{Budgets, build_dist};
use crate::compile::Compiler;
use crate::report::Ui;

/// Write byte-reproducible release artifacts (Lambda zips, site bundle, manifest.json, SHA256SUMS) to target/dist
#[derive(clap::Args, Debug)]
pub struct Dist {
    /// Output directory, replaced as a whole [default: <target dir>/dist]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the dist even when a zip is over its size budget (the api: 5 MiB), with a warning
    #[arg(long)]
    pub allow_oversize: bool,
}

impl Dist {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let out = match self.out {
            Some(dir) => std::path::absolute(dir)?,
            None => ctx.target_dir().join("dist"),
        };
        let budgets = if self.allow_oversize { Budgets::Warn } else { Budgets::Enforce };
        let ui = Ui::plain("dist");
        let built = Compiler::from_ctx(ctx).and_then(|compiler| build_dist(&compiler, &out, budgets, &ui));
        let artifacts = ui.conclude(built, false)?;
        for line in artifacts.summary_lines() {
            println!("{line}");
        }
        println!("wrote {} (verify: cd {} && sha256sum -c SHA256SUMS)", out.display(), out.display());
        Ok(())
    }
}
