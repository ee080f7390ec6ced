//! Check 1, handler permissions: for every resource of the template, the IAM actions that
//! CloudFormation's create, read, update and delete handlers of its type call (and the tag
//! permissions of a type tagged on create), from the pinned `cloud/aws/cfn-resource-permissions.json`,
//! against the deployer policies: each action allowed, and, for the type's own service, allowed on
//! the resource's own ARN. Actions for features the template does not use are in
//! `cloud/aws/handler-allowlist.json`, each with a reason; an entry that names a property in
//! `when_absent` stops applying to a resource that sets it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::CheckReport;
use super::model::Env;
use super::policy::{self, Statement};

pub const NAME: &str = "handler permissions";
const HANDLERS: &[&str] = &["create", "read", "update", "delete"];
pub const REFRESH: &str = "python3 cloud/aws/refresh.py ../shared/aws/cfn-resource-permissions.json";

/// The service prefix of a resource type's own actions (`AWS::Cognito::UserPool` → `cognito-idp`).
pub fn type_service(kind: &str) -> String {
    let service = kind.split("::").nth(1).unwrap_or_default().to_ascii_lowercase();
    match service.as_str() {
        "cognito" => "cognito-idp".into(),
        "elasticloadbalancingv2" => "elasticloadbalancing".into(),
        _ => service,
    }
}

/// What the handlers of `kind` need: action → the handlers (and "tagging") that call it.
pub fn needed_actions(data: &Json, kind: &str) -> Option<BTreeMap<String, BTreeSet<&'static str>>> {
    let entry = data.get("types")?.get(kind)?;
    let mut needed: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for handler in HANDLERS {
        for action in policy::strings(entry.pointer(&format!("/handlers/{handler}"))) {
            needed.entry(policy::canonical(action)).or_default().insert(handler);
        }
    }
    let tagging = &entry["tagging"];
    if tagging["taggable"] == Json::Bool(true) && tagging["tagOnCreate"] == Json::Bool(true) {
        for action in policy::strings(tagging.get("permissions")) {
            needed.entry(policy::canonical(action)).or_default().insert("tagging");
        }
    }
    Some(needed)
}

struct Allowed<'a> {
    kind: &'a str,
    actions: Vec<&'a str>,
    when_absent: Vec<&'a str>,
}

/// The allowlist's entries, and one problem per malformed or stale entry.
fn allowlist<'a>(allowlist: &'a Json, data: &Json) -> (Vec<Allowed<'a>>, Vec<String>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (index, entry) in allowlist.get("entries").and_then(Json::as_array).into_iter().flatten().enumerate() {
        let kind = entry.get("type").and_then(Json::as_str).unwrap_or_default();
        let actions = policy::strings(entry.get("actions"));
        let at = format!("handler-allowlist.json entry {} ({kind})", index + 1);
        if entry.get("reason").and_then(Json::as_str).is_none_or(|r| r.trim().is_empty()) {
            problems.push(format!("{at}: has no reason"));
        }
        match needed_actions(data, kind) {
            None => problems.push(format!("{at}: {kind} is not in cloud/aws/cfn-resource-permissions.json")),
            Some(needed) => {
                for action in &actions {
                    if !needed.contains_key(&policy::canonical(action)) {
                        problems.push(format!("{at}: {action} is not called by any {kind} handler (stale entry)"));
                    }
                }
            }
        }
        entries.push(Allowed { kind, actions, when_absent: policy::strings(entry.get("when_absent")) });
    }
    (entries, problems)
}

