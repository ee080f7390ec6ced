//! Phase 7 of a deploy (and `sync`): the site bundle and config.json into the site bucket.
//!
//! The bucket keeps a manifest object ([`MANIFEST_KEY`]) of what was uploaded: sha256, Content-Type,
//! Cache-Control per key. A file is uploaded when any of those differ, never because of an mtime.
//! Order: fingerprinted assets first (an old index.html never points at a missing asset), then
//! HTML/config.json, then deletes of files the previous manifest knew (capped by `--max-delete`).

use std::collections::BTreeMap;

use anyhow::Context;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::artifacts::SiteBundle;
use crate::aws::Clients;
use crate::aws::s3::{delete_keys, list_keys};
use crate::cloud::StackOutputs;
use crate::error::Refusal;
use crate::report::{Ui, human_bytes};

pub const MANIFEST_KEY: &str = "_xtask/site-manifest.json";
pub const CONFIG_KEY: &str = "config.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: String,
    pub fingerprinted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub files: BTreeMap<String, Entry>,
}

/// What a sync will do.
#[derive(Debug, Default)]
pub struct Plan {
    pub assets: Vec<String>,
    pub pages: Vec<String>,
    pub deletes: Vec<String>,
    pub skipped: Vec<String>,
    pub new_manifest: Manifest,
}

/// Compares the local files (plus config.json) with the previous manifest.
pub fn plan(local: &BTreeMap<String, Entry>, previous: &Manifest, strays: &[String]) -> Plan {
    let mut p = Plan { new_manifest: Manifest { version: 1, files: local.clone() }, ..Plan::default() };
    for (key, entry) in local {
        if previous.files.get(key) == Some(entry) {
            p.skipped.push(key.clone());
        } else if entry.fingerprinted {
            p.assets.push(key.clone());
        } else {
            p.pages.push(key.clone());
        }
    }
    for key in previous.files.keys().chain(strays) {
        if !local.contains_key(key) && key != MANIFEST_KEY && !p.deletes.contains(key) {
            p.deletes.push(key.clone());
        }
    }
    p
}

/// The flags `deploy` and `sync` share for the site and the CloudFront invalidation.
#[derive(clap::Args, Debug, Clone)]
pub struct SiteArgs {
    /// Delete at most this many stale site files; more are kept and reported
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_delete: usize,
    /// Uploads in flight at once
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub parallel: usize,
    /// Wait for the CloudFront invalidation to complete
    #[arg(long)]
    pub wait: bool,
    /// Past this many paths, an invalidation collapses to `/dir/*` patterns, then to `/*`
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub max_invalidation_paths: usize,
}

impl SiteArgs {
    pub fn options(&self, dry_run: bool) -> SyncOptions {
        SyncOptions {
            max_delete: self.max_delete,
            parallel: self.parallel,
            dry_run,
            wait: self.wait,
            invalidation_limit: self.max_invalidation_paths.max(1),
        }
    }
}

pub struct SyncOptions {
    pub max_delete: usize,
    pub parallel: usize,
    pub dry_run: bool,
    pub wait: bool,
    pub invalidation_limit: usize,
}

async fn read_manifest(c: &Clients, bucket: &str) -> anyhow::Result<Option<Manifest>> {
    match c.s3.get_object().bucket(bucket).key(MANIFEST_KEY).send().await {
        Ok(out) => {
            let bytes = out.body.collect().await.context("cannot read the site manifest")?.into_bytes();
            match serde_json::from_slice(&bytes) {
                Ok(m) => Ok(Some(m)),
                Err(_) => Ok(None),
            }
        }
        Err(err) if err.code() == Some("NoSuchKey") => Ok(None),
        Err(err) if err.code() == Some("NoSuchBucket") => Err(Refusal::new(
            format!("the site bucket {bucket} does not exist"),
            "the stack's SiteBucketName output is stale: deploy the stack first",
        )
        .into()),
        Err(err) => Err(anyhow::Error::new(err).context(format!("cannot read s3://{bucket}/{MANIFEST_KEY}"))),
    }
}

