//! `cargo xtask lint`: the template's own consistency checks, then cfn-lint and checkov at their
//! pinned versions (xtask/python-tools.txt), then actionlint and zizmor on the GitHub workflows
//! ([`crate::workflows_lint`]).
//!
//! Every problem is one line (`lint: <tool> <where>: <what>`); the command fails when there is any.
//! Passing means zero cfn-lint findings at every level (`-c I` includes informational ones) and
//! zero failed checkov checks. A suppression belongs in the resource's Metadata with a reason.

use std::path::Path;

use anyhow::Context;
use serde_json::Value as Json;
use xshell::cmd;

use crate::Ctx;
use crate::errors::Refusal;
use crate::template;
use crate::tools::Tools;
use crate::workflows_lint;

/// Validate cloud/stack.yaml (consistency, cfn-lint -c I, checkov) and .github/workflows (actionlint, zizmor)
#[derive(clap::Args, Debug, Default)]
pub struct Lint {
    /// Only the built-in consistency checks; skip cfn-lint, checkov, actionlint and zizmor
    #[arg(long)]
    pub no_tools: bool,
}

impl Lint {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let template_path = ctx.template_path();
        let parameters_path = ctx.parameters_path();
        let policy_path = ctx.root.join("cloud/deployer-policy.json");
        let mut problems = Vec::new();

        eprintln!("==> consistency: parameters.json, outputs, deletion policies, IAM actions, deployer policy");
        let found = template::check_files(&template_path, &parameters_path, &policy_path)?;
        report(&found, "template");
        problems.extend(found.into_iter().map(|p| format!("template {p}")));

        if !self.no_tools {
            let tools = Tools::ensure(ctx)?;
            eprintln!("==> cfn-lint -c I --parameter-files {}", relative(ctx, &parameters_path));
            let found = cfn_lint(ctx, &tools, &template_path, &parameters_path)?;
            report(&found, "cfn-lint");
            problems.extend(found);

            eprintln!("==> checkov --framework cloudformation");
            let found = checkov(ctx, &tools, &template_path)?;
            report(&found, "checkov");
            problems.extend(found);

            let workflows = workflows_lint::workflow_files(&ctx.root)?;
            eprintln!("==> actionlint: {} workflow file(s) in .github/workflows", workflows.len());
            let found = workflows_lint::actionlint(ctx, &tools, &workflows)?;
            report(&found, "actionlint");
            problems.extend(found);

            eprintln!("==> zizmor --offline: {} workflow file(s) in .github/workflows", workflows.len());
            let found = workflows_lint::zizmor(ctx, &tools, &workflows)?;
            report(&found, "zizmor");
            problems.extend(found);
        }

        if problems.is_empty() {
            let checked = if self.no_tools { "is" } else { "and .github/workflows are" };
            eprintln!("lint: {} {checked} clean", relative(ctx, &template_path));
            return Ok(());
        }
        for problem in &problems {
            println!("lint: {problem}");
        }
        Err(Refusal::new(
            format!("{} lint problem(s) in {} or .github/workflows", problems.len(), relative(ctx, &template_path)),
            "fix each line above; a justified suppression goes in the resource's Metadata (checkov: skip with a comment, cfn-lint: ignore_checks) or, for zizmor, in .github/zizmor.yml or a `# zizmor: ignore[audit]` comment, with a written reason",
        )
        .into())
    }
}

fn report(found: &[String], tool: &str) {
    if found.is_empty() {
        eprintln!("    {tool}: no problems");
    } else {
        eprintln!("    {tool}: {} problem(s)", found.len());
    }
}

fn relative(ctx: &Ctx, path: &Path) -> String {
    path.strip_prefix(&ctx.root).unwrap_or(path).display().to_string()
}

