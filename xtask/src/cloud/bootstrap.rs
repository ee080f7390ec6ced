//! `cloud/bootstrap.yaml` as CloudFormation receives it: the template with one
//! `AWS::IAM::ManagedPolicy` per deployer policy file (`cloud/deployer-policies/`, the documents
//! lint checks) attached to `DeployRole`. A policy document cannot be included from a file by
//! CloudFormation, and copying it into the template would let the two drift; the rendering is
//! deterministic, so a rerun of `bootstrap` submits the same body and stays read-only.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value as Json, json};

use super::Template;
use super::checks::files::{DEPLOYER_POLICY_DIR, load_deployer_policies};

pub const TEMPLATE_FILE: &str = "cloud/bootstrap.yaml";
/// Parameters the xtask passes.
pub const BUCKET_PARAMETER: &str = "ArtifactBucketName";
pub const REPOSITORY_PARAMETER: &str = "GitHubRepository";
pub const ENVIRONMENT_PARAMETER: &str = "GitHubEnvironment";
pub const CREATE_OIDC_PARAMETER: &str = "CreateOidcProvider";
/// Outputs.
pub const BUCKET_OUTPUT: &str = "ArtifactBucketName";
pub const ROLE_OUTPUT: &str = "DeployRoleArn";
/// The role the policies are attached to.
const ROLE: &str = "DeployRole";
/// The issuer GitHub Actions tokens come from (the provider's URL without its scheme).
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";

/// The bootstrap stack of a main stack. Not `<stack>-...`: the deployer policies grant stacks
/// named `notes-app-*`, and the deploy role must not be able to change its own bootstrap.
pub fn stack_name(stack: &str) -> String {
    format!("bootstrap-{stack}")
}

/// `10-stack-storage-edge.json` -> `DeployerPolicy10StackStorageEdge`.
fn logical_id(file: &str) -> String {
    let stem = file.rsplit('/').next().unwrap_or(file).trim_end_matches(".json");
    let mut id = String::from("DeployerPolicy");
    for part in stem.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        id.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        id.extend(chars);
    }
    id
}

/// The template at `root/cloud/bootstrap.yaml` with the deployer policies of `root` added.
pub fn render(root: &Path) -> anyhow::Result<Template> {
    let source = Template::load(&root.join(TEMPLATE_FILE), TEMPLATE_FILE)?;
    let policies = load_deployer_policies(&root.join(DEPLOYER_POLICY_DIR))?;
    let body = render_document(source.document, &policies)?;
    Template::parse(&body).context("the rendered bootstrap template does not parse")
}

/// Adds the policies to the long-form document; returns it as JSON text (what CloudFormation gets).
pub fn render_document(mut document: Json, policies: &[(String, Json)]) -> anyhow::Result<String> {
    let resources =
        document.get_mut("Resources").and_then(Json::as_object_mut).context("cloud/bootstrap.yaml has no Resources")?;
    let mut arns = Vec::new();
    for (file, policy) in policies {
        let id = logical_id(file);
        let description = format!("{file}, attached to the deploy role (cargo xtask bootstrap)");
        resources.insert(
            id.clone(),
            json!({
                "Type": "AWS::IAM::ManagedPolicy",
                "Metadata": policy_lint_metadata(),
                "Properties": { "Description": description, "PolicyDocument": policy },
            }),
        );
        arns.push(json!({ "Ref": id }));
    }
    let role = resources
        .get_mut(ROLE)
        .and_then(|r| r.get_mut("Properties"))
        .and_then(Json::as_object_mut)
        .with_context(|| format!("cloud/bootstrap.yaml has no {ROLE} with Properties"))?;
    role.insert("ManagedPolicyArns".into(), Json::Array(arns));
    Ok(serde_json::to_string_pretty(&document)? + "\n")
}

/// The documents are the deployer policy files, which lint checks against AWS's own data
/// (handler permissions, deployer calls, parliament); the generic scanners' verdicts on them are
/// suppressed here with the reason, as every suppression in `cloud/` is.
fn policy_lint_metadata() -> Json {
    json!({
        "checkov": { "skip": [{
            "id": "CKV_AWS_111",
            "comment": "Resource * only for actions IAM cannot scope (creates of resources with no ARN yet, account-level reads); each is required by a CloudFormation handler of cloud/stack.yaml or by the xtask (lint: handler permissions, deployer calls)",
        }]},
        "cfn-lint": { "config": { "ignore_checks": ["W3037"] } },
        "Comment": "W3037: cfn-lint's action list lags AWS's; parliament checks every action (accepted findings in cloud/aws/iam-grammar-allowlist.json)",
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn policy_files_become_logical_ids() {
        assert_eq!(
            super::logical_id("cloud/deployer-policies/10-stack-storage-edge.json"),
            "DeployerPolicy10StackStorageEdge"
        );
        assert_eq!(super::stack_name("notes-app-prod"), "bootstrap-notes-app-prod");
    }
}
