//! Release records in the artifact bucket, `releases/<stack>/<n>.json`: one per deploy that changed
//! something — which zips (by key), which site files, the effective parameters, the stack's outputs,
//! the commit, when and who. Numbers are taken with a conditional write (`If-None-Match: *`), so two
//! deploys never get the same one.
//!
//! They are also what pruning keeps: zips referenced by the newest N releases of every stack the
//! bucket serves (and by the one just deployed) stay; older zips are deleted (the bucket's lifecycle then expires their versions).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Artifacts, KEY_PREFIX, SiteFile};
use crate::aws::Clients;
use crate::aws::s3::{self, Bucket};

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
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

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
    pub commit: String,
    pub who: String,
    pub parameters: &'a BTreeMap<String, String>,
    pub outputs: &'a BTreeMap<String, String>,
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
        parameters: draft.parameters.clone(),
        outputs: draft.outputs.clone(),
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

/// Deletes the zips under `lambdas/` that neither the newest `keep` releases of any stack recorded
/// in this bucket nor `current` refer to. Returns how many were deleted. `keep` 0 keeps
/// everything. Every stack's records count, not only this one's: zips are content-addressed and
/// shared, and one artifact bucket may serve several stacks (`--artifact-bucket`, a bootstrap
/// bucket): another stack's live code is never pruned by this one's deploy.
pub async fn prune(
    c: &Clients,
    bucket: &Bucket,
    keep: usize,
    current: &Artifacts,
    parallel: usize,
) -> anyhow::Result<usize> {
    if keep == 0 {
        return Ok(0);
    }
    let mut by_stack: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for key in s3::list_keys(c, bucket, "releases/").await?.unwrap_or_default() {
        let Some((stack, file)) = key.strip_prefix("releases/").and_then(|k| k.rsplit_once('/')) else { continue };
        if let Some(number) = file.strip_suffix(".json").and_then(|n| n.parse().ok()) {
            by_stack.entry(stack.to_string()).or_default().push(number);
        }
    }
    let mut referenced: BTreeSet<String> = current.functions.iter().map(|f| f.key.clone()).collect();
    for (stack, mut numbers) in by_stack {
        numbers.sort_unstable();
        for number in numbers.iter().rev().take(keep) {
            match read(c, bucket, &stack, *number).await? {
                Some(release) => referenced.extend(release.functions.into_values()),
                // An unreadable record could be protecting anything: prune nothing this time.
                None => return Ok(0),
            }
        }
    }
    let stale: Vec<String> = s3::list_keys(c, bucket, KEY_PREFIX)
        .await?
        .unwrap_or_default()
        .into_iter()
        .filter(|k| !referenced.contains(k))
        .collect();
    s3::delete_keys(c, bucket, &stale, parallel).await?;
    Ok(stale.len())
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
