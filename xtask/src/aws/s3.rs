//! S3 operations the commands share, on buckets this tool owns ([`Bucket`], every call with its
//! expected owner): listing objects, deleting keys in batches of 1,000, putting bytes S3 checks
//! (`ChecksumSHA256`), and emptying a versioned bucket (every version, delete marker and unfinished
//! upload).

use std::collections::{BTreeMap, HashSet};

use anyhow::Context;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::StreamExt;

use super::Clients;
use crate::error::Refusal;

/// A bucket this tool owns (the artifact, site and data buckets). Every call to it names the
/// account as `ExpectedBucketOwner`, so S3 refuses (403) rather than let us read from or write into
/// a bucket of the same name that someone else created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    /// The AWS account id that must own it.
    pub owner: String,
}

impl Bucket {
    pub fn new(name: impl Into<String>, owner: impl Into<String>) -> Bucket {
        Bucket { name: name.into(), owner: owner.into() }
    }
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}", self.name)
    }
}

/// What a listing says about one object (the site sync plan's type).
pub use xtask_formats::site_plan::Listed;

/// The refusal for a bucket that answered 403 to a call naming its expected owner.
pub fn not_owned(bucket: &Bucket) -> anyhow::Error {
    Refusal::new(
        format!("{bucket} is not owned by account {} (or these credentials may not read it)", bucket.owner),
        "a bucket of that name exists in another account: pass --artifact-bucket NAME for a bucket of your own, and check the credentials' s3:ListBucket permission",
    )
    .into()
}

/// Every object under `prefix` with its size and ETag (ListObjectsV2, one call per 1,000 keys);
/// None when the bucket does not exist.
pub async fn list_objects(
    c: &Clients,
    bucket: &Bucket,
    prefix: &str,
) -> anyhow::Result<Option<BTreeMap<String, Listed>>> {
    let mut objects = BTreeMap::new();
    let mut token = None;
    loop {
        let out =
            c.s3.list_objects_v2()
                .bucket(&bucket.name)
                .expected_bucket_owner(&bucket.owner)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await;
        let out = match out {
            Ok(out) => out,
            Err(err) if err.code() == Some("NoSuchBucket") => return Ok(None),
            Err(err) if err.code() == Some("AccessDenied") => return Err(not_owned(bucket)),
            Err(err) => return Err(anyhow::anyhow!("cannot list {bucket}/{prefix}: {}", super::error_line(&err))),
        };
        for o in out.contents() {
            let Some(key) = o.key() else { continue };
            let etag = o.e_tag().unwrap_or("").trim_matches('"').to_string();
            objects.insert(key.to_string(), Listed { size: o.size().unwrap_or(0).max(0) as u64, etag });
        }
        token = out.next_continuation_token().map(String::from);
        if token.is_none() {
            return Ok(Some(objects));
        }
    }
}

/// The keys under `prefix`; None when the bucket does not exist.
pub async fn list_keys(c: &Clients, bucket: &Bucket, prefix: &str) -> anyhow::Result<Option<HashSet<String>>> {
    Ok(list_objects(c, bucket, prefix).await?.map(|objects| objects.into_keys().collect()))
}

/// DeleteObjects in batches of 1,000 keys, a few batches at a time.
pub async fn delete_keys(c: &Clients, bucket: &Bucket, keys: &[String], parallel: usize) -> anyhow::Result<()> {
    let ids: Vec<ObjectIdentifier> =
        keys.iter().map(|k| ObjectIdentifier::builder().key(k).build()).collect::<Result<_, _>>()?;
    delete_identifiers(c, bucket, ids, parallel).await
}

pub async fn delete_identifiers(
    c: &Clients,
    bucket: &Bucket,
    ids: Vec<ObjectIdentifier>,
    parallel: usize,
) -> anyhow::Result<()> {
    let batches: Vec<Vec<ObjectIdentifier>> = ids.chunks(1000).map(<[_]>::to_vec).collect();
    let results = futures::stream::iter(batches.into_iter().map(|batch| async move {
        let out =
            c.s3.delete_objects()
                .bucket(&bucket.name)
                .expected_bucket_owner(&bucket.owner)
                .delete(Delete::builder().set_objects(Some(batch)).quiet(true).build()?)
                .send()
                .await
                .with_context(|| format!("cannot delete objects in {bucket}"))?;
        if let Some(e) = out.errors().first() {
            anyhow::bail!(
                "cannot delete {bucket}/{}: {} {}",
                e.key().unwrap_or(""),
                e.code().unwrap_or(""),
                e.message().unwrap_or("")
            );
        }
        anyhow::Ok(())
    }))
    .buffer_unordered(parallel.clamp(1, 4))
    .collect::<Vec<_>>()
    .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(())
}

