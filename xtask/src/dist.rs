//! `cargo xtask dist`: byte-reproducible release artifacts in `target/dist/` (layout in
//! [`crate::artifacts`]); `deploy --from-dist DIR` uploads exactly these bytes.

use std::path::PathBuf;

use crate::Ctx;
use crate::artifacts::Artifacts;
use crate::build::Builder;
use crate::errors::Refusal;

/// Zip size budgets: a function over its budget fails `build` and `dist` (checked before anything
/// replaces the output dir) (cold starts and the 50 MB direct
/// upload limit; the API is on the request path of every page).
pub const SIZE_BUDGETS: &[(&str, u64)] = &[("api", 5 * 1024 * 1024)];

/// Write byte-reproducible release artifacts (Lambda zips, site bundle, manifest.json, SHA256SUMS) to target/dist
#[derive(clap::Args, Debug)]
pub struct Dist {
    /// Output directory, replaced as a whole [default: <target dir>/dist]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl Dist {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let out = match self.out {
            Some(dir) => std::path::absolute(dir)?,
            None => ctx.target_dir().join("dist"),
        };
        let builder = Builder::from_ctx(ctx)?;
        let artifacts = builder.write_dist(&out)?;
        print_summary(&artifacts);
        println!("wrote {} (verify: cd {} && sha256sum -c SHA256SUMS)", out.display(), out.display());
        Ok(())
    }
}

/// Prints one line per function (zip size, key) and the site totals.
pub fn print_summary(artifacts: &Artifacts) {
    println!("{:<12} {:>10}  {:<7} key", "function", "zip size", "arch");
    for f in &artifacts.functions {
        let budget = SIZE_BUDGETS.iter().find(|(name, _)| *name == f.function).map(|(_, b)| *b);
        let over = budget.is_some_and(|b| f.size > b);
        println!(
            "{:<12} {:>10}  {:<7} {}{}",
            f.function,
            human_size(f.size),
            f.architecture,
            f.key,
            if over { "  OVER BUDGET" } else { "" }
        );
    }
    if artifacts.functions.is_empty() {
        println!("(no Lambda functions)");
    }
    let files = &artifacts.site.files;
    let total: u64 = files.values().map(|f| f.size).sum();
    let fingerprinted = files.values().filter(|f| f.fingerprinted).count();
    println!("site: {} files, {} ({fingerprinted} fingerprinted, immutable)", files.len(), human_size(total));
}

/// Fails when a function's zip exceeds its budget in [`SIZE_BUDGETS`].
pub fn check_budgets(artifacts: &Artifacts) -> anyhow::Result<()> {
    for f in &artifacts.functions {
        if let Some((_, budget)) = SIZE_BUDGETS.iter().find(|(name, _)| *name == f.function)
            && f.size > *budget
        {
            return Err(Refusal::new(
                format!("the {} zip is {}, over its {} budget", f.function, human_size(f.size), human_size(*budget)),
                "trim dependencies and features (cargo tree -e features), or raise SIZE_BUDGETS in xtask/src/dist.rs",
            )
            .into());
        }
    }
    Ok(())
}

/// `1.2 MiB`, `340.0 KiB`, `12 B`.
pub fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else if b >= KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{bytes} B")
    }
}
