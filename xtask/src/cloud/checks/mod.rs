//! Every check `cargo xtask lint` makes (and `cargo xtask test` through it), each reporting what it
//! compared and the problems it found, one line each:
//!
//! - [`consistency`]: parameter declarations, the outputs the tool reads, deletion policies, no
//!   wildcard IAM actions;
//! - the parameters file under [`crate::cloud::ParameterFile`]'s rules, and what the deploy injects
//!   ([`crate::cloud::injected`]);
//! - [`deployer`]: the deployer policy's grammar, coverage and size;
//! - [`external`]: cfn-lint and checkov.

pub mod consistency;
pub mod deployer;
pub mod external;

use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value as Json;

use crate::Ctx;
use crate::cloud::{ParameterFile, Template, injected};
use crate::error::Refusal;
use crate::tools::Tools;

/// What one check compared, and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub name: &'static str,
    /// e.g. `52 parameters, 14 outputs, 92 resources`.
    pub compared: String,
    pub problems: Vec<String>,
}

/// The files the checks read.
pub struct Inputs {
    pub template: PathBuf,
    pub parameters: PathBuf,
    pub deployer_policy: PathBuf,
}

impl Inputs {
    pub fn of(ctx: &Ctx) -> Inputs {
        Inputs {
            template: ctx.template_path(),
            parameters: ctx.parameters_path(),
            deployer_policy: ctx.root.join("cloud/deployer-policy.json"),
        }
    }
}

/// The project's own checks (no external tool). Errors only when a file cannot be read at all.
pub fn builtin(ctx: &Ctx, inputs: &Inputs) -> anyhow::Result<Vec<CheckReport>> {
    let template = Template::load(&inputs.template, &ctx.shown(&inputs.template))?;
    let mut reports = Vec::new();
    let mut problems = consistency::check_parameter_declarations(&template);
    problems.extend(consistency::check_outputs(&template));
    problems.extend(consistency::check_deletion_policies(&template));
    problems.extend(consistency::check_no_wildcard_actions(&template));
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

    let policy_text = std::fs::read_to_string(&inputs.deployer_policy)
        .with_context(|| format!("cannot read {}", inputs.deployer_policy.display()))?;
    let policy: Json = serde_json::from_str(&policy_text)
        .with_context(|| format!("{} is not JSON", inputs.deployer_policy.display()))?;
    reports.push(CheckReport {
        name: "deployer policy",
        compared: format!(
            "{} statements vs {} resource types",
            policy["Statement"].as_array().map_or(0, Vec::len),
            template.resources.values().map(|r| r.kind.as_str()).collect::<std::collections::BTreeSet<_>>().len()
        ),
        problems: deployer::check_deployer_policy(&template, &policy),
    });
    Ok(reports)
}

/// cfn-lint and checkov on the template.
pub fn external(ctx: &Ctx, tools: &Tools, inputs: &Inputs) -> anyhow::Result<Vec<CheckReport>> {
    let shown = ctx.shown(&inputs.template);
    Ok(vec![
        CheckReport {
            name: "cfn-lint",
            compared: format!("{shown} with {} (-c I)", ctx.shown(&inputs.parameters)),
            problems: external::cfn_lint(ctx, tools, &inputs.template, &inputs.parameters)?,
        },
        CheckReport {
            name: "checkov",
            compared: format!("{shown} (--framework cloudformation)"),
            problems: external::checkov(ctx, tools, &inputs.template)?,
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
        let found = match report.problems.len() {
            0 => "0 problems".to_string(),
            n => format!("{n} problem(s)"),
        };
        eprintln!("    {:<16} {found:<14} {}", report.name, report.compared);
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
        "fix each line above; a justified suppression goes in the resource's Metadata (checkov: skip with a comment, cfn-lint: ignore_checks) with a written reason",
    )
    .into())
}
