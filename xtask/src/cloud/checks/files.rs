//! Where the checks' inputs live in the repository, loading them, and running every check the way
//! `cargo xtask lint` does. Also the pinned-data check: every resource type used by a template in
//! `cloud/` is in `cloud/aws/cfn-resource-permissions.json`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value as Json;

use super::model::Env;
use super::{CheckReport, deployer_calls, function_code, function_roles, handlers, iam_grammar, key_policies};
use crate::cloud::Template;
use crate::compile::LambdaFunction;
use crate::tools::Tools;

/// The deployer's managed policies, one file each, attached together (cloud/README.md).
pub const DEPLOYER_POLICY_DIR: &str = "cloud/deployer-policies";
pub const PERMISSIONS_FILE: &str = "cloud/aws/cfn-resource-permissions.json";
pub const HANDLER_ALLOWLIST_FILE: &str = "cloud/aws/handler-allowlist.json";
pub const GRAMMAR_ALLOWLIST_FILE: &str = "cloud/aws/iam-grammar-allowlist.json";
/// The stack name the deployer policies are scoped to (deploy.toml's `stack.name`).
pub const DEFAULT_STACK_NAME: &str = "notes-app-dev";

/// Everything the checks read, parsed.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `cloud/stack.yaml` in long form.
    pub template: Json,
    /// `(path relative to the root, document)` of each deployer policy file, sorted by name.
    pub deployer_policies: Vec<(String, Json)>,
    pub permissions: Json,
    pub handler_allowlist: Json,
    pub grammar_allowlist: Json,
    pub env: Env,
}

fn read_json(path: &Path) -> anyhow::Result<Json> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The deployer policy files (`NN-topic.json`) in `dir`, sorted, as `(cloud/deployer-policies/<file>,
/// document)`: the one loader (lint, the tests, the enforced-IAM e2e test).
pub fn load_deployer_policies(dir: &Path) -> anyhow::Result<Vec<(String, Json)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            Ok((
                format!("{DEPLOYER_POLICY_DIR}/{}", p.file_name().unwrap_or_default().to_string_lossy()),
                read_json(p)?,
            ))
        })
        .collect()
}

impl Inputs {
    /// Reads the template, `parameters` (AWS CLI format) and the files above under `root`.
    pub fn load(root: &Path, template: &Path, parameters: &Path, stack_name: &str) -> anyhow::Result<Inputs> {
        let text = std::fs::read_to_string(template).with_context(|| format!("cannot read {}", template.display()))?;
        let template = Template::parse(&text).with_context(|| format!("cannot parse {}", template.display()))?.document;
        let values: Vec<(String, String)> = read_json(parameters)?
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some((e.get("ParameterKey")?.as_str()?.to_string(), e.get("ParameterValue")?.as_str()?.to_string()))
            })
            .collect();
        let region = values.iter().find(|(k, _)| k == "DeploymentRegion").map_or("us-east-1", |(_, v)| v.as_str());
        let env = Env::new(&template, stack_name, region, &values);
        Ok(Inputs {
            deployer_policies: load_deployer_policies(&root.join(DEPLOYER_POLICY_DIR))?,
            permissions: read_json(&root.join(PERMISSIONS_FILE))?,
            handler_allowlist: read_json(&root.join(HANDLER_ALLOWLIST_FILE))?,
            grammar_allowlist: read_json(&root.join(GRAMMAR_ALLOWLIST_FILE))?,
            template,
            env,
        })
    }

    /// This checkout's files (for tests).
    pub fn load_repo() -> Inputs {
        let root = repo_root();
        Inputs::load(&root, &root.join("cloud/stack.yaml"), &root.join("cloud/parameters.json"), DEFAULT_STACK_NAME)
            .expect("the repository's cloud/ files load")
    }
}

/// The workspace root of this checkout (tests only: the xtask finds it at run time).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

/// Every resource type of `templates` is pinned; each missing one names the file and how to refresh.
pub fn pinned_types(templates: &[(String, Json)], permissions: &Json) -> CheckReport {
    let mut problems = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for (file, doc) in templates {
        for (name, resource) in doc.get("Resources").and_then(Json::as_object).into_iter().flatten() {
            let Some(kind) = resource.get("Type").and_then(Json::as_str) else { continue };
            kinds.insert(kind.to_string());
            if kind.starts_with("AWS::") && permissions.pointer("/types").and_then(|t| t.get(kind)).is_none() {
                problems.push(format!(
                    "{file}: {name} ({kind}) is not in {PERMISSIONS_FILE}; refresh it: {}",
                    handlers::REFRESH
                ));
            }
        }
    }
    let pinned = permissions.get("types").and_then(Json::as_object).map_or(0, |t| t.len());
    CheckReport {
        name: "pinned handler data",
        compared: format!("{} resource types in {} templates vs {pinned} pinned types", kinds.len(), templates.len()),
        problems,
    }
}

