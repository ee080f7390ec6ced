//! CloudFront operations: one invalidation, and waiting for it to complete.

use std::time::Duration;

use anyhow::Context;
use aws_sdk_cloudfront::error::ProvideErrorMetadata;
use sha2::{Digest, Sha256};

use super::Deadline;

/// The error CloudFront gives when too many invalidations are in progress for a distribution.
#[derive(Debug)]
pub struct Busy(String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Busy {}

/// Whether `err` is CloudFront's TooManyInvalidationsInProgress (worth waiting out).
pub fn is_busy(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<Busy>())
}

/// Creates one invalidation of `paths` (already in CloudFront's form) and, with `wait`, polls it
/// until it is completed (through transient errors, until the deadline). Returns its id.
pub async fn invalidate(
    cloudfront: &aws_sdk_cloudfront::Client,
    distribution: &str,
    paths: &[String],
    wait: bool,
    deadline: &Deadline,
) -> anyhow::Result<String> {
    let reference = {
        let mut h = Sha256::new();
        h.update(paths.join("\n"));
        h.update(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos().to_string());
        format!("xtask-{}", &hex::encode(h.finalize())[..16])
    };
    let batch = aws_sdk_cloudfront::types::InvalidationBatch::builder()
        .paths(
            aws_sdk_cloudfront::types::Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.to_vec()))
                .build()?,
        )
        .caller_reference(reference)
        .build()?;
    let out =
        match cloudfront.create_invalidation().distribution_id(distribution).invalidation_batch(batch).send().await {
            Ok(out) => out,
            Err(err) if err.code() == Some("TooManyInvalidationsInProgress") => {
                return Err(Busy(format!("CloudFront distribution {distribution}: {}", super::error_line(&err))).into());
            }
            Err(err) => {
                return Err(anyhow::anyhow!(
                    "cannot invalidate CloudFront distribution {distribution}: {}",
                    super::error_line(&err)
                ));
            }
        };
    let id = out.invalidation().map(|i| i.id().to_string()).unwrap_or_default();
    if wait {
        let mut delay = Duration::from_secs(1);
        loop {
            match cloudfront.get_invalidation().distribution_id(distribution).id(&id).send().await {
                Ok(got) if got.invalidation().is_some_and(|i| i.status().eq_ignore_ascii_case("completed")) => break,
                Ok(_) => {}
                Err(err) if super::is_transient(&err) => {}
                Err(err) => return Err(err).with_context(|| format!("cannot read invalidation {id}")),
            }
            deadline.check(&format!("waiting for CloudFront invalidation {id} to complete"))?;
            deadline.sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }
    Ok(id)
}
