//! S3 operations the commands share: listing keys, deleting keys in batches of 1,000, and emptying a
//! versioned bucket (every version, delete marker and unfinished upload).

use std::collections::HashSet;

use anyhow::Context;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::StreamExt;

use super::Clients;
use crate::error::Refusal;

/// Lists every key under `prefix` (one paginated ListObjectsV2); None when the bucket does not exist.
pub async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> anyhow::Result<Option<HashSet<String>>> {
    let mut keys = HashSet::new();
    let mut token = None;
    loop {
        let out = s3.list_objects_v2().bucket(bucket).prefix(prefix).set_continuation_token(token).send().await;
        let out = match out {
            Ok(out) => out,
            Err(err) if err.code() == Some("NoSuchBucket") => return Ok(None),
            Err(err) if err.code() == Some("AccessDenied") => {
                return Err(Refusal::new(
                    format!("access denied listing s3://{bucket}/{prefix}"),
                    "the bucket belongs to another account, or your credentials lack s3:ListBucket; pass --artifact-bucket NAME",
                )
                .into());
            }
            Err(err) => return Err(anyhow::Error::new(err).context(format!("cannot list s3://{bucket}/{prefix}"))),
        };
        keys.extend(out.contents().iter().filter_map(|o| o.key().map(String::from)));
        token = out.next_continuation_token().map(String::from);
        if token.is_none() {
            return Ok(Some(keys));
        }
    }
}

/// DeleteObjects in batches of 1,000 keys, a few batches at a time.
pub async fn delete_keys(c: &Clients, bucket: &str, keys: &[String], parallel: usize) -> anyhow::Result<()> {
    let ids: Vec<ObjectIdentifier> =
        keys.iter().map(|k| ObjectIdentifier::builder().key(k).build()).collect::<Result<_, _>>()?;
    delete_identifiers(c, bucket, ids, parallel).await
}

pub async fn delete_identifiers(
    c: &Clients,
    bucket: &str,
    ids: Vec<ObjectIdentifier>,
    parallel: usize,
) -> anyhow::Result<()> {
    let batches: Vec<Vec<ObjectIdentifier>> = ids.chunks(1000).map(<[_]>::to_vec).collect();
    let results = futures::stream::iter(batches.into_iter().map(|batch| async move {
        let out =
            c.s3.delete_objects()
                .bucket(bucket)
                .delete(Delete::builder().set_objects(Some(batch)).quiet(true).build()?)
                .send()
                .await
                .with_context(|| format!("cannot delete objects in s3://{bucket}"))?;
        if let Some(e) = out.errors().first() {
            anyhow::bail!(
                "cannot delete s3://{bucket}/{}: {} {}",
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
    bucket: &str,
    after: (Option<String>, Option<String>),
) -> anyhow::Result<Option<(Vec<Version>, Option<(Option<String>, Option<String>)>)>> {
    let out =
        c.s3.list_object_versions().bucket(bucket).set_key_marker(after.0).set_version_id_marker(after.1).send().await;
    let out = match out {
        Ok(out) => out,
        Err(err) if err.code() == Some("NoSuchBucket") => return Ok(None),
        Err(err) => return Err(anyhow::Error::new(err).context(format!("cannot list the versions in s3://{bucket}"))),
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
pub async fn empty_bucket(c: &Clients, bucket: &str, parallel: usize) -> anyhow::Result<Option<Emptied>> {
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
                            "s3://{bucket}/{} (version {}) survived DeleteObjects",
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
async fn abort_uploads(c: &Clients, bucket: &str, parallel: usize) -> anyhow::Result<u64> {
    let mut aborted = 0;
    let mut key_marker = None;
    let mut upload_marker = None;
    loop {
        let out =
            c.s3.list_multipart_uploads()
                .bucket(bucket)
                .set_key_marker(key_marker)
                .set_upload_id_marker(upload_marker)
                .send()
                .await
                .with_context(|| format!("cannot list the multipart uploads in s3://{bucket}"))?;
        let aborts = out.uploads().iter().map(|u| {
            let key = u.key().unwrap_or("").to_string();
            let id = u.upload_id().unwrap_or("").to_string();
            async move {
                c.s3.abort_multipart_upload()
                    .bucket(bucket)
                    .key(&key)
                    .upload_id(&id)
                    .send()
                    .await
                    .with_context(|| format!("cannot abort the upload of s3://{bucket}/{key}"))
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
pub async fn bucket_size(c: &Clients, bucket: &str) -> Option<(u64, u64)> {
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
