//! actionlint and zizmor on the GitHub Actions workflows (`.github/workflows/*.yml`), for
//! `cargo xtask lint`, at the versions pinned in `xtask/python-tools.txt`, offline.
//!
//! - actionlint: syntax, expression types, action inputs, `vars.` names (`.github/actionlint.yaml`),
//!   and the `run:` scripts through the pinned shellcheck (never one from PATH; pyflakes is off).
//! - zizmor: the security audits at its default persona, `--offline` (no GitHub API calls, so the
//!   audits that need one are skipped; a token in the environment changes nothing). A finding is
//!   accepted only in zizmor's own configuration (`.github/zizmor.yml`) or with an inline
//!   `# zizmor: ignore[<audit>]`, each with its reason.
//!
//! Each finding is one line: `actionlint <file>:<line>:<col>: <message> [<rule>]` or
//! `zizmor <audit> <file>:<line>: <message>`, paths relative to the project root. Kept
//! self-contained (std, serde_json, xshell, [`Tools`], [`Ctx`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value as Json;
use xshell::cmd;

use crate::Ctx;
use crate::tools::Tools;

/// The workflow files of the project, `.github/workflows/*.yml` and `*.yaml`, sorted, relative to
/// the project root. None (or no directory) is an empty list.
pub fn workflow_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = root.join(".github/workflows");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            files.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    files.sort();
    Ok(files)
}

/// actionlint on `workflows` (paths relative to the project root); one line per finding.
pub fn actionlint(ctx: &Ctx, tools: &Tools, workflows: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    if workflows.is_empty() {
        return Ok(Vec::new());
    }
    let sh = &ctx.sh;
    let _root = sh.push_dir(&ctx.root);
    let bin = tools.bin("actionlint");
    let shellcheck = tools.bin("shellcheck");
    let format = "{{json .}}";
    let output = cmd!(sh, "{bin} -no-color -format {format} -shellcheck {shellcheck} -pyflakes= {workflows...}")
        .quiet()
        .ignore_status()
        .output()
        .context("cannot run actionlint")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Exit status: 0 clean, 1 findings, 2 bad options, 3 failure. Only a JSON array counts.
    match parse_actionlint(&stdout) {
        Ok(found) if found.is_empty() && !output.status.success() => {
            Ok(vec![failure("actionlint", &output.status.to_string(), &output.stderr, &stdout)])
        }
        Ok(found) => Ok(found),
        Err(_) => Ok(vec![failure("actionlint", &output.status.to_string(), &output.stderr, &stdout)]),
    }
}

/// actionlint's `-format '{{json .}}'` output (a JSON array of errors) as finding lines.
pub fn parse_actionlint(stdout: &str) -> Result<Vec<String>, serde_json::Error> {
    let text = stdout.trim();
    // actionlint prints nothing at all (not `[]`) for a clean run in some versions.
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let errors: Vec<Json> = serde_json::from_str(text)?;
    Ok(errors
        .iter()
        .map(|e| {
            format!(
                "actionlint {}:{}:{}: {} [{}]",
                e["filepath"].as_str().unwrap_or("?"),
                e["line"].as_u64().unwrap_or(0),
                e["column"].as_u64().unwrap_or(0),
                one_line(e["message"].as_str().unwrap_or("?")),
                e["kind"].as_str().unwrap_or("?"),
            )
        })
        .collect())
}

/// zizmor on `workflows` (paths relative to the project root), offline; one line per finding.
pub fn zizmor(ctx: &Ctx, tools: &Tools, workflows: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    if workflows.is_empty() {
        return Ok(Vec::new());
    }
    let sh = &ctx.sh;
    let _root = sh.push_dir(&ctx.root);
    let bin = tools.bin("zizmor");
    // --strict-collection: a workflow zizmor cannot parse fails the run instead of being skipped.
    let output =
        cmd!(sh, "{bin} --offline --strict-collection --format json --no-progress --color never {workflows...}")
            .quiet()
            .ignore_status()
            .output()
            .context("cannot run zizmor")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Exit status: 0 clean, 10-14 findings (by the highest severity), anything else a failure.
    match parse_zizmor(&stdout) {
        Ok(found) if found.is_empty() && !output.status.success() => {
            Ok(vec![failure("zizmor", &output.status.to_string(), &output.stderr, &stdout)])
        }
        Ok(found) => Ok(found),
        Err(_) => Ok(vec![failure("zizmor", &output.status.to_string(), &output.stderr, &stdout)]),
    }
}

