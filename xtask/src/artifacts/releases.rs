//! Release records in the artifact bucket, `releases/<stack>/<n>.json`: one per deploy that changed
//! something — which zips (by key), which site files, the template (by key), the effective
//! parameters, the stack's outputs, the commit, when and who. Numbers are taken with a conditional
//! write (`If-None-Match: *`), so two deploys never get the same one.
//!
//! A record names everything a rollback needs, and all of it is kept content-addressed beside it:
//! the zips (`lambdas/<function>/<sha256>.zip`), the template (`templates/<sha256>.yaml`) and every
//! site file (`site/<sha256>`). Pruning keeps what the newest N releases of every stack the bucket
//! serves (and the one just deployed) refer to, and deletes the older zips and site files (the
//! bucket's lifecycle then expires their versions). Templates are small and never pruned.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::bucket::{Verified, put_verified};
use super::{Artifacts, KEY_PREFIX, SiteBundle, SiteFile};
use crate::aws::Clients;
use crate::aws::s3::{self, Bucket};
use crate::cloud::Template;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub number: u64,
    /// UTC, RFC 3339.
    pub time: String,
    pub commit: String,
    /// The caller that deployed (STS), e.g. `arn:aws:sts::123456789012:assumed-role/deploy/ci`.
    pub who: String,
    /// Function name -> the S3 key of its zip.
    pub functions: BTreeMap<String, String>,
    pub site: BTreeMap<String, SiteFile>,
    /// The key of the template (as written, before the deploy's transform); empty in records
    /// written before releases kept it.
    #[serde(default)]
    pub template: String,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    /// The release this one rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u64>,
}

impl Release {
    /// Every artifact-bucket key the record refers to: zips, site files, template.
    pub fn keys(&self) -> BTreeSet<String> {
        let mut keys: BTreeSet<String> = self.functions.values().cloned().collect();
        keys.extend(self.site.values().map(|f| site_key(&f.sha256)));
        if !self.template.is_empty() {
            keys.insert(self.template.clone());
        }
        keys
    }
}

/// Where a site file's bytes are kept for rollbacks, by content.
pub fn site_key(sha256: &str) -> String {
    format!("{SITE_PREFIX}{sha256}")
}

pub const SITE_PREFIX: &str = "site/";

fn prefix(stack: &str) -> String {
    format!("releases/{stack}/")
}

/// The release numbers recorded for `stack`, ascending.
pub async fn numbers(c: &Clients, bucket: &Bucket, stack: &str) -> anyhow::Result<Vec<u64>> {
    let prefix = prefix(stack);
    let keys = s3::list_keys(c, bucket, &prefix).await?.unwrap_or_default();
    let mut numbers: Vec<u64> =
        keys.iter().filter_map(|k| k.strip_prefix(&prefix)?.strip_suffix(".json")?.parse().ok()).collect();
    numbers.sort_unstable();
    Ok(numbers)
}

pub async fn read(c: &Clients, bucket: &Bucket, stack: &str, number: u64) -> anyhow::Result<Option<Release>> {
    let bytes = s3::get(c, bucket, &format!("{}{number}.json", prefix(stack))).await?;
    Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
}

/// The release the stack runs: the newest whose parameters (code keys included) are all the stack's
/// own, as DescribeStacks reports them (a `NoEcho` value, reported as `****`, matches anything).
/// None when no record matches: the last change was not recorded (a deploy that failed after the
/// stack update, or a change made by hand).
pub fn live(releases: &[Release], deployed: &BTreeMap<String, String>) -> Option<u64> {
    let runs = |r: &&Release| r.parameters.iter().all(|(k, v)| deployed.get(k).is_some_and(|d| d == v || d == "****"));
    releases.iter().filter(runs).map(|r| r.number).max()
}

/// What a release record is made of, before it gets its number.
pub struct Draft<'a> {
    pub artifacts: &'a Artifacts,
    /// Where [`keep_sources`] put the template.
    pub template_key: String,
    pub commit: String,
    pub who: String,
    pub parameters: &'a BTreeMap<String, String>,
    pub outputs: &'a BTreeMap<String, String>,
    pub rollback_of: Option<u64>,
}

/// What [`keep_sources`] did.
pub struct Kept {
    pub template_key: String,
    pub site_files_uploaded: usize,
}

/// Keeps what a rollback to this release will need and the zips do not hold: the template and
/// every site file, content-addressed (one listing of `site/`, one HeadObject for the template,
/// and an upload for each file not there yet). Each file is read once and its sha256 checked.
pub async fn keep_sources(
    c: &Clients,
    bucket: &Bucket,
    template: &Template,
    site: &SiteBundle,
    parallel: usize,
) -> anyhow::Result<Kept> {
    let template_key = super::bucket::upload_template(c, bucket, &template.sha256, &template.body).await?;
    let existing = s3::list_keys(c, bucket, SITE_PREFIX).await?.unwrap_or_default();
    let mut todo: BTreeMap<String, Verified> = BTreeMap::new();
    for (path, file) in &site.files {
        let key = site_key(&file.sha256);
        if !existing.contains(&key) {
            // Two paths with the same bytes are one object.
            let file = Verified { key: key.clone(), path: site.root.join(path), sha256: file.sha256.clone() };
            todo.insert(key, file);
        }
    }
    let uploaded = todo.len();
    put_verified(c, bucket, todo.into_values().collect(), "application/octet-stream", parallel).await?;
    Ok(Kept { template_key, site_files_uploaded: uploaded })
}