/// What emptying one bucket removed.
#[derive(Default, Debug)]
pub struct Emptied {
    pub versions: u64,
    pub delete_markers: u64,
    pub uploads: u64,
    pub bytes: u64,
}

/// One object version or delete marker of a listing.
struct Version {
    key: String,
    version_id: Option<String>,
    size: u64,
    is_marker: bool,
}

/// One page of ListObjectVersions after `(key marker, version marker)`: its versions and delete
/// markers, and the markers of the next page (None: this was the last). None when the bucket does
/// not exist.
async fn versions_page(
    c: &Clients,
    bucket: &Bucket,
    after: (Option<String>, Option<String>),
) -> anyhow::Result<Option<(Vec<Version>, Option<(Option<String>, Option<String>)>)>> {
    let out =
        c.s3.list_object_versions()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .set_key_marker(after.0)
            .set_version_id_marker(after.1)
            .send()
            .await;
    let out = match out {
        Ok(out) => out,
        Err(err) if err.code() == Some("NoSuchBucket") => return Ok(None),
        Err(err) if err.code() == Some("AccessDenied") => return Err(not_owned(bucket)),
        Err(err) => return Err(anyhow::anyhow!("cannot list the versions in {bucket}: {}", super::error_line(&err))),
    };
    let versions = out.versions().iter().map(|v| Version {
        key: v.key().unwrap_or("").to_string(),
        version_id: v.version_id().map(String::from),
        size: v.size().unwrap_or(0).max(0) as u64,
        is_marker: false,
    });
    let markers = out.delete_markers().iter().map(|m| Version {
        key: m.key().unwrap_or("").to_string(),
        version_id: m.version_id().map(String::from),
        size: 0,
        is_marker: true,
    });
    let page = versions.chain(markers).collect();
    let next = (out.is_truncated() == Some(true))
        .then(|| (out.next_key_marker().map(String::from), out.next_version_id_marker().map(String::from)));
    Ok(Some((page, next)))
}

/// Deletes every object version, delete marker and unfinished multipart upload of `bucket` (None
/// when it does not exist). Refuses a version that survives its DeleteObjects.
pub async fn empty_bucket(c: &Clients, bucket: &Bucket, parallel: usize) -> anyhow::Result<Option<Emptied>> {
    let mut e = Emptied::default();
    // Every round lists from the start (the versions of earlier rounds are gone) up to `parallel`
    // batches of 1,000, then deletes them in parallel. Paging on with markers across deletions is
    // what not to do: S3 emulators end the listing early when the marker itself was deleted.
    let mut attempted = HashSet::new();
    loop {
        let mut pending = Vec::new();
        let mut after = (None, None);
        loop {
            let Some((page, next)) = versions_page(c, bucket, after).await? else { return Ok(None) };
            for v in page {
                if !attempted.insert((v.key.clone(), v.version_id.clone())) {
                    return Err(Refusal::new(
                        format!(
                            "{bucket}/{} (version {}) survived DeleteObjects",
                            v.key,
                            v.version_id.as_deref().unwrap_or("null")
                        ),
                        "check the bucket for Object Lock or a policy denying s3:DeleteObjectVersion, then run destroy again",
                    )
                    .into());
                }
                if v.is_marker {
                    e.delete_markers += 1;
                } else {
                    e.versions += 1;
                    e.bytes += v.size;
                }
                pending.push(ObjectIdentifier::builder().key(v.key).set_version_id(v.version_id).build()?);
            }
            match next {
                Some(markers) if pending.len() < 1000 * parallel.max(1) => after = markers,
                _ => break,
            }
        }
        if pending.is_empty() {
            break;
        }
        delete_identifiers(c, bucket, pending, parallel).await?;
    }
    e.uploads = abort_uploads(c, bucket, parallel).await?;
    Ok(Some(e))
}

/// Aborts every unfinished multipart upload: they hold storage too and block the bucket's deletion.
async fn abort_uploads(c: &Clients, bucket: &Bucket, parallel: usize) -> anyhow::Result<u64> {
    let mut aborted = 0;
    let mut key_marker = None;
    let mut upload_marker = None;
    loop {
        let out =
            c.s3.list_multipart_uploads()
                .bucket(&bucket.name)
                .expected_bucket_owner(&bucket.owner)
                .set_key_marker(key_marker)
                .set_upload_id_marker(upload_marker)
                .send()
                .await
                .with_context(|| format!("cannot list the multipart uploads in {bucket}"))?;
        let aborts = out.uploads().iter().map(|u| {
            let key = u.key().unwrap_or("").to_string();
            let id = u.upload_id().unwrap_or("").to_string();
            async move {
                c.s3.abort_multipart_upload()
                    .bucket(&bucket.name)
                    .expected_bucket_owner(&bucket.owner)
                    .key(&key)
                    .upload_id(&id)
                    .send()
                    .await
                    .with_context(|| format!("cannot abort the upload of {bucket}/{key}"))
            }
        });
        let results = futures::stream::iter(aborts).buffer_unordered(parallel.max(1)).collect::<Vec<_>>().await;
        for r in results {
            r?;
            aborted += 1;
        }
        if out.is_truncated() != Some(true) {
            return Ok(aborted);
        }
        key_marker = out.next_key_marker().map(String::from);
        upload_marker = out.next_upload_id_marker().map(String::from);
    }
}

