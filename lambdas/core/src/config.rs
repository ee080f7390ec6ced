//! Settings from the environment, and the clients built from them once per process.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `NOTES_TABLE` | DynamoDB table of notes (required) |
//! | `APP_DATA_BUCKET` | S3 bucket of attachments (required by the API) |
//! | `DATABASE_URL` | PostgreSQL URL; when set, wins over the `DB_*` variables (local, tests) |
//! | `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER` | RDS with IAM authentication (token signed locally, TLS) |
//! | `DB_CA_BUNDLE` | optional PEM file of extra roots for the database's TLS (the RDS CA bundle) |
//! | `REDIS_URL` | Redis URL (`redis://` or `rediss://`); wins over `REDIS_HOST` |
//! | `REDIS_HOST`, `REDIS_PORT`, `REDIS_USER` | ElastiCache over TLS (`rediss://`); see [`RedisTarget`] |
//! | `SITE_ORIGIN` | the one origin CORS allows |
//! | `AWS_ENDPOINT_URL` | honoured by the SDK (moto locally); S3 then uses path-style addressing |
//! | `AWS_REGION` | set by Lambda; the region RDS tokens are signed for |

use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::error::StoreError;

/// Reads an environment variable; empty counts as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Installs ring as rustls' process-wide provider (the workspace's one TLS stack), so every TLS
/// client in the process (Redis included) uses the same one. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The one HTTPS client of every SDK client: rustls with ring (the SDK crates' own TLS features
/// are off; see the workspace Cargo.toml).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// SDK configuration from the environment (Lambda role credentials, region, `AWS_ENDPOINT_URL`),
/// with short timeouts and few retries: a request waits for a sick dependency for seconds, not
/// minutes, and then answers 503.
pub async fn sdk_config() -> SdkConfig {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(6))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

/// S3 client; path-style when an endpoint override (moto) is configured.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build())
}

/// Where PostgreSQL is: `DATABASE_URL`, else RDS IAM from `DB_HOST`/`DB_PORT`/`DB_NAME`/`DB_USER`.
pub fn pg_target(config: &SdkConfig) -> Option<crate::postgres::PgTarget> {
    if let Some(url) = var("DATABASE_URL") {
        return Some(crate::postgres::PgTarget::Url(url));
    }
    let host = var("DB_HOST")?;
    Some(crate::postgres::PgTarget::Iam(RdsIam {
        host,
        port: var("DB_PORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
        database: var("DB_NAME").unwrap_or_else(|| "postgres".into()),
        user: var("DB_USER").unwrap_or_else(|| "app".into()),
        region: config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
        credentials: config.credentials_provider(),
    }))
}

/// RDS IAM authentication: the password is an auth token, a SigV4-presigned
/// `connect` URL signed with the function's role credentials, valid 15 minutes.
#[derive(Clone, Debug)]
pub struct RdsIam {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub region: String,
    pub credentials: Option<SharedCredentialsProvider>,
}

impl RdsIam {
    pub async fn auth_token(&self) -> Result<String, StoreError> {
        let provider =
            self.credentials.as_ref().ok_or_else(|| StoreError::other("no AWS credentials for RDS IAM auth"))?;
        let credentials =
            provider.provide_credentials().await.map_err(|e| StoreError::unavailable(format!("credentials: {e}")))?;
        rds_auth_token(&self.host, self.port, &self.user, &self.region, credentials, SystemTime::now())
    }
}

/// Signs an RDS IAM auth token (what `aws rds generate-db-auth-token` prints).
pub fn rds_auth_token(
    host: &str,
    port: u16,
    user: &str,
    region: &str,
    credentials: aws_credential_types::Credentials,
    at: SystemTime,
) -> Result<String, StoreError> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(900));
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(at)
        .settings(settings)
        .build()
        .map_err(StoreError::other)?
        .into();
    let url = format!("https://{host}:{port}/?Action=connect&DBUser={}", encode(user));
    let request =
        SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::Bytes(&[])).map_err(StoreError::other)?;
    let (instructions, _signature) = sign(request, &params).map_err(StoreError::other)?.into_parts();
    let (_headers, query) = instructions.into_parts();
    let mut token = format!("{host}:{port}/?Action=connect&DBUser={}", encode(user));
    for (name, value) in query {
        token.push('&');
        token.push_str(name);
        token.push('=');
        token.push_str(&encode(&value));
    }
    Ok(token)
}

/// RFC 3986 percent-encoding of everything but unreserved characters (what SigV4 expects).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where Redis is: `REDIS_URL`, else `rediss://REDIS_HOST:REDIS_PORT`.
///
/// ElastiCache IAM authentication (an `AUTH REDIS_USER <token>` with a SigV4-signed token) is not
/// implemented: it needs the cache's name, which the template does not pass. Without it the cache
/// fails open (every request is served from DynamoDB).
pub fn redis_url() -> Option<String> {
    if let Some(url) = var("REDIS_URL") {
        return Some(url);
    }
    let host = var("REDIS_HOST")?;
    let port = var("REDIS_PORT").unwrap_or_else(|| "6379".into());
    Some(match var("REDIS_USER") {
        Some(user) => format!("rediss://{user}@{host}:{port}"),
        None => format!("rediss://{host}:{port}"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn rds_token_has_the_documented_shape() {
        let credentials =
            aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", Some("tok/en+=".into()), None, "test");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let token = super::rds_auth_token("db.example.internal", 5432, "app", "eu-west-1", credentials, at).unwrap();
        assert!(token.starts_with("db.example.internal:5432/?Action=connect&DBUser=app&"), "{token}");
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Frds-db%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Security-Token=tok%2Fen%2B%3D",
            "X-Amz-Signature=",
        ] {
            assert!(token.contains(part), "{part} missing in {token}");
        }
        assert!(!token.contains("https://"));
    }
}
