//! Reading a dist directory back (`deploy --from-dist DIR`): every file it lists is verified
//! against `manifest.json` and `SHA256SUMS`, so a deploy never uploads bytes `dist` did not write.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use super::{Artifacts, FunctionArtifact, MANIFEST_VERSION, Manifest, SiteBundle, function_key, sha256_hex};
use crate::error::Refusal;

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
        // The version decides the error: a newer format is reported as such, not as unknown fields.
        // Parsed once into the manifest (no `Value` tree: at 10,000 site files that tree was a
        // tenth of a no-op sync's CPU); only a manifest that does not parse is read again for it.
        let parsed = serde_json::from_str::<Manifest>(&text);
        let version = match &parsed {
            Ok(manifest) => Some(u64::from(manifest.version)),
            Err(_) => serde_json::from_str::<VersionOnly>(&text).ok().and_then(|v| v.version),
        };
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
        let manifest = parsed.map_err(invalid)?;
        // The one pass that reads and hashes every file; the manifest is then checked against it.
        let verified = verify_sha256sums(dir)?;
        if verified.get("manifest.json").map(|v| v.sha256.as_str()) != Some(sha256_hex(text.as_bytes()).as_str()) {
            return Err(corrupt(dir, "manifest.json changed while it was being verified"));
        }
        let mut functions = Vec::new();
        for (function, entry) in &manifest.functions {
            let expected_key = function_key(function, &entry.sha256);
            if entry.key != expected_key {
                return Err(corrupt(
                    dir,
                    &format!("function {function} has key {}, expected {expected_key}", entry.key),
                ));
            }
            let path = dir.join(&entry.key);
            verify_listed(dir, &verified, &entry.key, &entry.sha256, entry.size)?;
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
            verify_listed(dir, &verified, &format!("site/{rel}"), &file.sha256, file.size)?;
        }
        Ok(Artifacts { functions, site: SiteBundle { root, files: manifest.site }, git_commit: manifest.git_commit })
    }
}

/// Just the `version` of a dist manifest (any other field is skipped).
#[derive(serde::Deserialize)]
struct VersionOnly {
    version: Option<u64>,
}

fn corrupt(dir: &Path, what: &str) -> anyhow::Error {
    Refusal::new(
        format!("{}: {what}", dir.display()),
        "the dist directory was modified or is incomplete; rebuild it with `cargo xtask dist`",
    )
    .into()
}

/// A file the manifest lists must be one `SHA256SUMS` lists, with the same sha256 and size.
fn verify_listed(
    dir: &Path,
    verified: &BTreeMap<String, Verified>,
    rel: &str,
    sha256: &str,
    size: u64,
) -> anyhow::Result<()> {
    let Some(actual) = verified.get(rel) else {
        return Err(corrupt(dir, &format!("the manifest lists {rel}, SHA256SUMS does not")));
    };
    if actual.sha256 != sha256 || actual.size != size {
        return Err(corrupt(
            dir,
            &format!(
                "{} has sha256 {} ({} bytes), the manifest says {sha256} ({size} bytes)",
                dir.join(rel).display(),
                actual.sha256,
                actual.size
            ),
        ));
    }
    Ok(())
}

/// A file as `verify_sha256sums` read it.
#[derive(Debug)]
pub struct Verified {
    pub sha256: String,
    pub size: u64,
}

/// Checks `DIR/SHA256SUMS` like `sha256sum -c`, and more: every line names a plain relative path
/// (no absolute path, no `..`), and the lines name exactly the files of the directory
/// (`manifest.json` included), so nothing unlisted rides along and nothing listed is missing.
/// Returns what it read of each file, by relative path: each file is read and hashed once.
pub fn verify_sha256sums(dir: &Path) -> anyhow::Result<BTreeMap<String, Verified>> {
    let sums_path = dir.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path)
        .map_err(|e| corrupt(dir, &format!("cannot read {}: {e}", sums_path.display())))?;
    let mut listed = BTreeMap::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let Some((hash, rel)) = line.split_once("  ") else {
            return Err(corrupt(dir, &format!("malformed SHA256SUMS line {line:?}")));
        };
        if !is_plain_relative(rel) {
            return Err(corrupt(dir, &format!("SHA256SUMS lists {rel:?}, which is not a plain relative path")));
        }
        if listed.contains_key(rel) {
            return Err(corrupt(dir, &format!("SHA256SUMS lists {rel} twice")));
        }
        let path = dir.join(rel);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("SHA256SUMS lists {rel}"))
            .map_err(|e| corrupt(dir, &format!("{e:#}")))?;
        let actual = sha256_hex(&bytes);
        if actual != hash {
            return Err(corrupt(dir, &format!("{rel} has sha256 {actual}, SHA256SUMS says {hash}")));
        }
        listed.insert(rel.to_string(), Verified { sha256: actual, size: bytes.len() as u64 });
    }
    if !listed.contains_key("manifest.json") {
        return Err(corrupt(dir, "SHA256SUMS does not list manifest.json"));
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| corrupt(dir, &e.to_string()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).expect("under dir").to_string_lossy().replace('\\', "/");
        if rel != "SHA256SUMS" && !listed.contains_key(&rel) {
            return Err(corrupt(dir, &format!("{rel} is in the dist but not in SHA256SUMS")));
        }
    }
    Ok(listed)
}

/// `a/b.txt`: not empty, not absolute, no `.`/`..`/empty segment, no backslash.
fn is_plain_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && !rel.contains('\\')
        && rel.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
}
