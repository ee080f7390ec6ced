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
//! | `REDIS_HOST`, `REDIS_PORT`, `REDIS_USER`, `REDIS_CACHE_NAME` | ElastiCache with IAM auth over TLS; see [`RedisTarget`] |
//! | `SITE_ORIGIN` | the one origin CORS allows |
//! | `AWS_ENDPOINT_URL` | honoured by the SDK (moto locally); S3 then uses path-style addressing, and TLS trusts the system's roots instead of only Amazon's ([`SdkRoots`]) |
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

/// JSON logs for a Lambda function: one object per line, with the current span (which carries the
/// request id lambda_runtime opens per invocation); no timestamps, CloudWatch adds them.
pub fn init_lambda_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(log_filter())
        .with_current_span(true)
        .without_time()
        .with_target(false)
        .init();
}

/// `RUST_LOG`, or `info` when it is unset or invalid.
pub fn log_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
}

/// Amazon Trust Services' five roots (see the file's header): what AWS's service endpoints chain to.
pub const AWS_TRUST_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");

/// Which roots the SDK's HTTPS client trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdkRoots {
    /// AWS's own endpoints: [`AWS_TRUST_ROOTS`], compiled in. The system's store (hundreds of
    /// certificates read and parsed at init, most of a function's cold start) is not loaded.
    AmazonTrustServices,
    /// An endpoint override (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_<SERVICE>`) may point at
    /// anything (moto, a proxy, another cloud's emulator), and the China and isolated partitions'
    /// endpoints are not certified by Amazon Trust Services: the system's roots.
    Native,
}

impl SdkRoots {
    pub fn from_env() -> SdkRoots {
        SdkRoots::for_vars(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))))
    }

    /// From the environment's (name, value) pairs; an empty value counts as unset, as in [`var`].
    pub fn for_vars(vars: impl IntoIterator<Item = (String, std::ffi::OsString)>) -> SdkRoots {
        let native = vars.into_iter().any(|(k, v)| {
            let v = v.to_string_lossy();
            let v = v.trim();
            let other_partition = v.starts_with("cn-") || v.contains("-iso");
            (k.starts_with("AWS_ENDPOINT_URL") && !v.is_empty())
                || (matches!(k.as_str(), "AWS_REGION" | "AWS_DEFAULT_REGION") && other_partition)
        });
        if native { SdkRoots::Native } else { SdkRoots::AmazonTrustServices }
    }
}

/// The one HTTPS client of every SDK client: rustls with ring (the SDK crates' own TLS features
/// are off; see the workspace Cargo.toml), trusting [`SdkRoots::from_env`].
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let trust = match SdkRoots::from_env() {
        SdkRoots::AmazonTrustServices => {
            TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_TRUST_ROOTS.as_bytes())
        }
        SdkRoots::Native => TrustStore::default(),
    };
    // `build` cannot fail with a trust store alone; were it ever to, the default (system roots) still verifies.
    let context = TlsContext::builder().with_trust_store(trust).build().unwrap_or_default();
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

/// SDK configuration from the environment (Lambda role credentials, region, `AWS_ENDPOINT_URL`),
/// with short timeouts and few retries: a request waits for a sick dependency for seconds, not
/// minutes, and then answers 503.
pub async fn sdk_config() -> SdkConfig {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if on_lambda() {
        // Lambda puts the role's credentials and the region in the environment, always: the
        // default chains' profile, SSO, web-identity, ECS and IMDS providers (each building an
        // HTTP client at init) have nothing to find there.
        loader = loader
            .credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new())
            .region(aws_config::environment::EnvironmentVariableRegionProvider::new());
    }
    loader
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

/// Inside a Lambda sandbox with the role's credentials in the environment (the function's own
/// `migrate` binary also runs on a laptop, where the default chains apply).
fn on_lambda() -> bool {
    var("AWS_LAMBDA_FUNCTION_NAME").is_some() && var("AWS_ACCESS_KEY_ID").is_some() && var("AWS_REGION").is_some()
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
    let url = format!("https://{host}:{port}/?Action=connect&DBUser={}", encode(user));
    presigned_connect_token(&url, "rds-db", region, credentials, at)
}

/// Signs an ElastiCache IAM auth token: a presigned `GET http://<cache name>/?Action=connect&User=<user>`
/// for service `elasticache`, valid 15 minutes, without the `http://` prefix.
pub fn elasticache_auth_token(
    cache_name: &str,
    user: &str,
    region: &str,
    credentials: aws_credential_types::Credentials,
    at: SystemTime,
) -> Result<String, StoreError> {
    let url = format!("http://{cache_name}/?Action=connect&User={}", encode(user));
    presigned_connect_token(&url, "elasticache", region, credentials, at)
}