/// zizmor's `--format json` (v1) report as finding lines: each finding at its primary location
/// (1-based line), with the audit's description and the location's annotation. Findings that a
/// configuration or an ignore comment suppressed are left out.
pub fn parse_zizmor(stdout: &str) -> Result<Vec<String>, serde_json::Error> {
    let findings: Vec<Json> = serde_json::from_str(stdout.trim())?;
    let mut problems = Vec::new();
    for finding in findings.iter().filter(|f| f["ignored"].as_bool() != Some(true)) {
        let locations = finding["locations"].as_array().map(Vec::as_slice).unwrap_or_default();
        let primary =
            locations.iter().find(|l| l["symbolic"]["kind"].as_str() == Some("Primary")).or(locations.first());
        let (file, line, annotation) = match primary {
            Some(l) => (
                l["symbolic"]["key"]["Local"]["verbatim_path"].as_str().unwrap_or("?"),
                l["concrete"]["location"]["start_point"]["row"].as_u64().map_or(0, |row| row + 1),
                l["symbolic"]["annotation"].as_str().unwrap_or(""),
            ),
            None => ("?", 0, ""),
        };
        let desc = finding["desc"].as_str().unwrap_or("?");
        let message = if annotation.is_empty() { desc.to_string() } else { format!("{desc}: {annotation}") };
        problems.push(format!(
            "zizmor {} {file}:{line}: {}",
            finding["ident"].as_str().unwrap_or("?"),
            one_line(&message)
        ));
    }
    Ok(problems)
}

/// A tool that produced no parsable report: its status and what it said.
fn failure(tool: &str, status: &str, stderr: &[u8], stdout: &str) -> String {
    format!("{tool} failed ({status}) without a report: {}", what_it_said(&String::from_utf8_lossy(stderr), stdout))
}

/// The first few meaningful lines of a failed run: log lines (`INFO`, `WARN`), `Caused by:` and
/// everything from `Stack backtrace:` on left out.
fn what_it_said(stderr: &str, stdout: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .map(str::trim)
        .take_while(|l| !l.starts_with("Stack backtrace:"))
        .filter(|l| !l.is_empty() && *l != "Caused by:")
        .filter(|l| !["INFO ", "WARN ", "DEBUG ", "TRACE "].iter().any(|level| l.starts_with(level)))
        .take(3)
        .collect();
    if lines.is_empty() { "no output".to_string() } else { one_line(&lines.join(" / ")) }
}

/// Messages (shellcheck's especially) can span lines; a finding stays on one.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    /// Captured from the pinned actionlint (`-format '{{json .}}' -shellcheck <venv>/bin/shellcheck
    /// -pyflakes=`) on a workflow with an unquoted variable, a title in a script and checkout@v4.
    const ACTIONLINT_FINDINGS: &str = r#"[{"message":"shellcheck reported issue in this script: SC2086:info:1:6: Double quote to prevent globbing and word splitting","filepath":".github/workflows/x.yml","line":8,"column":19,"kind":"shellcheck","snippet":"      - run: echo $FOO ${{ github.event.pull_request.title }}\n                  ^~~~","end_column":22},{"message":"\"github.event.pull_request.title\" is potentially untrusted. avoid using it directly in inline scripts. instead, pass it through an environment variable. see https://docs.github.com/en/actions/reference/security/secure-use#good-practices-for-mitigating-script-injection-attacks for more details","filepath":".github/workflows/x.yml","line":8,"column":28,"kind":"expression","snippet":"      - run: echo $FOO ${{ github.event.pull_request.title }}\n                           ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~","end_column":58},{"message":"runtime \"node20\" is deprecated in GitHub Actions; removal is scheduled for September 23rd, 2026. see https://github.blog/changelog/2025-09-19-deprecation-of-node-20-on-github-actions-runners/. update the version of action \"actions/checkout@v4\"","filepath":".github/workflows/x.yml","line":9,"column":15,"kind":"action","snippet":"      - uses: actions/checkout@v4\n              ^~~~~~~~~~~~~~~~~~~","end_column":33}]
