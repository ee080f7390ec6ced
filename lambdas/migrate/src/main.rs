//! The `migrate` Lambda function: invoked by the deploy after a stack update; any payload.
//! Returns `{"applied": [...], "known": [...]}`, or fails the invocation.
//!
//! Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) it migrates the database of the environment once,
//! prints the report and exits: that is what `cargo xtask migrate` runs.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let report = notes_migrate::run_from_env().await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let mut init = notes_core::init::InitPhases::start();
    notes_core::config::init_lambda_logging();
    init.mark("logging");
    // The SDK config and the database connection are built per invocation, in the handler.
    init.log();
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        let report = notes_migrate::run_from_env().await?;
        tracing::info!(applied = ?report.applied, "migrations done");
        Ok::<_, Error>(report)
    }))
    .await
}