/// Writes the next release record of `stack`; returns its number.
pub async fn record(c: &Clients, bucket: &Bucket, stack: &str, draft: Draft<'_>) -> anyhow::Result<u64> {
    let mut number = numbers(c, bucket, stack).await?.last().map_or(1, |n| n + 1);
    let release = |number| Release {
        number,
        time: rfc3339_now(),
        commit: draft.commit.clone(),
        who: draft.who.clone(),
        functions: draft.artifacts.functions.iter().map(|f| (f.function.clone(), f.key.clone())).collect(),
        site: draft.artifacts.site.files.clone(),
        template: draft.template_key.clone(),
        parameters: draft.parameters.clone(),
        outputs: draft.outputs.clone(),
        rollback_of: draft.rollback_of,
    };
    for _ in 0..5 {
        let body = serde_json::to_vec_pretty(&release(number))?;
        let key = format!("{}{number}.json", prefix(stack));
        if s3::put_if_absent(c, bucket, &key, body, "application/json").await? {
            return Ok(number);
        }
        // Another deploy took this number a moment ago.
        number += 1;
    }
    anyhow::bail!("cannot record the release of {stack}: release numbers keep being taken (concurrent deploys?)")
}

/// Deletes the zips under `lambdas/` and the site files under `site/` that neither the newest
/// `keep` releases of any stack recorded in this bucket nor `current` refer to. Returns how many
/// were deleted. `keep` 0 keeps
/// everything. Every stack's records count, not only this one's: zips are content-addressed and
/// shared, and one artifact bucket may serve several stacks (`--artifact-bucket`, a bootstrap
/// bucket): another stack's live code is never pruned by this one's deploy.
///
/// Pruning waits for another time while another stack's lock is in the bucket: that deploy may be
/// between uploading its zips and recording its release, when nothing refers to them yet.
pub async fn prune(
    c: &Clients,
    bucket: &Bucket,
    stack: &str,
    keep: usize,
    current: &Artifacts,
    parallel: usize,
) -> anyhow::Result<Pruned> {
    if keep == 0 {
        return Ok(Pruned::Deleted(0));
    }
    let own = crate::stack::lock::key(stack);
    let locks = s3::list_keys(c, bucket, crate::stack::lock::PREFIX).await?.unwrap_or_default();
    if let Some(other) = locks.into_iter().filter(|k| *k != own).min() {
        return Ok(Pruned::Skipped(other));
    }
    let mut by_stack: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for key in s3::list_keys(c, bucket, "releases/").await?.unwrap_or_default() {
        let Some((stack, file)) = key.strip_prefix("releases/").and_then(|k| k.rsplit_once('/')) else { continue };
        if let Some(number) = file.strip_suffix(".json").and_then(|n| n.parse().ok()) {
            by_stack.entry(stack.to_string()).or_default().push(number);
        }
    }
    let mut referenced: BTreeSet<String> = current.functions.iter().map(|f| f.key.clone()).collect();
    referenced.extend(current.site.files.values().map(|f| site_key(&f.sha256)));
    for (stack, mut numbers) in by_stack {
        numbers.sort_unstable();
        for number in numbers.iter().rev().take(keep) {
            match read(c, bucket, &stack, *number).await? {
                Some(release) => referenced.extend(release.keys()),
                // An unreadable record could be protecting anything: prune nothing this time.
                None => return Ok(Pruned::Deleted(0)),
            }
        }
    }
    let mut stale = Vec::new();
    for prefix in [KEY_PREFIX, SITE_PREFIX] {
        let keys = s3::list_keys(c, bucket, prefix).await?.unwrap_or_default();
        stale.extend(keys.into_iter().filter(|k| !referenced.contains(k)));
    }
    s3::delete_keys(c, bucket, &stale, parallel).await?;
    Ok(Pruned::Deleted(stale.len()))
}

/// What [`prune`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pruned {
    /// This many zips and site files deleted.
    Deleted(usize),
    /// Nothing: another stack's deploy holds this lock in the bucket.
    Skipped(String),
}

impl std::fmt::Display for Pruned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pruned::Deleted(n) => write!(f, "{n} artifacts no recent release uses deleted"),
            Pruned::Skipped(lock) => {
                write!(f, "pruning left for later ({lock} is held: that deploy's new zips have no record yet)")
            }
        }
    }
}

/// Now as `2026-12-02T05:28:33Z`.
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC (civil-from-days, Howard Hinnant's algorithm).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::Release;

    #[test]
    fn the_live_release_is_the_newest_the_stack_runs() {
        let release = |number, key: &str| Release {
            number,
            time: String::new(),
            commit: String::new(),
            who: String::new(),
            functions: BTreeMap::new(),
            site: BTreeMap::new(),
            template: String::new(),
            rollback_of: None,
            parameters: BTreeMap::from([("ApiCodeKey".into(), key.into()), ("Secret".into(), "s".into())]),
            outputs: BTreeMap::new(),
        };
        let deployed = |key: &str| {
            BTreeMap::from([
                ("ApiCodeKey".into(), key.into()),
                ("Secret".into(), "****".into()),
                ("X".into(), "d".into()),
            ])
        };
        // Release 3 has release 1's code (a rollback, or the same commit again): the newest wins.
        let all = [release(1, "a"), release(2, "b"), release(3, "a")];
        assert_eq!(super::live(&all, &deployed("a")), Some(3));
        assert_eq!(super::live(&all, &deployed("b")), Some(2));
        assert_eq!(super::live(&all, &deployed("c")), None, "a change no release recorded");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(315_532_800), "1980-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_102_913), "2026-12-01T05:28:33Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
