//! Check 3, the functions' calls: every IAM action a function's code makes (health probes
//! included) is allowed by that function's execution role, through its inline policies or the
//! template's managed policies it attaches. The list of (role, action) pairs comes from the
//! adapters' tests (the call-counting interceptor's operation names mapped to IAM actions); this
//! module only compares. Resource scoping is not compared here: the operations carry no ARNs.

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

/// Check 3: `role_ops` pairs a role's logical id with an IAM action its function's code needs.
pub fn function_roles(template_doc: &Json, role_ops: &[(&str, &str)]) -> CheckReport {
    let empty = serde_json::Map::new();
    let resources = template_doc.get("Resources").and_then(Json::as_object).unwrap_or(&empty);
    let mut problems = Vec::new();
    let roles: BTreeSet<&str> = role_ops.iter().map(|(role, _)| *role).collect();
    let mut seen = BTreeSet::new();
    for (role, action) in role_ops {
        if !seen.insert((*role, policy::canonical(action))) {
            continue;
        }
        let kind = resources.get(*role).and_then(|r| r.get("Type")).and_then(Json::as_str);
        if kind != Some("AWS::IAM::Role") {
            problems.push(format!("{role}: no AWS::IAM::Role of that name in the template (needed for {action})"));
            continue;
        }
        let documents = role_documents(resources, role);
        let statements: Vec<Statement<'_>> =
            documents.iter().flat_map(|(origin, doc)| policy::statements(origin, doc)).collect();
        let denied = statements
            .iter()
            .any(|s| !s.allow && !s.has_condition && s.actions.iter().any(|p| policy::action_matches(p, action)));
        if policy::granting(&statements, action).is_empty() || denied {
            problems.push(format!("{role} (AWS::IAM::Role): does not allow {action}, which its function's code calls"));
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
    use crate::cloud::checks::files::Inputs;

    #[allow(clippy::needless_pass_by_value)] // expect![] builds the value at each call
    fn check(template: &Json, ops: &[(&str, &str)], expect: expect_test::Expect) {
        expect.assert_eq(&function_roles(template, ops).render());
    }

    const API_OPS: &[(&str, &str)] = &[
        ("ApiRole", "dynamodb:GetItem"),
        ("ApiRole", "dynamodb:Query"),
        ("ApiRole", "dynamodb:DescribeTable"),
        ("ApiRole", "s3:PutObject"),
        ("ApiRole", "elasticache:Connect"),
        ("ApiRole", "rds-db:connect"),
        ("ApiRole", "ec2:CreateNetworkInterface"),
        ("ActivityRole", "dynamodb:GetRecords"),
        ("ActivityRole", "sqs:SendMessage"),
        ("MigrateRole", "secretsmanager:GetSecretValue"),
    ];

    #[test]
    fn todays_roles_allow_what_the_code_calls() {
        check(
            &Inputs::load_repo().template,
            API_OPS,
            expect![[r#"function roles: 10 operations of 3 functions' code vs their roles: 0 missing"#]],
        );
    }

    #[test]
    fn a_role_without_describe_table_fails() {
        let mut template = Inputs::load_repo().template;
        let statements = template
            .pointer_mut("/Resources/ApiRole/Properties/Policies/0/PolicyDocument/Statement")
            .and_then(Json::as_array_mut)
            .expect("ApiRole has an inline policy");
        for statement in statements {
            if let Some(actions) = statement["Action"].as_array_mut() {
                actions.retain(|a| a != "dynamodb:DescribeTable");
            }
        }
        check(
            &template,
            &[("ApiRole", "dynamodb:DescribeTable"), ("ApiRole", "dynamodb:GetItem"), ("NoSuchRole", "s3:GetObject")],
            expect![[r#"
                function roles: 3 operations of 2 functions' code vs their roles: 2 missing
                  ApiRole (AWS::IAM::Role): does not allow dynamodb:DescribeTable, which its function's code calls
                  NoSuchRole: no AWS::IAM::Role of that name in the template (needed for s3:GetObject)"#]],
        );
    }
}
