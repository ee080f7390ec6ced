//! The only door to AWS. [`Aws::connect`] refuses placeholder settings first (see
//! [`crate::settings`]), then builds the SDK config from the standard credential chain, with
//! `--profile`, `--region`, `AWS_ENDPOINT_URL` and `.env` credentials layered on top; [`Clients`]
//! are the only SDK clients the xtask builds, each with the call counter of [`calls`].
//! [`error_line`] is the one way an SDK error is turned into text. The operations on each service
//! live in [`cfn`], [`s3`], [`cloudfront`], [`lambda`] and [`rds`]; the day-2 reads (alarms, logs,
//! traffic shifts) in [`cloudwatch`], [`logs`] and [`codedeploy`].

pub mod calls;
pub mod cfn;
pub mod cloudfront;
pub mod cloudwatch;
pub mod codedeploy;
pub mod lambda;
pub mod logs;
pub mod permissions;
pub mod rds;
pub mod s3;

use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::Ctx;
use crate::error::Refusal;
use crate::settings::{Credentials, Settings};

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
        match settings.credentials() {
            Credentials::Profile(profile) => {
                loader = loader.profile_name(&profile.value).credentials_provider(
                    aws_config::profile::ProfileFileCredentialsProvider::builder().profile_name(&profile.value).build(),
                );
            }
            Credentials::Environment => {
                if let Some(profile) = &settings.profile {
                    loader = loader.profile_name(&profile.value);
                }
            }
            // `.env` is never exported: its keys (and only its token) are handed over explicitly.
            Credentials::DotEnvKeys { id, secret, token } => {
                let token = token.map(|t| t.value.clone());
                loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                    &id.value,
                    &secret.value,
                    token,
                    None,
                    "dotenv",
                ));
            }
            Credentials::DefaultChain => {}
        }
        let endpoint_url = settings.endpoint_url.as_ref().map(|e| e.value.clone());
        if let Some(url) = &endpoint_url {
            loader = loader.endpoint_url(url);
        }
        // Throttling and transient errors are retried by every client, adaptively (the client
        // slows down when the service says so); no single attempt may hang.
        loader = loader
            .retry_config(RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS).with_max_backoff(MAX_BACKOFF))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(120))
                    .build(),
            );
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

/// Attempts per request, the first included, before an error reaches the command.
pub const MAX_ATTEMPTS: u32 = 8;
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// The moment a command gives up (`--timeout`): every wait and poll checks it, so an unattended run
/// ends with the cause instead of hanging.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Deadline {
        Deadline { at: Instant::now() + total, total }
    }

    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// An error naming `what` was being waited for, once the deadline has passed.
    pub fn check(&self, what: &str) -> anyhow::Result<()> {
        if self.passed() {
            return Err(Refusal::new(
                format!("gave up after --timeout {}s while {what}", self.total.as_secs()),
                "the operation may still be running in AWS: run the same command again to follow it and converge, or raise --timeout",
            )
            .into());
        }
        Ok(())
    }

    /// Sleeps `delay`, or less when the deadline comes first.
    pub async fn sleep(&self, delay: Duration) {
        let left = self.at.saturating_duration_since(Instant::now());
        tokio::time::sleep(delay.min(left)).await;
    }
}

/// `--timeout` as the commands take it: `90s`, `30m`, `2h` (or plain seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 90s, 30m or 2h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?} is not a duration like 90s, 30m or 2h")),
    };
    if secs == 0 {
        return Err("the timeout must be more than 0".into());
    }
    Ok(Duration::from_secs(secs))
}

/// The one HTTPS client of every SDK client: rustls with ring (the SDK's own TLS features are off).
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// All clients of one command run, built once, each counting its calls, and the run's deadline.
#[derive(Clone)]
pub struct Clients {
    pub deadline: Deadline,
    pub s3: aws_sdk_s3::Client,
    pub cfn: aws_sdk_cloudformation::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub rds: aws_sdk_rds::Client,
    pub sts: aws_sdk_sts::Client,
    /// `bootstrap` only: whether the account has GitHub's OIDC provider.
    pub iam: aws_sdk_iam::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub endpoint_url: Option<String>,
    pub region: String,
    /// The account the selected environment lives in (`[env.NAME].account`), checked by
    /// [`account`] before any write.
    pub expected_account: Option<crate::settings::Setting>,
}

