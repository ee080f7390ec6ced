//! The migration phase: run the migration function (its `live` alias when the stack has one) after
//! a create, or an update that touched it or the database.

use crate::aws::Clients;
use crate::aws::cfn::Change;
use crate::cloud::StackOutputs;
use crate::error::Refusal;
use crate::report::Ui;

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
pub async fn run(c: &Clients, outputs: &StackOutputs, dry_run: bool, ui: &Ui) -> anyhow::Result<String> {
    let Some(function) = &outputs.migrate_function_name else {
        ui.note("the stack has no MigrateFunctionName output: migrations skipped");
        return Ok("skipped (no MigrateFunctionName output)".into());
    };
    // The live alias when the stack has one: the version CloudFormation just published.
    let function = outputs.migrate_function_alias.as_ref().unwrap_or(function);
    if dry_run {
        return Ok(format!("would invoke {function}"));
    }
    let payload = serde_json::json!({"source": "cargo-xtask-deploy", "action": "migrate"});
    let (function_error, body) = crate::aws::lambda::invoke(&c.lambda, function, &payload).await?;
    if let Some(kind) = function_error {
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
