//! Check 4, key policies: KMS ignores an IAM grant that the key policy does not delegate, so every
//! action made on a customer-managed key must be allowed by that key's own policy:
//!
//! - the KMS actions of the key's own CloudFormation handlers, and of the handlers of every
//!   resource that references the key (aliases, tables, queues, RDS, ElastiCache, Lambda, ...;
//!   from the pinned handler data), delegated to the account (`arn:<partition>:iam::<account>:root`,
//!   so that IAM policies decide; a statement with a `kms:ViaService` condition counts for calls
//!   made through that service);
//! - the KMS actions that the template's IAM policies grant on the key (the function roles);
//! - what a service does with the key under its own principal ([`SERVICE_USE`]: CloudWatch Logs
//!   encrypts log groups as `logs.<region>.amazonaws.com`, CloudWatch publishes alarms to an
//!   encrypted topic as `cloudwatch.amazonaws.com`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::CheckReport;
use super::model::{self, Env};
use super::policy::{self, Statement};

pub const NAME: &str = "key policies";

/// KMS actions that take no key (authorized by IAM alone).
const NOT_ON_A_KEY: &[&str] = &[
    "kms:CreateKey",
    "kms:ListAliases",
    "kms:ListKeys",
    "kms:GenerateRandom",
    "kms:ListRetirableGrants",
    "kms:CreateCustomKeyStore",
    "kms:DescribeCustomKeyStores",
    "kms:ConnectCustomKeyStore",
    "kms:DisconnectCustomKeyStore",
    "kms:DeleteCustomKeyStore",
    "kms:UpdateCustomKeyStore",
];

