//! The artifact bucket: created on first use (like `cdk bootstrap`), its settings reconciled on
//! every deploy (versioned, encrypted, public access blocked, TLS only, old versions expire — a
//! bucket edited by hand is put back), the Lambda zip uploads (content-addressed, checked by S3),
//! the large-template upload, and the tool's own small records under `state/`.

use std::collections::HashSet;

use anyhow::Context;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use futures::StreamExt;

use super::{FunctionArtifact, sha256_hex};
use crate::aws::Clients;
use crate::aws::s3::{self, Bucket, not_owned};
use crate::error::Refusal;
use crate::report::{Transfer, Ui, human_bytes};

/// Old object versions expire after this many days.
pub const NONCURRENT_DAYS: i32 = 30;

/// `<stack>-artifacts-<account>-<region>`, lower-cased and cut to S3's 63 characters.
pub fn artifact_bucket_name(stack: &str, account: &str, region: &str) -> String {
    let suffix = format!("-artifacts-{account}-{region}");
    let mut stack = stack.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
    stack.truncate(63 - suffix.len().min(62));
    format!("{}{suffix}", stack.trim_end_matches('-'))
}

/// The artifact bucket of a command: `--artifact-bucket`, else the environment's
/// `artifact_bucket` (one shared with another environment), else the stack's own
/// ([`artifact_bucket_name`]). Every command that reads or writes it asks here, so that a deploy,
/// its sync, its releases and its destroy all take the same lock in the same bucket.
pub fn artifact_bucket_of(
    flag: Option<&str>,
    settings: &crate::settings::Settings,
    stack: &str,
    account: &str,
    region: &str,
) -> String {
    flag.map(String::from)
        .or_else(|| settings.artifact_bucket.as_ref().map(|s| s.value.clone()))
        .unwrap_or_else(|| artifact_bucket_name(stack, account, region))
}

/// Makes sure the artifact bucket exists, is ours, and has its settings; returns the function keys
/// already in it (one listing). With `dry_run` nothing is written and a missing bucket is reported.
pub async fn ensure(c: &Clients, bucket: &Bucket, dry_run: bool, ui: &Ui) -> anyhow::Result<HashSet<String>> {
    let existing = match s3::list_keys(c, bucket, super::KEY_PREFIX).await? {
        Some(keys) => keys,
        None if dry_run => {
            ui.note(format!("would create the artifact bucket {bucket}"));
            return Ok(HashSet::new());
        }
        None => {
            // Today's behaviour without a bootstrap, kept; the bootstrap stack owns the same name.
            ui.note(format!(
                "no artifact bucket {bucket}: creating it (`cargo xtask bootstrap` makes it part of a stack of its own, with the CI deploy role)"
            ));
            create(c, bucket).await?;
            HashSet::new()
        }
    };
    let fixed = reconcile(c, bucket, dry_run).await?;
    if !fixed.is_empty() {
        let verb = if dry_run { "would set" } else { "set" };
        ui.note(format!("{bucket}: {verb} {} (it differed from what the deploy expects)", fixed.join(", ")));
    }
    Ok(existing)
}

async fn create(c: &Clients, bucket: &Bucket) -> anyhow::Result<()> {
    let mut create = c.s3.create_bucket().bucket(&bucket.name);
    if c.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(c.region.as_str()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(err) if err.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
        Err(err) if err.code() == Some("BucketAlreadyExists") => Err(not_owned(bucket)),
        Err(err) => Err(Refusal::new(
            format!("cannot create the artifact bucket {bucket}: {}", crate::aws::error_line(&err)),
            "pick another name with --artifact-bucket NAME",
        )
        .into()),
    }
}

/// The settings the artifact bucket must have, each read and (unless `dry_run`) put back when it
/// differs: five reads on a bucket that is as it should be. Returns what differed.
async fn reconcile(c: &Clients, bucket: &Bucket, dry_run: bool) -> anyhow::Result<Vec<&'static str>> {
    let (b, o) = (bucket.name.as_str(), bucket.owner.as_str());
    let (versioning, encryption, block, policy, lifecycle) = tokio::join!(
        c.s3.get_bucket_versioning().bucket(b).expected_bucket_owner(o).send(),
        c.s3.get_bucket_encryption().bucket(b).expected_bucket_owner(o).send(),
        c.s3.get_public_access_block().bucket(b).expected_bucket_owner(o).send(),
        c.s3.get_bucket_policy().bucket(b).expected_bucket_owner(o).send(),
        c.s3.get_bucket_lifecycle_configuration().bucket(b).expected_bucket_owner(o).send(),
    );
    let mut differs = Vec::new();
    if versioning.map_or(true, |v| v.status() != Some(&BucketVersioningStatus::Enabled)) {
        differs.push("versioning");
    }
    let encrypted = encryption.ok().is_some_and(|e| {
        e.server_side_encryption_configuration()
            .is_some_and(|conf| conf.rules().iter().any(|r| r.apply_server_side_encryption_by_default().is_some()))
    });
    if !encrypted {
        differs.push("encryption");
    }
    let blocked = block.ok().and_then(|b| b.public_access_block_configuration().cloned()).is_some_and(|b| {
        [b.block_public_acls(), b.ignore_public_acls(), b.block_public_policy(), b.restrict_public_buckets()]
            .iter()
            .all(|v| *v == Some(true))
    });
    if !blocked {
        differs.push("the public access block");
    }
    let tls_only = policy.ok().and_then(|p| p.policy().map(String::from)).is_some_and(|p| {
        serde_json::from_str::<serde_json::Value>(&p).is_ok_and(|doc| doc == tls_only_policy(&bucket.name))
    });
    if !tls_only && !c.plain_http() {
        differs.push("the TLS-only policy");
    }
    let expiring = lifecycle.ok().is_some_and(|l| {
        l.rules().iter().any(|r| {
            r.status() == &ExpirationStatus::Enabled
                && r.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()) == Some(NONCURRENT_DAYS)
        })
    });
    if !expiring {
        differs.push("the lifecycle rules");
    }
    if !dry_run {
        for setting in &differs {
            put_setting(c, bucket, setting).await?;
        }
    }
    Ok(differs)
}