/// Phase 7: returns the changed keys with their fingerprinted flag (for phase 8).
pub async fn sync_site(
    c: &Clients,
    outputs: &StackOutputs,
    bundle: &SiteBundle,
    opts: &SyncOptions,
    ui: &Ui,
) -> anyhow::Result<(Vec<(String, bool)>, String)> {
    let Some(bucket) = &outputs.site_bucket_name else {
        ui.note("the stack has no SiteBucketName output: site not synced");
        return Ok((Vec::new(), "skipped (no SiteBucketName output)".into()));
    };
    let (config, missing) = super::config_from_outputs(outputs);
    let config = config.to_bytes();
    if !missing.is_empty() {
        ui.note(format!("config.json written without {} (not among the stack outputs)", missing.join(", ")));
    }
    let mut local: BTreeMap<String, Entry> = bundle
        .files
        .iter()
        .map(|(k, f)| {
            (
                k.clone(),
                Entry {
                    sha256: f.sha256.clone(),
                    size: f.size,
                    content_type: f.content_type.clone(),
                    cache_control: f.cache_control.clone(),
                    fingerprinted: f.fingerprinted,
                },
            )
        })
        .collect();
    local.insert(
        CONFIG_KEY.into(),
        Entry {
            sha256: hex::encode(Sha256::digest(&config)),
            size: config.len() as u64,
            content_type: "application/json".into(),
            cache_control: "no-cache".into(),
            fingerprinted: false,
        },
    );
    let previous = read_manifest(c, bucket).await?;
    let strays = match &previous {
        Some(_) => Vec::new(),
        // No manifest yet: one listing finds files a previous tool left behind.
        None => {
            let keys = list_keys(&c.s3, bucket, "").await?.unwrap_or_default();
            let mut keys: Vec<String> = keys.into_iter().collect();
            keys.sort();
            keys
        }
    };
    let previous = previous.unwrap_or_default();
    let mut p = plan(&local, &previous, &strays);
    let verb = if opts.dry_run { "would upload" } else { "upload" };
    let bytes = |keys: &[String]| keys.iter().map(|k| local[k].size).sum::<u64>();
    ui.with(|s| {
        let site = s.site.get_or_insert_default();
        site.uploaded = (p.assets.len() + p.pages.len()) as u64;
        site.uploaded_bytes = bytes(&p.assets) + bytes(&p.pages);
        site.skipped = p.skipped.len() as u64;
        site.skipped_bytes = bytes(&p.skipped);
    });
    for key in p.assets.iter().chain(&p.pages) {
        let e = &local[key];
        ui.line(format!("    {verb} {key} ({}, {}, {})", human_bytes(e.size), e.content_type, e.cache_control));
    }
    let mut deletes = std::mem::take(&mut p.deletes);
    let mut kept = Vec::new();
    if deletes.len() > opts.max_delete {
        ui.note(format!(
            "{} stale files in s3://{bucket} not deleted: more than --max-delete {} (raise it to delete them)",
            deletes.len(),
            opts.max_delete
        ));
        kept = std::mem::take(&mut deletes);
    }
    for key in &deletes {
        ui.line(format!("    {} {key}", if opts.dry_run { "would delete" } else { "delete" }));
    }
    // Files not deleted stay in the manifest, so a later run still knows they are stale.
    for key in &kept {
        if let Some(e) = previous.files.get(key) {
            p.new_manifest.files.insert(key.clone(), e.clone());
        }
    }
    let mut changed: Vec<(String, bool)> =
        p.assets.iter().chain(&p.pages).map(|k| (k.clone(), local[k].fingerprinted)).collect();
    changed.extend(deletes.iter().map(|k| (k.clone(), previous.files.get(k).is_some_and(|e| e.fingerprinted))));
    let detail = format!(
        "{} uploaded, {} unchanged, {} deleted{}",
        p.assets.len() + p.pages.len(),
        p.skipped.len(),
        deletes.len(),
        if kept.is_empty() { String::new() } else { format!(", {} stale kept", kept.len()) }
    );
    ui.with(|s| {
        s.site.get_or_insert_default().deleted = deletes.len() as u64;
        s.uploaded_keys.extend(p.assets.iter().chain(&p.pages).cloned());
        s.deleted_keys.extend(deletes.iter().cloned());
    });
    if opts.dry_run {
        return Ok((changed, detail));
    }
    let upload = |key: String| {
        let e = local[&key].clone();
        let path = bundle.root.join(&key);
        let config = config.clone();
        async move {
            let body = if key == CONFIG_KEY {
                ByteStream::from(config)
            } else {
                ByteStream::from_path(&path).await.with_context(|| format!("cannot read {}", path.display()))?
            };
            c.s3.put_object()
                .bucket(bucket)
                .key(&key)
                .body(body)
                .content_type(&e.content_type)
                .cache_control(&e.cache_control)
                .send()
                .await
                .with_context(|| format!("cannot upload s3://{bucket}/{key}"))?;
            anyhow::Ok(())
        }
    };
    let total = p.assets.len() + p.pages.len();
    let mut done = 0;
    for batch in [&p.assets, &p.pages] {
        let mut uploads =
            futures::stream::iter(batch.iter().cloned().map(upload)).buffer_unordered(opts.parallel.max(1));
        while let Some(result) = uploads.next().await {
            result?;
            done += 1;
            ui.progress(format!("{done}/{total} files"));
        }
    }
    delete_keys(c, bucket, &deletes, opts.parallel).await?;
    if p.new_manifest != previous {
        let body = serde_json::to_vec_pretty(&p.new_manifest)?;
        c.s3.put_object()
            .bucket(bucket)
            .key(MANIFEST_KEY)
            .body(ByteStream::from(body))
            .content_type("application/json")
            .cache_control("no-cache")
            .send()
            .await
            .with_context(|| format!("cannot write s3://{bucket}/{MANIFEST_KEY}"))?;
    }
    Ok((changed, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sha: &str, fingerprinted: bool) -> Entry {
        Entry {
            sha256: sha.into(),
            size: 1,
            content_type: "text/html".into(),
            cache_control: "no-cache".into(),
            fingerprinted,
        }
    }

    #[test]
    fn plan_uploads_changed_and_deletes_known_stale() {
        let previous = Manifest {
            version: 1,
            files: BTreeMap::from([
                ("index.html".into(), entry("a", false)),
                ("assets/app.1.js".into(), entry("b", true)),
            ]),
        };
        let mut local = BTreeMap::from([
            ("index.html".to_string(), entry("a2", false)),
            ("assets/app.2.js".into(), entry("c", true)),
        ]);
        let p = plan(&local, &previous, &[]);
        assert_eq!(p.assets, ["assets/app.2.js"]);
        assert_eq!(p.pages, ["index.html"]);
        assert_eq!(p.deletes, ["assets/app.1.js"]);
        local.insert("index.html".into(), entry("a", false));
        let mut header_change = entry("a", false);
        header_change.cache_control = "max-age=60".into();
        let p = plan(&BTreeMap::from([("index.html".to_string(), header_change)]), &previous, &[]);
        assert_eq!(p.pages, ["index.html"], "a header change alone re-uploads");
    }
}