/// cfn-lint with informational findings and the real parameter values; one line per finding.
pub fn cfn_lint(ctx: &Ctx, tools: &Tools, template: &Path, parameters: &Path) -> anyhow::Result<Vec<String>> {
    let sh = &ctx.sh;
    let bin = tools.bin("cfn-lint");
    let output = cmd!(sh, "{bin} -c I --format parseable --parameter-files {parameters} -- {template}")
        .quiet()
        .ignore_status()
        .output()
        .context("cannot run cfn-lint")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let problems = parse_cfn_lint(&stdout, &relative(ctx, template));
    if problems.is_empty() && !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().chain(stdout.lines()).find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Ok(vec![format!("cfn-lint failed ({}) without findings: {first}", output.status)]);
    }
    Ok(problems)
}

/// `path:line:col:end_line:end_col:RULE:message` lines → `cfn-lint RULE stack.yaml:line:col: message`.
pub fn parse_cfn_lint(stdout: &str, shown_path: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        // The message may contain ':', so split off the six leading fields only.
        let fields: Vec<&str> = line.splitn(7, ':').collect();
        match fields.as_slice() {
            [_, line_no, col, _, _, rule, message] => {
                problems.push(format!("cfn-lint {rule} {shown_path}:{line_no}:{col}: {}", shorten(message.trim())));
            }
            _ => problems.push(format!("cfn-lint {}", shorten(line.trim()))),
        }
    }
    // cfn-lint reports a finding once per region/parameter set it evaluates: keep the first.
    let mut seen = std::collections::BTreeSet::new();
    problems.retain(|p| seen.insert(p.clone()));
    problems
}

/// Keeps a finding on one readable line: long enumerations (e.g. every engine version) are cut.
fn shorten(message: &str) -> String {
    const MAX: usize = 240;
    match message.char_indices().nth(MAX) {
        Some((at, _)) => format!("{} ...", &message[..at]),
        None => message.to_string(),
    }
}

/// checkov on the template (no network: `--skip-download`); one line per failed check.
pub fn checkov(ctx: &Ctx, tools: &Tools, template: &Path) -> anyhow::Result<Vec<String>> {
    let sh = &ctx.sh;
    let bin = tools.bin("checkov");
    let output = cmd!(sh, "{bin} --file {template} --framework cloudformation --skip-download --output json --quiet")
        .env("BC_SKIP_MAPPING", "TRUE")
        .quiet()
        .ignore_status()
        .output()
        .context("cannot run checkov")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match serde_json::from_str::<Json>(&stdout) {
        Ok(report) => Ok(parse_checkov(&report, &relative(ctx, template))),
        Err(_) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().chain(stdout.lines()).find(|l| !l.trim().is_empty()).unwrap_or("no output");
            Ok(vec![format!("checkov produced no JSON report ({}): {first}", output.status)])
        }
    }
}

/// Failed checks and parsing errors of a checkov JSON report (one framework or a list of them).
pub fn parse_checkov(report: &Json, shown_path: &str) -> Vec<String> {
    let reports = match report {
        Json::Array(many) => many.iter().collect(),
        one => vec![one],
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for report in reports {
        let summary = &report["summary"];
        checked += summary["passed"].as_u64().unwrap_or(0) + summary["failed"].as_u64().unwrap_or(0);
        if summary["parsing_errors"].as_u64().unwrap_or(0) > 0 {
            problems.push(format!("checkov could not parse {shown_path}"));
        }
        for failed in report["results"]["failed_checks"].as_array().into_iter().flatten() {
            let lines = failed["file_line_range"]
                .as_array()
                .and_then(|r| Some(format!("{}-{}", r.first()?.as_u64()?, r.get(1)?.as_u64()?)))
                .unwrap_or_default();
            problems.push(format!(
                "checkov {} {shown_path}:{lines} {}: {}",
                failed["check_id"].as_str().unwrap_or("?"),
                failed["resource"].as_str().unwrap_or("?"),
                failed["check_name"].as_str().unwrap_or("?"),
            ));
        }
    }
    if checked == 0 && problems.is_empty() {
        problems.push(format!("checkov ran no check on {shown_path} (wrong framework or empty template?)"));
    }
    problems
}
