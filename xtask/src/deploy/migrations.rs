//! Phase 6: run the migration function after a create, or an update that touched it or the database.

use std::collections::BTreeMap;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::report::Ui;
use super::stack::Change;
use crate::calls::Clients;
use crate::errors::Refusal;

/// The SQL database the migrations apply to.
const DB_TYPES: &[&str] = &["AWS::RDS::DBInstance", "AWS::RDS::DBCluster"];

/// Whether a change set's changes call for a migration run.
pub fn needs_migration(created: bool, changes: &[Change], migrate_function: &str) -> bool {
    created
        || changes.iter().any(|c| {
            DB_TYPES.contains(&c.kind.as_str())
                || (c.kind == "AWS::Lambda::Function"
                    && (c.physical_id == migrate_function || c.logical_id.to_ascii_lowercase().contains("migrat")))
        })
}

/// Invokes the function synchronously; a FunctionError or an `{"error": ...}` payload is a failure.
pub async fn run(c: &Clients, outputs: &BTreeMap<String, String>, dry_run: bool, ui: &Ui) -> anyhow::Result<String> {
    let Some(function) = outputs.get("MigrateFunctionName") else {
        ui.note("the stack has no MigrateFunctionName output: migrations skipped");
        return Ok("skipped (no MigrateFunctionName output)".into());
    };
    if dry_run {
        return Ok(format!("would invoke {function}"));
    }
    let payload = serde_json::json!({"source": "cargo-xtask-deploy", "action": "migrate"});
    let out = c
        .lambda
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(serde_json::to_vec(&payload)?))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot invoke the migration function {function}: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            )
        })?;
    let body = out.payload().map(|p| String::from_utf8_lossy(p.as_ref()).into_owned()).unwrap_or_default();
    if let Some(kind) = out.function_error() {
        return Err(Refusal::new(
            format!("the migration function {function} failed ({kind}): {}", body.trim()),
            "read its CloudWatch logs; the stack is deployed: fix the cause, then `cargo xtask deploy --migrate`",
        )
        .into());
    }
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    if let Some(err) = parsed.get("error").filter(|e| !e.is_null()) {
        return Err(Refusal::new(
            format!("the migration function {function} reported an error: {err}"),
            "read its CloudWatch logs; the stack is deployed: fix the cause, then `cargo xtask deploy --migrate`",
        )
        .into());
    }
    Ok(format!("{function}: {}", body.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(logical: &str, physical: &str, kind: &str) -> Change {
        Change {
            action: "Modify".into(),
            logical_id: logical.into(),
            physical_id: physical.into(),
            kind: kind.into(),
            replacement: String::new(),
        }
    }

    #[test]
    fn migrations_run_on_create_and_on_db_or_migrator_changes() {
        assert!(needs_migration(true, &[], "m"));
        assert!(!needs_migration(false, &[change("ApiFunction", "api", "AWS::Lambda::Function")], "m"));
        assert!(needs_migration(false, &[change("Fn", "m", "AWS::Lambda::Function")], "m"));
        assert!(needs_migration(false, &[change("Db", "db", "AWS::RDS::DBInstance")], "m"));
    }
}
