//! Phase 7 of a deploy (and `sync`): the site bundle and `config.json` into the site bucket, checked
//! against what the bucket really holds (one listing per 1,000 keys), never against a record alone
//! (see [`super::plan`]). The bookkeeping lives in the artifact bucket ([`super::state`]).
//!
//! A run that is interrupted (even killed) leaves a state the next run repairs: the paths to
//! invalidate are recorded before the first upload, the manifest is written after the last one,
//! and the next run's listing finds whatever is missing, different or stray.

use std::collections::BTreeMap;

use anyhow::Context;
use futures::StreamExt;

use super::invalidation;
use super::plan::plan;
use super::state::{Entry, MANIFEST_VERSION, Manifest, Pending, Store};
use crate::artifacts::{SiteBundle, sha256_hex};
use crate::aws::Clients;
use crate::aws::s3::{self, Bucket};
use crate::cloud::StackOutputs;
use crate::error::Refusal;
use crate::report::{Ui, human_bytes};

pub const CONFIG_KEY: &str = "config.json";

/// The flags `deploy` and `sync` share for the site and the CloudFront invalidation.
#[derive(clap::Args, Debug, Clone)]
pub struct SiteArgs {
    /// Delete at most this many stray site files; the rest are kept, reported, and deleted by later runs
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

/// Where a stack's site goes: its bucket (from the outputs, owned by the stack's account) and the
/// store of its bookkeeping (the artifact bucket).
pub struct Target {
    pub site: Bucket,
    pub store: Store,
    /// The CloudFront distribution in front of it (None: nothing to invalidate).
    pub distribution: Option<String>,
}

impl Target {
    /// The site of a deployed stack, or None (with a note) when its outputs name no site bucket.
    pub fn of(outputs: &StackOutputs, owner: &str, store: Store, ui: &Ui) -> Option<Target> {
        let Some(bucket) = &outputs.site_bucket_name else {
            ui.note("the stack has no SiteBucketName output: site not synced");
            return None;
        };
        Some(Target { site: Bucket::new(bucket, owner), store, distribution: outputs.distribution_id.clone() })
    }
}

fn entry(f: &crate::artifacts::SiteFile) -> Entry {
    Entry {
        sha256: f.sha256.clone(),
        md5: f.md5.clone(),
        size: f.size,
        content_type: f.content_type.clone(),
        cache_control: f.cache_control.clone(),
        fingerprinted: f.fingerprinted,
    }
}

/// Syncs the site; returns the CloudFront paths still to invalidate (this run's and any a previous
/// run left pending) and the phase's detail line.
pub async fn sync_site(
    c: &Clients,
    target: &Target,
    outputs: &StackOutputs,
    bundle: &SiteBundle,
    opts: &SyncOptions,
    ui: &Ui,
) -> anyhow::Result<(Vec<String>, String)> {
    let (config, missing) = super::config_from_outputs(outputs);
    let config = config.to_bytes();
    if !missing.is_empty() {
        ui.note(format!("config.json written without {} (not among the stack outputs)", missing.join(", ")));
    }
    let mut local: BTreeMap<String, Entry> = bundle.files.iter().map(|(k, f)| (k.clone(), entry(f))).collect();
    local.insert(
        CONFIG_KEY.into(),
        Entry {
            sha256: sha256_hex(&config),
            md5: site_bundle::md5_hex(&config),
            size: config.len() as u64,
            content_type: "application/json".into(),
            cache_control: "no-cache".into(),
            fingerprinted: false,
        },
    );
    let listing = s3::list_objects(c, &target.site, "").await?.ok_or_else(|| {
        Refusal::new(
            format!("the site bucket {} does not exist", target.site),
            "the stack's SiteBucketName output is stale: deploy the stack first",
        )
    })?;
    let manifest = target.store.manifest(c).await?;
    let p = plan(&local, &listing, &manifest, opts.max_delete);

    let bytes = |keys: &mut dyn Iterator<Item = &String>| keys.map(|k| local[k].size).sum::<u64>();
    ui.with(|s| {
        let site = s.site.get_or_insert_default();
        site.uploaded = p.uploads().count() as u64;
        site.uploaded_bytes = bytes(&mut p.uploads());
        site.skipped = p.skipped.len() as u64;
        site.skipped_bytes = bytes(&mut p.skipped.iter());
        site.deleted = p.deletes.len() as u64;
        s.uploaded_keys.extend(p.uploads().cloned());
        s.deleted_keys.extend(p.deletes.iter().cloned());
    });
    let (upload, delete) = if opts.dry_run { ("would upload", "would delete") } else { ("upload", "delete") };
    for key in p.uploads() {
        let e = &local[key];
        ui.line(format!(
            "    {upload} {key} ({}, {}, {}; {})",
            human_bytes(e.size),
            e.content_type,
            e.cache_control,
            p.reasons[key]
        ));
    }
    for key in &p.deletes {
        ui.line(format!("    {delete} {key} (not part of the site)"));
    }
    if !p.kept.is_empty() {
        ui.note(format!(
            "{} stray files in {} kept: over --max-delete {} (the next run deletes up to that many more; raise it to delete them at once)",
            p.kept.len(),
            target.site,
            opts.max_delete
        ));
    }
    let changed: Vec<(String, bool)> = p
        .uploads()
        .map(|k| (k.clone(), local[k].fingerprinted))
        .chain(p.deletes.iter().map(|k| (k.clone(), manifest.files.get(k).is_some_and(|e| e.fingerprinted))))
        .collect();
    let mut pending = match &target.distribution {
        Some(distribution) => target.store.pending(c, distribution).await?,
        None => Default::default(),
    };
    pending.extend(invalidation::paths(&changed));
    let detail = format!(
        "{} uploaded, {} unchanged, {} deleted{}",
        p.uploads().count(),
        p.skipped.len(),
        p.deletes.len(),
        if p.kept.is_empty() { String::new() } else { format!(", {} strays kept", p.kept.len()) }
    );
    if opts.dry_run {
        return Ok((pending.into_iter().collect(), detail));
    }

    // The intent first: if this run dies after an upload, the next one still invalidates.
    if let Some(distribution) = &target.distribution
        && !changed.is_empty()
    {
        target.store.write_pending(c, &Pending { distribution: distribution.clone(), paths: pending.clone() }).await?;
    }
    let upload = |key: String| {
        let e = local[&key].clone();
        let path = bundle.root.join(&key);
        let config = config.clone();
        async move {
            let body = if key == CONFIG_KEY {
                config
            } else {
                let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                anyhow::ensure!(
                    sha256_hex(&bytes) == e.sha256,
                    "{} changed since the dist was verified (its sha256 differs): rebuild it",
                    path.display()
                );
                bytes
            };
            s3::put_checked(c, &target.site, &key, body, &e.content_type, Some(&e.cache_control)).await
        }
    };
    let total = p.uploads().count();
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
    s3::delete_keys(c, &target.site, &p.deletes, opts.parallel).await?;
    let published = Manifest { version: MANIFEST_VERSION, files: local };
    if published != manifest {
        target.store.write_manifest(c, &published).await?;
    }
    Ok((pending.into_iter().collect(), detail))
}
