//! What `cargo xtask deploy` injects into the stack's parameters, described once: the artifact
//! bucket and each function's code key (the functions come from the workspace, see
//! [`crate::compile`]). Deploy injects through [`inject`]; lint checks the template and the
//! parameters file against the same description with [`check`].

use std::collections::BTreeMap;

use super::{ParameterFile, Template};
use crate::artifacts::{FunctionArtifact, KEY_PATTERN};
use crate::compile::LambdaFunction;

/// The parameter that receives the artifact bucket's name.
pub const ARTIFACT_BUCKET: &str = "ArtifactBucket";

/// The parameter every deletion protection of the template follows (lint checks that). The first
/// create runs with it `false`, so that a failed create can roll back and leave nothing; the deploy
/// sets the configured value in an update once the stack exists.
pub const DELETION_PROTECTION: &str = "EnableDeletionProtection";

/// The parameter that names the environment (dev, prod, ...) in the template's derived resource
/// names. Set from `--environment` / `APP_ENVIRONMENT` / deploy.toml `stack.environment` when one
/// of those is given; otherwise the parameters file or the template's default decides.
pub const ENVIRONMENT_NAME: &str = "EnvironmentName";

/// The parameters of a first create: `effective` with deletion protection off, when the template
/// has the parameter and it would be on. None when the create can use `effective` as it is.
pub fn unprotected_for_create(
    template: &Template,
    effective: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let configured =
        effective.get(DELETION_PROTECTION).or(template.parameters.get(DELETION_PROTECTION)?.default.as_ref())?;
    if configured == "false" {
        return None;
    }
    let mut first = effective.clone();
    first.insert(DELETION_PROTECTION.into(), "false".into());
    Some(first)
}

/// What one injection did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Injected {
    /// The parameters set, in order.
    pub parameters: Vec<String>,
    /// Functions whose code-key parameter the template does not declare: uploaded, not deployed.
    pub undeclared: Vec<(String, String)>,
}

/// Sets the artifact bucket and every function's code key in `effective`.
pub fn inject(
    template: &Template,
    effective: &mut BTreeMap<String, String>,
    artifact_bucket: &str,
    functions: &[FunctionArtifact],
) -> Injected {
    let mut done = Injected::default();
    if template.declares(ARTIFACT_BUCKET) {
        effective.insert(ARTIFACT_BUCKET.into(), artifact_bucket.to_string());
        done.parameters.push(ARTIFACT_BUCKET.into());
    }
    for f in functions {
        if template.declares(&f.code_key_parameter) {
            effective.insert(f.code_key_parameter.clone(), f.key.clone());
            done.parameters.push(f.code_key_parameter.clone());
        } else {
            done.undeclared.push((f.function.clone(), f.code_key_parameter.clone()));
        }
    }
    done
}

/// Lint: the template declares the artifact bucket and each function's code-key parameter, whose
/// pattern accepts exactly the keys the dist writes; the parameters file has an entry for each
/// (a placeholder, since the deploy overrides it) that passes those patterns.
pub fn check(template: &Template, parameters: &ParameterFile, functions: &[LambdaFunction]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut needed = vec![ARTIFACT_BUCKET.to_string()];
    for f in functions {
        needed.push(f.code_key_parameter.clone());
        match template.parameters.get(&f.code_key_parameter) {
            None => problems.push(format!(
                "the template declares no parameter {} for function {} (package {})",
                f.code_key_parameter, f.function, f.package
            )),
            Some(p) if p.allowed_pattern.as_deref() != Some(KEY_PATTERN) => problems.push(format!(
                "parameter {}: AllowedPattern must be {KEY_PATTERN:?} (the keys `cargo xtask dist` writes), not {:?}",
                f.code_key_parameter, p.allowed_pattern
            )),
            Some(_) => {}
        }
    }
    for name in needed.iter().filter(|n| template.declares(n)) {
        if !parameters.values.contains_key(name) {
            problems.push(format!(
                "{}: no entry for {name}, which the deploy injects (a placeholder that passes the pattern will do)",
                parameters.shown
            ));
        }
    }
    if !template.declares(ARTIFACT_BUCKET) {
        problems.push(format!("the template declares no parameter {ARTIFACT_BUCKET} (the deploy injects it)"));
    }
    problems
}
