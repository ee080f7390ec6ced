//! Check 5, policy grammar and semantics against a maintained IAM database: parliament (pinned in
//! `xtask/python-tools.txt`, run from the tools venv) on every deployer policy file and on every
//! policy document of the template (role and managed policies, key, bucket, queue and endpoint
//! policies, trust policies), with intrinsics resolved to plausible ARNs first ([`Env`]).
//!
//! Reported: unknown services and actions, resources of a type an action does not take, unknown or
//! mistyped condition keys and operators, malformed statements. Not reported: parliament's
//! advisories (`RESOURCE_STAR`, privilege-escalation hints), which are design choices here. A
//! finding that is accepted goes into `cloud/aws/iam-grammar-allowlist.json` with a reason.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::Context;
use serde_json::{Value as Json, json};

use super::CheckReport;
use super::key_policies::collect_policy_documents;
use super::model::Env;
use crate::tools::Tools;

pub const NAME: &str = "policy grammar (parliament)";

/// parliament's findings that this check reports.
const REPORTED: &[&str] = &[
    "EXCEPTION",
    "MALFORMED_JSON",
    "MALFORMED",
    "UNKNOWN_PRINCIPAL",
    "UNKNOWN_FEDERATION_SOURCE",
    "MISMATCHED_TYPE_OPERATION_TO_NULL",
    "MISMATCHED_TYPE",
    "UNKNOWN_ACTION",
    "UNKNOWN_PREFIX",
    "UNKNOWN_CONDITION_FOR_ACTION",
    "INVALID_ARN",
    "INVALID_VERSION",
    "RESOURCE_MISMATCH",
    "UNKNOWN_OPERATOR",
];

const SCRIPT: &str = include_str!("iam_grammar.py");

/// Every policy document to analyze: the deployer policy files as they are, and the template's
/// documents resolved (origin "Resource (Type) Property"). Trust policies get `Resource: "*"`,
/// which IAM implies there, so that parliament reads them.
pub fn documents(template_doc: &Json, deployer_policies: &[(String, Json)], env: &Env) -> Vec<(String, Json)> {
    let mut out: Vec<(String, Json)> = deployer_policies.to_vec();
    let empty = serde_json::Map::new();
    for (name, resource) in template_doc.get("Resources").and_then(Json::as_object).unwrap_or(&empty) {
        let kind = resource.get("Type").and_then(Json::as_str).unwrap_or_default();
        let Some(Json::Object(properties)) = resource.get("Properties") else { continue };
        for (property, value) in properties {
            let resolved = env.resolve_deep(value);
            let mut found = Vec::new();
            collect_policy_documents(&resolved, &mut found);
            for (index, document) in found.into_iter().enumerate() {
                let mut document = document.clone();
                if property == "AssumeRolePolicyDocument"
                    && let Some(statements) = document.get_mut("Statement").and_then(Json::as_array_mut)
                {
                    for statement in statements.iter_mut().filter(|s| s.get("Resource").is_none()) {
                        statement["Resource"] = json!("*");
                    }
                }
                let suffix = if index == 0 { String::new() } else { format!("[{index}]") };
                out.push((format!("{name} ({kind}) {property}{suffix}"), document));
            }
        }
    }
    out
}

/// Runs the pinned parliament on `documents`; returns its findings as JSON (see iam_grammar.py).
pub fn run_parliament(tools: &Tools, documents: &[(String, Json)]) -> anyhow::Result<Json> {
    let input: Vec<Json> = documents.iter().map(|(origin, doc)| json!({"origin": origin, "document": doc})).collect();
    let mut child = Command::new(tools.bin("python"))
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start parliament from the tools venv")?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(serde_json::to_string(&input)?.as_bytes())
        .context("cannot send policies to parliament")?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!("parliament failed ({}): {}", output.status, stderr.lines().last().unwrap_or("no output"));
    }
    serde_json::from_slice(&output.stdout).context("parliament's output is not JSON")
}

