//! An earlier release, read back from the artifact bucket for `rollback`: which one (`--to N`, or
//! the release before the live one), then its template, its effective parameters, its zips (left
//! where they are: the upload phase finds them all there) and its site files (downloaded and
//! checked against their sha256). Nothing is built and no local dist is read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use futures::StreamExt;

use super::Resolved;
use crate::artifacts::releases::{self, Release, SITE_PREFIX, site_key};
use crate::artifacts::{ARCHITECTURE, Artifacts, FunctionArtifact, KEY_PREFIX, SiteBundle, sha256_hex};
use crate::aws::Clients;
use crate::aws::cfn::StackState;
use crate::aws::s3::{self, Bucket};
use crate::cloud::Template;
use crate::error::Refusal;
use crate::report::Ui;

const LISTED: &str = "`cargo xtask releases` lists them";

/// The release to roll back to: `number`, or the newest release before the live one that deploys
/// something else.
pub async fn choose(
    c: &Clients,
    bucket: &Bucket,
    stack: &str,
    number: Option<u64>,
    state: Option<&StackState>,
) -> anyhow::Result<Release> {
    let Some(state) = state.filter(|s| !s.is_unborn()) else {
        return Err(Refusal::new(
            format!("stack {stack} does not exist: there is nothing to roll back"),
            "deploy it first (`cargo xtask deploy`)",
        )
        .into());
    };
    let numbers = releases::numbers(c, bucket, stack).await?;
    let Some(last) = numbers.last() else {
        return Err(Refusal::new(
            format!("stack {stack} has no release records in {bucket}"),
            "every deploy that changes something records one; roll back after the next deploy, or deploy an older dist with --from-dist",
        )
        .into());
    };
    if let Some(n) = number {
        return match releases::read(c, bucket, stack, n).await? {
            Some(release) => Ok(release),
            None => Err(Refusal::new(
                format!("stack {stack} has no release {n} in {bucket} (its releases are {}..{last})", numbers[0]),
                LISTED,
            )
            .into()),
        };
    }
    // Newest first, until the live release and one before it that deploys something else.
    let mut read: Vec<Release> = Vec::new();
    for n in numbers.iter().rev() {
        if let Some(release) = releases::read(c, bucket, stack, *n).await? {
            read.push(release);
        }
        let Some(live) = releases::live(&read, &state.parameters) else { continue };
        let live = read.iter().find(|r| r.number == live).expect("live is one of them");
        if let Some(previous) = read.iter().find(|r| r.number < live.number && r.parameters != live.parameters) {
            return Ok(previous.clone());
        }
    }
    match releases::live(&read, &state.parameters) {
        Some(live) => Err(Refusal::new(
            format!("release {live} is live and no earlier release of {stack} deploys anything else"),
            LISTED,
        )
        .into()),
        None => Err(Refusal::new(
            format!("no release of {stack} is live (the stack runs parameters no release recorded), so there is no \"previous\" one"),
            format!("name the release: `cargo xtask rollback --to N` ({LISTED})"),
        )
        .into()),
    }
}

/// Everything a deploy of `release` needs, from the artifact bucket; refused when a part of it is
/// gone (pruned) before anything is downloaded.
pub(super) async fn load(
    c: &Clients,
    bucket: &Bucket,
    release: Release,
    scratch: &Path,
    parallel: usize,
    ui: &Ui,
) -> anyhow::Result<(Resolved, String)> {
    let n = release.number;
    let redeploy = "deploy that commit's dist instead (`cargo xtask deploy --from-dist DIR`)";
    if release.template.is_empty() {
        return Err(Refusal::new(
            format!("release {n} was recorded before releases kept their template and site files"),
            redeploy,
        )
        .into());
    }
    let mut listed = s3::list_objects(c, bucket, KEY_PREFIX).await?.unwrap_or_default();
    listed.extend(s3::list_objects(c, bucket, SITE_PREFIX).await?.unwrap_or_default());
    let template = s3::get(c, bucket, &release.template).await?;
    let mut wanted: BTreeSet<String> = release.keys();
    wanted.remove(&release.template);
    let missing: Vec<&String> = wanted.iter().filter(|k| !listed.contains_key(*k)).collect();
    if let Some(first) = missing.first().copied().or(template.is_none().then_some(&release.template)) {
        return Err(Refusal::new(
            format!(
                "release {n} is no longer complete in {bucket}: {first} is gone{} (pruned: deploys keep the artifacts of the newest --keep-releases releases)",
                match missing.len() {
                    0 | 1 => String::new(),
                    more => format!(", and {} more", more - 1),
                }
            ),
            format!("roll back to a newer release, or {redeploy}"),
        )
        .into());
    }
    let template = String::from_utf8(template.unwrap_or_default()).context("the release's template is not UTF-8")?;
    let template = Template::parse(&template).with_context(|| format!("cannot read release {n}'s template"))?;

    let site_root = scratch.join("site");
    download_site(c, bucket, &release.site, &site_root, parallel, ui).await?;
    let functions = release
        .functions
        .iter()
        .map(|(function, key)| FunctionArtifact {
            function: function.clone(),
            code_key_parameter: release
                .parameters
                .iter()
                .find(|(_, v)| *v == key)
                .map(|(k, _)| k.clone())
                .unwrap_or_default(),
            key: key.clone(),
            sha256: key.rsplit('/').next().unwrap_or_default().trim_end_matches(".zip").to_string(),
            size: listed.get(key).map_or(0, |l| l.size),
            // Never read: the upload phase finds the key in the bucket (checked above).
            path: Default::default(),
            architecture: ARCHITECTURE.to_string(),
        })
        .collect();
    let artifacts = Artifacts {
        functions,
        site: SiteBundle { root: site_root, files: release.site.clone() },
        git_commit: release.commit.clone(),
    };
    let detail = format!(
        "release {n} (commit {}, {}): {} zips and the template in {bucket}, {} site files downloaded",
        release.commit.chars().take(12).collect::<String>(),
        release.time,
        artifacts.functions.len(),
        artifacts.site.files.len()
    );
    let resolved = Resolved {
        stack_name: String::new(),
        template,
        artifacts,
        effective: release.parameters,
        rollback_of: Some(n),
    };
    Ok((resolved, detail))
}

/// Downloads the site files (by content) into `root` under their site paths, each checked against
/// its sha256; `root` is emptied first so no file of another release can slip in.
async fn download_site(
    c: &Clients,
    bucket: &Bucket,
    files: &BTreeMap<String, crate::site::SiteFile>,
    root: &Path,
    parallel: usize,
    ui: &Ui,
) -> anyhow::Result<()> {
    if root.exists() {
        std::fs::remove_dir_all(root).with_context(|| format!("cannot empty {}", root.display()))?;
    }
    let results = futures::stream::iter(files.iter().map(|(path, file)| async move {
        let key = site_key(&file.sha256);
        let bytes = s3::get(c, bucket, &key).await?.with_context(|| format!("{bucket}/{key} vanished"))?;
        if sha256_hex(&bytes) != file.sha256 {
            anyhow::bail!("{bucket}/{key} does not hold the bytes its name says (sha256 differs)");
        }
        let out = root.join(path);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&out, bytes).with_context(|| format!("cannot write {}", out.display()))
    }))
    .buffer_unordered(parallel.max(1))
    .collect::<Vec<_>>()
    .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    ui.progress(format!("{} site files", files.len()));
    Ok(())
}
