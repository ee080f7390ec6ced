//! [`Blobs`] in memory, with presigned URLs a local server can honour like S3 does: each URL is
//! signed (HMAC-SHA256 with a key of the process), so its expiry, method, content type, size and
//! download file name cannot be changed by whoever holds it. [`MemoryBlobs::verify`] checks one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use notes_core::error::StoreError;
use notes_core::model::now;
use notes_core::ports::{Blobs, PresignedUpload};

use crate::lock;

/// Blobs in memory. Presigned URLs point at `base_url`: `<base_url>/<key>?X-Method=..&X-Expires=..
/// [&X-Content-Type=..&X-Size=..][&X-Disposition=..]&X-Signature=..`; a local server serves them
/// with [`MemoryBlobs::verify`], [`MemoryBlobs::put_object`] and [`MemoryBlobs::get_object`].
pub struct MemoryBlobs {
    base_url: String,
    secret: [u8; 32],
    objects: Mutex<HashMap<String, (String, Vec<u8>)>>,
}

/// What a valid presigned URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `PUT` (upload) or `GET` (download, `HEAD` too).
    pub method: String,
    /// Upload: the `Content-Type` the request must carry.
    pub content_type: Option<String>,
    /// Upload: the exact body length.
    pub size: Option<u64>,
    /// Download: the `Content-Disposition` to answer with.
    pub disposition: Option<String>,
}

fn hmac(secret: &[u8; 32], message: &str) -> String {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(secret);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message.as_bytes()).finalize();
    hex::encode(Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize())
}

fn canonical(key: &str, grant: &Grant, expires: i64) -> String {
    format!(
        "{}\n{key}\n{expires}\n{}\n{}\n{}",
        grant.method,
        grant.content_type.as_deref().unwrap_or(""),
        grant.size.map(|s| s.to_string()).unwrap_or_default(),
        grant.disposition.as_deref().unwrap_or("")
    )
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl MemoryBlobs {
    /// `secret` signs the URLs (a random one per process in the dev server).
    pub fn new(base_url: impl Into<String>, secret: [u8; 32]) -> MemoryBlobs {
        MemoryBlobs { base_url: base_url.into().trim_end_matches('/').to_string(), secret, objects: Mutex::default() }
    }

    fn url(&self, key: &str, grant: &Grant, expires: i64) -> String {
        let mut url = format!("{}/{key}?X-Method={}&X-Expires={expires}", self.base_url, grant.method);
        if let Some(ct) = &grant.content_type {
            url.push_str(&format!("&X-Content-Type={}", encode(ct)));
        }
        if let Some(size) = grant.size {
            url.push_str(&format!("&X-Size={size}"));
        }
        if let Some(d) = &grant.disposition {
            url.push_str(&format!("&X-Disposition={}", encode(d)));
        }
        url.push_str(&format!("&X-Signature={}", hmac(&self.secret, &canonical(key, grant, expires))));
        url
    }

    /// Checks a presigned URL's decoded query parameters for `key`: signed by this store and not
    /// expired. `Err` says why not.
    pub fn verify(&self, key: &str, query: &HashMap<String, String>) -> Result<Grant, &'static str> {
        let get = |name: &str| query.get(name).cloned();
        let expires: i64 = get("X-Expires").and_then(|e| e.parse().ok()).ok_or("the URL has no expiry")?;
        let grant = Grant {
            method: get("X-Method").ok_or("the URL names no method")?,
            content_type: get("X-Content-Type"),
            size: match get("X-Size") {
                Some(s) => Some(s.parse().map_err(|_| "the URL's size is not a number")?),
                None => None,
            },
            disposition: get("X-Disposition"),
        };
        let signature = get("X-Signature").ok_or("the URL is not signed")?;
        if hmac(&self.secret, &canonical(key, &grant, expires)) != signature {
            return Err("the URL's signature does not match");
        }
        if expires < now().unix_timestamp() {
            return Err("the URL has expired");
        }
        Ok(grant)
    }

    /// Stores an uploaded object.
    pub fn put_object(&self, key: &str, content_type: &str, bytes: Vec<u8>) {
        lock(&self.objects).insert(key.to_string(), (content_type.to_string(), bytes));
    }

    /// `(content type, bytes)` of an object.
    pub fn get_object(&self, key: &str) -> Option<(String, Vec<u8>)> {
        lock(&self.objects).get(key).cloned()
    }
}

#[async_trait]
impl Blobs for MemoryBlobs {
    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires: Duration,
    ) -> Result<PresignedUpload, StoreError> {
        let expires_at = now() + expires;
        let grant = Grant {
            method: "PUT".into(),
            content_type: Some(content_type.into()),
            size: Some(size),
            disposition: None,
        };
        Ok(PresignedUpload {
            url: self.url(key, &grant, expires_at.unix_timestamp()),
            headers: vec![("content-type".into(), content_type.into()), ("content-length".into(), size.to_string())],
            expires_at,
        })
    }

    async fn presign_download(&self, key: &str, filename: &str, expires: Duration) -> Result<String, StoreError> {
        let grant = Grant {
            method: "GET".into(),
            content_type: None,
            size: None,
            disposition: Some(notes_core::blobs::content_disposition(filename)),
        };
        Ok(self.url(key, &grant, (now() + expires).unix_timestamp()))
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.objects).contains_key(key))
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut objects = lock(&self.objects);
        for key in keys {
            objects.remove(key);
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> (String, HashMap<String, String>) {
        let (path, q) = url.split_once('?').unwrap();
        let key = path.strip_prefix("http://h/b/").unwrap().to_string();
        (key, form_urlencoded::parse(q.as_bytes()).into_owned().collect())
    }

    #[tokio::test]
    async fn presigned_urls_are_signed_and_cannot_be_altered() {
        let blobs = MemoryBlobs::new("http://h/b", [7; 32]);
        let up = blobs.presign_upload("u/n/a", "text/plain", 5, Duration::from_secs(60)).await.unwrap();
        let (key, q) = query(&up.url);
        let grant = blobs.verify(&key, &q).unwrap();
        assert_eq!(
            (grant.method.as_str(), grant.content_type.as_deref(), grant.size),
            ("PUT", Some("text/plain"), Some(5))
        );
        for (name, value) in
            [("X-Size", "6"), ("X-Content-Type", "text/html"), ("X-Expires", "99999999999"), ("X-Method", "GET")]
        {
            let mut forged = q.clone();
            forged.insert(name.into(), value.into());
            assert_eq!(blobs.verify(&key, &forged), Err("the URL's signature does not match"), "{name}");
        }
        assert!(blobs.verify("u/n/other", &q).is_err(), "bound to its key");
        assert!(MemoryBlobs::new("http://h/b", [8; 32]).verify(&key, &q).is_err(), "bound to the store's secret");
        let down = blobs.presign_download("u/n/a", "report v2.pdf", Duration::from_secs(60)).await.unwrap();
        let (key, q) = query(&down);
        let grant = blobs.verify(&key, &q).unwrap();
        assert_eq!(
            grant.disposition.as_deref(),
            Some("attachment; filename=\"report v2.pdf\"; filename*=UTF-8''report%20v2.pdf")
        );
        let old = blobs.url("u/n/a", &grant, now().unix_timestamp() - 1);
        let (key, q) = query(&old);
        assert_eq!(blobs.verify(&key, &q), Err("the URL has expired"));
    }
}