/// SigV4 query-string presigning of a `GET` of `url` (valid 900 s); the token is the URL without
/// its scheme.
fn presigned_connect_token(
    url: &str,
    service: &str,
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
        .name(service)
        .time(at)
        .settings(settings)
        .build()
        .map_err(StoreError::other)?
        .into();
    let request =
        SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[])).map_err(StoreError::other)?;
    let (instructions, _signature) = sign(request, &params).map_err(StoreError::other)?.into_parts();
    let (_headers, query) = instructions.into_parts();
    let mut token = url.split_once("://").map_or(url, |(_, rest)| rest).to_string();
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

/// Where Redis is and how to authenticate.
#[derive(Clone, Debug)]
pub enum RedisTarget {
    /// `redis://` or `rediss://` URL (`REDIS_URL`: local, tests).
    Url(String),
    /// ElastiCache with IAM authentication over TLS: `AUTH <user> <token>`, a fresh token signed
    /// locally for each connection.
    Iam(ElastiCacheIam),
}

#[derive(Clone, Debug)]
pub struct ElastiCacheIam {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The replication group id (`REDIS_CACHE_NAME`): what the token is signed for.
    pub cache_name: String,
    pub region: String,
    pub credentials: Option<SharedCredentialsProvider>,
}

impl ElastiCacheIam {
    /// `rediss://<user>:<fresh token>@<host>:<port>`.
    pub async fn url(&self) -> Result<String, StoreError> {
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| StoreError::other("no AWS credentials for ElastiCache IAM auth"))?;
        let credentials =
            provider.provide_credentials().await.map_err(|e| StoreError::unavailable(format!("credentials: {e}")))?;
        let token = elasticache_auth_token(&self.cache_name, &self.user, &self.region, credentials, SystemTime::now())?;
        Ok(format!("rediss://{}:{}@{}:{}", encode(&self.user), encode(&token), self.host, self.port))
    }
}

/// Where Redis is: `REDIS_URL`, else ElastiCache IAM from `REDIS_HOST`, `REDIS_PORT`,
/// `REDIS_USER` and `REDIS_CACHE_NAME` (all but the port required then). `None`: no cache.
pub fn redis_target(config: &SdkConfig) -> Option<RedisTarget> {
    if let Some(url) = var("REDIS_URL") {
        return Some(RedisTarget::Url(url));
    }
    Some(RedisTarget::Iam(ElastiCacheIam {
        host: var("REDIS_HOST")?,
        port: var("REDIS_PORT").and_then(|p| p.parse().ok()).unwrap_or(6379),
        user: var("REDIS_USER")?,
        cache_name: var("REDIS_CACHE_NAME")?,
        region: config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
        credentials: config.credentials_provider(),
    }))
}

#[cfg(test)]
mod tests {
    use super::SdkRoots;

    #[test]
    fn the_embedded_aws_roots_are_amazon_trust_services() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        use sha2::Digest;
        let certs: Vec<_> = CertificateDer::pem_slice_iter(super::AWS_TRUST_ROOTS.as_bytes())
            .collect::<Result<_, _>>()
            .expect("every certificate parses");
        let fingerprints: Vec<String> = certs.iter().map(|c| hex::encode(sha2::Sha256::digest(c.as_ref()))).collect();
        // From https://www.amazontrust.com/repository/: Amazon Root CA 1-4, Starfield Services G2.
        assert_eq!(
            fingerprints,
            [
                "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
                "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
                "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
                "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
                "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
            ]
        );
        // What the SDK's rustls provider does with them (it panics on one it cannot add).
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots.add(cert).expect("a usable trust anchor");
        }
        assert_eq!(roots.len(), 5);
    }

    #[test]
    fn sdk_roots_are_native_only_under_an_override_or_in_another_partition() {
        let check = |vars: &[(&str, &str)], expect: SdkRoots| {
            let vars = vars.iter().map(|(k, v)| (k.to_string(), std::ffi::OsString::from(v)));
            assert_eq!(SdkRoots::for_vars(vars), expect);
        };
        check(&[("AWS_REGION", "eu-west-1"), ("AWS_LAMBDA_FUNCTION_NAME", "api")], SdkRoots::AmazonTrustServices);
        check(&[("AWS_ENDPOINT_URL", " ")], SdkRoots::AmazonTrustServices);
        check(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")], SdkRoots::Native);
        check(&[("AWS_ENDPOINT_URL_DYNAMODB", "https://ddb.internal")], SdkRoots::Native);
        check(&[("AWS_REGION", "us-gov-west-1")], SdkRoots::AmazonTrustServices);
        check(&[("AWS_REGION", "cn-north-1")], SdkRoots::Native);
        check(&[("AWS_REGION", "us-iso-east-1")], SdkRoots::Native);
    }

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

    #[test]
    fn elasticache_token_has_the_documented_shape() {
        let credentials = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let token =
            super::elasticache_auth_token("notes-prod-cache", "notes-prod-app", "eu-west-1", credentials, at).unwrap();
        assert!(token.starts_with("notes-prod-cache/?Action=connect&User=notes-prod-app&"), "{token}");
        for part in [
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Felasticache%2Faws4_request",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Signature=",
        ] {
            assert!(token.contains(part), "{part} missing in {token}");
        }
    }
}