/// The number and size of a bucket's object versions, current and old (for "what it costs").
pub async fn bucket_size(c: &Clients, bucket: &Bucket) -> Option<(u64, u64)> {
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut after = (None, None);
    loop {
        let (page, next) = versions_page(c, bucket, after).await.ok()??;
        for v in page.iter().filter(|v| !v.is_marker) {
            n += 1;
            bytes += v.size;
        }
        match next {
            Some(markers) => after = markers,
            None => return Some((n, bytes)),
        }
    }
}

/// Uploads `bytes` as `key` with its sha256 for S3 to check (`ChecksumSHA256`: wrong bytes are
/// refused), and the headers given. The bytes are the ones the caller verified.
pub async fn put_checked(
    c: &Clients,
    bucket: &Bucket,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
    cache_control: Option<&str>,
) -> anyhow::Result<()> {
    use sha2::Digest;
    let checksum = aws_smithy_types::base64::encode(sha2::Sha256::digest(&bytes));
    c.s3.put_object()
        .bucket(&bucket.name)
        .expected_bucket_owner(&bucket.owner)
        .key(key)
        .checksum_sha256(checksum)
        .content_type(content_type)
        .set_cache_control(cache_control.map(String::from))
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
        .send()
        .await
        .map_err(|err| match err.code() {
            Some("AccessDenied") => not_owned(bucket),
            _ => anyhow::anyhow!("cannot upload {bucket}/{key}: {}", super::error_line(&err)),
        })?;
    Ok(())
}

/// Whether `key` exists (one HeadObject).
pub async fn exists(c: &Clients, bucket: &Bucket, key: &str) -> anyhow::Result<bool> {
    match c.s3.head_object().bucket(&bucket.name).expected_bucket_owner(&bucket.owner).key(key).send().await {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
        Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 403) => Err(not_owned(bucket)),
        Err(err) => Err(anyhow::anyhow!("cannot read {bucket}/{key}: {}", super::error_line(&err))),
    }
}

/// The bytes of `key`; None when there is no such key.
pub async fn get(c: &Clients, bucket: &Bucket, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
    match c.s3.get_object().bucket(&bucket.name).expected_bucket_owner(&bucket.owner).key(key).send().await {
        // `into_bytes` then one copy: `AggregatedBytes::to_vec` goes byte by byte, slow in a debug build.
        Ok(out) => {
            let body = out.body.collect().await.with_context(|| format!("cannot read {bucket}/{key}"))?;
            Ok(Some(body.into_bytes().to_vec()))
        }
        Err(err) if err.code() == Some("NoSuchKey") => Ok(None),
        Err(err) if err.code() == Some("AccessDenied") => Err(not_owned(bucket)),
        Err(err) => Err(anyhow::anyhow!("cannot read {bucket}/{key}: {}", super::error_line(&err))),
    }
}