/// Check 5 on parliament's `findings` for `documents`, less the allowlisted ones.
pub fn iam_grammar(documents: &[(String, Json)], findings: &Json, allowlist: &Json) -> CheckReport {
    let entries: Vec<&Json> = allowlist.get("entries").and_then(Json::as_array).into_iter().flatten().collect();
    let mut used = vec![false; entries.len()];
    let mut problems = Vec::new();
    let mut accepted = 0;
    for finding in findings.as_array().into_iter().flatten() {
        let field = |k: &str| finding.get(k).and_then(Json::as_str).unwrap_or_default();
        if !REPORTED.contains(&field("issue")) {
            continue;
        }
        let line =
            format!("{} statement {}: {} {}", field("origin"), field("statement"), field("issue"), field("detail"));
        let allowed = entries.iter().position(|e| {
            e.get("issue").and_then(Json::as_str) == Some(field("issue"))
                && e.get("match").and_then(Json::as_str).is_some_and(|m| line.contains(m))
        });
        match allowed {
            Some(index) => {
                used[index] = true;
                accepted += 1;
            }
            None => problems.push(line),
        }
    }
    for (index, entry) in entries.iter().enumerate() {
        let at = format!("iam-grammar-allowlist.json entry {}", index + 1);
        if entry.get("reason").and_then(Json::as_str).is_none_or(|r| r.trim().is_empty()) {
            problems.push(format!("{at}: has no reason"));
        }
        if !used[index] {
            problems.push(format!("{at}: matches no finding (stale entry)"));
        }
    }
    let statements: usize = documents
        .iter()
        .map(|(_, d)| match d.get("Statement") {
            Some(Json::Array(items)) => items.len(),
            Some(_) => 1,
            None => 0,
        })
        .sum();
    CheckReport {
        name: NAME,
        compared: format!(
            "{} policy documents, {statements} statements vs parliament's IAM database ({accepted} findings accepted)",
            documents.len()
        ),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::cloud::checks::files::Inputs;

    #[allow(clippy::needless_pass_by_value)] // built per call, like expect![]
    fn check(findings: Json, allowlist: Json, expect: expect_test::Expect) {
        let documents = vec![("a.json".to_string(), json!({"Statement": [{}, {}]}))];
        expect.assert_eq(&iam_grammar(&documents, &findings, &allowlist).render());
    }

    #[test]
    fn findings_become_problems_unless_accepted() {
        check(
            json!([
                {"origin": "cloud/deployer-policies/50-data.json", "statement": "DynamoDb", "issue": "RESOURCE_MISMATCH",
                 "detail": "[{\"action\": \"dynamodb:ListStreams\", \"required_format\": \"*\"}]"},
                {"origin": "a.json", "statement": "X", "issue": "UNKNOWN_ACTION", "detail": "Unknown action s3:GetObjekt"},
                {"origin": "a.json", "statement": "Y", "issue": "RESOURCE_STAR", "detail": "advisory"},
                {"origin": "a.json", "statement": "Z", "issue": "UNKNOWN_ACTION", "detail": "Unknown action cloudfront:CreateDistributionWithTags"}
            ]),
            json!({"entries": [
                {"issue": "UNKNOWN_ACTION", "match": "cloudfront:CreateDistributionWithTags", "reason": "in the handler schema"},
                {"issue": "UNKNOWN_ACTION", "match": "nothing"}
            ]}),
            expect![[r#"
                policy grammar (parliament): 1 policy documents, 2 statements vs parliament's IAM database (1 findings accepted): 4 missing
                  cloud/deployer-policies/50-data.json statement DynamoDb: RESOURCE_MISMATCH [{"action": "dynamodb:ListStreams", "required_format": "*"}]
                  a.json statement X: UNKNOWN_ACTION Unknown action s3:GetObjekt
                  iam-grammar-allowlist.json entry 2: has no reason
                  iam-grammar-allowlist.json entry 2: matches no finding (stale entry)"#]],
        );
    }

    /// The real parliament on today's files and on today's defect, when the pinned venv exists
    /// (`cargo xtask lint` or `cargo xtask test` creates it); otherwise there is nothing to run.
    #[test]
    fn pinned_parliament_passes_todays_files_and_flags_a_list_streams_on_a_table() {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| crate::cloud::checks::files::repo_root().join("target"), std::path::PathBuf::from);
        let tools = Tools { venv: target.join("tools/venv") };
        if !tools.bin("python").exists() || !tools.venv.join("pins.sha256").exists() {
            eprintln!("no tools venv at {}: parliament not run", tools.venv.display());
            return;
        }
        let inputs = Inputs::load_repo();
        let documents = documents(&inputs.template, &inputs.deployer_policies, &inputs.env);
        let findings = run_parliament(&tools, &documents).expect("parliament runs");
        let report = iam_grammar(&documents, &findings, &inputs.grammar_allowlist);
        assert!(report.problems.is_empty(), "{}", report.render());

        let broken = vec![(
            "deployer.json".to_string(),
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Streams", "Effect": "Allow", "Action": ["dynamodb:ListStreams"],
                 "Resource": "arn:aws:dynamodb:*:*:table/notes-app-*"},
                {"Sid": "Typo", "Effect": "Allow", "Action": ["s3:GetObjekt"], "Resource": "*"}]}),
        )];
        let findings = run_parliament(&tools, &broken).expect("parliament runs");
        expect![[r#"
            policy grammar (parliament): 1 policy documents, 2 statements vs parliament's IAM database (0 findings accepted): 2 missing
              deployer.json statement Streams: RESOURCE_MISMATCH [{"action": "dynamodb:ListStreams", "required_format": "*"}]
              deployer.json statement Typo: UNKNOWN_ACTION Unknown action s3:GetObjekt"#]]
        .assert_eq(&iam_grammar(&broken, &findings, &json!({})).render());
    }

    #[test]
    fn template_documents_are_resolved_and_named() {
        let inputs = Inputs::load_repo();
        let docs = documents(&inputs.template, &[], &inputs.env);
        let names: Vec<&str> = docs.iter().map(|(n, _)| n.as_str()).filter(|n| n.starts_with("Api")).collect();
        expect![[r#"ApiGatewayCloudWatchRole (AWS::IAM::Role) AssumeRolePolicyDocument, ApiRole (AWS::IAM::Role) AssumeRolePolicyDocument, ApiRole (AWS::IAM::Role) Policies"#]]
            .assert_eq(&names.join(", "));
        let api = &docs.iter().find(|(n, _)| n == "ApiRole (AWS::IAM::Role) Policies").expect("api policy").1;
        assert_eq!(
            api.pointer("/Statement/0/Resource"),
            Some(&json!("arn:aws:logs:us-east-1:123456789012:log-group:/notes/notes-app-dev/lambda/api:*"))
        );
    }
}
