//! A dist directory, as `cargo xtask dist` writes it and a deploy reads it back:
//!
//! ```text
//! lambdas/<function>/<sha256>.zip   one deterministic zip per function (a single 0755 `bootstrap`)
//! site/<files>                      the processed static site (fingerprinted names, rewritten refs)
//! manifest.json                     everything below, sorted keys, no timestamps
//! SHA256SUMS                        `sha256sum -c` compatible, covering every other file
//! ```
//!
//! [`read`] verifies all of it, reading and hashing each file once, so a deploy never uploads
//! bytes `dist` did not write.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use site_bundle::SiteFile;

use crate::sha256_hex;

/// The manifest format this xtask writes and understands.
/// 2: site files carry their MD5 (the site sync checks the bucket's listing against it).
pub const MANIFEST_VERSION: u32 = 2;

/// The only Lambda architecture we build for.
pub const ARCHITECTURE: &str = "arm64";

/// Where the function zips live, in the dist directory and in the artifact bucket.
pub const KEY_PREFIX: &str = "lambdas/";

/// The `AllowedPattern` a template's code-key parameter must have: exactly the keys of
/// [`function_key`] (`cargo xtask lint` checks it).
pub const KEY_PATTERN: &str = "^lambdas/[a-z0-9-]+/[0-9a-f]{64}\\.zip$";

/// The content-addressed S3 key of a function's zip (also its path inside a dist directory).
pub fn function_key(function: &str, sha256: &str) -> String {
    format!("{KEY_PREFIX}{function}/{sha256}.zip")
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

/// Why a directory is not a dist this xtask deploys.
#[derive(Debug)]
pub enum DistError {
    /// `manifest.json` cannot be read.
    Unreadable(std::io::Error),
    /// The manifest has another format version (None: it has none).
    Version(Option<u64>),
    /// The manifest has this version but does not parse.
    Invalid(serde_json::Error),
    /// A file is missing, extra or different: what, relative to the directory.
    Corrupt(String),
}

/// Reads and verifies the dist directory `dir`: parses `manifest.json`, then checks every line of
/// `SHA256SUMS` against the files (each read and hashed once) and every zip and site file the
/// manifest lists against `SHA256SUMS` (same sha256 and size).
pub fn read(dir: &Path) -> Result<Manifest, DistError> {
    let text = std::fs::read_to_string(dir.join("manifest.json")).map_err(DistError::Unreadable)?;
    // The version decides the error: a newer format is reported as such, not as unknown fields.
    // Parsed once into the manifest (no `Value` tree); only one that does not parse is read again.
    let parsed = serde_json::from_str::<Manifest>(&text);
    let version = match &parsed {
        Ok(manifest) => Some(u64::from(manifest.version)),
        Err(_) => serde_json::from_str::<VersionOnly>(&text).ok().and_then(|v| v.version),
    };
    if version != Some(u64::from(MANIFEST_VERSION)) {
        return Err(DistError::Version(version));
    }
    let manifest = parsed.map_err(DistError::Invalid)?;
    let corrupt = DistError::Corrupt;
    let verified = verify_sha256sums(dir).map_err(corrupt)?;
    if verified.get("manifest.json").map(|v| v.sha256.as_str()) != Some(sha256_hex(text.as_bytes()).as_str()) {
        return Err(corrupt("manifest.json changed while it was being verified".into()));
    }
    for (function, entry) in &manifest.functions {
        let expected_key = function_key(function, &entry.sha256);
        if entry.key != expected_key {
            return Err(corrupt(format!("function {function} has key {}, expected {expected_key}", entry.key)));
        }
        verify_listed(dir, &verified, &entry.key, &entry.sha256, entry.size).map_err(corrupt)?;
    }
    let mut rel_path = String::from("site/");
    for (rel, file) in &manifest.site {
        if !is_plain_relative(rel) {
            return Err(corrupt(format!("site path {rel:?} is not a plain relative path")));
        }
        rel_path.truncate("site/".len());
        rel_path.push_str(rel);
        verify_listed(dir, &verified, &rel_path, &file.sha256, file.size).map_err(corrupt)?;
    }
    Ok(manifest)
}

/// Just the `version` of a dist manifest (any other field is skipped).
#[derive(Deserialize)]
struct VersionOnly {
    version: Option<u64>,
}

/// A file the manifest lists must be one `SHA256SUMS` lists, with the same sha256 and size.
fn verify_listed(
    dir: &Path,
    verified: &BTreeMap<String, Verified>,
    rel: &str,
    sha256: &str,
    size: u64,
) -> Result<(), String> {
    let Some(actual) = verified.get(rel) else {
        return Err(format!("the manifest lists {rel}, SHA256SUMS does not"));
    };
    if actual.sha256 != sha256 || actual.size != size {
        return Err(format!(
            "{} has sha256 {} ({} bytes), the manifest says {sha256} ({size} bytes)",
            dir.join(rel).display(),
            actual.sha256,
            actual.size
        ));
    }
    Ok(())
}

/// A file as [`verify_sha256sums`] read it.
#[derive(Debug)]
struct Verified {
    sha256: String,
    size: u64,
}

/// Checks `DIR/SHA256SUMS` like `sha256sum -c`, and more: every line names a plain relative path
/// (no absolute path, no `..`), and the lines name exactly the files of the directory
/// (`manifest.json` included), so nothing unlisted rides along and nothing listed is missing.
/// Returns what it read of each file, by relative path: each file is read and hashed once.
/// The error says what is wrong, relative to `dir`.
fn verify_sha256sums(dir: &Path) -> Result<BTreeMap<String, Verified>, String> {
    let sums_path = dir.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path).map_err(|e| format!("cannot read {}: {e}", sums_path.display()))?;
    let mut listed = BTreeMap::new();
    // One buffer for every file: a fresh one per file costs an allocation and its page faults.
    let mut bytes = Vec::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let Some((hash, rel)) = line.split_once("  ") else {
            return Err(format!("malformed SHA256SUMS line {line:?}"));
        };
        if !is_plain_relative(rel) {
            return Err(format!("SHA256SUMS lists {rel:?}, which is not a plain relative path"));
        }
        if listed.contains_key(rel) {
            return Err(format!("SHA256SUMS lists {rel} twice"));
        }
        read_into(&dir.join(rel), &mut bytes).map_err(|e| format!("SHA256SUMS lists {rel}: {e}"))?;
        let actual = sha256_hex(&bytes);
        if actual != hash {
            return Err(format!("{rel} has sha256 {actual}, SHA256SUMS says {hash}"));
        }
        listed.insert(rel.to_string(), Verified { sha256: actual, size: bytes.len() as u64 });
    }
    if !listed.contains_key("manifest.json") {
        return Err("SHA256SUMS does not list manifest.json".into());
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| e.to_string())?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).expect("under dir").to_string_lossy().replace('\\', "/");
        if rel != "SHA256SUMS" && !listed.contains_key(&rel) {
            return Err(format!("{rel} is in the dist but not in SHA256SUMS"));
        }
    }
    Ok(listed)
}

/// Replaces `buf` with the bytes of `path`.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read as _;
    buf.clear();
    std::fs::File::open(path)?.read_to_end(buf)?;
    Ok(())
}

/// `a/b.txt`: not empty, not absolute, no `.`/`..`/empty segment, no backslash.
fn is_plain_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && !rel.contains('\\')
        && rel.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
}
