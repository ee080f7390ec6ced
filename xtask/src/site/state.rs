//! What the site sync remembers between runs, kept in the artifact bucket under
//! `sites/<stack>/` — never in the public site bucket, where CloudFront would serve it:
//!
//! - `manifest.json` ([`Manifest`]): each published file's sha256, MD5, size and headers. A listing
//!   of the site bucket shows sizes and ETags but not headers: the manifest is what says a header
//!   changed. The listing, not the manifest, is the truth about which bytes are there. Stored
//!   gzipped (about 50 bytes per file instead of 270: a sync downloads it every run and uploads it
//!   on every change); a plain-JSON one, as earlier versions wrote it, is still read.
//!   It also holds the CloudFront paths to invalidate that CloudFront has not accepted yet
//!   ([`Pending`]): recorded before the first upload and cleared only once CloudFront has taken the
//!   invalidation, so an interrupted or failed run's paths are invalidated by the next one. One
//!   object, so that a sync reads its bookkeeping with one GET.
//! - `pending-invalidation.json`: where xtasks before that kept the pending paths. Read only when
//!   the manifest has no `pending` field (one written by such an xtask, or none at all), and
//!   deleted once its paths are in the manifest.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::aws::Clients;
use crate::aws::s3::{self, Bucket};

/// The manifest format this xtask writes.
pub const MANIFEST_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub sha256: String,
    pub md5: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: String,
    pub fingerprinted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub files: BTreeMap<String, Entry>,
    /// None in a manifest written before it held the pending paths (or when there is none).
    #[serde(default)]
    pub pending: Option<Pending>,
}

impl Manifest {
    /// Gzipped JSON (deterministic: no file name, no time in the header).
    pub fn encode(&self) -> anyhow::Result<Vec<u8>> {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&serde_json::to_vec(self)?)?;
        Ok(gz.finish()?)
    }

    /// What [`Manifest::encode`] wrote, or plain JSON; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Manifest> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut json).ok()?;
            serde_json::from_slice(&json).ok()
        } else {
            serde_json::from_slice(bytes).ok()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub distribution: String,
    pub paths: BTreeSet<String>,
}

impl Pending {
    /// The paths pending for `distribution` (none when they were for another one).
    pub fn paths_for(&self, distribution: &str) -> BTreeSet<String> {
        if self.distribution == distribution { self.paths.clone() } else { BTreeSet::new() }
    }
}

/// Where one stack's site state lives.
#[derive(Debug, Clone)]
pub struct Store {
    pub bucket: Bucket,
    pub stack: String,
}

impl Store {
    fn manifest_key(&self) -> String {
        format!("sites/{}/manifest.json", self.stack)
    }

    fn legacy_pending_key(&self) -> String {
        format!("sites/{}/pending-invalidation.json", self.stack)
    }

    /// The last manifest written (empty when there is none, or it is unreadable: a full compare
    /// against the listing then decides, uploading whatever it cannot vouch for).
    pub async fn manifest(&self, c: &Clients) -> anyhow::Result<Manifest> {
        let bytes = s3::get(c, &self.bucket, &self.manifest_key()).await?;
        Ok(bytes.and_then(|b| Manifest::decode(&b)).filter(|m| m.version == MANIFEST_VERSION).unwrap_or_default())
    }

    pub async fn write_manifest(&self, c: &Clients, manifest: &Manifest) -> anyhow::Result<()> {
        s3::put_checked(c, &self.bucket, &self.manifest_key(), manifest.encode()?, "application/gzip", None).await
    }

    /// The paths an earlier xtask left to invalidate in `pending-invalidation.json` (for this
    /// distribution), and whether that object exists.
    pub async fn legacy_pending(&self, c: &Clients, distribution: &str) -> anyhow::Result<(BTreeSet<String>, bool)> {
        let Some(bytes) = s3::get(c, &self.bucket, &self.legacy_pending_key()).await? else {
            return Ok((BTreeSet::new(), false));
        };
        let pending = serde_json::from_slice::<Pending>(&bytes).unwrap_or_default();
        Ok((pending.paths_for(distribution), true))
    }

    /// Deletes `pending-invalidation.json` (once the manifest holds its paths).
    pub async fn delete_legacy_pending(&self, c: &Clients) -> anyhow::Result<()> {
        s3::delete_keys(c, &self.bucket, &[self.legacy_pending_key()], 1).await
    }
}

#[cfg(test)]
mod tests {
    use super::{Entry, MANIFEST_VERSION, Manifest};

    fn manifest(files: usize) -> Manifest {
        let files = (0..files)
            .map(|i| {
                let body = format!("file {i}");
                let entry = Entry {
                    sha256: crate::artifacts::sha256_hex(body.as_bytes()),
                    md5: site_bundle::md5_hex(body.as_bytes()),
                    size: body.len() as u64,
                    content_type: "text/javascript; charset=utf-8".into(),
                    cache_control: "public, max-age=31536000, immutable".into(),
                    fingerprinted: true,
                };
                (format!("assets/js/file-{i}.{}.js", &entry.md5[..8]), entry)
            })
            .collect();
        Manifest { version: MANIFEST_VERSION, files, pending: None }
    }

    #[test]
    fn the_manifest_is_stored_gzipped_and_a_plain_one_still_reads() {
        let m = manifest(1000);
        let stored = m.encode().unwrap();
        assert_eq!(Manifest::decode(&stored), Some(m.clone()));
        assert_eq!(stored, m.encode().unwrap(), "deterministic");
        let plain = serde_json::to_vec(&m).unwrap();
        assert_eq!(Manifest::decode(&plain), Some(m));
        // Hashes do not compress; the repeated names and headers do.
        assert!(stored.len() * 3 < plain.len(), "{} gzipped vs {} plain", stored.len(), plain.len());
        assert_eq!(Manifest::decode(b"\x1f\x8bnot gzip"), None);
    }

    #[test]
    fn the_manifest_carries_the_pending_paths_and_one_without_them_still_reads() {
        let mut m = manifest(3);
        let without = Manifest::decode(&m.encode().unwrap()).unwrap();
        assert_eq!(without.pending, None, "a manifest from before the field: the legacy object says");
        m.pending = Some(super::Pending { distribution: "E1".into(), paths: ["/index.html".to_string()].into() });
        let with = Manifest::decode(&m.encode().unwrap()).unwrap();
        let pending = with.pending.unwrap();
        assert_eq!(pending.paths_for("E1").into_iter().collect::<Vec<_>>(), ["/index.html"]);
        assert!(pending.paths_for("E2").is_empty(), "paths for another distribution are not ours");
    }
}
