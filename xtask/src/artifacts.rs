//! What `cargo xtask build` / `dist` produce and `deploy` consumes: the Lambda zips and the site bundle.
//!
//! The on-disk form is the dist directory (`target/dist/` by default):
//!
//! ```text
//! lambdas/<function>/<sha256>.zip   one deterministic zip per function (a single 0755 `bootstrap`)
//! site/<files>                      the processed static site (fingerprinted names, rewritten refs)
//! manifest.json                     everything below, sorted keys, no timestamps
//! SHA256SUMS                        `sha256sum -c` compatible, covering every other file
//! ```
//!
//! [`Artifacts::from_dist`] reads such a directory back (for `deploy --from-dist DIR`) and verifies
//! every checksum, so a deploy never uploads bytes that differ from what `dist` wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::errors::Refusal;

/// The manifest format this xtask writes and understands.
pub const MANIFEST_VERSION: u32 = 1;

/// The only Lambda architecture we build for.
pub const ARCHITECTURE: &str = "arm64";

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

/// One file of the site bundle (defined in [`crate::site`], which `xtask/build.rs` compiles too).
pub use crate::site::SiteFile;

/// Everything a deploy uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    pub functions: Vec<FunctionArtifact>,
    pub site: SiteBundle,
}

/// `manifest.json`. Fields are in alphabetical order and maps are `BTreeMap`s: keys come out sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub functions: BTreeMap<String, FunctionEntry>,
    pub git_commit: String,
    pub site: BTreeMap<String, SiteFile>,
    /// Tool name -> version string, e.g. `rustc` -> `rustc 1.95.0 (...)`.
    pub tools: BTreeMap<String, String>,
    pub version: u32,
}

/// One function in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionEntry {
    pub architecture: String,
    pub code_key_parameter: String,
    pub key: String,
    pub sha256: String,
    pub size: u64,
}

impl Manifest {
    /// Pretty JSON with sorted keys and a trailing newline; the exact bytes written to `manifest.json`.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the manifest serializes");
        text.push('\n');
        text
    }
}

impl Artifacts {
    /// Reads a dist directory written by `cargo xtask dist`: parses `manifest.json`, then verifies the
    /// size and sha256 of every zip and site file it lists, and every line of `SHA256SUMS`.
    pub fn from_dist(dir: &Path) -> anyhow::Result<Artifacts> {
        let manifest_path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
            Refusal::new(
                format!("cannot read {}: {e}", manifest_path.display()),
                "pass a directory written by `cargo xtask dist` (default target/dist)",
            )
        })?;
        let invalid = |e: serde_json::Error| {
            Refusal::new(
                format!("{} is not a valid dist manifest: {e}", manifest_path.display()),
                "rebuild it with `cargo xtask dist`",
            )
        };
        // The version first, so that a newer format is reported as such, not as unknown fields.
        let value: serde_json::Value = serde_json::from_str(&text).map_err(invalid)?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(MANIFEST_VERSION)) {
            return Err(Refusal::new(
                format!(
                    "{} has manifest version {}, this xtask reads version {MANIFEST_VERSION}",
                    manifest_path.display(),
                    version.map_or("(none)".to_string(), |v| v.to_string())
                ),
                "rebuild it with this checkout's `cargo xtask dist`",
            )
            .into());
        }
        let manifest: Manifest = serde_json::from_value(value).map_err(invalid)?;
        verify_sha256sums(dir)?;
        let mut functions = Vec::new();
        for (function, entry) in &manifest.functions {
            let expected_key = format!("lambdas/{function}/{}.zip", entry.sha256);
            if entry.key != expected_key {
                return Err(corrupt(
                    dir,
                    &format!("function {function} has key {}, expected {expected_key}", entry.key),
                ));
            }
            let path = dir.join(&entry.key);
            verify_file(dir, &path, &entry.sha256, entry.size)?;
            functions.push(FunctionArtifact {
                function: function.clone(),
                code_key_parameter: entry.code_key_parameter.clone(),
                key: entry.key.clone(),
                sha256: entry.sha256.clone(),
                size: entry.size,
                path,
                architecture: entry.architecture.clone(),
            });
        }
        let root = dir.join("site");
        for (rel, file) in &manifest.site {
            if rel.split('/').any(|part| part.is_empty() || part == "." || part == "..") || rel.contains('\\') {
                return Err(corrupt(dir, &format!("site path {rel:?} is not a plain relative path")));
            }
            verify_file(dir, &root.join(rel), &file.sha256, file.size)?;
        }
        Ok(Artifacts { functions, site: SiteBundle { root, files: manifest.site } })
    }
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn corrupt(dir: &Path, what: &str) -> anyhow::Error {
    Refusal::new(
        format!("{}: {what}", dir.display()),
        "the dist directory was modified or is incomplete; rebuild it with `cargo xtask dist`",
    )
    .into()
}

fn verify_file(dir: &Path, path: &Path, sha256: &str, size: u64) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).map_err(|e| corrupt(dir, &format!("cannot read {}: {e}", path.display())))?;
    let actual = sha256_hex(&bytes);
    if actual != sha256 || bytes.len() as u64 != size {
        return Err(corrupt(
            dir,
            &format!(
                "{} has sha256 {actual} ({} bytes), the manifest says {sha256} ({size} bytes)",
                path.display(),
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// Checks every `<hex>  <path>` line of `DIR/SHA256SUMS`, like `sha256sum -c`.
pub fn verify_sha256sums(dir: &Path) -> anyhow::Result<()> {
    let sums_path = dir.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path)
        .map_err(|e| corrupt(dir, &format!("cannot read {}: {e}", sums_path.display())))?;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let Some((hash, rel)) = line.split_once("  ") else {
            return Err(corrupt(dir, &format!("malformed SHA256SUMS line {line:?}")));
        };
        let path = dir.join(rel);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("SHA256SUMS lists {rel}"))
            .map_err(|e| corrupt(dir, &format!("{e:#}")))?;
        let actual = sha256_hex(&bytes);
        if actual != hash {
            return Err(corrupt(dir, &format!("{rel} has sha256 {actual}, SHA256SUMS says {hash}")));
        }
    }
    Ok(())
}
