//! Object storage for report files, through the `object_store` crate: a
//! local directory by default, or an S3 bucket (AWS or S3-compatible) when
//! configured (docs/reports.md §4). S3 signs with the standard AWS
//! credential chain (static keys, `AWS_*` variables with a session token,
//! web identity, container or instance credentials), retries with backoff,
//! streams downloads, and can presign download URLs. Held by `AppState`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, RetryConfig,
};

use crate::config::{Config, S3Config};

pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// The configured object store.
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// The S3 bucket, when that is the store: for content types and presigning.
    s3: Option<(Arc<AmazonS3>, Option<Duration>)>,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Objects({})", self.store)
    }
}

/// Keys are relative paths of `[A-Za-z0-9._-]` segments: never `..`, never absolute.
fn check_key(key: &str) -> anyhow::Result<ObjectPath> {
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
    Ok(ObjectPath::from(key))
}

/// How S3 requests are retried: transient failures (timeouts, 5xx, 429)
/// with exponential backoff and jitter, at most 4 times within 60 s.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 4,
        retry_timeout: Duration::from_secs(60),
        ..Default::default()
    }
}

/// The S3 client of a configuration: `AWS_*` variables first (the
/// credential chain, as every AWS SDK reads them), then Lumen's settings.
pub fn s3_client(s3: &S3Config) -> anyhow::Result<AmazonS3> {
    crate::install_crypto_provider();
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_virtual_hosted_style_request(s3.virtual_hosted)
        .with_retry(retry());
    if let Some(endpoint) = &s3.endpoint {
        b = b
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        b = b
            .with_access_key_id(id)
            .with_secret_access_key(secret.expose());
    }
    b.build().context("S3 settings")
}

impl Objects {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(match &config.reports.s3 {
            Some(s3) => {
                let client = Arc::new(s3_client(s3)?);
                Self {
                    store: client.clone(),
                    s3: Some((client, s3.presign_downloads)),
                }
            }
            None => Self::local(&config.reports.dir)?,
        })
    }

    /// Files under a directory (made on the first write); a write goes to a
    /// temporary file renamed into place, so a reader never sees half a file.
    pub fn local(root: &std::path::Path) -> anyhow::Result<Self> {
        let root = std::path::absolute(root)
            .with_context(|| format!("object store at {}", root.display()))?;
        let prefix = root
            .to_str()
            .map(|s| s.trim_start_matches('/').trim_end_matches('/'))
            .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", root.display()))?;
        let prefix = ObjectPath::parse(prefix)
            .with_context(|| format!("object store at {}", root.display()))?;
        Ok(Self {
            store: Arc::new(PrefixStore::new(LocalFileSystem::new(), prefix)),
            s3: None,
        })
    }

    /// An S3 bucket.
    pub fn s3(s3: &S3Config) -> anyhow::Result<Self> {
        let client = Arc::new(s3_client(s3)?);
        Ok(Self {
            store: client.clone(),
            s3: Some((client, s3.presign_downloads)),
        })
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> anyhow::Result<()> {
        let path = check_key(key)?;
        let mut opts = PutOptions::default();
        if self.s3.is_some() {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
            opts.attributes = attributes;
        }
        self.store
            .put_opts(&path, PutPayload::from(bytes), opts)
            .await
            .with_context(|| format!("cannot store {key}"))?;
        Ok(())
    }

    /// The object's bytes as a stream; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<ByteStream>> {
        let path = check_key(key)?;
        match self.store.get(&path).await {
            Ok(result) => Ok(Some(
                result
                    .into_stream()
                    .map(|chunk| chunk.map_err(std::io::Error::other))
                    .boxed(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {key}"))),
        }
    }

    /// Idempotent: deleting a missing object succeeds.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = check_key(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot delete {key}"))),
        }
    }

    /// A presigned GET URL for the object, when downloads are configured to
    /// redirect to one (`LUMEN_S3_PRESIGN_DOWNLOADS_SECS`); else `None`.
    pub async fn presigned_download(&self, key: &str) -> anyhow::Result<Option<url::Url>> {
        let Some((client, Some(ttl))) = &self.s3 else {
            return Ok(None);
        };
        let path = check_key(key)?;
        let url = client
            .signed_url(reqwest::Method::GET, &path, *ttl)
            .await
            .with_context(|| format!("cannot presign {key}"))?;
        Ok(Some(url))
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
        let store = Objects::local(&root).expect("store");
        store
            .put("r/a.csv", b"x,y\n".to_vec(), "text/csv")
            .await
            .expect("put");
        assert_eq!(
            std::fs::read(root.join("r/a.csv")).expect("a plain file"),
            b"x,y\n"
        );
        let mut stream = store.get("r/a.csv").await.expect("get").expect("exists");
        let mut got = Vec::new();
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.expect("chunk"));
        }
        assert_eq!(got, b"x,y\n");
        assert!(
            store
                .presigned_download("r/a.csv")
                .await
                .expect("presign")
                .is_none()
        );
        store.delete("r/a.csv").await.expect("delete");
        store.delete("r/a.csv").await.expect("delete again");
        assert!(store.get("r/a.csv").await.expect("get").is_none());
        let _ = std::fs::remove_dir_all(root);
    }
}
