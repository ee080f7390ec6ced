//! CloudFront operations: one invalidation, and waiting for it to complete.

use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};

/// Creates one invalidation of `paths` (already in CloudFront's form) and, with `wait`, polls it
/// until it is completed. Returns its id.
pub async fn invalidate(
    cloudfront: &aws_sdk_cloudfront::Client,
    distribution: &str,
    paths: &[String],
    wait: bool,
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
    let out = cloudfront
        .create_invalidation()
        .distribution_id(distribution)
        .invalidation_batch(batch)
        .send()
        .await
        .with_context(|| format!("cannot invalidate CloudFront distribution {distribution}"))?;
    let id = out.invalidation().map(|i| i.id().to_string()).unwrap_or_default();
    if wait {
        let mut delay = Duration::from_secs(1);
        loop {
            let got = cloudfront
                .get_invalidation()
                .distribution_id(distribution)
                .id(&id)
                .send()
                .await
                .with_context(|| format!("cannot read invalidation {id}"))?;
            if got.invalidation().is_some_and(|i| i.status() == "Completed" || i.status() == "COMPLETED") {
                break;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }
    Ok(id)
}
