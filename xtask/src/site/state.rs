//! What the site sync remembers between runs, kept in the artifact bucket under
//! `sites/<stack>/` — never in the public site bucket, where CloudFront would serve it:
//!
//! - `manifest.json` ([`Manifest`]): each published file's sha256, MD5, size and headers. A listing
//!   of the site bucket shows sizes and ETags but not headers: the manifest is what says a header
//!   changed. The listing, not the manifest, is the truth about which bytes are there.
//! - `pending-invalidation.json` ([`Pending`]): CloudFront paths to invalidate that CloudFront has
//!   not accepted yet. Written before the first upload and cleared only once CloudFront has taken
//!   the invalidation, so an interrupted or failed run's paths are invalidated by the next one.

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
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub distribution: String,
    pub paths: BTreeSet<String>,
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

    fn pending_key(&self) -> String {
        format!("sites/{}/pending-invalidation.json", self.stack)
    }

    /// The last manifest written (empty when there is none, or it is unreadable: a full compare
    /// against the listing then decides, uploading whatever it cannot vouch for).
    pub async fn manifest(&self, c: &Clients) -> anyhow::Result<Manifest> {
        let bytes = s3::get(c, &self.bucket, &self.manifest_key()).await?;
        Ok(bytes
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
            .filter(|m| m.version == MANIFEST_VERSION)
            .unwrap_or_default())
    }

    pub async fn write_manifest(&self, c: &Clients, manifest: &Manifest) -> anyhow::Result<()> {
        let body = serde_json::to_vec(manifest)?;
        s3::put_checked(c, &self.bucket, &self.manifest_key(), body, "application/json", None).await
    }

    /// The paths a previous run left to invalidate (for this distribution).
    pub async fn pending(&self, c: &Clients, distribution: &str) -> anyhow::Result<BTreeSet<String>> {
        let bytes = s3::get(c, &self.bucket, &self.pending_key()).await?;
        let pending = bytes.and_then(|b| serde_json::from_slice::<Pending>(&b).ok()).unwrap_or_default();
        Ok(if pending.distribution == distribution { pending.paths } else { BTreeSet::new() })
    }

    pub async fn write_pending(&self, c: &Clients, pending: &Pending) -> anyhow::Result<()> {
        let body = serde_json::to_vec(pending)?;
        s3::put_checked(c, &self.bucket, &self.pending_key(), body, "application/json", None).await
    }
}
