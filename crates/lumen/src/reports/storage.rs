//! Object storage for report files: a local directory by default, an
//! S3-compatible bucket when configured (a minimal AWS Signature V4 client:
//! PUT, GET, DELETE of one object, path-style URLs).

use std::path::PathBuf;

use anyhow::{Context, bail};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use futures::stream::{BoxStream, StreamExt};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::{Config, S3Config};

pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> anyhow::Result<()>;
    /// The object's bytes as a stream; `None` when it does not exist.
    async fn get(&self, key: &str) -> anyhow::Result<Option<ByteStream>>;
    /// Idempotent: deleting a missing object succeeds.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
}

/// The configured object store.
pub fn from_config(config: &Config) -> anyhow::Result<Box<dyn ObjectStore>> {
    Ok(match &config.reports.s3 {
        Some(s3) => Box::new(S3Store::new(s3.clone())?),
        None => Box::new(LocalStore {
            root: config.reports.dir.clone(),
        }),
    })
}

/// Keys are relative paths of `[A-Za-z0-9._-]` segments: never `..`, never absolute.
fn check_key(key: &str) -> anyhow::Result<()> {
    let ok = !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    if !ok {
        bail!("invalid object key {key:?}");
    }
    Ok(())
}

/// Files under a directory; writes go through a temporary file and a rename,
/// so a reader never sees half a file.
pub struct LocalStore {
    pub root: PathBuf,
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> anyhow::Result<()> {
        check_key(key)?;
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes)
            .await
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<ByteStream>> {
        check_key(key)?;
        match tokio::fs::File::open(self.root.join(key)).await {
            Ok(file) => Ok(Some(tokio_util::io::ReaderStream::new(file).boxed())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        check_key(key)?;
        match tokio::fs::remove_file(self.root.join(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// An S3-compatible bucket, path-style (`{endpoint}/{bucket}/{key}`).
pub struct S3Store {
    config: S3Config,
    http: reqwest::Client,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl S3Store {
    pub fn new(config: S3Config) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        Ok(Self {
            config,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()?,
        })
    }

    /// A signed request (AWS Signature Version 4, payload hashed).
    fn request(
        &self,
        method: reqwest::Method,
        key: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        check_key(key)?;
        let c = &self.config;
        let url = reqwest::Url::parse(&format!(
            "{}/{}/{key}",
            c.endpoint.trim_end_matches('/'),
            c.bucket
        ))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => bail!("S3 endpoint has no host"),
        };
        let now = Utc::now();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let date = now.format("%Y%m%d").to_string();
        let payload_hash = sha256_hex(&body);
        let mut headers = vec![
            ("host", host),
            ("x-amz-content-sha256", payload_hash.clone()),
            ("x-amz-date", amz_date.clone()),
        ];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct.to_owned()));
        }
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_headers: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
        let signed_headers = signed_headers.join(";");
        let canonical = format!(
            "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
            method.as_str(),
            url.path()
        );
        let scope = format!("{date}/{}/s3/aws4_request", c.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let k_date = hmac(
            format!("AWS4{}", c.secret_access_key.expose()).as_bytes(),
            &date,
        );
        let k_region = hmac(&k_date, &c.region);
        let k_service = hmac(&k_region, "s3");
        let k_signing = hmac(&k_service, "aws4_request");
        let signature = hex::encode(hmac(&k_signing, &to_sign));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            c.access_key_id
        );
        let mut req = self.http.request(method, url);
        for (k, v) in headers.into_iter().filter(|(k, _)| *k != "host") {
            req = req.header(k, v);
        }
        Ok(req.header("authorization", authorization).body(body))
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> anyhow::Result<()> {
        let resp = self
            .request(reqwest::Method::PUT, key, bytes, Some(content_type))?
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("S3 PUT {key}: {}", resp.status());
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<ByteStream>> {
        let resp = self
            .request(reqwest::Method::GET, key, Vec::new(), None)?
            .send()
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            bail!("S3 GET {key}: {}", resp.status());
        }
        let bytes = resp.bytes().await?;
        Ok(Some(
            futures::stream::once(async move { Ok(bytes) }).boxed(),
        ))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let resp = self
            .request(reqwest::Method::DELETE, key, Vec::new(), None)?
            .send()
            .await?;
        if !(resp.status().is_success() || resp.status() == reqwest::StatusCode::NOT_FOUND) {
            bail!("S3 DELETE {key}: {}", resp.status());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_store() {
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "a/./b", "a b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert!(check_key("reports/0f/abc.pdf").is_ok());
    }

    #[tokio::test]
    async fn local_objects_round_trip_and_delete_idempotently() {
        let root = std::env::temp_dir().join(format!("lumen-objects-{}", uuid::Uuid::new_v4()));
        let store = LocalStore { root: root.clone() };
        store
            .put("r/a.csv", b"x,y\n".to_vec(), "text/csv")
            .await
            .expect("put");
        let mut stream = store.get("r/a.csv").await.expect("get").expect("exists");
        let mut got = Vec::new();
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.expect("chunk"));
        }
        assert_eq!(got, b"x,y\n");
        store.delete("r/a.csv").await.expect("delete");
        store.delete("r/a.csv").await.expect("delete again");
        assert!(store.get("r/a.csv").await.expect("get").is_none());
        let _ = std::fs::remove_dir_all(root);
    }
}
