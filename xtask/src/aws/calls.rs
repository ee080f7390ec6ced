//! Every AWS call the deploy tooling makes, counted by `Service.Operation`.
//!
//! [`CountCalls`] is an SDK interceptor attached to every client of [`super::Clients`]. It records
//! one entry per operation (retries are not double counted), which the summary prints and the
//! end-to-end tests assert on (`--json`).

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

static CALLS: LazyLock<Mutex<BTreeMap<String, u64>>> = LazyLock::new(Mutex::default);

/// Counts each SDK operation into the process-wide table read by [`snapshot`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = match cfg.load::<Metadata>() {
            Some(m) => format!("{}.{}", service_short_name(m.service()), m.name()),
            None => "unknown".to_string(),
        };
        *CALLS.lock().expect("call counter poisoned").entry(name).or_default() += 1;
        Ok(())
    }
}

/// "cloudformation" / "CloudFormation" / "s3" -> a stable short name.
fn service_short_name(service: &str) -> String {
    match service.to_ascii_lowercase().as_str() {
        "s3" => "S3".into(),
        "cloudformation" => "CloudFormation".into(),
        "cloudfront" => "CloudFront".into(),
        "lambda" => "Lambda".into(),
        "sts" => "STS".into(),
        "iam" => "IAM".into(),
        "rds" => "RDS".into(),
        "cloudwatch" => "CloudWatch".into(),
        "cloudwatchlogs" | "cloudwatch logs" | "logs" => "CloudWatchLogs".into(),
        "codedeploy" => "CodeDeploy".into(),
        _ => service.to_string(),
    }
}

/// The calls made so far, by `Service.Operation`.
pub fn snapshot() -> BTreeMap<String, u64> {
    CALLS.lock().expect("call counter poisoned").clone()
}

/// Whether an operation only reads (Get*, List*, Describe*, Head*).
pub fn is_read(operation: &str) -> bool {
    let op = operation.rsplit('.').next().unwrap_or(operation);
    ["Get", "List", "Describe", "Head"].iter().any(|p| op.starts_with(p))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_are_told_from_writes() {
        assert!(super::is_read("S3.ListObjectsV2"));
        assert!(super::is_read("CloudFormation.DescribeStacks"));
        assert!(!super::is_read("S3.PutObject"));
        assert!(!super::is_read("CloudFormation.CreateChangeSet"));
    }
}
