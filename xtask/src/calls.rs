//! Every AWS call the deploy tooling makes, counted by `Service.Operation`.
//!
//! [`CountCalls`] is an SDK interceptor attached to every client built here ([`s3`],
//! [`cloudformation`], ...). It records one entry per operation (retries are not double counted),
//! which the deploy summary prints and the end-to-end tests assert on (`--json`).

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::aws::Aws;

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

pub fn s3(aws: &Aws) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&aws.sdk)
        .force_path_style(aws.endpoint_url.is_some())
        .interceptor(CountCalls)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub fn cloudformation(aws: &Aws) -> aws_sdk_cloudformation::Client {
    let config = aws_sdk_cloudformation::config::Builder::from(&aws.sdk).interceptor(CountCalls).build();
    aws_sdk_cloudformation::Client::from_conf(config)
}

pub fn cloudfront(aws: &Aws) -> aws_sdk_cloudfront::Client {
    let config = aws_sdk_cloudfront::config::Builder::from(&aws.sdk).interceptor(CountCalls).build();
    aws_sdk_cloudfront::Client::from_conf(config)
}

pub fn lambda(aws: &Aws) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::config::Builder::from(&aws.sdk).interceptor(CountCalls).build();
    aws_sdk_lambda::Client::from_conf(config)
}

pub fn sts(aws: &Aws) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::config::Builder::from(&aws.sdk).interceptor(CountCalls).build();
    aws_sdk_sts::Client::from_conf(config)
}

/// All clients of one command run, built once.
#[derive(Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sts: aws_sdk_sts::Client,
    pub endpoint_url: Option<String>,
    pub region: String,
}

impl Clients {
    pub fn new(aws: &Aws) -> Clients {
        Clients {
            s3: s3(aws),
            cfn: cloudformation(aws),
            cloudfront: cloudfront(aws),
            lambda: lambda(aws),
            sts: sts(aws),
            endpoint_url: aws.endpoint_url.clone(),
            region: aws.region().to_string(),
        }
    }
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

/// One readable line for an SDK error: `Code: message` for a service error, the innermost cause for
/// a connection failure or timeout (instead of the SDK's nested debug output).
pub fn sdk_error_line<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    if let Some(service) = err.as_service_error() {
        return match (service.code(), service.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => service.to_string(),
        };
    }
    let kind = match err {
        SdkError::DispatchFailure(_) => "cannot connect",
        SdkError::TimeoutError(_) => "timed out",
        SdkError::ResponseError(_) => "unreadable response",
        SdkError::ConstructionFailure(_) => "cannot build the request",
        _ => "request failed",
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut innermost = err.to_string();
    while let Some(e) = source {
        innermost = e.to_string();
        source = e.source();
    }
    format!("{kind}: {innermost}")
}
