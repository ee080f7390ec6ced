//! Zip size budgets: a function over its budget fails `dist` (checked before anything replaces the
//! output dir; `--allow-oversize` and `build` only warn). Cold starts and the 50 MB direct upload
//! limit; the API is on the request path of every page.

use super::Artifacts;
use crate::error::Refusal;
use crate::report::human_bytes;

/// Function name -> the largest zip it may have, in bytes.
pub const SIZE_BUDGETS: &[(&str, u64)] = &[("api", 5 * 1024 * 1024)];

/// The budget of `function`, if it has one.
pub fn budget(function: &str) -> Option<u64> {
    SIZE_BUDGETS.iter().find(|(name, _)| *name == function).map(|(_, b)| *b)
}

/// Fails when a function's zip exceeds its budget.
pub fn check(artifacts: &Artifacts) -> anyhow::Result<()> {
    for f in &artifacts.functions {
        if let Some(budget) = budget(&f.function)
            && f.size > budget
        {
            return Err(Refusal::new(
                format!("the {} zip is {}, over its {} budget", f.function, human_bytes(f.size), human_bytes(budget)),
                "trim dependencies and features (cargo tree -e features) or the release profile (opt-level, lto); `--allow-oversize` writes it anyway",
            )
            .into());
        }
    }
    Ok(())
}
