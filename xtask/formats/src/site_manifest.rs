//! `sites/<stack>/manifest.json` in the artifact bucket: what the last site sync published — each
//! file's sha256, MD5, size and headers — and the CloudFront paths to invalidate that CloudFront
//! has not accepted yet ([`Pending`]). A listing of the site bucket shows sizes and ETags but not
//! headers: this manifest is what says a header changed; the listing, not the manifest, is the
//! truth about which bytes are there. Stored gzipped (about 50 bytes per file instead of 270: a
//! sync downloads it every run and uploads it on every change); a plain-JSON one, as earlier
//! versions wrote it, is still read. The xtask's `site::state` reads and writes it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use site_bundle::SiteFile;

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

impl From<&SiteFile> for Entry {
    fn from(f: &SiteFile) -> Entry {
        Entry {
            sha256: f.sha256.clone(),
            md5: f.md5.clone(),
            size: f.size,
            content_type: f.content_type.clone(),
            cache_control: f.cache_control.clone(),
            fingerprinted: f.fingerprinted,
        }
    }
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
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&serde_json::to_vec(self).map_err(std::io::Error::from)?)?;
        gz.finish()
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

#[cfg(test)]
mod tests {
    use super::{Entry, MANIFEST_VERSION, Manifest};

    fn manifest(files: usize) -> Manifest {
        let files = (0..files)
            .map(|i| {
                let body = format!("file {i}");
                let entry = Entry {
                    sha256: crate::sha256_hex(body.as_bytes()),
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
