//! The plan as markdown, for a pull request comment: rendered from the [`Summary`] of a run in
//! [`crate::pipeline::Mode::Plan`], so it says exactly what that run found — replacements of
//! resources that hold data first, then the change set, the code keys, the site files, the
//! invalidation, and the AWS calls (the plan's own, and the writes a deploy would make).

use std::fmt::Write;

use super::summary::{Change, Summary};

/// Resource types whose replacement loses what they hold (a new, empty one takes their place).
const HOLDS_DATA: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::S3::Bucket",
    "AWS::Cognito::UserPool",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::SecretsManager::Secret",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::EFS::FileSystem",
];

/// Files listed by name before the rest is counted (a comment stays readable).
const MAX_LISTED: usize = 50;

/// The markdown of a plan. Account and stack come from the summary; no timings (two plans of the
/// same change read the same).
pub fn plan(s: &Summary) -> String {
    let mut out = String::new();
    let stack = s.stack.as_deref().unwrap_or("?");
    let account = s.account.as_deref().unwrap_or("?");
    let _ = writeln!(out, "### Deploy plan: `{stack}` ({}, account {account})\n", s.region);

    let data_loss: Vec<&Change> = s
        .resource_changes
        .iter()
        .filter(|c| HOLDS_DATA.contains(&c.kind.as_str()) && c.replacement != "False")
        .collect();
    let removed: Vec<&Change> =
        s.resource_changes.iter().filter(|c| c.action == "Remove" && HOLDS_DATA.contains(&c.kind.as_str())).collect();
    if !data_loss.is_empty() || !removed.is_empty() {
        out.push_str("> [!CAUTION]\n");
        for c in data_loss.iter().filter(|c| c.action == "Modify") {
            let how = if c.replacement == "True" {
                "**replaces**"
            } else {
                "**may replace** (depending on values known only at deploy time)"
            };
            let _ = writeln!(
                out,
                "> This deploy {how} `{}` ({}): a new, empty one takes its place and the old one is deleted with its data (unless its DeletionPolicy keeps it).",
                c.logical_id, c.kind
            );
        }
        for c in &removed {
            let _ = writeln!(
                out,
                "> This deploy **removes** `{}` ({}) and what it holds (unless its DeletionPolicy keeps it).",
                c.logical_id, c.kind
            );
        }
        out.push('\n');
    }

    // The stack.
    let action = if s.stack_action.is_empty() { "-" } else { &s.stack_action };
    let _ = writeln!(out, "**Stack:** {action}\n");
    if !s.resource_changes.is_empty() {
        out.push_str("| Action | Resource | Type | Replacement |\n|---|---|---|---|\n");
        for c in &s.resource_changes {
            let replacement = match c.replacement.as_str() {
                "True" => "**yes**",
                "Conditional" => "**maybe**",
                "False" => "no",
                _ => "",
            };
            let _ = writeln!(out, "| {} | `{}` | {} | {replacement} |", c.action, c.logical_id, c.kind);
        }
        out.push('\n');
    }

    // Code.
    if s.code_key_changes.is_empty() {
        out.push_str("**Code:** no function changes\n\n");
    } else {
        let _ = writeln!(out, "**Code:** {} function(s) get new code\n", s.code_key_changes.len());
        out.push_str("| Function | Now | After |\n|---|---|---|\n");
        for c in &s.code_key_changes {
            let now = c.deployed.as_deref().map_or("(new)".to_string(), short_key);
            let _ = writeln!(out, "| {} | {now} | {} |", c.function, short_key(&c.new));
        }
        out.push('\n');
    }
    if let Some(t) = &s.artifacts {
        let _ = writeln!(
            out,
            "**Artifacts:** {} zip(s) to upload ({}), {} already in the artifact bucket\n",
            t.uploaded,
            super::human_bytes(t.uploaded_bytes),
            t.skipped
        );
    }

    // Site and invalidation.
    match &s.site {
        Some(t) => {
            let _ = writeln!(
                out,
                "**Site:** {} file(s) to upload ({}), {} to delete, {} unchanged\n",
                t.uploaded,
                super::human_bytes(t.uploaded_bytes),
                t.deleted,
                t.skipped
            );
            list_files(&mut out, "upload", &s.uploaded_keys);
            list_files(&mut out, "delete", &s.deleted_keys);
        }
        None => out.push_str("**Site:** not planned (the stack has no site bucket yet)\n\n"),
    }
    if !s.invalidation_paths.is_empty() {
        let paths: Vec<String> = s.invalidation_paths.iter().map(|p| format!("`{p}`")).collect();
        let _ = writeln!(out, "**Invalidation:** {}\n", paths.join(" "));
    }

    // AWS calls.
    let _ = write!(
        out,
        "**AWS calls:** this plan made {} ({} reads, {} writes{}).",
        s.aws_calls_total,
        s.aws_read_calls,
        s.aws_write_calls,
        if s.aws_write_calls > 0 { ": the change set it created, described and deleted" } else { "" }
    );
    let writes = deploy_writes(s);
    if writes.is_empty() {
        out.push_str(" A deploy would write nothing.\n");
    } else {
        out.push_str(" A deploy would write:\n\n| Call | Count | For |\n|---|---|---|\n");
        for (call, n, why) in writes {
            let _ = writeln!(out, "| {call} | {n} | {why} |");
        }
    }
    for note in &s.notes {
        let _ = writeln!(out, "\n_Note: {note}_");
    }
    out
}

