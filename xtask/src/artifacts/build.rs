//! Building a dist from the workspace: compile every function ([`crate::compile`]), package each
//! `bootstrap` ([`crate::package`]), bundle `static/` ([`crate::site`]), and write it all with the
//! one [`DistWriter`].

use std::path::Path;

use super::writer::DistWriter;
use super::{Artifacts, budgets};
use crate::Ctx;
use crate::compile::Compiler;
use crate::package;
use crate::report::Ui;

/// What to do with a zip over its size budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budgets {
    /// Refuse to write the dist (`dist`, the release gate).
    Enforce,
    /// Write it with a warning (`build`, `deploy` from source, `dist --allow-oversize`).
    Warn,
}

/// Builds everything and writes a complete dist directory at `out`.
pub fn build_dist(compiler: &Compiler, out: &Path, budgets: Budgets, ui: &Ui) -> anyhow::Result<Artifacts> {
    let mut writer = DistWriter::create(out)?;
    let functions = ui.phase_blocking("discover", || {
        let functions = compiler.discover()?;
        let detail = if functions.is_empty() {
            "no package declares [package.metadata.xtask.lambda]: the dist holds the site only".to_string()
        } else {
            format!("functions: {}", functions.iter().map(|f| f.function.as_str()).collect::<Vec<_>>().join(", "))
        };
        Ok((functions, detail))
    })?;
    let tools = ui.phase_blocking("toolchain", || {
        let tools = compiler.check_toolchain()?;
        let detail = tools.values().cloned().collect::<Vec<_>>().join(", ");
        Ok((tools, detail))
    })?;
    let bootstraps = ui.phase_blocking("compile", || {
        let bootstraps = compiler.compile(&functions)?;
        Ok((bootstraps, "cargo lambda build --release --arm64".into()))
    })?;
    ui.phase_blocking("package", || {
        for (f, bootstrap) in functions.iter().zip(&bootstraps) {
            let zip = package::package_bootstrap(&f.function, bootstrap)?;
            writer.add_function(&f.function, &f.code_key_parameter, &zip)?;
        }
        Ok(((), format!("{} zips (ELF check, deterministic zip)", functions.len())))
    })?;
    ui.phase_blocking("site", || {
        let bundle = crate::site::bundle(&compiler.root.join("static"), &writer.site_dir())?;
        for warning in &bundle.warnings {
            ui.line(format!("    warning: static/{warning}"));
        }
        let detail = format!("{} files from static/", bundle.files.len());
        writer.set_site(bundle.files);
        Ok(((), detail))
    })?;
    let staged = writer.finish(compiler.git_commit(), tools)?;
    if let Err(err) = budgets::check(&staged.artifacts) {
        if budgets == Budgets::Enforce {
            for line in staged.artifacts.summary_lines() {
                println!("{line}");
            }
            return Err(err);
        }
        ui.note(format!("{err} (`cargo xtask dist` refuses this)"));
    }
    staged.commit()
}

/// Builds every Lambda function and the site bundle from source into `<target dir>/xtask/artifacts`
/// (what `build` writes and `deploy`/`sync` without `--from-dist` upload).
pub fn build_from_source(ctx: &Ctx, ui: &Ui) -> anyhow::Result<Artifacts> {
    let compiler = Compiler::from_ctx(ctx)?;
    build_dist(&compiler, &ctx.target_dir().join("xtask/artifacts"), Budgets::Warn, ui)
}

/// The artifacts a deploy or sync uploads: `--from-dist DIR` (verified), or a fresh build.
pub fn load(ctx: &Ctx, from_dist: Option<&Path>, ui: &Ui) -> anyhow::Result<Artifacts> {
    match from_dist {
        Some(dir) => Artifacts::from_dist(&std::path::absolute(dir)?),
        None => build_from_source(ctx, ui),
    }
}
