//! Phase 7 of a deploy (and `sync`): the site bundle and `config.json` into the site bucket, checked
//! against what the bucket really holds (one listing per 1,000 keys), never against a record alone
//! (see [`xtask_formats::site_plan`]). The bookkeeping lives in the artifact bucket ([`super::state`]).
//!
//! A run that is interrupted (even killed) leaves a state the next run repairs: the paths to
//! invalidate are recorded (in the manifest, beside the files it vouched for so far) before the
//! first upload, the manifest of the new files is written after the last one (once CloudFront took
//! the invalidation, by [`invalidation::invalidate`]), and the next run's listing finds whatever is
//! missing, different or stray.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use futures::StreamExt;
use xtask_formats::site_plan::plan;

use super::invalidation;
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

/// What a site sync leaves to the invalidation phase: the paths to invalidate, and the manifest to
/// record once CloudFront has taken them ([`Published::record`]).
pub struct Published {
    /// This run's paths and any an earlier run left pending, sorted.
    pub paths: Vec<String>,
    /// The files now in the site bucket.
    files: BTreeMap<String, Entry>,
    /// What the artifact bucket holds now.
    recorded: Manifest,
    /// An earlier xtask's `pending-invalidation.json` is there, to delete once recorded.
    legacy: bool,
}

impl Published {
    /// Writes the manifest of the published files with `pending` still to invalidate (when it
    /// differs from what is recorded), then removes an earlier xtask's pending object.
    pub async fn record(&self, c: &Clients, store: &Store, pending: Pending) -> anyhow::Result<()> {
        let manifest = Manifest { version: MANIFEST_VERSION, files: self.files.clone(), pending: Some(pending) };
        if manifest != self.recorded {
            store.write_manifest(c, &manifest).await?;
        }
        if self.legacy {
            store.delete_legacy_pending(c).await?;
        }
        Ok(())
    }
}

/// Syncs the site; returns what the invalidation phase needs (the CloudFront paths still to
/// invalidate: this run's and any a previous run left pending) and the phase's detail line.
pub async fn sync_site(
    c: &Clients,
    target: &Target,
    outputs: &StackOutputs,
    bundle: &SiteBundle,
    opts: &SyncOptions,
    ui: &Ui,
) -> anyhow::Result<(Published, String)> {
    let (config, missing) = super::config_from_outputs(outputs);
    let config = config.to_bytes();
    if !missing.is_empty() {
        ui.note(format!("config.json written without {} (not among the stack outputs)", missing.join(", ")));
    }
    let mut local: BTreeMap<String, Entry> = bundle.files.iter().map(|(k, f)| (k.clone(), Entry::from(f))).collect();
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
    // What earlier runs left to invalidate: in the manifest, or (written by an earlier xtask) beside it.
    let (recorded_pending, legacy) = match (&target.distribution, &manifest.pending) {
        (None, _) => (BTreeSet::new(), false),
        (Some(distribution), Some(pending)) => (pending.paths_for(distribution), false),
        (Some(distribution), None) => target.store.legacy_pending(c, distribution).await?,
    };
    let mut pending = recorded_pending.clone();
    pending.extend(invalidation::paths(&changed));
    let detail = format!(
        "{} uploaded, {} unchanged, {} deleted{}",
        p.uploads().count(),
        p.skipped.len(),
        p.deletes.len(),
        if p.kept.is_empty() { String::new() } else { format!(", {} strays kept", p.kept.len()) }
    );
    let mut published =
        Published { paths: pending.iter().cloned().collect(), files: local, recorded: manifest, legacy };
    if opts.dry_run {
        return Ok((published, detail));
    }

    // The intent first: if this run dies after an upload, the next one still invalidates.
    if let Some(distribution) = &target.distribution
        && !changed.is_empty()
        && (pending != recorded_pending || published.recorded.pending.is_none())
    {
        // The files it vouched for so far (none when there was no readable manifest), in this format.
        let intent = Manifest {
            version: MANIFEST_VERSION,
            files: published.recorded.files.clone(),
            pending: Some(Pending { distribution: distribution.clone(), paths: pending.clone() }),
        };
        target.store.write_manifest(c, &intent).await?;
        published.recorded = intent;
    }
    let local = &published.files;
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
    Ok((published, detail))
}
