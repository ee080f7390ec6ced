//! The only door to AWS. [`Aws::connect`] refuses placeholder settings first (see
//! [`crate::settings`]), then builds the SDK config from the standard credential chain, with
//! `--profile`, `--region`, `AWS_ENDPOINT_URL` and `.env` credentials layered on top; [`Clients`]
//! are the only SDK clients the xtask builds, each with the call counter of [`calls`].
//! [`error_line`] is the one way an SDK error is turned into text. The operations on each service
//! live in [`cfn`], [`s3`], [`cloudfront`] and [`lambda`]; the day-2 reads (alarms, logs, traffic
//! shifts) in [`cloudwatch`], [`logs`] and [`codedeploy`].

pub mod calls;
pub mod cfn;
pub mod cloudfront;
pub mod cloudwatch;
pub mod codedeploy;
pub mod lambda;
pub mod logs;
pub mod s3;

use std::future::Future;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::Ctx;
use crate::error::Refusal;
use crate::settings::{Settings, Source};

pub struct Aws {
    pub settings: Settings,
    pub sdk: SdkConfig,
    /// Set when talking to an emulator (moto) or a custom endpoint: S3 then uses path-style URLs.
    pub endpoint_url: Option<String>,
}

impl Aws {
    pub fn connect(ctx: &Ctx) -> anyhow::Result<Aws> {
        let settings = ctx.settings()?;
        settings.refuse_placeholders()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.value.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(&profile.value);
        }
        // Keys from the process environment are found by the default chain itself; keys that only
        // `.env` holds are handed over explicitly, since `.env` is never exported.
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key)
            && matches!(id.source, Source::DotEnv { .. })
        {
            let token = settings.session_token.as_ref().map(|t| t.value.clone());
            loader = loader.credentials_provider(Credentials::new(&id.value, &secret.value, token, None, "dotenv"));
        }
        let endpoint_url = settings.endpoint_url.as_ref().map(|e| e.value.clone());
        if let Some(url) = &endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = block_on(loader.load());
        if sdk.region().is_none() {
            return Err(Refusal::new(
                "no AWS region is configured",
                "set stack.region in deploy.toml, AWS_REGION, a region in your AWS profile, or pass --region",
            )
            .into());
        }
        Ok(Aws { settings, sdk, endpoint_url })
    }

    pub fn region(&self) -> &str {
        self.sdk.region().map_or("", |r| r.as_ref())
    }
}

/// The one HTTPS client of every SDK client: rustls with ring (the SDK's own TLS features are off).
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// All clients of one command run, built once, each counting its calls.
#[derive(Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sts: aws_sdk_sts::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub endpoint_url: Option<String>,
    pub region: String,
}

impl Clients {
    pub fn new(aws: &Aws) -> Clients {
        let counted = calls::CountCalls;
        let s3 = aws_sdk_s3::config::Builder::from(&aws.sdk)
            .force_path_style(aws.endpoint_url.is_some())
            .interceptor(counted)
            .build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            cfn: aws_sdk_cloudformation::Client::from_conf(
                aws_sdk_cloudformation::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            cloudfront: aws_sdk_cloudfront::Client::from_conf(
                aws_sdk_cloudfront::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            codedeploy: aws_sdk_codedeploy::Client::from_conf(
                aws_sdk_codedeploy::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            endpoint_url: aws.endpoint_url.clone(),
            region: aws.region().to_string(),
        }
    }

    /// Whether the endpoint is plain HTTP (an emulator): a TLS-only bucket policy would lock us out.
    pub fn plain_http(&self) -> bool {
        self.endpoint_url.as_deref().is_some_and(|u| u.starts_with("http://"))
    }
}

/// Runs a future to completion on a fresh multi-threaded runtime (commands are synchronous).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime")
        .block_on(future)
}

/// One readable line for an SDK error: `Code: message` for a service error, the innermost cause for
/// a connection failure or timeout (instead of the SDK's nested debug output).
pub fn error_line<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if let Some(service) = err.as_service_error() {
        return match (service.code(), service.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => innermost(err),
        };
    }
    let kind = match err {
        SdkError::DispatchFailure(_) => "cannot connect",
        SdkError::TimeoutError(_) => "timed out",
        SdkError::ResponseError(_) => "unreadable response",
        SdkError::ConstructionFailure(_) => "cannot build the request",
        _ => "request failed",
    };
    format!("{kind}: {}", innermost(err))
}

/// The error code of a service error (`NoSuchBucket`, `ValidationError`, ...), if it is one.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().and_then(ProvideErrorMetadata::code)
}

fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut innermost = err.to_string();
    while let Some(e) = source {
        innermost = e.to_string();
        source = e.source();
    }
    innermost
}
