//! The deployer policy files (`cloud/deployer-policies/NN-topic.json`) as documents: each an
//! identity policy in valid grammar, with explicit actions, that fits one IAM managed policy, and
//! Sids unique across the files. What they must allow is the handler permissions check's business.

use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

use super::consistency::is_wildcard_action;

/// IAM managed policies hold at most this many characters (whitespace not counted).
pub const MANAGED_POLICY_MAX_CHARS: usize = 6144;

fn actions(value: Option<&Json>) -> Vec<String> {
    super::policy::strings(value).into_iter().map(String::from).collect()
}

/// One deployer policy file is an identity policy in valid grammar, lists its actions explicitly
/// and fits into one IAM managed policy. What it must allow is check 1's business
/// (`cloud::checks::handlers`), from CloudFormation's handler data.
pub fn check_deployer_policy(file: &str, policy: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(doc) = policy.as_object() else {
        return vec![format!("{file}: not a JSON object")];
    };
    for key in doc.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            problems.push(format!("{file}: unexpected top-level key {key:?}"));
        }
    }
    if doc.get("Version").and_then(Json::as_str) != Some("2012-10-17") {
        problems.push(format!("{file}: Version must be \"2012-10-17\""));
    }
    let statements = match doc.get("Statement") {
        Some(Json::Array(s)) if !s.is_empty() => s.clone(),
        _ => {
            problems.push(format!("{file}: Statement must be a non-empty list"));
            Vec::new()
        }
    };
    let action_re = regex::Regex::new(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$").expect("valid regex");
    let mut sids = BTreeSet::new();
    for (index, statement) in statements.iter().enumerate() {
        let at = format!("{file}: statement {}", index + 1);
        let Some(statement) = statement.as_object() else {
            problems.push(format!("{at} is not an object"));
            continue;
        };
        for key in statement.keys() {
            if !matches!(
                key.as_str(),
                "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
            ) {
                problems.push(format!("{at}: key {key:?} does not belong in an identity policy statement"));
            }
        }
        if let Some(sid) = statement.get("Sid") {
            match sid.as_str() {
                Some(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) => {
                    if !sids.insert(s.to_string()) {
                        problems.push(format!("{at}: duplicate Sid {s}"));
                    }
                }
                _ => problems.push(format!("{at}: Sid must be alphanumeric")),
            }
        }
        let effect = statement.get("Effect").and_then(Json::as_str);
        if !matches!(effect, Some("Allow" | "Deny")) {
            problems.push(format!("{at}: Effect must be Allow or Deny"));
        }
        match (statement.get("Action"), statement.get("NotAction")) {
            (Some(_), Some(_)) | (None, None) => {
                problems.push(format!("{at}: needs exactly one of Action and NotAction"));
            }
            (_, Some(_)) => problems.push(format!("{at}: NotAction is not least privilege")),
            (Some(value), None) => {
                let list = actions(Some(value));
                if list.is_empty() || !string_or_strings(value) {
                    problems.push(format!("{at}: Action must be a string or a non-empty list of strings"));
                }
                for action in &list {
                    if !action_re.is_match(action) {
                        problems.push(format!("{at}: {action:?} is not a service:Action name"));
                    } else if is_wildcard_action(action) {
                        problems.push(format!("{at}: wildcard action {action:?}"));
                    }
                }
            }
        }
        match (statement.get("Resource"), statement.get("NotResource")) {
            (Some(value), None) if string_or_strings(value) => {}
            (Some(_), None) => problems.push(format!("{at}: Resource must be a string or a non-empty list of strings")),
            _ => problems.push(format!("{at}: needs Resource (and no NotResource)")),
        }
        if let Some(condition) = statement.get("Condition")
            && !condition.as_object().is_some_and(|c| c.values().all(Json::is_object))
        {
            problems.push(format!("{at}: Condition must map operators to {{key: value}} objects"));
        }
    }

    // Size: one managed policy per file.
    let chars = serde_json::to_string(policy).expect("serialisable").chars().filter(|c| !c.is_whitespace()).count();
    if chars > MANAGED_POLICY_MAX_CHARS {
        problems.push(format!(
            "{file}: {chars} characters; an IAM managed policy holds {MANAGED_POLICY_MAX_CHARS} (move statements into another file)"
        ));
    }
    problems
}

/// Every deployer policy file passes [`check_deployer_policy`], Sids are unique across the files
/// (they are attached together), and there is at least one file.
pub fn check_deployer_policies(policies: &[(String, Json)]) -> Vec<String> {
    let mut problems = Vec::new();
    if policies.is_empty() {
        problems.push("cloud/deployer-policies/ holds no policy file".to_string());
    }
    let mut sids = BTreeMap::new();
    for (file, policy) in policies {
        problems.extend(check_deployer_policy(file, policy));
        for statement in policy.get("Statement").and_then(Json::as_array).into_iter().flatten() {
            if let Some(sid) = statement.get("Sid").and_then(Json::as_str)
                && let Some(other) = sids.insert(sid.to_string(), file.clone())
                && other != *file
            {
                problems.push(format!("{file}: Sid {sid} is also used in {other}"));
            }
        }
    }
    problems
}

fn string_or_strings(value: &Json) -> bool {
    match value {
        Json::String(s) => !s.is_empty(),
        Json::Array(items) => !items.is_empty() && items.iter().all(|i| i.as_str().is_some_and(|s| !s.is_empty())),
        _ => false,
    }
}