async fn put_setting(c: &Clients, bucket: &Bucket, setting: &str) -> anyhow::Result<()> {
    let (b, o) = (bucket.name.as_str(), bucket.owner.as_str());
    let context = || format!("cannot set {setting} on {bucket}");
    match setting {
        "versioning" => {
            c.s3.put_bucket_versioning()
                .bucket(b)
                .expected_bucket_owner(o)
                .versioning_configuration(
                    VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                )
                .send()
                .await
                .with_context(context)?;
        }
        "encryption" => {
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build()?,
                )
                .build();
            c.s3.put_bucket_encryption()
                .bucket(b)
                .expected_bucket_owner(o)
                .server_side_encryption_configuration(ServerSideEncryptionConfiguration::builder().rules(rule).build()?)
                .send()
                .await
                .with_context(context)?;
        }
        "the public access block" => {
            c.s3.put_public_access_block()
                .bucket(b)
                .expected_bucket_owner(o)
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
                .with_context(context)?;
        }
        "the TLS-only policy" => {
            c.s3.put_bucket_policy()
                .bucket(b)
                .expected_bucket_owner(o)
                .policy(tls_only_policy(b).to_string())
                .send()
                .await
                .with_context(context)?;
        }
        "the lifecycle rules" => {
            let rule = LifecycleRule::builder()
                .id("expire-old-artifact-versions")
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder().noncurrent_days(NONCURRENT_DAYS).build(),
                )
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder().days_after_initiation(7).build(),
                )
                .build()?;
            c.s3.put_bucket_lifecycle_configuration()
                .bucket(b)
                .expected_bucket_owner(o)
                .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build()?)
                .send()
                .await
                .with_context(context)?;
        }
        other => unreachable!("no such bucket setting {other}"),
    }
    Ok(())
}

/// Deny every request that is not TLS. (On a plain-HTTP emulator this would lock the tool out,
/// so it is not set there.)
pub fn tls_only_policy(bucket: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
}

/// Uploads the zips whose keys are missing from `existing`, `parallel` at a time. Each zip is read
/// once, its sha256 checked against the dist's, and exactly those bytes are sent with the checksum
/// for S3 to verify.
pub async fn upload_missing(
    c: &Clients,
    bucket: &Bucket,
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
        let verb = if dry_run { "would upload" } else { "upload" };
        ui.line(format!("    {verb} {bucket}/{} ({})", f.key, human_bytes(f.size)));
    }
    if dry_run {
        return Ok(t);
    }
    let files =
        todo.into_iter().map(|f| Verified { key: f.key.clone(), path: f.path.clone(), sha256: f.sha256.clone() });
    put_verified(c, bucket, files.collect(), "application/zip", parallel).await?;
    Ok(t)
}

/// A file of the dist to upload under `key`, whose bytes must still have the dist's `sha256`.
pub struct Verified {
    pub key: String,
    pub path: std::path::PathBuf,
    pub sha256: String,
}

/// Uploads `files`, `parallel` at a time: each read once, its sha256 checked against the dist's,
/// and exactly those bytes sent with the checksum for S3 to verify.
pub async fn put_verified(
    c: &Clients,
    bucket: &Bucket,
    files: Vec<Verified>,
    content_type: &str,
    parallel: usize,
) -> anyhow::Result<()> {
    let results = futures::stream::iter(files.into_iter().map(|f| async move {
        let bytes = std::fs::read(&f.path).with_context(|| format!("cannot read {}", f.path.display()))?;
        if sha256_hex(&bytes) != f.sha256 {
            anyhow::bail!("{} changed since the dist was verified (its sha256 differs): rebuild it", f.path.display());
        }
        s3::put_checked(c, bucket, &f.key, bytes, content_type, None).await
    }))
    .buffer_unordered(parallel.max(1))
    .collect::<Vec<_>>()
    .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(())
}

/// Puts the template in the bucket when it is too large to pass inline (51,200 bytes), unless its
/// content-addressed key is there already. Returns the key.
pub async fn upload_template(c: &Clients, bucket: &Bucket, sha256: &str, body: &str) -> anyhow::Result<String> {
    let key = format!("templates/{sha256}.yaml");
    if !s3::exists(c, bucket, &key).await? {
        s3::put_checked(c, bucket, &key, body.as_bytes().to_vec(), "application/x-yaml", None)
            .await
            .context("cannot upload the template")?;
    }
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
