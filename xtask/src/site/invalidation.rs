//! Phase 8 of a deploy (and the end of `sync`): one CloudFront invalidation of the changed paths
//! that are not fingerprinted (none when nothing changed).

use std::collections::BTreeMap;

use super::publish::SyncOptions;
use crate::aws::Clients;
use crate::cloud::StackOutputs;
use crate::report::Ui;

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

/// Phase 8: one invalidation of the changed non-fingerprinted paths (none when nothing changed).
pub async fn invalidate(
    c: &Clients,
    outputs: &StackOutputs,
    changed: &[(String, bool)],
    opts: &SyncOptions,
    ui: &Ui,
) -> anyhow::Result<String> {
    let paths = invalidation_paths(changed, opts.invalidation_limit);
    if paths.is_empty() {
        return Ok("nothing to invalidate".into());
    }
    let Some(distribution) = &outputs.distribution_id else {
        ui.note("the stack has no DistributionId output: no invalidation");
        return Ok("skipped (no DistributionId output)".into());
    };
    ui.with(|s| s.invalidation_paths = paths.clone());
    if opts.dry_run {
        return Ok(format!("would invalidate {}", paths.join(" ")));
    }
    let id = crate::aws::cloudfront::invalidate(&c.cloudfront, distribution, &paths, opts.wait).await?;
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
        assert_eq!(invalidation_paths(&changed, 15), ["/", "/docs/", "/docs/index.html", "/index.html"]);
        let many: Vec<(String, bool)> = (0..20).map(|i| (format!("img/{i}.png"), false)).collect();
        assert_eq!(invalidation_paths(&many, 15), ["/img/*"]);
        let spread: Vec<(String, bool)> = (0..20).map(|i| (format!("d{i}/x.png"), false)).collect();
        assert_eq!(invalidation_paths(&spread, 15), ["/*"]);
        assert!(invalidation_paths(&[("assets/a.1.js".into(), true)], 15).is_empty());
    }
}
