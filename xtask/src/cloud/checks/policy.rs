//! IAM policy documents as data: statements, their actions and resources, and IAM's matching rules
//! (actions case-insensitive with `*`/`?`, resources case-sensitive with `*`/`?`).

use serde_json::Value as Json;

/// One statement of a policy, with the file or resource it came from.
#[derive(Debug, Clone)]
pub struct Statement<'a> {
    /// Where the statement lives, e.g. `cloud/deployer-policies/10-stack.json` or `ApiRole`.
    pub origin: &'a str,
    pub sid: Option<&'a str>,
    pub allow: bool,
    pub actions: Vec<&'a str>,
    /// `Resource` entries as written (strings only; intrinsics are not resolved here).
    pub resources: Vec<&'a str>,
    pub has_condition: bool,
    pub raw: &'a Json,
}

/// The statements of a policy document (`Statement` as a list or a single object).
pub fn statements<'a>(origin: &'a str, document: &'a Json) -> Vec<Statement<'a>> {
    let list: Vec<&Json> = match document.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(one @ Json::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    list.into_iter()
        .filter(|s| s.is_object())
        .map(|raw| Statement {
            origin,
            sid: raw.get("Sid").and_then(Json::as_str),
            allow: raw.get("Effect").and_then(Json::as_str) == Some("Allow"),
            actions: strings(raw.get("Action")),
            resources: strings(raw.get("Resource")),
            has_condition: raw.get("Condition").is_some(),
            raw,
        })
        .collect()
}

/// A string or the strings of a list (anything else is skipped).
pub fn strings(value: Option<&Json>) -> Vec<&str> {
    match value {
        Some(Json::String(s)) => vec![s.as_str()],
        Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// IAM glob: `*` any run, `?` one character; `case_insensitive` for action names.
pub fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    fn go(p: &[u8], s: &[u8], ci: bool) -> bool {
        match (p.split_first(), s.split_first()) {
            (None, None) => true,
            (Some((b'*', rest)), _) => go(rest, s, ci) || (!s.is_empty() && go(p, &s[1..], ci)),
            (Some((b'?', rest)), Some((_, tail))) => go(rest, tail, ci),
            (Some((a, rest)), Some((b, tail))) => {
                (if ci { a.eq_ignore_ascii_case(b) } else { a == b }) && go(rest, tail, ci)
            }
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes(), case_insensitive)
}

pub fn action_matches(pattern: &str, action: &str) -> bool {
    glob(pattern, action, true)
}

/// Whether a statement's `Resource` patterns cover `arn`.
pub fn resource_matches(statement: &Statement<'_>, arn: &str) -> bool {
    statement.resources.iter().any(|pattern| glob(pattern, arn, false))
}

/// The Allow statements that grant `action` (conditions are not evaluated: a conditional grant counts).
pub fn granting<'s, 'a>(statements: &'s [Statement<'a>], action: &str) -> Vec<&'s Statement<'a>> {
    statements.iter().filter(|s| s.allow && s.actions.iter().any(|p| action_matches(p, action))).collect()
}

/// The service prefix of an action (`s3` of `s3:GetObject`), lowercased.
pub fn service(action: &str) -> String {
    action.split_once(':').map_or(action, |(s, _)| s).to_ascii_lowercase()
}

/// Canonical spelling for comparing and printing actions: lowercase service, verb as written.
pub fn canonical(action: &str) -> String {
    match action.split_once(':') {
        Some((s, verb)) => format!("{}:{verb}", s.to_ascii_lowercase()),
        None => action.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_iam() {
        assert!(action_matches("ec2:Describe*", "ec2:DescribeVpcs"));
        assert!(action_matches("EC2:describevpcs", "ec2:DescribeVpcs"));
        assert!(!action_matches("ec2:Describe*", "ec2:DeleteVpc"));
        assert!(glob("arn:aws:s3:::notes-app-*", "arn:aws:s3:::notes-app-dev-x", false));
        assert!(!glob("arn:aws:s3:::notes-app-*", "arn:aws:s3:::Notes-app-dev", false));
        assert!(glob("arn:aws:lambda:*:*:function:?otes*", "arn:aws:lambda:us-east-1:1:function:notes", false));
    }
}
