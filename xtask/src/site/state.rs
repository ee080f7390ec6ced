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

use std::collections::BTreeSet;

pub use xtask_formats::site_manifest::{Entry, MANIFEST_VERSION, Manifest, Pending};

use crate::aws::Clients;
use crate::aws::s3::{self, Bucket};

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
