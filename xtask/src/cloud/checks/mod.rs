//! Every check `cargo xtask lint` makes (and `cargo xtask test` through it), each reporting what it
//! compared and the problems it found, one line each:
//!
//! - [`consistency`]: parameter declarations, the outputs the tool reads, deletion policies and
//!   deletion protection, no wildcard IAM actions;
//! - the parameters file under [`crate::cloud::ParameterFile`]'s rules, and what the deploy injects
//!   ([`crate::cloud::injected`]);
//! - [`deployer_files`]: each deployer policy file's grammar and size;
//! - authorization, from AWS's own data rather than hand tables (inputs in [`files`], the stand-in
//!   deployment in [`model`]): [`handlers`] (what CloudFormation's resource handlers call vs the
//!   deployer policies, resource scoping and tag-on-create included), [`key_policies`] (what each KMS
//!   key's policy must delegate), [`function_roles`] (what each function's code calls vs its role),
//!   [`iam_grammar`] (parliament on every policy document);
//! - [`external`]: cfn-lint and checkov.
//!
//! Each check is a pure function of parsed inputs that returns a [`CheckReport`].

pub mod consistency;
pub mod deployer_files;
pub mod external;
pub mod files;
pub mod function_roles;
pub mod handlers;
pub mod iam_grammar;
pub mod key_policies;
pub mod model;
pub mod policy;

use std::path::PathBuf;

use crate::Ctx;
use crate::cloud::{ParameterFile, Template, injected};
use crate::error::Refusal;
use crate::tools::Tools;

/// What a check compared and what it found missing, one line per problem. Each problem names the
/// resource (logical id and type) or the file, and the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub name: &'static str,
    /// What was compared with what, e.g. "50 resource types, 577 handler actions vs 4 deployer policies".
    pub compared: String,
    pub problems: Vec<String>,
}

impl CheckReport {
    /// `name: compared: N missing`, the line `cargo xtask lint` prints.
    pub fn summary(&self) -> String {
        format!("{}: {}: {} missing", self.name, self.compared, self.problems.len())
    }

    /// The summary and then every problem on its own line (for test snapshots).
    pub fn render(&self) -> String {
        let mut out = self.summary();
        for problem in &self.problems {
            out.push_str("\n  ");
            out.push_str(problem);
        }
        out
    }
}

/// The files the checks read.
pub struct Inputs {
    pub template: PathBuf,
    pub parameters: PathBuf,
    /// The directory of deployer policy files (`cloud/deployer-policies/`).
    pub deployer_policies: PathBuf,
}

impl Inputs {
    pub fn of(ctx: &Ctx) -> Inputs {
        Inputs {
            template: ctx.template_path(),
            parameters: ctx.parameters_path(),
            deployer_policies: ctx.root.join(files::DEPLOYER_POLICY_DIR),
        }
    }
}

/// The stack name the deployer policies are scoped to: the configured one, else deploy.toml's.
fn stack_name(ctx: &Ctx) -> String {
    let configured = ctx.settings().ok().and_then(|s| s.stack_name).map(|s| s.value);
    configured.unwrap_or_else(|| files::DEFAULT_STACK_NAME.to_string())
}

/// The project's own checks (no external tool). Errors only when a file cannot be read at all.
pub fn builtin(ctx: &Ctx, inputs: &Inputs) -> anyhow::Result<Vec<CheckReport>> {
    let template = Template::load(&inputs.template, &ctx.shown(&inputs.template))?;
    let mut reports = Vec::new();
    let mut problems = consistency::check_parameter_declarations(&template);
    problems.extend(consistency::check_outputs(&template));
    problems.extend(consistency::check_deletion_policies(&template));
    problems.extend(consistency::check_deletion_protection(&template));
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

    let policies = files::load_deployer_policies(&inputs.deployer_policies)?;
    reports.push(CheckReport {
        name: "deployer policy files",
        compared: format!("{} files under {}", policies.len(), ctx.shown(&inputs.deployer_policies)),
        problems: deployer_files::check_deployer_policies(&policies),
    });
    let authorization = files::Inputs::load(&ctx.root, &inputs.template, &inputs.parameters, &stack_name(ctx))?;
    reports.extend(files::offline_checks(&ctx.root, &authorization)?);
    Ok(reports)
}

/// parliament on every policy document, then cfn-lint and checkov on the template.
pub fn external(ctx: &Ctx, tools: &Tools, inputs: &Inputs) -> anyhow::Result<Vec<CheckReport>> {
    let shown = ctx.shown(&inputs.template);
    let authorization = files::Inputs::load(&ctx.root, &inputs.template, &inputs.parameters, &stack_name(ctx))?;
    Ok(vec![
        files::grammar_check(tools, &authorization)?,
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
        "fix each line above; a justified suppression goes in the resource's Metadata (checkov: skip with a comment, cfn-lint: ignore_checks) with a written reason",
    )
    .into())
}
