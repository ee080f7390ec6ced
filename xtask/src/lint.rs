//! What `cargo xtask lint` (and `cargo xtask test` through it) runs: the project's own checks on
//! the template, the parameters and the deployer policies ([`crate::cloud::checks`]), then the pinned
//! external linters — parliament, cfn-lint and checkov on `cloud/`, actionlint and zizmor on
//! `.github/workflows/` ([`crate::workflows_lint`]). Each check prints what it compared and how many
//! problems it found; every problem is one line.
//!
//! The authorization checks, cfn-lint and checkov read the template as CloudFormation receives it:
//! `cloud/stack.yaml` through [`crate::cloud::transform`] (hashed Version and Deployment ids) with
//! the values of `cloud/parameters.json`, written to `<target>/xtask/lint/` (same lines as the
//! source, so a finding's line number is the source's too).

use std::path::PathBuf;

use crate::Ctx;
use crate::cloud::checks::{self, CheckReport};
use crate::cloud::{ParameterFile, Template, bootstrap, injected, transform};
use crate::error::Refusal;
use crate::tools::Tools;
use crate::workflows_lint;

/// The files the checks read.
pub struct Inputs {
    pub template: PathBuf,
    /// `template` as the deploy submits it ([`transformed`]).
    pub deployed: PathBuf,
    pub parameters: PathBuf,
    /// The directory of deployer policy files (`cloud/deployer-policies/`).
    pub deployer_policies: PathBuf,
}

impl Inputs {
    pub fn of(ctx: &Ctx) -> Inputs {
        let template = ctx.template_path();
        let stem = template.file_stem().map_or("stack".into(), |s| s.to_string_lossy().into_owned());
        Inputs {
            deployed: ctx.target_dir().join(format!("xtask/lint/{stem}.transformed.yaml")),
            template,
            parameters: ctx.parameters_path(),
            deployer_policies: ctx.root.join(checks::files::DEPLOYER_POLICY_DIR),
        }
    }
}

/// The stack name the deployer policies are scoped to: the configured one, else deploy.toml's.
fn stack_name(ctx: &Ctx) -> String {
    let configured = ctx.settings().ok().and_then(|s| s.stack_name).map(|s| s.value);
    configured.unwrap_or_else(|| checks::files::DEFAULT_STACK_NAME.to_string())
}

/// Writes the template as the deploy would submit it (the transform with the parameters file's
/// values) to `inputs.deployed`; a parameters file that does not load leaves the defaults.
pub fn transformed(ctx: &Ctx, inputs: &Inputs) -> anyhow::Result<Template> {
    let template = Template::load(&inputs.template, &ctx.shown(&inputs.template))?;
    let values = ParameterFile::load(&inputs.parameters, &ctx.shown(&inputs.parameters), &template)
        .map(|f| f.values)
        .unwrap_or_default();
    let deployed = transform::transform(&template, &values)?;
    if let Some(dir) = inputs.deployed.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&inputs.deployed, &deployed.body)?;
    Ok(deployed)
}

/// The project's own checks (no external tool). Errors only when a file cannot be read at all.
pub fn builtin(ctx: &Ctx, inputs: &Inputs) -> anyhow::Result<Vec<CheckReport>> {
    let template = Template::load(&inputs.template, &ctx.shown(&inputs.template))?;
    transformed(ctx, inputs)?;
    let mut reports = Vec::new();
    let mut problems = checks::consistency::check_parameter_declarations(&template);
    problems.extend(checks::consistency::check_outputs(&template));
    problems.extend(checks::consistency::check_deletion_policies(&template));
    problems.extend(checks::consistency::check_deletion_protection(&template));
    problems.extend(checks::consistency::check_no_wildcard_actions(&template));
    reports.push(CheckReport {
        name: "consistency",
        compared: format!(
            "{} parameters, {} outputs, {} resources",
            template.parameters.len(),
            template.outputs.len(),
            template.resources.len()
        ),
        problems,
    });

    let shown = ctx.shown(&inputs.parameters);
    let functions = crate::compile::discover(&ctx.root)?;
    let parameters = match ParameterFile::load(&inputs.parameters, &shown, &template) {
        Ok(file) => {
            let mut problems = file.completeness_problems(&template);
            problems.extend(injected::check(&template, &file, &functions));
            CheckReport {
                name: "parameters",
                compared: format!(
                    "{} entries of {shown} vs {} template parameters, {} injected by deploy",
                    file.values.len(),
                    template.parameters.len(),
                    functions.len() + 1
                ),
                problems,
            }
        }
        Err(err) => CheckReport { name: "parameters", compared: shown, problems: vec![crate::error::chain_line(&err)] },
    };
    reports.push(parameters);
    reports.extend(overlay_reports(ctx, inputs, &template)?);

    let policies = checks::files::load_deployer_policies(&inputs.deployer_policies)?;
    reports.push(CheckReport {
        name: "deployer policy files",
        compared: format!("{} files under {}", policies.len(), ctx.shown(&inputs.deployer_policies)),
        problems: checks::deployer_files::check_deployer_policies(&policies),
    });
    let authorization = checks::files::Inputs::load(&ctx.root, &inputs.deployed, &inputs.parameters, &stack_name(ctx))?;
    reports.extend(checks::files::offline_checks(&ctx.root, &authorization, &functions)?);
    Ok(reports)
}

