//! Check 3, the functions' calls: every IAM action a function's code makes (health probes
//! included), and every action the platform makes with its role (logs, ENIs, traces, its event
//! source), is allowed by that function's execution role, through its inline policies or the
//! template's managed policies it attaches. The needs are read off the code and the template by
//! [`super::function_code`]; this module only compares. Resource scoping is not compared here: the
//! code names no ARNs.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::CheckReport;
use super::policy::{self, Statement};

pub const NAME: &str = "function roles";

/// The policy documents a role grants: its inline `Policies` and the `PolicyDocument` of every
/// template `AWS::IAM::ManagedPolicy` it lists in `ManagedPolicyArns` (AWS-managed ones are not
/// known here and grant nothing in this comparison).
fn role_documents<'a>(resources: &'a serde_json::Map<String, Json>, role: &str) -> Vec<(String, &'a Json)> {
    let Some(properties) = resources.get(role).and_then(|r| r.get("Properties")) else { return Vec::new() };
    let mut documents = Vec::new();
    for inline in properties.get("Policies").and_then(Json::as_array).into_iter().flatten() {
        if let Some(doc) = inline.get("PolicyDocument") {
            let name = inline.get("PolicyName").and_then(Json::as_str).unwrap_or("?");
            documents.push((format!("{role} policy {name}"), doc));
        }
    }
    for arn in properties.get("ManagedPolicyArns").and_then(Json::as_array).into_iter().flatten() {
        let Some(name) = arn.get("Ref").and_then(Json::as_str) else { continue };
        if let Some(doc) = resources.get(name).and_then(|r| r.pointer("/Properties/PolicyDocument")) {
            documents.push((name.to_string(), doc));
        }
    }
    documents
}

/// Check 3: each `(role, action, why)` is a role's logical id, an IAM action its function needs and
/// where the need comes from (a source file, or the template setting that makes the platform call).
pub fn function_roles(template_doc: &Json, role_ops: &[(&str, &str, &str)]) -> CheckReport {
    let empty = serde_json::Map::new();
    let resources = template_doc.get("Resources").and_then(Json::as_object).unwrap_or(&empty);
    let mut problems = Vec::new();
    let roles: BTreeSet<&str> = role_ops.iter().map(|(role, _, _)| *role).collect();
    let mut seen = BTreeSet::new();
    let mut missing_roles = BTreeSet::new();
    for (role, action, why) in role_ops {
        if !seen.insert((*role, policy::canonical(action))) {
            continue;
        }
        let kind = resources.get(*role).and_then(|r| r.get("Type")).and_then(Json::as_str);
        if kind != Some("AWS::IAM::Role") {
            if missing_roles.insert(*role) {
                let needed = role_ops.iter().filter(|(r, _, _)| r == role).count();
                problems.push(format!(
                    "{role}: no AWS::IAM::Role of that name in the template (it needs {needed} actions, {action} for {why})"
                ));
            }
            continue;
        }
        let documents = role_documents(resources, role);
        let statements: Vec<Statement<'_>> =
            documents.iter().flat_map(|(origin, doc)| policy::statements(origin, doc)).collect();
        let denied = statements
            .iter()
            .any(|s| !s.allow && !s.has_condition && s.actions.iter().any(|p| policy::action_matches(p, action)));
        if policy::granting(&statements, action).is_empty() || denied {
            problems
                .push(format!("{role} (AWS::IAM::Role): does not allow {action}, which its function needs ({why})"));
        }
    }
    CheckReport {
        name: NAME,
        compared: format!("{} operations of {} functions' code vs their roles", seen.len(), roles.len()),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::cloud::checks::files::{self, Inputs};

    /// Check 3 as lint runs it, on this checkout's functions and `template`.
    #[allow(clippy::needless_pass_by_value)] // expect![] builds the value at each call
    fn check(template: Json, expect: expect_test::Expect) {
        let root = files::repo_root();
        let functions = crate::compile::discover(&root).expect("the workspace's functions");
        let inputs = Inputs { template, ..Inputs::load_repo() };
        let report = files::function_roles_check(&root, &inputs, &functions).expect("the functions' code reads");
        expect.assert_eq(&report.render());
    }

    fn without_action(template: &mut Json, role: &str, action: &str) {
        let statements = template
            .pointer_mut(&format!("/Resources/{role}/Properties/Policies/0/PolicyDocument/Statement"))
            .and_then(Json::as_array_mut)
            .expect("the role has an inline policy");
        for statement in statements {
            match &mut statement["Action"] {
                Json::Array(actions) => actions.retain(|a| a != action),
                single if single == action => *single = Json::from("sts:GetCallerIdentity"),
                _ => {}
            }
        }
    }

    #[test]
    fn todays_roles_allow_what_the_functions_need() {
        check(
            Inputs::load_repo().template,
            expect![
                "function roles: 44 actions of 3 functions (their code and the platform's calls) vs their roles: 0 missing"
            ],
        );
    }

    #[test]
    fn a_role_without_describe_table_fails() {
        let mut template = Inputs::load_repo().template;
        without_action(&mut template, "ApiRole", "dynamodb:DescribeTable");
        check(
            template,
            expect![[r#"
                function roles: 44 actions of 3 functions (their code and the platform's calls) vs their roles: 1 missing
                  ApiRole (AWS::IAM::Role): does not allow dynamodb:DescribeTable, which its function needs (api: lambdas/core/src/dynamo.rs)"#]],
        );
    }

    #[test]
    fn a_stream_consumer_that_cannot_read_its_stream_fails() {
        let mut template = Inputs::load_repo().template;
        without_action(&mut template, "ActivityRole", "dynamodb:GetRecords");
        without_action(&mut template, "ActivityRole", "sqs:SendMessage");
        check(
            template,
            expect![[r#"
                function roles: 44 actions of 3 functions (their code and the platform's calls) vs their roles: 2 missing
                  ActivityRole (AWS::IAM::Role): does not allow dynamodb:GetRecords, which its function needs (activity: ActivityStreamMapping: reads a DynamoDB stream for ActivityFunction)
                  ActivityRole (AWS::IAM::Role): does not allow sqs:SendMessage, which its function needs (activity: ActivityStreamMapping: failure destination ActivityFailureQueue)"#]],
        );
    }

    #[test]
    fn a_function_without_a_role_in_the_template_fails() {
        let mut template = Inputs::load_repo().template;
        template["Resources"]["MigrateFunction"]["Properties"]["Role"] =
            serde_json::json!({"Fn::GetAtt": ["NoSuchRole", "Arn"]});
        check(
            template,
            expect![[r#"
            function roles: 44 actions of 3 functions (their code and the platform's calls) vs their roles: 1 missing
              NoSuchRole: no AWS::IAM::Role of that name in the template (it needs 9 actions, ec2:CreateNetworkInterface for migrate: MigrateFunction: VpcConfig (Lambda manages its network interfaces))"#]],
        );
    }
}
