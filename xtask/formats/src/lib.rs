//! The formats the xtask reads and writes on every deploy, and the one pure decision over them:
//!
//! - [`dist`]: a dist directory — `manifest.json` (the [`dist::Manifest`] type both the writer and
//!   the reader use) and `SHA256SUMS` — read and verified ([`dist::read`]).
//! - [`site_manifest`]: what the last site sync published (headers and hashes per file, and the
//!   CloudFront paths still to invalidate), as stored in the artifact bucket.
//! - [`site_plan`]: what a site sync uploads and deletes, from the dist, the bucket's listing and
//!   the site manifest.
//!
//! Separate from the xtask so that its debug build compiles this crate optimised: serde's generic
//! code is compiled where it is used, and at 10,000 site files, decoding and checking these formats
//! unoptimised was most of a no-op sync's CPU. The xtask owns the I/O against AWS and the errors' hints.

pub mod dist;
pub mod site_manifest;
pub mod site_plan;

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
