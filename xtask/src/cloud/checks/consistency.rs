//! The template's own consistency checks: parameter declarations, the outputs the tool reads,
//! deletion policies of stateful resources, and no wildcard IAM actions. One line per problem.

use serde_json::{Map, Value as Json};

use crate::cloud::{StackOutputs, Template};

/// Resource types that hold data: each must state both `DeletionPolicy` and `UpdateReplacePolicy`.
pub const STATEFUL_TYPES: &[&str] = &[
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBCluster",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::CacheCluster",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::Cognito::UserPool",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::EFS::FileSystem",
];

/// Resource types whose `UpdateReplacePolicy` must be `Snapshot` (a replacement keeps the old
/// data) and whose `DeletionPolicy` must be `Delete`. Not `Snapshot`: CloudFormation asks the RDS
/// handler for a final snapshot on every delete under that policy, the rollback of a failed first
/// create included, which would leave a snapshot of an empty database behind; and not `Retain` or
/// `RetainExceptOnCreate`: a retained instance keeps the subnets, security group and subnet group
/// that the rest of the stack deletion needs gone. A deliberate teardown snapshots first (destroy).
pub const SNAPSHOT_TYPES: &[&str] = &["AWS::RDS::DBInstance", "AWS::RDS::DBCluster"];

/// Deletion-protection properties: each must follow the `ProtectFromDeletion` condition (the
/// `EnableDeletionProtection` parameter), which the deploy tool sets to `false` for the first
/// create so that a failed create can roll back.
pub const DELETION_PROTECTION: &[(&str, &str)] = &[
    ("AWS::RDS::DBInstance", "DeletionProtection"),
    ("AWS::RDS::DBCluster", "DeletionProtection"),
    ("AWS::DynamoDB::Table", "DeletionProtectionEnabled"),
    ("AWS::Cognito::UserPool", "DeletionProtection"),
];

/// Every Parameter has a Description and a constraint, and its Default (if any) meets it.
pub fn check_parameter_declarations(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, parameter) in &template.parameters {
        if parameter.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
            problems.push(format!("Parameter {name} has no Description"));
        }
        if !parameter.is_constrained() {
            problems.push(format!("Parameter {name} has no AllowedValues, AllowedPattern or length/value bounds"));
        }
        if let Some(default) = &parameter.default
            && let Err(why) = parameter.check(default)
        {
            problems.push(format!("Parameter {name}: Default {why}"));
        }
    }
    problems
}

/// Every output the tool reads ([`StackOutputs::names`]) exists and is unconditional.
pub fn check_outputs(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for name in StackOutputs::names() {
        match template.outputs.get(name) {
            None => problems.push(format!("Output {name} is missing (cargo xtask deploy and the site read it)")),
            Some(output) if output.get("Condition").is_some() => {
                problems.push(format!("Output {name} is conditional; the deploy tool needs it in every stack"));
            }
            Some(output) if output.get("Value").is_none() => problems.push(format!("Output {name} has no Value")),
            Some(_) => {}
        }
    }
    problems
}

/// Every stateful resource states both deletion policies. `DeletionPolicy: Retain` is refused
/// (`RetainExceptOnCreate` keeps the data just as well, and a failed first create then leaves
/// nothing behind); [`SNAPSHOT_TYPES`] are `Delete` + `UpdateReplacePolicy: Snapshot`.
pub fn check_deletion_policies(template: &Template) -> Vec<String> {
    const DELETION: &[&str] = &["Delete", "Retain", "RetainExceptOnCreate", "Snapshot"];
    const UPDATE_REPLACE: &[&str] = &["Delete", "Retain", "Snapshot"];
    let mut problems = Vec::new();
    for (name, resource) in &template.resources {
        if !STATEFUL_TYPES.contains(&resource.kind.as_str()) {
            continue;
        }
        let snapshot_type = SNAPSHOT_TYPES.contains(&resource.kind.as_str());
        for (key, policy, valid, want) in [
            ("DeletionPolicy", &resource.deletion_policy, DELETION, "Delete"),
            ("UpdateReplacePolicy", &resource.update_replace_policy, UPDATE_REPLACE, "Snapshot"),
        ] {
            match policy.as_deref() {
                None => problems.push(format!("{name} ({}) has no {key}", resource.kind)),
                Some(p) if !valid.contains(&p) => problems.push(format!("{name}: {key} {p:?} is not one of {valid:?}")),
                Some(p) if snapshot_type && p != want => {
                    problems.push(format!("{name} ({}): {key} is {p}, expected {want}", resource.kind));
                }
                Some("Retain") if key == "DeletionPolicy" => problems.push(format!(
                    "{name} ({}): DeletionPolicy is Retain; use RetainExceptOnCreate so that a failed first create leaves nothing behind",
                    resource.kind
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

/// Every deletion-protection property of [`DELETION_PROTECTION`] is set and follows the
/// `ProtectFromDeletion` condition, so that one parameter switches them all.
pub fn check_deletion_protection(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, resource) in &template.resources {
        for (kind, property) in DELETION_PROTECTION {
            if resource.kind != *kind {
                continue;
            }
            let follows = resource
                .properties
                .get(*property)
                .and_then(|v| v.get("Fn::If"))
                .and_then(|v| v.get(0))
                .and_then(Json::as_str)
                == Some("ProtectFromDeletion");
            if !follows {
                problems.push(format!(
                    "{name} ({kind}): {property} must be !If [ProtectFromDeletion, ...] (EnableDeletionProtection)"
                ));
            }
        }
    }
    problems
}

/// Every IAM policy statement (role policies, managed policies, key, bucket, queue and endpoint
/// policies) lists its actions: no `*`, no `service:*`, no `NotAction`.
pub fn check_no_wildcard_actions(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, resource) in &template.resources {
        for_each_statement(&resource.properties, &mut |statement| {
            let sid = statement.get("Sid").and_then(Json::as_str).unwrap_or("(no Sid)");
            if statement.get("NotAction").is_some() {
                problems.push(format!("{name}: statement {sid} uses NotAction"));
            }
            for action in actions(statement.get("Action")) {
                if is_wildcard_action(&action) {
                    problems.push(format!("{name}: statement {sid} allows the wildcard action {action:?}"));
                }
            }
        });
    }
    problems
}

/// `*` or `service:*`.
pub fn is_wildcard_action(action: &str) -> bool {
    action == "*" || action.split_once(':').is_some_and(|(_, verb)| verb == "*")
}

/// Calls `f` on every policy statement found anywhere under `value` (any `Statement` key).
pub fn for_each_statement(value: &Json, f: &mut dyn FnMut(&Map<String, Json>)) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                if key == "Statement" {
                    match child {
                        Json::Array(statements) => statements.iter().filter_map(Json::as_object).for_each(&mut *f),
                        Json::Object(statement) => f(statement),
                        _ => {}
                    }
                } else {
                    for_each_statement(child, f);
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|item| for_each_statement(item, f)),
        _ => {}
    }
}

/// The literal actions of an `Action` value (string or list); intrinsics are skipped.
pub fn actions(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(a)) => vec![a.clone()],
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).map(String::from).collect(),
        _ => Vec::new(),
    }
}
