//! Reading a dist directory back (`deploy --from-dist DIR`): [`xtask_formats::dist::read`]
//! verifies every file it lists against `manifest.json` and `SHA256SUMS`, so a deploy never uploads
//! bytes `dist` did not write; here its errors become refusals with a hint.

use std::path::Path;

use xtask_formats::dist::{self, DistError};

use super::{Artifacts, FunctionArtifact, MANIFEST_VERSION, SiteBundle};
use crate::error::Refusal;

impl Artifacts {
    /// Reads a dist directory written by `cargo xtask dist`: parses `manifest.json`, then verifies the
    /// size and sha256 of every zip and site file it lists, and every line of `SHA256SUMS`.
    pub fn from_dist(dir: &Path) -> anyhow::Result<Artifacts> {
        let manifest_path = dir.join("manifest.json");
        let manifest = dist::read(dir).map_err(|e| match e {
            DistError::Unreadable(e) => Refusal::new(
                format!("cannot read {}: {e}", manifest_path.display()),
                "pass a directory written by `cargo xtask dist` (default target/dist)",
            ),
            DistError::Version(version) => Refusal::new(
                format!(
                    "{} has manifest version {}, this xtask reads version {MANIFEST_VERSION}",
                    manifest_path.display(),
                    version.map_or("(none)".to_string(), |v| v.to_string())
                ),
                "rebuild it with this checkout's `cargo xtask dist`",
            ),
            DistError::Invalid(e) => Refusal::new(
                format!("{} is not a valid dist manifest: {e}", manifest_path.display()),
                "rebuild it with `cargo xtask dist`",
            ),
            DistError::Corrupt(what) => Refusal::new(
                format!("{}: {what}", dir.display()),
                "the dist directory was modified or is incomplete; rebuild it with `cargo xtask dist`",
            ),
        })?;
        let functions = manifest
            .functions
            .iter()
            .map(|(function, entry)| FunctionArtifact {
                function: function.clone(),
                code_key_parameter: entry.code_key_parameter.clone(),
                key: entry.key.clone(),
                sha256: entry.sha256.clone(),
                size: entry.size,
                path: dir.join(&entry.key),
                architecture: entry.architecture.clone(),
            })
            .collect();
        Ok(Artifacts {
            functions,
            site: SiteBundle { root: dir.join("site"), files: manifest.site },
            git_commit: manifest.git_commit,
        })
    }
}