impl Clients {
    pub fn new(aws: &Aws, deadline: Deadline) -> Clients {
        let counted = calls::CountCalls;
        let s3 = aws_sdk_s3::config::Builder::from(&aws.sdk)
            .force_path_style(aws.endpoint_url.is_some())
            .interceptor(counted)
            .build();
        Clients {
            deadline,
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
            rds: aws_sdk_rds::Client::from_conf(
                aws_sdk_rds::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&aws.sdk).interceptor(counted).build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&aws.sdk).interceptor(counted).build(),
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
            expected_account: aws.settings.account.clone(),
        }
    }

    /// Whether the endpoint is plain HTTP (an emulator): a TLS-only bucket policy would lock us out.
    pub fn plain_http(&self) -> bool {
        self.endpoint_url.as_deref().is_some_and(|u| u.starts_with("http://"))
    }
}

/// How long `deploy`, `sync` and `destroy` may take in all before they give up with the cause.
#[derive(clap::Args, Debug, Clone)]
pub struct TimeoutArgs {
    /// Give up after this long (waits for CloudFormation and CloudFront included), e.g. 30m, 2h
    #[arg(long = "timeout", value_name = "DURATION", value_parser = parse_duration, default_value = "2h")]
    pub timeout: Duration,
}

impl TimeoutArgs {
    pub fn deadline(&self) -> Deadline {
        Deadline::after(self.timeout)
    }
}

/// The account the credentials act in: from the stack's id when there is a stack (no extra call:
/// DescribeStacks only sees the caller's own account), else from STS. Refused when the selected
/// environment lives in another account: every command asks this before its first write.
pub async fn account(c: &Clients, stack: Option<&cfn::StackState>) -> anyhow::Result<String> {
    let account = caller_account(c, stack).await?;
    if let Some(expected) = &c.expected_account
        && expected.value != account
    {
        return Err(Refusal::new(
            format!("the credentials are for account {account}, but {} is {}", expected.source, expected.value),
            "sign in to that environment's account (--profile, AWS_PROFILE), or pick the right --env",
        )
        .into());
    }
    Ok(account)
}

async fn caller_account(c: &Clients, stack: Option<&cfn::StackState>) -> anyhow::Result<String> {
    if let Some(account) = stack.and_then(|s| s.account()) {
        return Ok(account.to_string());
    }
    let who = c.sts.get_caller_identity().send().await.map_err(|e| {
        Refusal::new(
            format!("AWS credentials are not usable: {}", error_line(&e)),
            "log in (aws sso login), set AWS_PROFILE, or put keys in .env",
        )
    })?;
    Ok(who.account().unwrap_or("unknown").to_string())
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
            _ => unparsed(err.raw_response()).unwrap_or_else(|| innermost(err)),
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

/// An error response the SDK could not read a code from (an endpoint that wraps its XML errors
/// differently, say): the HTTP status and whatever `<Code>` and `<Message>` the body holds.
fn unparsed<R: 'static>(raw: Option<&R>) -> Option<String> {
    let response = (raw? as &dyn std::any::Any).downcast_ref::<HttpResponse>()?;
    let body = std::str::from_utf8(response.body().bytes()?).ok()?;
    let element = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].trim().to_string())
    };
    let status = response.status().as_u16();
    Some(match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => format!("HTTP {status}: {}", body.chars().take(200).collect::<String>().trim()),
    })
}

/// Whether an error is worth another try later (throttling, a 5xx, a dropped connection, a timeout)
/// rather than a refusal that will not change: polls keep going through these until the deadline.
pub fn is_transient<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    const CODES: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
    ];
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(e) => {
            e.err().code().is_some_and(|c| CODES.contains(&c)) || e.raw().status().as_u16() >= 500
        }
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn timeouts_read_like_durations() {
        let check = |text: &str, expect: Result<u64, &str>| {
            assert_eq!(super::parse_duration(text).map(|d| d.as_secs()), expect.map_err(String::from), "{text}");
        };
        check("90s", Ok(90));
        check("30m", Ok(1800));
        check("2h", Ok(7200));
        check("45", Ok(45));
        check("0", Err("the timeout must be more than 0"));
        check("1d", Err("\"1d\" is not a duration like 90s, 30m or 2h"));
    }
}