/// Writes `key` only if it does not exist yet (`If-None-Match: *`, a conditional write): true when
/// written, false when the key was there already.
pub async fn put_if_absent(
    c: &Clients,
    bucket: &Bucket,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> anyhow::Result<bool> {
    match put_conditional(c, bucket, key, bytes, content_type, Precondition::Absent).await? {
        Written::Yes(_) => Ok(true),
        Written::Refused => Ok(false),
        Written::NoBucket => anyhow::bail!("cannot write {bucket}/{key}: the bucket does not exist"),
    }
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written; the new version's ETag.
    Yes(String),
    /// The precondition failed: someone else wrote (or deleted) the key first.
    Refused,
    NoBucket,
}

/// What a conditional write requires of the object it replaces.
#[derive(Debug, Clone, Copy)]
pub enum Precondition<'a> {
    /// There is none (`If-None-Match: *`).
    Absent,
    /// It is exactly the version with this ETag (`If-Match`): nobody wrote it since we read it.
    Matches(&'a str),
}

/// A conditional PutObject.
pub async fn put_conditional(
    c: &Clients,
    bucket: &Bucket,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
    precondition: Precondition<'_>,
) -> anyhow::Result<Written> {
    use sha2::Digest;
    let checksum = aws_smithy_types::base64::encode(sha2::Sha256::digest(&bytes));
    let put = c.s3.put_object().bucket(&bucket.name).expected_bucket_owner(&bucket.owner).key(key);
    let put = match precondition {
        Precondition::Absent => put.if_none_match("*"),
        Precondition::Matches(etag) => put.if_match(etag),
    };
    let put = put
        .checksum_sha256(checksum)
        .content_type(content_type)
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
        .send()
        .await;
    match put {
        Ok(out) => Ok(Written::Yes(out.e_tag().unwrap_or_default().to_string())),
        // NoSuchKey: an If-Match on a key deleted meanwhile.
        Err(err) if is_precondition_failure(err.code()) => Ok(Written::Refused),
        Err(err) if err.code() == Some("NoSuchBucket") => Ok(Written::NoBucket),
        Err(err) if err.code() == Some("AccessDenied") => Err(not_owned(bucket)),
        Err(err) => Err(anyhow::anyhow!("cannot write {bucket}/{key}: {}", super::error_line(&err))),
    }
}

fn is_precondition_failure(code: Option<&str>) -> bool {
    matches!(code, Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey"))
}

/// The bytes of `key` and their ETag (the version a conditional write can then name); None when
/// there is no such key.
pub async fn get_with_etag(c: &Clients, bucket: &Bucket, key: &str) -> anyhow::Result<Option<(Vec<u8>, String)>> {
    match c.s3.get_object().bucket(&bucket.name).expected_bucket_owner(&bucket.owner).key(key).send().await {
        Ok(out) => {
            let etag = out.e_tag().unwrap_or_default().to_string();
            let bytes = out.body.collect().await.with_context(|| format!("cannot read {bucket}/{key}"))?.to_vec();
            Ok(Some((bytes, etag)))
        }
        Err(err) if err.code() == Some("NoSuchKey") => Ok(None),
        Err(err) if err.code() == Some("AccessDenied") => Err(not_owned(bucket)),
        Err(err) => Err(anyhow::anyhow!("cannot read {bucket}/{key}: {}", super::error_line(&err))),
    }
}

/// Deletes `key` only if it still is the version with `etag` (a conditional DeleteObject): false
/// when someone wrote or deleted it since.
pub async fn delete_if_match(c: &Clients, bucket: &Bucket, key: &str, etag: &str) -> anyhow::Result<bool> {
    let deleted =
        c.s3.delete_object()
            .bucket(&bucket.name)
            .expected_bucket_owner(&bucket.owner)
            .key(key)
            .if_match(etag)
            .send()
            .await;
    match deleted {
        Ok(_) => Ok(true),
        Err(err) if is_precondition_failure(err.code()) => Ok(false),
        Err(err) if err.code() == Some("AccessDenied") => Err(not_owned(bucket)),
        Err(err) => Err(anyhow::anyhow!("cannot delete {bucket}/{key}: {}", super::error_line(&err))),
    }
}

/// The statement `deny_writes` adds: nobody puts an object while the bucket is being emptied.
const DENY_WRITES_SID: &str = "XtaskDestroyDenyWrites";

/// Adds a statement to the bucket's policy that denies every `s3:PutObject`, so that nothing
/// (the app, a late upload) refills the bucket while it is being emptied for deletion (what CDK's
/// auto-delete does). Idempotent: a statement from an earlier run is kept, not added twice.
pub async fn deny_writes(c: &Clients, bucket: &Bucket) -> anyhow::Result<()> {
    let current = match c.s3.get_bucket_policy().bucket(&bucket.name).expected_bucket_owner(&bucket.owner).send().await
    {
        Ok(out) => out.policy().and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok()),
        Err(err) if err.code() == Some("NoSuchBucketPolicy") => None,
        Err(err) if err.code() == Some("NoSuchBucket") => return Ok(()),
        Err(err) if err.code() == Some("AccessDenied") => return Err(not_owned(bucket)),
        Err(err) => return Err(anyhow::anyhow!("cannot read the policy of {bucket}: {}", super::error_line(&err))),
    };
    let mut policy = current.unwrap_or_else(|| serde_json::json!({"Version": "2012-10-17", "Statement": []}));
    let Some(statements) = policy.get_mut("Statement").and_then(serde_json::Value::as_array_mut) else {
        anyhow::bail!("the policy of {bucket} has no Statement list");
    };
    if statements.iter().any(|s| s["Sid"] == DENY_WRITES_SID) {
        return Ok(());
    }
    statements.push(serde_json::json!({
        "Sid": DENY_WRITES_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": format!("arn:aws:s3:::{}/*", bucket.name),
    }));
    c.s3.put_bucket_policy()
        .bucket(&bucket.name)
        .expected_bucket_owner(&bucket.owner)
        .policy(policy.to_string())
        .send()
        .await
        .with_context(|| format!("cannot stop writes to {bucket}"))?;
    Ok(())
}