/// Services that use a key under their own service principal: (resource type, property naming
/// the key, principal with `{region}`, actions the key policy must allow that principal).
/// CloudWatch publishes alarm notifications to an encrypted topic as `cloudwatch.amazonaws.com`.
pub const SERVICE_USE: &[(&str, &str, &str, &[&str])] = &[
    ("AWS::SNS::Topic", "KmsMasterKeyId", "cloudwatch.amazonaws.com", &["kms:Decrypt", "kms:GenerateDataKey"]),
    (
        "AWS::Logs::LogGroup",
        "KmsKeyId",
        "logs.{region}.amazonaws.com",
        &[
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:DescribeKey",
        ],
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    /// The account root (IAM-delegated callers); `Some(service)` when the call goes through that service.
    Account(Option<String>),
    Service(String),
}

fn key_actions(actions: &[&str]) -> impl Iterator<Item = String> {
    actions
        .iter()
        .filter(|a| policy::service(a) == "kms")
        .map(|a| policy::canonical(a))
        .filter(|a| !NOT_ON_A_KEY.iter().any(|n| n.eq_ignore_ascii_case(a)))
        .collect::<Vec<_>>()
        .into_iter()
}

/// Handler name → kms actions of that handler for `kind`.
fn handler_kms(data: &Json, kind: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for handler in ["create", "read", "update", "delete"] {
        let actions = policy::strings(data.pointer(&format!("/types/{kind}/handlers/{handler}")));
        out.extend(key_actions(&actions).map(|a| (handler, a)));
    }
    out
}

fn principals(statement: &Statement<'_>, field: &str) -> Vec<String> {
    match statement.raw.get("Principal") {
        Some(Json::String(s)) if s == "*" => vec!["*".into()],
        Some(Json::Object(map)) => policy::strings(map.get(field)).into_iter().map(String::from).collect(),
        _ => Vec::new(),
    }
}

fn via_services(statement: &Statement<'_>) -> Vec<String> {
    let Some(Json::Object(condition)) = statement.raw.get("Condition") else { return Vec::new() };
    condition
        .values()
        .filter_map(|c| c.get("kms:ViaService"))
        .flat_map(|v| policy::strings(Some(v)).into_iter().map(String::from).collect::<Vec<_>>())
        .collect()
}

fn delegates(statements: &[Statement<'_>], env: &Env, key_arn: &str, who: &Who, action: &str) -> bool {
    let root = format!("arn:{}:iam::{}:root", env.partition, env.account);
    statements.iter().any(|s| {
        s.allow
            && s.actions.iter().any(|p| policy::action_matches(p, action))
            && s.resources.iter().any(|r| *r == "*" || policy::glob(r, key_arn, false))
            && match who {
                Who::Account(via) => {
                    principals(s, "AWS").iter().any(|p| *p == root || *p == env.account || p == "*")
                        && (!s.has_condition
                            || via.as_ref().is_some_and(|v| via_services(s).iter().any(|c| policy::glob(c, v, false))))
                }
                Who::Service(service) => principals(s, "Service").iter().any(|p| p == service),
            }
    })
}

/// Check 4, on the template in long form with the pinned handler data.
pub fn key_policies(template_doc: &Json, data: &Json, env: &Env) -> CheckReport {
    let empty = serde_json::Map::new();
    let resources = template_doc.get("Resources").and_then(Json::as_object).unwrap_or(&empty);
    let kind_of = |r: &Json| r.get("Type").and_then(Json::as_str).unwrap_or_default().to_string();
    let keys: Vec<&String> = resources.iter().filter(|(_, r)| kind_of(r) == "AWS::KMS::Key").map(|(n, _)| n).collect();
    let mut problems = Vec::new();
    let mut needs_total = 0;
    let mut users = BTreeSet::new();
    for key in &keys {
        let key_arn = env.own_arns(key).into_iter().next().unwrap_or_default();
        let policy_doc = env.resolve_deep(resources[*key].pointer("/Properties/KeyPolicy").unwrap_or(&Json::Null));
        let statements = policy::statements(key, &policy_doc);
        // (who, action) → why: (resource, type, what it does).
        let mut needs: BTreeMap<(Who, String), Vec<Why>> = BTreeMap::new();
        let mut add = |who: Who, action: String, why: Why| {
            let slot = needs.entry((who, action)).or_default();
            if !slot.contains(&why) {
                slot.push(why);
            }
        };
        for (name, resource) in resources {
            let kind = kind_of(resource);
            let properties = resource.get("Properties").unwrap_or(&Json::Null);
            let mut refs = Vec::new();
            model::references(properties, &mut refs);
            let is_self = name == *key;
            if !is_self && !refs.iter().any(|r| r == *key) {
                continue;
            }
            users.insert(name.clone());
            let mut by_action: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            for (handler, action) in handler_kms(data, &kind) {
                by_action.entry(action).or_default().push(handler);
            }
            let via =
                (!is_self).then(|| format!("{}.{}.amazonaws.com", super::handlers::type_service(&kind), env.region));
            for (action, handlers) in by_action {
                add(Who::Account(via.clone()), action, (name.clone(), kind.clone(), handlers.join(", ")));
            }
            // IAM policies in the template that grant KMS actions on this key.
            let resolved = env.resolve_deep(properties);
            let mut documents = Vec::new();
            collect_policy_documents(&resolved, &mut documents);
            for document in &documents {
                for statement in policy::statements(name, document) {
                    let on_key = statement.resources.iter().any(|r| *r == key_arn || policy::glob(r, &key_arn, false));
                    if statement.allow && on_key && !is_self {
                        for action in key_actions(&statement.actions) {
                            add(Who::Account(None), action, (name.clone(), kind.clone(), "policy".into()));
                        }
                    }
                }
            }
            for (service_kind, property, principal, actions) in SERVICE_USE {
                let uses = properties.get(*property).is_some_and(|v| {
                    let mut r = Vec::new();
                    model::references(v, &mut r);
                    r.iter().any(|r| r == *key)
                });
                if kind == *service_kind && uses {
                    let service = principal.replace("{region}", &env.region);
                    for action in *actions {
                        add(
                            Who::Service(service.clone()),
                            action.to_string(),
                            (name.clone(), kind.clone(), "encryption".into()),
                        );
                    }
                }
            }
        }
        needs_total += needs.len();
        // Missing grants, one line per (principal, action): the account whatever the via service.
        let mut missing: BTreeMap<(Option<String>, String), Vec<Why>> = BTreeMap::new();
        for ((who, action), whys) in needs {
            if delegates(&statements, env, &key_arn, &who, &action) {
                continue;
            }
            let principal = match who {
                Who::Account(_) => None,
                Who::Service(service) => Some(service),
            };
            let slot = missing.entry((principal, action)).or_default();
            slot.extend(whys.into_iter().filter(|w| !slot.contains(w)).collect::<Vec<_>>());
        }
        for ((principal, action), whys) in missing {
            let why = describe(&whys);
            problems.push(match principal {
                None => format!("{key} (AWS::KMS::Key): key policy does not delegate {action} (needed by {why})"),
                Some(service) => {
                    format!("{key} (AWS::KMS::Key): key policy does not allow {action} to {service} (needed by {why})")
                }
            });
        }
    }
    CheckReport {
        name: NAME,
        compared: format!(
            "{needs_total} actions needed on {} keys by {} resources vs {} key policies",
            keys.len(),
            users.len(),
            keys.len()
        ),
        problems,
    }
}

/// Why an action is needed: (resource, its type, what it does: handlers, "policy", "encryption").
type Why = (String, String, String);

/// `A, B (T) create; C (U) policy`: resources grouped by type and purpose.
fn describe(whys: &[Why]) -> String {
    let mut groups: Vec<((&str, &str), Vec<&str>)> = Vec::new();
    for (name, kind, what) in whys {
        match groups.iter_mut().find(|(k, _)| *k == (kind.as_str(), what.as_str())) {
            Some((_, names)) => names.push(name),
            None => groups.push(((kind, what), vec![name])),
        }
    }
    groups
        .into_iter()
        .map(|((kind, what), names)| format!("{} ({kind}) {what}", names.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every IAM policy document under `value` (any object with a `Statement`).
pub fn collect_policy_documents<'a>(value: &'a Json, out: &mut Vec<&'a Json>) {
    match value {
        Json::Object(map) if map.contains_key("Statement") => out.push(value),
        Json::Object(map) => map.values().for_each(|v| collect_policy_documents(v, out)),
        Json::Array(items) => items.iter().for_each(|i| collect_policy_documents(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::cloud::checks::files::Inputs;

    #[allow(clippy::needless_pass_by_value)] // expect![] builds the value at each call
    fn check(edit: impl FnOnce(&mut Json), expect: expect_test::Expect) {
        let inputs = Inputs::load_repo();
        let mut template = inputs.template.clone();
        edit(&mut template);
        expect.assert_eq(&key_policies(&template, &inputs.permissions, &inputs.env).render());
    }

    fn drop_actions(template: &mut Json, key: &str, drop: &[&str]) {
        let statements = template
            .pointer_mut(&format!("/Resources/{key}/Properties/KeyPolicy/Statement"))
            .and_then(Json::as_array_mut)
            .expect("key policy");
        for statement in statements {
            if let Some(actions) = statement["Action"].as_array_mut() {
                actions.retain(|a| !drop.contains(&a.as_str().unwrap_or_default()));
            }
        }
    }

    #[test]
    fn todays_key_policies_delegate_everything_needed() {
        check(
            |_| {},
            expect!["key policies: 57 actions needed on 2 keys by 23 resources vs 2 key policies: 0 missing"],
        );
    }

    #[test]
    fn a_key_policy_without_alias_actions_fails() {
        check(
            |t| drop_actions(t, "DataKey", &["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]),
            expect![[r#"
                key policies: 57 actions needed on 2 keys by 23 resources vs 2 key policies: 3 missing
                  DataKey (AWS::KMS::Key): key policy does not delegate kms:CreateAlias (needed by DataKeyAlias (AWS::KMS::Alias) create)
                  DataKey (AWS::KMS::Key): key policy does not delegate kms:DeleteAlias (needed by DataKeyAlias (AWS::KMS::Alias) delete)
                  DataKey (AWS::KMS::Key): key policy does not delegate kms:UpdateAlias (needed by DataKeyAlias (AWS::KMS::Alias) update)"#]],
        );
    }

    #[test]
    fn a_logs_key_without_the_logs_service_fails() {
        check(
            |t| {
                t.pointer_mut("/Resources/LogsKey/Properties/KeyPolicy/Statement")
                    .and_then(Json::as_array_mut)
                    .expect("statements")
                    .retain(|s| s["Sid"] != "CloudWatchLogsOfThisAccountAndRegion");
                drop_actions(t, "DataKey", &["kms:CreateGrant"]);
            },
            expect![[r#"
                key policies: 57 actions needed on 2 keys by 23 resources vs 2 key policies: 7 missing
                  DataKey (AWS::KMS::Key): key policy does not delegate kms:CreateGrant (needed by NotesTable (AWS::DynamoDB::Table) create, update; Cache (AWS::ElastiCache::ReplicationGroup) create, update; ActivityFunction, ApiFunction, MigrateFunction (AWS::Lambda::Function) create, update; Database (AWS::RDS::DBInstance) create, update)
                  LogsKey (AWS::KMS::Key): key policy does not allow kms:Decrypt to logs.us-east-1.amazonaws.com (needed by ActivityLogGroup, ApiAccessLogGroup, ApiExecutionLogGroup, ApiLogGroup, DatabaseIamAuthErrorLogGroup, DatabasePostgresqlLogGroup, DatabaseUpgradeLogGroup, MigrateLogGroup (AWS::Logs::LogGroup) encryption)
                  LogsKey (AWS::KMS::Key): key policy does not allow kms:Encrypt to logs.us-east-1.amazonaws.com (needed by ActivityLogGroup, ApiAccessLogGroup, ApiExecutionLogGroup, ApiLogGroup, DatabaseIamAuthErrorLogGroup, DatabasePostgresqlLogGroup, DatabaseUpgradeLogGroup, MigrateLogGroup (AWS::Logs::LogGroup) encryption)
                  LogsKey (AWS::KMS::Key): key policy does not allow kms:GenerateDataKey to logs.us-east-1.amazonaws.com (needed by ActivityLogGroup, ApiAccessLogGroup, ApiExecutionLogGroup, ApiLogGroup, DatabaseIamAuthErrorLogGroup, DatabasePostgresqlLogGroup, DatabaseUpgradeLogGroup, MigrateLogGroup (AWS::Logs::LogGroup) encryption)
                  LogsKey (AWS::KMS::Key): key policy does not allow kms:GenerateDataKeyWithoutPlaintext to logs.us-east-1.amazonaws.com (needed by ActivityLogGroup, ApiAccessLogGroup, ApiExecutionLogGroup, ApiLogGroup, DatabaseIamAuthErrorLogGroup, DatabasePostgresqlLogGroup, DatabaseUpgradeLogGroup, MigrateLogGroup (AWS::Logs::LogGroup) encryption)
                  LogsKey (AWS::KMS::Key): key policy does not allow kms:ReEncryptFrom to logs.us-east-1.amazonaws.com (needed by ActivityLogGroup, ApiAccessLogGroup, ApiExecutionLogGroup, ApiLogGroup, DatabaseIamAuthErrorLogGroup, DatabasePostgresqlLogGroup, DatabaseUpgradeLogGroup, MigrateLogGroup (AWS::Logs::LogGroup) encryption)
                  LogsKey (AWS::KMS::Key): key policy does not allow kms:ReEncryptTo to logs.us-east-1.amazonaws.com (needed by ActivityLogGroup, ApiAccessLogGroup, ApiExecutionLogGroup, ApiLogGroup, DatabaseIamAuthErrorLogGroup, DatabasePostgresqlLogGroup, DatabaseUpgradeLogGroup, MigrateLogGroup (AWS::Logs::LogGroup) encryption)"#]],
        );
    }

    #[test]
    fn a_data_key_that_cloudwatch_cannot_use_fails_for_the_alarm_topic() {
        check(
            |t| {
                t.pointer_mut("/Resources/DataKey/Properties/KeyPolicy/Statement")
                    .and_then(Json::as_array_mut)
                    .expect("statements")
                    .retain(|s| s["Sid"] != "CloudWatchAlarmsPublishToTheEncryptedTopic");
            },
            expect![[r#"
                key policies: 57 actions needed on 2 keys by 23 resources vs 2 key policies: 2 missing
                  DataKey (AWS::KMS::Key): key policy does not allow kms:Decrypt to cloudwatch.amazonaws.com (needed by AlarmTopic (AWS::SNS::Topic) encryption)
                  DataKey (AWS::KMS::Key): key policy does not allow kms:GenerateDataKey to cloudwatch.amazonaws.com (needed by AlarmTopic (AWS::SNS::Topic) encryption)"#]],
        );
    }
}