/// Each environment's overlay (`parameters.<env>.json` next to the parameters file) merged over
/// it, checked as the deploy with `--env <env>` would read it.
fn overlay_reports(ctx: &Ctx, inputs: &Inputs, template: &Template) -> anyhow::Result<Vec<CheckReport>> {
    let Some(dir) = inputs.parameters.parent() else { return Ok(Vec::new()) };
    let stem = inputs.parameters.file_stem().map_or("parameters".into(), |s| s.to_string_lossy().into_owned());
    let mut overlays: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with(&format!("{stem}.")) && name.ends_with(".json") && name.matches('.').count() == 2
        })
        .collect();
    overlays.sort();
    Ok(overlays
        .iter()
        .map(|overlay| {
            let files = [inputs.parameters.clone(), overlay.clone()].map(|p| (p.clone(), ctx.shown(&p)));
            let shown = format!("{} + {}", files[0].1, files[1].1);
            let problems = match ParameterFile::load_layers(&files, template) {
                Ok(merged) => merged.completeness_problems(template),
                Err(err) => vec![crate::error::chain_line(&err)],
            };
            CheckReport { name: "parameters overlay", compared: shown, problems }
        })
        .collect())
}

/// parliament on every policy document, cfn-lint and checkov on the template, actionlint and
/// zizmor on the GitHub workflows.
pub fn external(ctx: &Ctx, tools: &Tools, inputs: &Inputs) -> anyhow::Result<Vec<CheckReport>> {
    transformed(ctx, inputs)?;
    let shown = format!("{} as deployed ({})", ctx.shown(&inputs.template), ctx.shown(&inputs.deployed));
    let workflows = workflows_lint::workflow_files(&ctx.root)?;
    let workflows_shown = format!("{} workflow file(s) in .github/workflows", workflows.len());
    let authorization = checks::files::Inputs::load(&ctx.root, &inputs.deployed, &inputs.parameters, &stack_name(ctx))?;
    let mut reports = vec![
        checks::files::grammar_check(tools, &authorization)?,
        CheckReport {
            name: "cfn-lint",
            compared: format!("{shown} with {} (-c I)", ctx.shown(&inputs.parameters)),
            problems: checks::external::cfn_lint(ctx, tools, &inputs.deployed, &inputs.parameters)?,
        },
        CheckReport {
            name: "checkov",
            compared: format!("{shown} (--framework cloudformation)"),
            problems: checks::external::checkov(ctx, tools, &inputs.deployed)?,
        },
        CheckReport {
            name: "actionlint",
            compared: workflows_shown.clone(),
            problems: workflows_lint::actionlint(ctx, tools, &workflows)?,
        },
        CheckReport {
            name: "zizmor",
            compared: format!("{workflows_shown} (--offline)"),
            problems: workflows_lint::zizmor(ctx, tools, &workflows)?,
        },
    ];
    if ctx.root.join(bootstrap::TEMPLATE_FILE).exists() {
        reports.extend(bootstrap_checks(ctx, tools)?);
    }
    Ok(reports)
}

/// cfn-lint and checkov on `cloud/bootstrap.yaml` as `bootstrap` submits it (the deployer
/// policies added), with example values for the parameters the xtask passes.
fn bootstrap_checks(ctx: &Ctx, tools: &Tools) -> anyhow::Result<Vec<CheckReport>> {
    let dir = ctx.target_dir().join("xtask/lint");
    std::fs::create_dir_all(&dir)?;
    let rendered = dir.join("bootstrap.rendered.json");
    std::fs::write(&rendered, &bootstrap::render(&ctx.root)?.body)?;
    let values = [
        (bootstrap::BUCKET_PARAMETER, "notes-app-dev-artifacts-123456789012-us-east-1"),
        (bootstrap::REPOSITORY_PARAMETER, "octo-org/notes-app"),
        (bootstrap::ENVIRONMENT_PARAMETER, "dev"),
        (bootstrap::CREATE_OIDC_PARAMETER, "true"),
    ];
    let entries: Vec<_> =
        values.iter().map(|(k, v)| serde_json::json!({ "ParameterKey": k, "ParameterValue": v })).collect();
    let parameters = dir.join("bootstrap.parameters.json");
    std::fs::write(&parameters, serde_json::to_string_pretty(&entries)?)?;
    let shown = format!("{} as bootstrap submits it ({})", bootstrap::TEMPLATE_FILE, ctx.shown(&rendered));
    Ok(vec![
        CheckReport {
            name: "cfn-lint",
            compared: format!("{shown} (-c I)"),
            problems: checks::external::cfn_lint(ctx, tools, &rendered, &parameters)?,
        },
        CheckReport {
            name: "checkov",
            compared: format!("{shown} (--framework cloudformation)"),
            problems: checks::external::checkov(ctx, tools, &rendered)?,
        },
    ])
}

/// Runs every check (the external ones only with `tools`), prints one line per check (what it
/// compared, how many problems) and one per problem, and fails when there is any.
pub fn run_and_report(ctx: &Ctx, tools: Option<&Tools>) -> anyhow::Result<()> {
    let inputs = Inputs::of(ctx);
    let mut reports = builtin(ctx, &inputs)?;
    if let Some(tools) = tools {
        reports.extend(external(ctx, tools, &inputs)?);
    }
    for report in &reports {
        eprintln!("    {}", report.summary());
    }
    let problems: Vec<String> =
        reports.iter().flat_map(|r| r.problems.iter().map(move |p| format!("{} {p}", r.name))).collect();
    let shown = ctx.shown(&inputs.template);
    if problems.is_empty() {
        eprintln!("lint: {shown} is clean");
        return Ok(());
    }
    for problem in &problems {
        println!("lint: {problem}");
    }
    Err(Refusal::new(
        format!("{} lint problem(s) in {shown}", problems.len()),
        "fix each line above; a justified suppression goes in the resource's Metadata (checkov: skip with a comment, cfn-lint: ignore_checks) or, for zizmor, in .github/zizmor.yml or a `# zizmor: ignore[audit]` comment, with a written reason",
    )
    .into())
}