/// `lambdas/api/0123456789ab….zip`: enough of the hash to tell two keys apart in a comment.
fn short_key(key: &str) -> String {
    match key.rsplit_once('/') {
        Some((dir, file)) if file.len() > 16 => format!("`{dir}/{}…`", &file[..12]),
        _ => format!("`{key}`"),
    }
}

fn list_files(out: &mut String, verb: &str, keys: &[String]) {
    if keys.is_empty() {
        return;
    }
    let _ = writeln!(out, "<details><summary>{} to {verb}</summary>\n", keys.len());
    for key in keys.iter().take(MAX_LISTED) {
        let _ = writeln!(out, "- `{key}`");
    }
    if keys.len() > MAX_LISTED {
        let _ = writeln!(out, "- … and {} more", keys.len() - MAX_LISTED);
    }
    out.push_str("\n</details>\n\n");
}

/// The writes a deploy of the same inputs would make, from what the plan found.
fn deploy_writes(s: &Summary) -> Vec<(&'static str, u64, &'static str)> {
    let mut writes = Vec::new();
    let zips = s.artifacts.as_ref().map_or(0, |t| t.uploaded);
    let site = s.site.as_ref().map_or((0, 0), |t| (t.uploaded, t.deleted));
    let stack = !s.resource_changes.is_empty();
    let anything = stack || zips > 0 || site.0 > 0 || site.1 > 0;
    if !anything {
        return writes;
    }
    writes.push(("S3.PutObject", 1, "the deploy lock"));
    if zips > 0 {
        writes.push(("S3.PutObject", zips, "function zips"));
    }
    if stack {
        writes.push(("CloudFormation.CreateChangeSet", 1, "the change set"));
        writes.push(("CloudFormation.ExecuteChangeSet", 1, "executing it"));
    }
    if site.0 > 0 {
        writes.push(("S3.PutObject", site.0, "site files"));
    }
    if site.1 > 0 {
        writes.push(("S3.DeleteObjects", site.1.div_ceil(1000), "stray site files"));
    }
    if !s.invalidation_paths.is_empty() {
        writes.push(("CloudFront.CreateInvalidation", 1, "the invalidation"));
    }
    writes.push(("S3.PutObject", 1, "the release record (and the site files and template it keeps)"));
    writes.push(("S3.DeleteObject", 1, "releasing the lock"));
    writes
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::report::{CodeKeyChange, Transfer};

    fn change(action: &str, id: &str, kind: &str, replacement: &str) -> Change {
        Change {
            action: action.into(),
            logical_id: id.into(),
            physical_id: String::new(),
            kind: kind.into(),
            replacement: replacement.into(),
        }
    }

    #[test]
    fn a_replaced_table_is_called_out_first_and_a_no_op_says_it_writes_nothing() {
        let replaced = Summary {
            stack: Some("notes-dev".into()),
            region: "eu-west-1".into(),
            account: Some("123456789012".into()),
            stack_action: "would update (2 changes)".into(),
            resource_changes: vec![
                change("Modify", "NotesTable", "AWS::DynamoDB::Table", "True"),
                change("Modify", "ApiFunction", "AWS::Lambda::Function", "False"),
            ],
            code_key_changes: vec![CodeKeyChange {
                function: "api".into(),
                deployed: Some(format!("lambdas/api/{}.zip", "a".repeat(64))),
                new: format!("lambdas/api/{}.zip", "b".repeat(64)),
            }],
            artifacts: Some(Transfer { uploaded: 1, uploaded_bytes: 2048, skipped: 2, ..Transfer::default() }),
            site: Some(Transfer { uploaded: 1, deleted: 1, skipped: 4, ..Transfer::default() }),
            uploaded_keys: vec!["index.html".into()],
            deleted_keys: vec!["old.js".into()],
            invalidation_paths: vec!["/index.html".into()],
            aws_calls_total: 9,
            aws_read_calls: 7,
            aws_write_calls: 2,
            ..Summary::default()
        };
        expect![[r#"
            ### Deploy plan: `notes-dev` (eu-west-1, account 123456789012)

            > [!CAUTION]
            > This deploy **replaces** `NotesTable` (AWS::DynamoDB::Table): a new, empty one takes its place and the old one is deleted with its data (unless its DeletionPolicy keeps it).

            **Stack:** would update (2 changes)

            | Action | Resource | Type | Replacement |
            |---|---|---|---|
            | Modify | `NotesTable` | AWS::DynamoDB::Table | **yes** |
            | Modify | `ApiFunction` | AWS::Lambda::Function | no |

            **Code:** 1 function(s) get new code

            | Function | Now | After |
            |---|---|---|
            | api | `lambdas/api/aaaaaaaaaaaa…` | `lambdas/api/bbbbbbbbbbbb…` |

            **Artifacts:** 1 zip(s) to upload (2.0 KiB), 2 already in the artifact bucket

            **Site:** 1 file(s) to upload (0 B), 1 to delete, 4 unchanged

            <details><summary>1 to upload</summary>

            - `index.html`

            </details>

            <details><summary>1 to delete</summary>

            - `old.js`

            </details>

            **Invalidation:** `/index.html`

            **AWS calls:** this plan made 9 (7 reads, 2 writes: the change set it created, described and deleted). A deploy would write:

            | Call | Count | For |
            |---|---|---|
            | S3.PutObject | 1 | the deploy lock |
            | S3.PutObject | 1 | function zips |
            | CloudFormation.CreateChangeSet | 1 | the change set |
            | CloudFormation.ExecuteChangeSet | 1 | executing it |
            | S3.PutObject | 1 | site files |
            | S3.DeleteObjects | 1 | stray site files |
            | CloudFront.CreateInvalidation | 1 | the invalidation |
            | S3.PutObject | 1 | the release record (and the site files and template it keeps) |
            | S3.DeleteObject | 1 | releasing the lock |
        "#]]
        .assert_eq(&plan(&replaced));

        let nothing = Summary {
            stack: Some("notes-dev".into()),
            region: "eu-west-1".into(),
            account: Some("123456789012".into()),
            stack_action: "unchanged".into(),
            site: Some(Transfer { skipped: 5, ..Transfer::default() }),
            aws_calls_total: 4,
            aws_read_calls: 4,
            ..Summary::default()
        };
        let md = plan(&nothing);
        assert!(!md.contains("CAUTION"), "{md}");
        assert!(md.ends_with("this plan made 4 (4 reads, 0 writes). A deploy would write nothing.\n"), "{md}");
    }
}