/// Every template (`*.yaml`) directly in `cloud/`, in long form.
pub fn cloud_templates(root: &Path) -> anyhow::Result<Vec<(String, Json)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("cloud"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)?;
            Ok((
                format!("cloud/{}", p.file_name().unwrap_or_default().to_string_lossy()),
                Template::parse(&text)?.document,
            ))
        })
        .collect()
}

/// The checks of this module that need no Python: pinned data, handler permissions, the tool's own
/// calls, key policies, the functions' roles.
pub fn offline_checks(root: &Path, inputs: &Inputs, functions: &[LambdaFunction]) -> anyhow::Result<Vec<CheckReport>> {
    Ok(vec![
        pinned_types(&cloud_templates(root)?, &inputs.permissions),
        handlers::handler_permissions(
            &inputs.template,
            &inputs.deployer_policies,
            &inputs.permissions,
            &inputs.handler_allowlist,
            &inputs.env,
        ),
        deployer_calls::deployer_calls(
            &inputs.template,
            &inputs.deployer_policies,
            crate::aws::permissions::PERMISSIONS,
            &inputs.env,
        ),
        key_policies::key_policies(&inputs.template, &inputs.permissions, &inputs.env),
        function_roles_check(root, inputs, functions)?,
    ])
}

/// Check 5 with the pinned parliament.
pub fn grammar_check(tools: &Tools, inputs: &Inputs) -> anyhow::Result<CheckReport> {
    let documents = iam_grammar::documents(&inputs.template, &inputs.deployer_policies, &inputs.env);
    let findings = iam_grammar::run_parliament(tools, &documents)?;
    Ok(iam_grammar::iam_grammar(&documents, &findings, &inputs.grammar_allowlist))
}

/// Check 3 on `functions`: what each one's code calls (read off its sources under `root`) and what
/// the platform calls with its role (read off the template) vs that role.
pub fn function_roles_check(root: &Path, inputs: &Inputs, functions: &[LambdaFunction]) -> anyhow::Result<CheckReport> {
    let mut needs: Vec<(String, String, String)> = Vec::new();
    let mut unknown = Vec::new();
    for function in functions {
        let Some((logical_id, role)) = function_code::function_and_role(&inputs.template, &function.code_key_parameter)
        else {
            unknown.push(format!(
                "{}: no AWS::Lambda::Function with Code.S3Key !Ref {} and Role !GetAtt <role>.Arn in the template",
                function.function, function.code_key_parameter
            ));
            continue;
        };
        let src = function_code::package_src(root, &function.package)?;
        let mut actions = function_code::code_actions(root, &src)
            .with_context(|| format!("cannot read the code of function {}", function.function))?;
        for (action, why) in function_code::platform_actions(&inputs.template, logical_id) {
            actions.entry(action).or_insert(why);
        }
        needs.extend(
            actions
                .into_iter()
                .map(|(action, why)| (role.to_string(), action, format!("{}: {why}", function.function))),
        );
    }
    let borrowed: Vec<(&str, &str, &str)> =
        needs.iter().map(|(r, a, w)| (r.as_str(), a.as_str(), w.as_str())).collect();
    let mut report = function_roles::function_roles(&inputs.template, &borrowed);
    report.compared = format!(
        "{} actions of {} functions (their code and the platform's calls) vs their roles",
        needs.len(),
        functions.len()
    );
    report.problems.extend(unknown);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use serde_json::json;

    use super::*;

    #[test]
    fn every_type_of_every_cloud_template_is_pinned() {
        let root = repo_root();
        let report = pinned_types(&cloud_templates(&root).expect("templates parse"), &Inputs::load_repo().permissions);
        assert!(report.problems.is_empty(), "{}", report.render());
    }

    #[test]
    fn a_type_missing_from_the_pinned_data_fails_and_says_how_to_refresh() {
        let template =
            json!({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}, "Pipe": {"Type": "AWS::Pipes::Pipe"}}});
        let report = pinned_types(&[("cloud/next.yaml".into(), template)], &Inputs::load_repo().permissions);
        expect![[r#"
            pinned handler data: 2 resource types in 1 templates vs 60 pinned types: 1 missing
              cloud/next.yaml: Pipe (AWS::Pipes::Pipe) is not in cloud/aws/cfn-resource-permissions.json; refresh it: python3 cloud/aws/refresh.py ../shared/aws/cfn-resource-permissions.json"#]]
        .assert_eq(&report.render());
    }
}
