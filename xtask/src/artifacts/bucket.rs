//! The artifact bucket (created on first use, like `cdk bootstrap`), the Lambda zip uploads and
//! the large-template upload.

use std::collections::HashSet;

use anyhow::Context;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use futures::StreamExt;

use super::FunctionArtifact;
use crate::error::Refusal;
use crate::report::{Transfer, Ui, human_bytes};

/// `<stack>-artifacts-<account>-<region>`, lower-cased and cut to S3's 63 characters.
pub fn artifact_bucket_name(stack: &str, account: &str, region: &str) -> String {
    let suffix = format!("-artifacts-{account}-{region}");
    let mut stack = stack.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
    stack.truncate(63 - suffix.len().min(62));
    format!("{}{suffix}", stack.trim_end_matches('-'))
}

/// Creates the artifact bucket: versioned, encrypted, public access blocked, TLS only, old versions expire.
pub async fn create_artifact_bucket(
    s3: &Client,
    bucket: &str,
    region: &str,
    plain_http: bool,
    ui: &Ui,
) -> anyhow::Result<()> {
    let mut create = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    match create.send().await {
        Ok(_) => {}
        Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => {}
        Err(err) => {
            return Err(Refusal::new(
                format!(
                    "cannot create the artifact bucket {bucket}: {}",
                    err.message().unwrap_or(err.code().unwrap_or("error"))
                ),
                "pick another name with --artifact-bucket NAME",
            )
            .into());
        }
    }
    let ctx = |what: &'static str| move || format!("cannot set {what} on s3://{bucket}");
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .with_context(ctx("versioning"))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build()?,
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(ServerSideEncryptionConfiguration::builder().rules(rule).build()?)
        .send()
        .await
        .with_context(ctx("encryption"))?;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .with_context(ctx("the public access block"))?;
    let lifecycle = LifecycleRule::builder()
        .id("expire-old-artifact-versions")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(30).build())
        .abort_incomplete_multipart_upload(AbortIncompleteMultipartUpload::builder().days_after_initiation(7).build())
        .build()?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(lifecycle).build()?)
        .send()
        .await
        .with_context(ctx("the lifecycle rules"))?;
    if plain_http {
        // A TLS-only policy would lock this very tool out of an endpoint that only speaks HTTP.
        ui.note(format!("the endpoint is plain HTTP (an emulator): TLS-only policy not set on {bucket}"));
    } else {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }]
        });
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(policy.to_string())
            .send()
            .await
            .with_context(ctx("the TLS-only policy"))?;
    }
    Ok(())
}

/// Uploads the zips whose keys are missing from `existing`, `parallel` at a time.
pub async fn upload_missing(
    s3: &Client,
    bucket: &str,
    functions: &[FunctionArtifact],
    existing: &HashSet<String>,
    parallel: usize,
    dry_run: bool,
    ui: &Ui,
) -> anyhow::Result<Transfer> {
    let mut t = Transfer::default();
    let mut todo = Vec::new();
    for f in functions {
        if existing.contains(&f.key) {
            t.skipped += 1;
            t.skipped_bytes += f.size;
        } else {
            t.uploaded += 1;
            t.uploaded_bytes += f.size;
            todo.push(f);
        }
    }
    for f in &todo {
        ui.line(format!(
            "    {} s3://{bucket}/{} ({})",
            if dry_run { "would upload" } else { "upload" },
            f.key,
            human_bytes(f.size)
        ));
    }
    if dry_run {
        return Ok(t);
    }
    let results = futures::stream::iter(todo.into_iter().map(|f| async move {
        let body = ByteStream::from_path(&f.path).await.with_context(|| format!("cannot read {}", f.path.display()))?;
        s3.put_object()
            .bucket(bucket)
            .key(&f.key)
            .body(body)
            .content_type("application/zip")
            .metadata("sha256", &f.sha256)
            .send()
            .await
            .with_context(|| format!("cannot upload s3://{bucket}/{}", f.key))?;
        anyhow::Ok(())
    }))
    .buffer_unordered(parallel.max(1))
    .collect::<Vec<_>>()
    .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(t)
}

/// Puts the template in the bucket when it is too large to pass inline (51,200 bytes).
pub async fn upload_template(s3: &Client, bucket: &str, sha256: &str, body: &str) -> anyhow::Result<String> {
    let key = format!("templates/{sha256}.yaml");
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .content_type("application/x-yaml")
        .send()
        .await
        .with_context(|| format!("cannot upload the template to s3://{bucket}/{key}"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bucket_names_fit_s3_rules() {
        assert_eq!(
            super::artifact_bucket_name("Notes-App_dev", "123456789012", "us-east-1"),
            "notes-app-dev-artifacts-123456789012-us-east-1"
        );
        let long = super::artifact_bucket_name(&"x".repeat(80), "123456789012", "ap-southeast-2");
        assert!(long.len() <= 63, "{long}");
    }
}