"#;

    #[test]
    fn actionlint_json_becomes_one_line_per_finding() {
        let found = parse_actionlint(ACTIONLINT_FINDINGS).expect("valid JSON");
        expect![[r#"
            actionlint .github/workflows/x.yml:8:19: shellcheck reported issue in this script: SC2086:info:1:6: Double quote to prevent globbing and word splitting [shellcheck]
            actionlint .github/workflows/x.yml:8:28: "github.event.pull_request.title" is potentially untrusted. avoid using it directly in inline scripts. instead, pass it through an environment variable. see https://docs.github.com/en/actions/reference/security/secure-use#good-practices-for-mitigating-script-injection-attacks for more details [expression]
            actionlint .github/workflows/x.yml:9:15: runtime "node20" is deprecated in GitHub Actions; removal is scheduled for September 23rd, 2026. see https://github.blog/changelog/2025-09-19-deprecation-of-node-20-on-github-actions-runners/. update the version of action "actions/checkout@v4" [action]
        "#]]
        .assert_eq(&(found.join("\n") + "\n"));
    }

    #[test]
    fn actionlint_clean_runs_and_garbage() {
        assert_eq!(parse_actionlint("[]\n").expect("valid"), Vec::<String>::new());
        assert_eq!(parse_actionlint("").expect("valid"), Vec::<String>::new());
        assert!(parse_actionlint("could not read \"x.yml\": no such file").is_err());
    }

    /// Captured from the pinned zizmor (`--offline --format json`) on the same workflow, trimmed
    /// to the fields the parser reads plus their neighbours (routes and fixes elided): one
    /// finding with a single location, one with Hidden/Primary/Related locations. The third one's
    /// `ignored` was flipped to `true` by hand: zizmor 1.32.0 leaves suppressed findings out of
    /// its report altogether, so that filter is only a guard against a future format.
    const ZIZMOR_FINDINGS: &str = r#"[
  {
    "ident": "artipacked",
    "desc": "credential persistence through GitHub Actions artifacts",
    "url": "https://docs.zizmor.sh/audits/#artipacked",
    "determinations": { "confidence": "Low", "severity": "Medium", "persona": "Regular" },
    "locations": [
      {
        "symbolic": {
          "key": { "Local": { "verbatim_path": ".github/workflows/x.yml" } },
          "annotation": "does not set persist-credentials: false",
          "feature_kind": "Normal",
          "kind": "Primary"
        },
        "concrete": {
          "location": {
            "start_point": { "row": 8, "column": 8 },
            "end_point": { "row": 9, "column": 0 },
            "offset_span": { "start": 151, "end": 177 }
          },
          "feature": "uses: actions/checkout@v4\n",
          "comments": []
        }
      }
    ],
    "ignored": false
  },
  {
    "ident": "template-injection",
    "desc": "code injection via template expansion",
    "url": "https://docs.zizmor.sh/audits/#template-injection",
    "determinations": { "confidence": "High", "severity": "High", "persona": "Regular" },
    "locations": [
      {
        "symbolic": {
          "key": { "Local": { "verbatim_path": ".github/workflows/x.yml" } },
          "annotation": "this step",
          "feature_kind": "Normal",
          "kind": "Hidden"
        },
        "concrete": { "location": { "start_point": { "row": 7, "column": 8 }, "end_point": { "row": 7, "column": 61 } } }
      },
      {
        "symbolic": {
          "key": { "Local": { "verbatim_path": ".github/workflows/x.yml" } },
          "annotation": "may expand into attacker-controllable code",
          "feature_kind": "Normal",
          "kind": "Primary"
        },
        "concrete": { "location": { "start_point": { "row": 7, "column": 27 }, "end_point": { "row": 7, "column": 58 } } }
      },
      {
        "symbolic": {
          "key": { "Local": { "verbatim_path": ".github/workflows/x.yml" } },
          "annotation": "this run block",
          "feature_kind": "Normal",
          "kind": "Related"
        },
        "concrete": { "location": { "start_point": { "row": 7, "column": 8 }, "end_point": { "row": 7, "column": 61 } } }
      }
    ],
    "ignored": false
  },
  {
    "ident": "unpinned-uses",
    "desc": "unpinned action reference",
    "url": "https://docs.zizmor.sh/audits/#unpinned-uses",
    "determinations": { "confidence": "High", "severity": "High", "persona": "Regular" },
    "locations": [
      {
        "symbolic": {
          "key": { "Local": { "verbatim_path": ".github/workflows/x.yml" } },
          "annotation": "action is not pinned to a hash (required by blanket policy)",
          "feature_kind": "Normal",
          "kind": "Primary"
        },
        "concrete": { "location": { "start_point": { "row": 8, "column": 14 }, "end_point": { "row": 8, "column": 33 } } }
      }
    ],
    "ignored": true
  }
]
"#;

    #[test]
    fn zizmor_json_becomes_one_line_per_finding_at_its_primary_location() {
        let found = parse_zizmor(ZIZMOR_FINDINGS).expect("valid JSON");
        expect![[r#"
            zizmor artipacked .github/workflows/x.yml:9: credential persistence through GitHub Actions artifacts: does not set persist-credentials: false
            zizmor template-injection .github/workflows/x.yml:8: code injection via template expansion: may expand into attacker-controllable code
        "#]]
        .assert_eq(&(found.join("\n") + "\n"));
    }

    #[test]
    fn zizmor_clean_runs_and_garbage() {
        assert_eq!(parse_zizmor("[]\n").expect("valid"), Vec::<String>::new());
        assert!(parse_zizmor("").is_err(), "no report at all is a failure, not a clean run");
        assert!(parse_zizmor("fatal: no inputs collected").is_err());
    }

    /// Captured: the pinned zizmor's stderr (exit status 1, nothing on stdout) on a workflow that
    /// is not valid YAML, with `--strict-collection`.
    const ZIZMOR_BAD_YAML_STDERR: &str = " INFO zizmor: \u{1f308} zizmor v1.32.0
fatal: no audit was performed
failed to load file://bad.yml as workflow

Caused by:
    0: invalid YAML syntax: did not find expected node content at line 5 column 1, while parsing a flow node
    1: did not find expected node content at line 5 column 1, while parsing a flow node

Stack backtrace:
   0: <anyhow::Error as core::convert::From<zizmor::Error>>::from
   1: zizmor::main
";

    #[test]
    fn a_failed_run_is_reported_by_what_it_said_not_by_its_log_lines() {
        assert!(parse_zizmor("").is_err());
        expect![[r#"zizmor failed (exit status: 1) without a report: fatal: no audit was performed / failed to load file://bad.yml as workflow / 0: invalid YAML syntax: did not find expected node content at line 5 column 1, while parsing a flow node"#]]
            .assert_eq(&failure("zizmor", "exit status: 1", ZIZMOR_BAD_YAML_STDERR.as_bytes(), ""));
        assert_eq!(what_it_said("", "\n"), "no output");
    }

    #[test]
    fn workflow_files_are_the_yml_and_yaml_files_sorted() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(workflow_files(dir.path()).expect("no directory is fine").is_empty());
        let workflows = dir.path().join(".github/workflows");
        std::fs::create_dir_all(workflows.join("sub.yml")).expect("mkdir");
        for name in ["release.yml", "ci.yml", "other.yaml", "README.md"] {
            std::fs::write(workflows.join(name), "").expect("write");
        }
        let found = workflow_files(dir.path()).expect("listed");
        let found: Vec<_> = found.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            found,
            [".github/workflows/ci.yml", ".github/workflows/other.yaml", ".github/workflows/release.yml"]
        );
    }
}
