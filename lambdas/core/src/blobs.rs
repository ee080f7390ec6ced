//! [`Blobs`] on S3: presigned URLs only, the API never proxies bytes.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;

use crate::error::StoreError;
use crate::ports::{Blobs, PresignedUpload};
use crate::sdk_client::SdkClient;

#[derive(Debug)]
pub struct S3Blobs {
    client: SdkClient<Client>,
    bucket: String,
}

impl S3Blobs {
    pub fn new(client: Client, bucket: impl Into<String>) -> S3Blobs {
        S3Blobs { client: SdkClient::built(client), bucket: bucket.into() }
    }

    /// The client is built on the first call ([`crate::config::s3_client`]): most cold starts of
    /// the api serve no attachment.
    pub fn lazy(config: aws_config::SdkConfig, bucket: impl Into<String>) -> S3Blobs {
        S3Blobs { client: SdkClient::lazy(config, crate::config::s3_client), bucket: bucket.into() }
    }

    fn client(&self) -> &Client {
        self.client.get()
    }
}

/// `Content-Disposition` for a download as `filename` (ASCII fallback + RFC 5987 UTF-8 form).
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let mut utf8 = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            utf8.push(b as char);
        } else {
            utf8.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{utf8}")
}

fn presigning(expires: Duration) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::expires_in(expires).map_err(StoreError::other)
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires: Duration,
    ) -> Result<PresignedUpload, StoreError> {
        let size = i64::try_from(size).map_err(StoreError::other)?;
        let request = self
            .client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size)
            .presigned(presigning(expires)?)
            .await
            .map_err(sdk)?;
        let headers = request
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
            .collect();
        Ok(PresignedUpload { url: request.uri().to_string(), headers, expires_at: crate::model::now() + expires })
    }

    async fn presign_download(&self, key: &str, filename: &str, expires: Duration) -> Result<String, StoreError> {
        let request = self
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(filename))
            .presigned(presigning(expires)?)
            .await
            .map_err(sdk)?;
        Ok(request.uri().to_string())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.client().head_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            self.client().delete_object().bucket(&self.bucket).key(key).send().await.map_err(sdk)?;
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.client().head_bucket().bucket(&self.bucket).send().await.map_err(sdk)?;
        Ok(())
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `.map_err(sdk)`
fn sdk<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    tracing::warn!(error = %DisplayErrorContext(&e), "S3 request failed");
    StoreError::unavailable(DisplayErrorContext(&e))
}
