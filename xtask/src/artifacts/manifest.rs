//! `manifest.json` of a dist directory: the one type both the writer and the reader use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::SiteFile;

/// The manifest format this xtask writes and understands.
/// 2: site files carry their MD5 (the site sync checks the bucket's listing against it).
pub const MANIFEST_VERSION: u32 = 2;

/// The only Lambda architecture we build for.
pub const ARCHITECTURE: &str = "arm64";

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
