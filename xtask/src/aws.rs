//! AWS access for the commands that touch an account: one preflight, one `SdkConfig`, clients.
//!
//! [`Aws::connect`] is the only way a command reaches AWS. It first refuses placeholder settings
//! (see [`crate::config`]), then builds the SDK config from the standard credential chain, with
//! `--profile`, `--region`, `AWS_ENDPOINT_URL` and `.env` credentials layered on top.

use std::future::Future;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use crate::Ctx;
use crate::config::{Settings, Source};

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
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).http_client(notes_core::config::https_client());
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
            return Err(crate::errors::Refusal::new(
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

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(self.endpoint_url.is_some()).build();
        aws_sdk_s3::Client::from_conf(config)
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
