//! Site sync (phase 7) and CloudFront invalidation (phase 8).
//!
//! The bucket keeps a manifest object ([`MANIFEST_KEY`]) of what was uploaded: sha256, Content-Type,
//! Cache-Control per key. A file is uploaded when any of those differ, never because of an mtime.
//! Order: fingerprinted assets first (an old index.html never points at a missing asset), then
//! HTML/config.json, then deletes of files the previous manifest knew (capped by `--max-delete`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::report::Ui;
use crate::artifacts::SiteBundle;
use crate::calls::Clients;
use crate::errors::Refusal;

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

/// `config.json` for the site, from the stack outputs; also the outputs that were missing.
pub fn site_config(outputs: &BTreeMap<String, String>) -> (Vec<u8>, Vec<&'static str>) {
    let mut missing = Vec::new();
    let mut get = |k: &'static str| {
        let v = outputs.get(k).cloned();
        if v.is_none() {
            missing.push(k);
        }
        v
    };
    let api = get("ApiUrl");
    let domain = get("CognitoDomain");
    let client = get("UserPoolClientId");
    let site = get("SiteUrl");
    let mut auth = serde_json::Map::new();
    auth.insert("mode".into(), "cognito".into());
    if let Some(d) = domain {
        auth.insert("domain".into(), d.into());
    }
    if let Some(c) = client {
        auth.insert("clientId".into(), c.into());
    }
    if let Some(s) = site {
        let uri = format!("{}/", s.trim_end_matches('/'));
        auth.insert("redirectUri".into(), uri.clone().into());
        auth.insert("logoutUri".into(), uri.into());
    }
    let mut root = serde_json::Map::new();
    if let Some(a) = api {
        root.insert("apiUrl".into(), a.into());
    }
    root.insert("auth".into(), auth.into());
    let mut bytes = serde_json::to_vec_pretty(&serde_json::Value::Object(root)).expect("json");
    bytes.push(b'\n');
    (bytes, missing)
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

/// CloudFront paths for changed keys: only non-fingerprinted ones; `dir/index.html` also `/dir/`;
/// more than `limit` paths collapse per directory (`/dir/*`), then to `/*`.
pub fn invalidation_paths(changed: &[(String, bool)], limit: usize) -> Vec<String> {
    let mut paths = Vec::new();
    for (key, fingerprinted) in changed {
        if *fingerprinted {
            continue;
        }
        paths.push(format!("/{key}"));
        if key == "index.html" {
            paths.push("/".into());
        } else if let Some(dir) = key.strip_suffix("/index.html") {
            paths.push(format!("/{dir}/"));
        }
    }
    paths.sort();
    paths.dedup();
    if paths.len() <= limit {
        return paths;
    }
    let mut by_dir: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in paths {
        let dir = match p.trim_end_matches('/').rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => "/".into(),
        };
        by_dir.entry(dir).or_default().push(p);
    }
    let collapsed: Vec<String> =
        by_dir.into_iter().flat_map(|(dir, ps)| if ps.len() > 3 { vec![format!("{dir}*")] } else { ps }).collect();
    if collapsed.len() <= limit && !collapsed.contains(&"/*".to_string()) { collapsed } else { vec!["/*".into()] }
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
    outputs: &BTreeMap<String, String>,
    bundle: &SiteBundle,
    opts: &SyncOptions,
    ui: &Ui,
) -> anyhow::Result<(Vec<(String, bool)>, String)> {
    let Some(bucket) = outputs.get("SiteBucketName") else {
        ui.note("the stack has no SiteBucketName output: site not synced");
        return Ok((Vec::new(), "skipped (no SiteBucketName output)".into()));
    };
    let (config, missing) = site_config(outputs);
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
            let keys = super::bucket::list_keys(&c.s3, bucket, "").await?.unwrap_or_default();
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
        s.site.uploaded = (p.assets.len() + p.pages.len()) as u64;
        s.site.uploaded_bytes = bytes(&p.assets) + bytes(&p.pages);
        s.site.skipped = p.skipped.len() as u64;
        s.site.skipped_bytes = bytes(&p.skipped);
    });
    for key in p.assets.iter().chain(&p.pages) {
        let e = &local[key];
        ui.line(format!(
            "    {verb} {key} ({}, {}, {})",
            super::report::human_bytes(e.size),
            e.content_type,
            e.cache_control
        ));
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
        s.site.deleted = deletes.len() as u64;
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

/// Phase 8: one invalidation of the changed non-fingerprinted paths (none when nothing changed).
pub async fn invalidate(
    c: &Clients,
    outputs: &BTreeMap<String, String>,
    changed: &[(String, bool)],
    opts: &SyncOptions,
    ui: &Ui,
) -> anyhow::Result<String> {
    let paths = invalidation_paths(changed, opts.invalidation_limit);
    if paths.is_empty() {
        return Ok("nothing to invalidate".into());
    }
    let Some(distribution) = outputs.get("DistributionId") else {
        ui.note("the stack has no DistributionId output: no invalidation");
        return Ok("skipped (no DistributionId output)".into());
    };
    ui.with(|s| s.invalidation_paths = paths.clone());
    if opts.dry_run {
        return Ok(format!("would invalidate {}", paths.join(" ")));
    }
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
                .set_items(Some(paths.clone()))
                .build()?,
        )
        .caller_reference(reference)
        .build()?;
    let out = c
        .cloudfront
        .create_invalidation()
        .distribution_id(distribution)
        .invalidation_batch(batch)
        .send()
        .await
        .with_context(|| format!("cannot invalidate CloudFront distribution {distribution}"))?;
    let id = out.invalidation().map(|i| i.id().to_string()).unwrap_or_default();
    if opts.wait {
        let mut delay = Duration::from_secs(1);
        loop {
            let got = c
                .cloudfront
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
        return Ok(format!("{id} completed: {}", paths.join(" ")));
    }
    Ok(format!("{id}: {}", paths.join(" ")))
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

    #[test]
    fn invalidations_skip_fingerprinted_and_collapse() {
        let changed = vec![
            ("index.html".to_string(), false),
            ("assets/app.1.js".to_string(), true),
            ("docs/index.html".to_string(), false),
        ];
        assert_eq!(invalidation_paths(&changed, 15), ["/", "/docs/", "/docs/index.html", "/index.html"]);
        let many: Vec<(String, bool)> = (0..20).map(|i| (format!("img/{i}.png"), false)).collect();
        assert_eq!(invalidation_paths(&many, 15), ["/img/*"]);
        let spread: Vec<(String, bool)> = (0..20).map(|i| (format!("d{i}/x.png"), false)).collect();
        assert_eq!(invalidation_paths(&spread, 15), ["/*"]);
        assert!(invalidation_paths(&[("assets/a.1.js".into(), true)], 15).is_empty());
    }

    #[test]
    fn config_json_from_outputs() {
        let outputs = BTreeMap::from([
            ("ApiUrl".to_string(), "https://api.example.com".to_string()),
            ("SiteUrl".to_string(), "https://www.example.com".to_string()),
        ]);
        let (bytes, missing) = site_config(&outputs);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["apiUrl"], "https://api.example.com");
        assert_eq!(v["auth"]["redirectUri"], "https://www.example.com/");
        assert_eq!(missing, ["CognitoDomain", "UserPoolClientId"]);
    }
}