fn is_allowlisted(entries: &[Allowed<'_>], kind: &str, properties: &Json, action: &str) -> bool {
    entries.iter().any(|e| {
        e.kind == kind
            && e.actions.iter().any(|a| a.eq_ignore_ascii_case(action))
            && !e
                .when_absent
                .iter()
                .any(|p| if p.starts_with('/') { properties.pointer(p).is_some() } else { properties.get(p).is_some() })
    })
}

/// Resources lacking an action, and the handlers that call it.
type Missing = (Vec<String>, BTreeSet<&'static str>);

/// Check 1. `policies` are the deployer policy files (name, document).
pub fn handler_permissions(
    template_doc: &Json,
    policies: &[(String, Json)],
    data: &Json,
    allowlist_doc: &Json,
    env: &Env,
) -> CheckReport {
    let statements: Vec<Statement<'_>> =
        policies.iter().flat_map(|(name, doc)| policy::statements(name, doc)).collect();
    let (entries, mut problems) = allowlist(allowlist_doc, data);
    let resources = template_doc.get("Resources").and_then(Json::as_object).cloned().unwrap_or_default();

    // (type, action) → resources that lack it, and the handlers that call it.
    let mut missing: BTreeMap<(String, String), Missing> = BTreeMap::new();
    let mut scoping = Vec::new();
    let mut kinds = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    let mut allowlisted = BTreeSet::new();
    for (logical, decl) in &resources {
        let kind = decl.get("Type").and_then(Json::as_str).unwrap_or_default();
        if !kind.starts_with("AWS::") {
            continue;
        }
        kinds.insert(kind.to_string());
        let Some(needed) = needed_actions(data, kind) else {
            problems.push(format!(
                "{logical} ({kind}): the type is not in cloud/aws/cfn-resource-permissions.json; refresh it: {REFRESH}"
            ));
            continue;
        };
        let properties = decl.get("Properties").cloned().unwrap_or(Json::Null);
        let own_arns = env.own_arns(logical);
        for (action, handlers) in &needed {
            pairs.insert((kind.to_string(), action.clone()));
            let granting = policy::granting(&statements, action);
            if is_allowlisted(&entries, kind, &properties, action) {
                if !granting.is_empty() && allowlisted.insert((kind.to_string(), action.clone())) {
                    problems.push(format!(
                        "handler-allowlist.json: {action} ({kind}) is allowlisted but a deployer policy allows it; remove the entry"
                    ));
                }
                allowlisted.insert((kind.to_string(), action.clone()));
                continue;
            }
            if granting.is_empty() {
                let slot = missing.entry((kind.to_string(), action.clone())).or_default();
                slot.0.push(logical.clone());
                slot.1.extend(handlers.iter().copied());
                continue;
            }
            if policy::service(action) != type_service(kind) {
                continue;
            }
            for arn in own_arns.iter().map(|arn| authorized_on(kind, action, arn, &properties, env)) {
                if !granting.iter().any(|s| policy::resource_matches(s, &arn)) {
                    let on: BTreeSet<&str> = granting.iter().flat_map(|s| s.resources.iter().copied()).collect();
                    scoping.push(format!(
                        "{logical} ({kind}): {action} is allowed only on {}, not on {arn} ({})",
                        on.into_iter().collect::<Vec<_>>().join(", "),
                        describe(handlers)
                    ));
                }
            }
        }
    }
    for ((kind, action), (logicals, handlers)) in missing {
        problems.push(format!(
            "{} ({kind}): no deployer policy allows {action} ({})",
            logicals.join(", "),
            describe(&handlers)
        ));
    }
    problems.extend(scoping);
    CheckReport {
        name: NAME,
        compared: format!(
            "{} resource types, {} handler actions ({} allowlisted) vs {} deployer policies",
            kinds.len(),
            pairs.len(),
            allowlisted.len(),
            policies.len()
        ),
        problems,
    }
}

/// The ARN an action on a resource is authorized on: S3 object actions on an object of the bucket,
/// a deployment group's GetDeploymentConfig on the deployment configuration it names.
fn authorized_on(kind: &str, action: &str, arn: &str, properties: &Json, env: &Env) -> String {
    let verb = action.split_once(':').map_or("", |(_, v)| v);
    if kind == "AWS::S3::Bucket" && (verb.contains("Object") || verb.contains("MultipartUpload")) {
        format!("{arn}/example-key")
    } else if kind == "AWS::CodeDeploy::DeploymentGroup" && verb == "GetDeploymentConfig" {
        let config = properties
            .get("DeploymentConfigName")
            .and_then(|c| env.resolve(c))
            .unwrap_or_else(|| "CodeDeployDefault.OneAtATime".into());
        format!("arn:{}:codedeploy:{}:{}:deploymentconfig:{config}", env.partition, env.region, env.account)
    } else {
        arn.to_string()
    }
}

fn describe(handlers: &BTreeSet<&str>) -> String {
    let calls: Vec<&str> = HANDLERS.iter().copied().filter(|h| handlers.contains(h)).collect();
    let mut out = match calls.len() {
        0 => String::new(),
        1 => format!("{} handler", calls[0]),
        _ => format!("{} handlers", calls.join(", ")),
    };
    if handlers.contains("tagging") {
        out.push_str(if out.is_empty() { "tag on create" } else { "; tag on create" });
    }
    out
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use serde_json::json;

    use super::*;
    use crate::cloud::checks::files::Inputs;

    /// Today's files with `edit` applied to the deployer policy documents.
    #[allow(clippy::needless_pass_by_value)] // expect![] builds the value at each call
    fn check(edit: impl FnOnce(&mut Vec<(String, Json)>), expect: expect_test::Expect) {
        let inputs = Inputs::load_repo();
        let mut policies = inputs.deployer_policies.clone();
        edit(&mut policies);
        let report = handler_permissions(
            &inputs.template,
            &policies,
            &inputs.permissions,
            &inputs.handler_allowlist,
            &inputs.env,
        );
        expect.assert_eq(&report.problems.join("\n"));
    }

    fn remove_action(policies: &mut [(String, Json)], action: &str) {
        for (_, doc) in policies.iter_mut() {
            for statement in doc["Statement"].as_array_mut().into_iter().flatten() {
                if let Some(list) = statement["Action"].as_array_mut() {
                    list.retain(|a| a != action);
                }
            }
        }
    }

    #[test]
    fn todays_files_pass() {
        check(|_| {}, expect![""]);
    }

    #[test]
    fn a_policy_without_describe_network_acls_fails() {
        check(
            |p| remove_action(p, "ec2:DescribeNetworkAcls"),
            expect![[r#"
                PrivateSubnet1, PrivateSubnet2, PublicSubnet1, PublicSubnet2 (AWS::EC2::Subnet): no deployer policy allows ec2:DescribeNetworkAcls (read handler)
                Vpc (AWS::EC2::VPC): no deployer policy allows ec2:DescribeNetworkAcls (read handler)"#]],
        );
    }

    #[test]
    fn event_source_mapping_tagging_scoped_to_function_arns_only_fails() {
        check(
            |p| {
                for (_, doc) in p.iter_mut() {
                    doc["Statement"]
                        .as_array_mut()
                        .expect("list")
                        .retain(|s| s["Sid"] != "LambdaEventSourceMappingTags");
                }
            },
            expect![[r#"
                ActivityStreamMapping (AWS::Lambda::EventSourceMapping): lambda:ListTags is allowed only on arn:aws:lambda:*:*:function:notes-app-*, not on arn:aws:lambda:us-east-1:123456789012:event-source-mapping:a1b2c3d4-5678-90ab-cdef-11111EXAMPLE (read handler; tag on create)
                ActivityStreamMapping (AWS::Lambda::EventSourceMapping): lambda:TagResource is allowed only on arn:aws:lambda:*:*:function:notes-app-*, not on arn:aws:lambda:us-east-1:123456789012:event-source-mapping:a1b2c3d4-5678-90ab-cdef-11111EXAMPLE (create, update handlers; tag on create)
                ActivityStreamMapping (AWS::Lambda::EventSourceMapping): lambda:UntagResource is allowed only on arn:aws:lambda:*:*:function:notes-app-*, not on arn:aws:lambda:us-east-1:123456789012:event-source-mapping:a1b2c3d4-5678-90ab-cdef-11111EXAMPLE (update handler; tag on create)"#]],
        );
    }

    #[test]
    fn an_unknown_type_and_stale_allowlist_entries_fail() {
        let inputs = Inputs::load_repo();
        let doc = json!({"Resources": {"Topic": {"Type": "AWS::SNS::Queue"}}});
        let allow = json!({"entries": [
            {"type": "AWS::SQS::Queue", "actions": ["sqs:PurgeQueue"], "reason": "x"},
            {"type": "AWS::SQS::Queue", "actions": ["sqs:TagQueue"]}
        ]});
        let report = handler_permissions(&doc, &inputs.deployer_policies, &inputs.permissions, &allow, &inputs.env);
        expect![[r#"
            handler permissions: 1 resource types, 0 handler actions (0 allowlisted) vs 5 deployer policies: 3 missing
              handler-allowlist.json entry 1 (AWS::SQS::Queue): sqs:PurgeQueue is not called by any AWS::SQS::Queue handler (stale entry)
              handler-allowlist.json entry 2 (AWS::SQS::Queue): has no reason
              Topic (AWS::SNS::Queue): the type is not in cloud/aws/cfn-resource-permissions.json; refresh it: python3 cloud/aws/refresh.py ../shared/aws/cfn-resource-permissions.json"#]]
        .assert_eq(&report.render());
    }
}
