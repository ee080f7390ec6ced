//! Phase 8 of a deploy (and the end of `sync`): one CloudFront invalidation of the changed paths
//! that are not fingerprinted (none when nothing changed), written as CloudFront requires and kept
//! pending until CloudFront accepts them.
//!
//! - Paths are percent-encoded where CloudFront says to: non-ASCII bytes and RFC 1738's unsafe
//!   characters, plus `?` and `*` (which would otherwise start a query or be a wildcard).
//! - Past `--max-invalidation-paths` paths collapse to `/dir/*` patterns; more than
//!   [`MAX_WILDCARDS`] patterns become `/*`, well under CloudFront's 15 wildcard invalidations in
//!   progress at once.
//! - `TooManyInvalidationsInProgress` is waited out (until the deadline), and the pending paths are
//!   cleared only once CloudFront has accepted the invalidation.

use std::collections::BTreeMap;
use std::time::Duration;

use super::publish::{Published, SyncOptions, Target};
use super::state::Pending;
use crate::aws::Clients;
use crate::report::Ui;

/// Wildcard paths one invalidation may carry before it becomes `/*`.
pub const MAX_WILDCARDS: usize = 3;

/// Characters CloudFront wants percent-encoded in an invalidation path (RFC 1738's unsafe set,
/// `?` and `*`); every byte outside printable ASCII is encoded too.
const ENCODED: &[u8] = b" <>\"#%{}|\\^~[]`?*";

/// `/` + the key, percent-encoded for CloudFront.
pub fn encode(key: &str) -> String {
    let mut out = String::from("/");
    for b in key.bytes() {
        if b.is_ascii_graphic() && !ENCODED.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// CloudFront paths for changed keys: only non-fingerprinted ones; `dir/index.html` also `/dir/`.
pub fn paths(changed: &[(String, bool)]) -> Vec<String> {
    let mut paths = Vec::new();
    for (key, fingerprinted) in changed {
        if *fingerprinted {
            continue;
        }
        paths.push(encode(key));
        if key == "index.html" {
            paths.push("/".into());
        } else if let Some(dir) = key.strip_suffix("/index.html") {
            paths.push(format!("{}/", encode(dir)));
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// More than `limit` paths collapse per directory (`/dir/*`), then to `/*`.
pub fn collapse(paths: &[String], limit: usize) -> Vec<String> {
    if paths.len() <= limit && paths.iter().filter(|p| p.ends_with('*')).count() <= MAX_WILDCARDS {
        return paths.to_vec();
    }
    let mut by_dir: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in paths {
        let dir = match p.trim_end_matches('/').trim_end_matches('*').rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => "/".into(),
        };
        by_dir.entry(dir).or_default().push(p.clone());
    }
    let collapsed: Vec<String> =
        by_dir.into_iter().flat_map(|(dir, ps)| if ps.len() > 3 { vec![format!("{dir}*")] } else { ps }).collect();
    let wildcards = collapsed.iter().filter(|p| p.ends_with('*')).count();
    if collapsed.len() <= limit && wildcards <= MAX_WILDCARDS && !collapsed.contains(&"/*".to_string()) {
        collapsed
    } else {
        vec!["/*".into()]
    }
}

/// Invalidates the published paths (this run's and earlier runs' that CloudFront never accepted),
/// then records the manifest of the published files with what is still pending: nothing once
/// CloudFront took the invalidation, every path when it did not.
pub async fn invalidate(
    c: &Clients,
    target: &Target,
    published: &Published,
    opts: &SyncOptions,
    ui: &Ui,
) -> anyhow::Result<String> {
    let record = |paths: &[String]| {
        let distribution = target.distribution.clone().unwrap_or_default();
        let pending = Pending { distribution, paths: paths.iter().cloned().collect() };
        async move { if opts.dry_run { Ok(()) } else { published.record(c, &target.store, pending).await } }
    };
    let pending = &published.paths;
    if pending.is_empty() {
        record(&[]).await?;
        return Ok("nothing to invalidate".into());
    }
    let Some(distribution) = &target.distribution else {
        record(&[]).await?;
        ui.note("the stack has no DistributionId output: no invalidation");
        return Ok("skipped (no DistributionId output)".into());
    };
    let paths = collapse(pending, opts.invalidation_limit);
    ui.with(|s| s.invalidation_paths = paths.clone());
    if opts.dry_run {
        return Ok(format!("would invalidate {}", paths.join(" ")));
    }
    let mut delay = Duration::from_secs(5);
    let accepted = loop {
        match crate::aws::cloudfront::invalidate(&c.cloudfront, distribution, &paths, opts.wait, &c.deadline).await {
            Ok(id) => break Ok(id),
            Err(err) if crate::aws::cloudfront::is_busy(&err) => {
                ui.line(format!(
                    "    CloudFront has too many invalidations in progress for {distribution}; retrying in {}s",
                    delay.as_secs()
                ));
                if let Err(err) = c.deadline.check("waiting for CloudFront to accept the invalidation") {
                    break Err(err);
                }
                c.deadline.sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            Err(err) => break Err(err),
        }
    };
    let id = match accepted {
        Ok(id) => id,
        Err(err) => {
            // The files are published; the paths stay pending for the next run.
            if let Err(record_err) = record(pending).await {
                ui.note(format!("cannot record the site manifest: {record_err:#}"));
            }
            return Err(err);
        }
    };
    // Accepted: nothing is pending any more.
    record(&[]).await?;
    let done = if opts.wait { " completed" } else { "" };
    Ok(format!("{id}{done}: {}", paths.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidations_skip_fingerprinted_and_collapse() {
        let changed = vec![
            ("index.html".to_string(), false),
            ("assets/app.1.js".to_string(), true),
            ("docs/index.html".to_string(), false),
        ];
        assert_eq!(paths(&changed), ["/", "/docs/", "/docs/index.html", "/index.html"]);
        let many: Vec<(String, bool)> = (0..20).map(|i| (format!("img/{i}.png"), false)).collect();
        assert_eq!(collapse(&paths(&many), 15), ["/img/*"]);
        let spread: Vec<(String, bool)> = (0..20).map(|i| (format!("d{i}/x.png"), false)).collect();
        assert_eq!(collapse(&paths(&spread), 15), ["/*"]);
        assert!(paths(&[("assets/a.1.js".into(), true)]).is_empty());
        // Few enough paths, but more wildcards than CloudFront should hold in progress: one `/*`.
        let dirs: Vec<(String, bool)> =
            (0..4).flat_map(|d| (0..4).map(move |i| (format!("d{d}/{i}.png"), false))).collect();
        assert_eq!(collapse(&paths(&dirs), 15), ["/*"]);
    }

    #[test]
    fn invalidation_paths_are_encoded_as_cloudfront_requires() {
        let check = |key: &str, expect: &str| assert_eq!(encode(key), expect, "{key}");
        check("index.html", "/index.html");
        check("docs/read me.html", "/docs/read%20me.html");
        check("café.html", "/caf%C3%A9.html");
        check("a#b?c%d*e.txt", "/a%23b%3Fc%25d%2Ae.txt");
        check(".well-known/security.txt", "/.well-known/security.txt");
        check("ok-chars_(1)!$&'+,;=:@.txt", "/ok-chars_(1)!$&'+,;=:@.txt");
        assert_eq!(paths(&[("my docs/index.html".into(), false)]), ["/my%20docs/", "/my%20docs/index.html"]);
    }
}
