//! The one writer of dist directories. `build`, `dist`, the bench and the tests' fake dists all go
//! through [`DistWriter`]: files are staged in a temp dir next to the output, `manifest.json` and
//! `SHA256SUMS` are written last, the staged dist is read back and verified, and only then is it
//! renamed over the output ([`Staged::commit`]). Nothing is ever half-written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ARCHITECTURE, Artifacts, FunctionEntry, MANIFEST_VERSION, Manifest, SiteFile, function_key, sha256_hex};
use crate::error::Refusal;

pub struct DistWriter {
    staging: tempfile::TempDir,
    out: PathBuf,
    functions: BTreeMap<String, FunctionEntry>,
    site: BTreeMap<String, SiteFile>,
}

/// A complete, verified dist in its staging dir, not yet in place.
pub struct Staged {
    staging: tempfile::TempDir,
    out: PathBuf,
    /// The staged dist, read back and verified.
    pub artifacts: Artifacts,
}

impl DistWriter {
    /// Starts a dist that will replace `out` (absent, empty, or a previous dist: anything else is
    /// refused, so a mistyped `--out ~` deletes nothing).
    pub fn create(out: &Path) -> anyhow::Result<DistWriter> {
        refuse_foreign_dir(out)?;
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        let staging = tempfile::Builder::new()
            .prefix(".dist.tmp-")
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a temp dir in {}", parent.display()))?;
        Ok(DistWriter { staging, out: out.to_path_buf(), functions: BTreeMap::new(), site: BTreeMap::new() })
    }

    /// Where the site files go (`<stage>/site`), for a bundler that writes them itself.
    pub fn site_dir(&self) -> PathBuf {
        self.staging.path().join("site")
    }

    /// Adds one function's zip under its content-addressed key.
    pub fn add_function(&mut self, function: &str, code_key_parameter: &str, zip: &[u8]) -> anyhow::Result<String> {
        let sha256 = sha256_hex(zip);
        let key = function_key(function, &sha256);
        self.write(&key, zip)?;
        let entry = FunctionEntry {
            architecture: ARCHITECTURE.to_string(),
            code_key_parameter: code_key_parameter.to_string(),
            key: key.clone(),
            sha256,
            size: zip.len() as u64,
        };
        self.functions.insert(function.to_string(), entry);
        Ok(key)
    }

    /// Records the site files a bundler wrote into [`DistWriter::site_dir`].
    pub fn set_site(&mut self, files: BTreeMap<String, SiteFile>) {
        self.site = files;
    }

    /// Adds one site file with its serving metadata (fake dists in tests and the bench).
    pub fn add_site_file(
        &mut self,
        path: &str,
        bytes: &[u8],
        content_type: &str,
        cache_control: &str,
        fingerprinted: bool,
    ) -> anyhow::Result<()> {
        self.write(&format!("site/{path}"), bytes)?;
        let file = SiteFile {
            cache_control: cache_control.to_string(),
            content_type: content_type.to_string(),
            fingerprinted,
            md5: site_bundle::md5_hex(bytes),
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        };
        self.site.insert(path.to_string(), file);
        Ok(())
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.staging.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a relative path has a parent"))?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Writes `manifest.json` and `SHA256SUMS`, then reads the staged dist back and verifies it.
    pub fn finish(self, git_commit: String, tools: BTreeMap<String, String>) -> anyhow::Result<Staged> {
        let manifest =
            Manifest { functions: self.functions, git_commit, site: self.site, tools, version: MANIFEST_VERSION };
        let stage = self.staging.path();
        let json = manifest.to_json();
        std::fs::write(stage.join("manifest.json"), &json)?;
        // The hashes taken when the bytes were written; the read-back below is the one pass that
        // reads every file again and checks them.
        let mut known: BTreeMap<String, String> =
            manifest.functions.values().map(|f| (f.key.clone(), f.sha256.clone())).collect();
        known.extend(manifest.site.iter().map(|(rel, f)| (format!("site/{rel}"), f.sha256.clone())));
        known.insert("manifest.json".into(), sha256_hex(json.as_bytes()));
        write_sha256sums(stage, &known)?;
        let artifacts = Artifacts::from_dist(stage).context("the staged dist does not verify")?;
        Ok(Staged { staging: self.staging, out: self.out, artifacts })
    }
}

impl Staged {
    /// Moves the staged dist over the output (one rename: the files verified are the files in
    /// place) and returns it with its paths there.
    pub fn commit(self) -> anyhow::Result<Artifacts> {
        replace_dir(self.staging, &self.out)?;
        let mut artifacts = self.artifacts;
        for f in &mut artifacts.functions {
            f.path = self.out.join(&f.key);
        }
        artifacts.site.root = self.out.join("site");
        Ok(artifacts)
    }
}

/// Writes `DIR/SHA256SUMS` over every other file under `DIR`, sorted, `sha256sum -c` format; a
/// file's hash from `known` (relative path -> sha256) when the writer took it, else read and hashed.
fn write_sha256sums(dir: &Path, known: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let mut lines = String::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).expect("under dir");
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .with_context(|| format!("{} is not a UTF-8 path", entry.path().display()))?
            .join("/");
        if rel == "SHA256SUMS" {
            continue;
        }
        if rel.contains('\n') || rel.contains('\\') {
            anyhow::bail!("{rel:?} cannot be listed in SHA256SUMS");
        }
        let sha256 = match known.get(&rel) {
            Some(sha256) => sha256.clone(),
            None => sha256_hex(&std::fs::read(entry.path())?),
        };
        lines.push_str(&format!("{sha256}  {rel}\n"));
    }
    std::fs::write(dir.join("SHA256SUMS"), lines)?;
    Ok(())
}

/// Refuses to replace `out` unless it is absent, empty or a previous dist (holds `manifest.json`).
fn refuse_foreign_dir(out: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(out) {
        Err(_) => Ok(()),
        Ok(mut entries) => {
            if entries.next().is_none() || out.join("manifest.json").is_file() {
                Ok(())
            } else {
                Err(Refusal::new(
                    format!("refusing to replace {}: it is not empty and holds no manifest.json", out.display()),
                    "pass an empty directory or one written by `cargo xtask dist`",
                )
                .into())
            }
        }
    }
}

/// Moves the finished `staging` dir to `out`, replacing what was there.
fn replace_dir(staging: tempfile::TempDir, out: &Path) -> anyhow::Result<()> {
    let staged = staging.keep();
    let old = out.with_file_name(format!(
        ".{}.old-{}",
        out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &old).with_context(|| format!("cannot move the old {} aside", out.display()))?;
    }
    if let Err(e) = std::fs::rename(&staged, out) {
        if had_old {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(anyhow::Error::new(e).context(format!("cannot move the new dist into {}", out.display())));
    }
    if had_old {
        std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
    }
    Ok(())
}
