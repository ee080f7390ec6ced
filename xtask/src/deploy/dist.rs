//! Local stand-in for `crate::artifacts` (the build/dist engineer's module), with the agreed shape.
//! Deleted once `xtask/src/artifacts.rs` lands on main; only `Artifacts::from_dist` is needed here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::errors::Refusal;

#[derive(Debug, Clone)]
pub struct FunctionArtifact {
    pub function: String,
    pub code_key_parameter: String,
    pub key: String,
    pub sha256: String,
    pub size: u64,
    pub path: PathBuf,
    pub architecture: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SiteFile {
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: String,
    pub fingerprinted: bool,
}

#[derive(Debug, Clone)]
pub struct SiteBundle {
    pub root: PathBuf,
    pub files: BTreeMap<String, SiteFile>,
}

#[derive(Debug, Clone)]
pub struct Artifacts {
    pub functions: Vec<FunctionArtifact>,
    pub site: SiteBundle,
}

#[derive(Deserialize)]
struct Manifest {
    version: u32,
    functions: BTreeMap<String, ManifestFunction>,
    site: BTreeMap<String, SiteFile>,
}

#[derive(Deserialize)]
struct ManifestFunction {
    key: String,
    sha256: String,
    size: u64,
    architecture: String,
    code_key_parameter: String,
}

impl Artifacts {
    /// Reads a dist directory (`manifest.json`, `lambdas/<fn>/<sha>.zip`, `site/...`) and checks
    /// every file against the manifest's sha256.
    pub fn from_dist(dir: &Path) -> anyhow::Result<Artifacts> {
        let manifest_path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
            Refusal::new(
                format!("cannot read {}: {e}", manifest_path.display()),
                "pass a directory written by `cargo xtask dist`",
            )
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a dist manifest", manifest_path.display()))?;
        anyhow::ensure!(manifest.version == 1, "{}: unsupported version {}", manifest_path.display(), manifest.version);
        let mut functions = Vec::new();
        for (name, f) in manifest.functions {
            let path = dir.join(&f.key);
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let sha = hex::encode(Sha256::digest(&bytes));
            if sha != f.sha256 {
                return Err(Refusal::new(
                    format!("{} has sha256 {sha}, the manifest says {}", path.display(), f.sha256),
                    "rebuild the dist directory with `cargo xtask dist`",
                )
                .into());
            }
            functions.push(FunctionArtifact {
                function: name,
                code_key_parameter: f.code_key_parameter,
                key: f.key,
                sha256: f.sha256,
                size: f.size,
                path,
                architecture: f.architecture,
            });
        }
        let root = dir.join("site");
        for (key, file) in &manifest.site {
            let path = root.join(key);
            let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let sha = hex::encode(Sha256::digest(&bytes));
            if sha != file.sha256 {
                return Err(Refusal::new(
                    format!("{} has sha256 {sha}, the manifest says {}", path.display(), file.sha256),
                    "rebuild the dist directory with `cargo xtask dist`",
                )
                .into());
            }
        }
        Ok(Artifacts { functions, site: SiteBundle { root, files: manifest.site } })
    }
}
