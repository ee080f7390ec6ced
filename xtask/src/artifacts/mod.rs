//! The dist format, end to end: what `build`/`dist` write and `deploy` consumes. The format itself
//! (the manifest type, the S3 key of a function, reading and verifying a directory) is
//! [`xtask_formats::dist`], re-exported here; this module owns the rest: the one writer
//! ([`writer::DistWriter`], used by build, dist, the bench and the tests' fake dists), the one
//! reader ([`Artifacts::from_dist`], which turns the format's errors into refusals with a hint), the
//! size budgets ([`budgets`]), building a dist from the workspace ([`build`]), and the artifact
//! bucket ([`bucket`]). The layout on disk (`target/dist/` by default) is in [`xtask_formats::dist`].

pub mod bucket;
pub mod budgets;
pub mod build;
mod reader;
pub mod releases;
pub mod writer;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use xtask_formats::dist::{
    ARCHITECTURE, FunctionEntry, KEY_PATTERN, KEY_PREFIX, MANIFEST_VERSION, Manifest, function_key,
};
pub use xtask_formats::sha256_hex;

/// One Lambda function's packaged code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionArtifact {
    /// The function name, e.g. `api` (also its `[[bin]]` name).
    pub function: String,
    /// The CloudFormation parameter that receives [`Self::key`], e.g. `ApiCodeKey`.
    pub code_key_parameter: String,
    /// Content-addressed S3 key, `lambdas/<function>/<sha256>.zip`; also the path inside the dist dir.
    pub key: String,
    /// Lowercase hex sha256 of the zip bytes.
    pub sha256: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// The zip on disk.
    pub path: PathBuf,
    /// Lambda architecture, always `arm64`.
    pub architecture: String,
}

/// The processed static site, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteBundle {
    /// Directory holding the files.
    pub root: PathBuf,
    /// Relative path (`/`-separated, e.g. `assets/app.3f2a9c1b.js`) -> what it must be served with.
    pub files: BTreeMap<String, SiteFile>,
}

/// One file of the site bundle (the bundler's type: `site_bundle::SiteFile`).
pub use crate::site::SiteFile;

/// Everything a deploy uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    pub functions: Vec<FunctionArtifact>,
    pub site: SiteBundle,
    /// The commit the dist was built from (`-dirty` when the checkout had changes).
    pub git_commit: String,
}

impl Artifacts {
    /// One line per function (zip size, key) and the site totals, as `build` and `dist` print them.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("{:<12} {:>10}  {:<7} key", "function", "zip size", "arch")];
        for f in &self.functions {
            let over = budgets::budget(&f.function).is_some_and(|b| f.size > b);
            lines.push(format!(
                "{:<12} {:>10}  {:<7} {}{}",
                f.function,
                crate::report::human_bytes(f.size),
                f.architecture,
                f.key,
                if over { "  OVER BUDGET" } else { "" }
            ));
        }
        if self.functions.is_empty() {
            lines.push("(no Lambda functions)".into());
        }
        let files = &self.site.files;
        let total: u64 = files.values().map(|f| f.size).sum();
        let fingerprinted = files.values().filter(|f| f.fingerprinted).count();
        lines.push(format!(
            "site: {} files, {} ({fingerprinted} fingerprinted, immutable)",
            files.len(),
            crate::report::human_bytes(total)
        ));
        lines
    }
}
