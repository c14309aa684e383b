//! Typed configuration. Sources, lowest precedence first: built-in defaults,
//! an optional TOML file (`--config` or `LUMEN_CONFIG`), environment
//! variables, then command-line flags. Invalid settings fail start-up with a
//! message naming the setting; secrets are wrapped so they never print.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::ratelimit::{LimitClass, Quota};

/// A value that must never appear in logs or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A setting that could not be used, named as the operator wrote it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {reason}")]
pub struct ConfigError {
    pub setting: String,
    pub reason: String,
}

impl ConfigError {
    fn new(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The header trusted proxies append the client address to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1`.
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    /// `sqlite://PATH` or `postgres://…`; may hold a password.
    pub database_url: Secret<String>,
    pub db_max_connections: u32,
    /// May hold a password.
    pub redis_url: Option<Secret<String>>,
    /// Origins allowed by CORS; empty means no cross-origin access.
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// After SIGTERM or Ctrl-C, how long the process may take to stop
    /// (in-flight requests, running jobs, computations) before it exits
    /// anyway.
    pub shutdown_grace: Duration,
    /// Send `Strict-Transport-Security` (only when served behind TLS).
    pub hsts: bool,
    pub log_level: String,
    pub log_format: LogFormat,
    /// HS256 key of Lumen's access tokens; at least 32 bytes. Required to serve.
    pub jwt_secret: Option<Secret<String>>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    /// The platform Auth service's tokens, accepted when its JWKS URL is set.
    pub platform_auth: Option<PlatformAuth>,
    /// A login session ends this long after the login, however often it is
    /// refreshed (absolute lifetime).
    pub session_max_age: Duration,
    /// A login session ends when not refreshed for this long (idle timeout).
    pub session_idle_timeout: Duration,
    /// Platform tokens older than this (by `iat`), or issued for longer, are
    /// refused: logout cannot revoke them, so their life is bounded here.
    pub platform_token_max_age: Duration,
    /// Bearer credential of operators: `/api/status` detail and `/metrics`.
    /// Unset: the detail is not served at all, `/metrics` only on `metrics_addr`.
    pub ops_token: Option<Secret<String>>,
    /// A separate listen address serving `/metrics` without a credential
    /// (meant for a private network or loopback).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `false` only for load benchmarks (`LUMEN_RATE_LIMITS=off`).
    pub rate_limits_enabled: bool,
    pub rate_limits: HashMap<LimitClass, Quota>,
    /// Proxies in front of Lumen that append to `X-Forwarded-For`; 0 means the
    /// client IP is the TCP peer.
    pub trusted_proxy_hops: usize,
    /// Password hashes (login, 19 MiB each) computed at once; as many more
    /// wait, and further logins are answered 503 at once. Default: the cores.
    pub password_hash_concurrency: usize,
    /// The header those proxies append to; the other one is ignored, since a
    /// client can send it unchecked.
    pub forwarded_header: ForwardedHeader,
    /// Configured upstream services, by name (`directory`, `course-builder`, …).
    pub upstreams: BTreeMap<&'static str, UpstreamConfig>,
    /// Timeout of one upstream request.
    pub upstream_timeout: Duration,
    /// Fill a service that has never answered with synthetic data (`mock`).
    pub mock_fallback: bool,
    /// How often `lumen serve` collects from the upstreams; zero: never.
    pub collect_interval: Duration,
    /// Smallest cohort comparison analytics may show (k-anonymity), ≥ 2.
    pub k_anonymity: usize,
    /// Bound of the in-process L1 cache, in bytes.
    pub cache_l1_bytes: u64,
    /// Bound of the warm organisation datasets kept in memory, in bytes
    /// (`LUMEN_DATASET_CACHE_MB`; 0: none kept, every computation loads).
    pub dataset_cache_bytes: u64,
    /// Prefix of Lumen's keys and channel in Redis (deployments sharing one
    /// Redis need different prefixes).
    pub cache_redis_prefix: String,
    /// Jobs this process runs at once; 0: it runs none (API only).
    pub workers: usize,
    /// A worker's hold on a job, renewed by heartbeat; a job whose worker
    /// died is taken over after it.
    pub job_lease: Duration,
    /// When the daily batch runs (5-field cron, UTC); `None`: never.
    pub batch_cron: Option<String>,
    /// Subjects per batch chunk.
    pub batch_chunk_size: usize,
    /// Report files, retention and delivery (docs/reports.md).
    pub reports: ReportsConfig,
}

/// Where report files go, how long they stay, how scheduled ones are delivered.
#[derive(Debug, Clone)]
pub struct ReportsConfig {
    /// Local object storage (used when no S3 bucket is configured).
    pub dir: std::path::PathBuf,
    /// Report files older than this are deleted.
    pub retention_days: u32,
    /// Report schedules one user may have.
    pub schedules_per_user: usize,
    /// The shortest time a schedule's cron may leave between two runs.
    pub schedule_min_interval: Duration,
    /// Bytes of report files one user may keep; beyond, generation is refused.
    pub storage_per_user_bytes: u64,
    pub s3: Option<S3Config>,
    pub smtp: Option<SmtpConfig>,
    pub webhook: Option<WebhookConfig>,
    /// Directories of extra fonts for PDF reports, after the bundled
    /// DejaVu Sans in the fallback chain (`LUMEN_REPORT_FONT_DIRS`).
    pub font_dirs: Vec<std::path::PathBuf>,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            dir: "lumen-data/reports".into(),
            retention_days: 30,
            schedules_per_user: 10,
            schedule_min_interval: Duration::from_secs(3600),
            storage_per_user_bytes: 100 * 1024 * 1024,
            s3: None,
            smtp: None,
            webhook: None,
            font_dirs: Vec::new(),
        }
    }
}

/// An S3 bucket (AWS or S3-compatible), through the `object_store` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `None`: AWS's endpoint for the region.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    /// Static keys; `None`: the standard AWS credential chain (`AWS_*`
    /// variables with session token, web identity, container or instance
    /// credentials).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret<String>>,
    /// `https://<bucket>.<endpoint host>/<key>` instead of `<endpoint>/<bucket>/<key>`.
    pub virtual_hosted: bool,
    /// When set, downloads redirect to a presigned URL valid this long.
    pub presign_downloads: Option<Duration>,
}

/// The SMTP server scheduled reports are mailed through (docs/reports.md §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// `smtp://host[:port]` (plain), `smtp://host[:port]?tls=required`
    /// (STARTTLS), `smtps://user:pass@host[:465]` (implicit TLS); user and
    /// password, percent-encoded, log in with AUTH PLAIN or LOGIN. Holds the
    /// password: printed only through [`SmtpConfig::redacted_url`].
    pub url: Secret<String>,
    pub from: String,
    /// PEM certificates trusted besides the system's roots (a private CA, a
    /// test server's self-signed certificate).
    pub ca_file: Option<std::path::PathBuf>,
}

impl SmtpConfig {
    /// The URL with its password masked, for logs and errors.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(self.url.expose()) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("***"));
                }
                url.to_string()
            }
            Err(_) => "(unreadable URL)".to_owned(),
        }
    }
}

/// Where finished scheduled reports are announced, and the HMAC key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: Secret<String>,
}

/// Where one upstream service is and how Lumen authenticates to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub base_url: String,
    /// Service bearer token; never printed.
    pub token: Secret<String>,
}

/// The platform's nine upstream services (PRODUCT §6), by their names here.
pub const UPSTREAM_SERVICES: [&str; 9] = [
    "auth",
    "directory",
    "course-builder",
    "content-studio",
    "assessment",
    "skills-engine",
    "learner-ai",
    "devlab",
    "rag-assistant",
];

/// `course-builder` → `LUMEN_UPSTREAM_COURSE_BUILDER_URL` (and `_TOKEN`).
pub fn upstream_env_var(service: &str, suffix: &str) -> String {
    format!(
        "LUMEN_UPSTREAM_{}_{suffix}",
        service.to_ascii_uppercase().replace('-', "_")
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformAuth {
    pub jwks_url: String,
    pub issuer: String,
    pub audience: String,
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://lumen-data/lumen.db";

impl Default for Config {
    fn default() -> Self {
        Self {
            host: IpAddr::from([0, 0, 0, 0]),
            port: 8080,
            database_url: Secret::new(DEFAULT_DATABASE_URL.to_owned()),
            db_max_connections: 10,
            redis_url: None,
            cors_origins: Vec::new(),
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            hsts: false,
            log_level: "info".to_owned(),
            log_format: LogFormat::Json,
            jwt_secret: None,
            jwt_issuer: "lumen".to_owned(),
            jwt_audience: "lumen".to_owned(),
            platform_auth: None,
            session_max_age: Duration::from_secs(30 * 86_400),
            session_idle_timeout: Duration::from_secs(7 * 86_400),
            platform_token_max_age: Duration::from_secs(3600),
            ops_token: None,
            metrics_addr: None,
            rate_limits_enabled: true,
            rate_limits: LimitClass::ALL
                .into_iter()
                .map(|c| (c, c.default_quota()))
                .collect(),
            trusted_proxy_hops: 0,
            password_hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            forwarded_header: ForwardedHeader::XForwardedFor,
            upstreams: BTreeMap::new(),
            upstream_timeout: Duration::from_secs(5),
            mock_fallback: false,
            collect_interval: Duration::from_secs(900),
            k_anonymity: 5,
            reports: ReportsConfig::default(),
            cache_l1_bytes: 256 * 1024 * 1024,
            dataset_cache_bytes: 2048 * 1024 * 1024,
            cache_redis_prefix: "lumen".to_owned(),
            workers: 2,
            job_lease: Duration::from_secs(60),
            batch_cron: Some("0 2 * * *".to_owned()),
            batch_chunk_size: 100,
        }
    }
}

/// The TOML file: the same settings as the environment, named in snake case
/// without the `LUMEN_` prefix (`port`, `database_url`, `cors_origins`, …).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<toml::Value>,
    database_url: Option<String>,
    db_max_connections: Option<toml::Value>,
    redis_url: Option<String>,
    cors_origins: Option<Vec<String>>,
    body_limit_bytes: Option<toml::Value>,
    request_timeout_secs: Option<toml::Value>,
    shutdown_grace_secs: Option<toml::Value>,
    hsts: Option<bool>,
    log_level: Option<String>,
    log_format: Option<String>,
    jwt_secret: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    auth_jwks_url: Option<String>,
    auth_issuer: Option<String>,
    auth_audience: Option<String>,
    auth_max_token_age_secs: Option<toml::Value>,
    session_max_age_secs: Option<toml::Value>,
    session_idle_timeout_secs: Option<toml::Value>,
    ops_token: Option<String>,
    metrics_addr: Option<String>,
    report_schedules_per_user: Option<toml::Value>,
    report_schedule_min_interval_secs: Option<toml::Value>,
    report_storage_per_user_bytes: Option<toml::Value>,
    rate_limits: Option<String>,
    rate_limit_login: Option<String>,
    rate_limit_refresh: Option<String>,
    rate_limit_session: Option<String>,
    rate_limit_analytics: Option<String>,
    rate_limit_system: Option<String>,
    rate_limit_manual_refresh: Option<String>,
    trusted_proxy_hops: Option<toml::Value>,
    password_hash_concurrency: Option<toml::Value>,
    forwarded_header: Option<String>,
    upstream_timeout_secs: Option<toml::Value>,
    mock_fallback: Option<bool>,
    collect_interval_secs: Option<toml::Value>,
    k_anonymity: Option<toml::Value>,
    reports_dir: Option<String>,
    report_retention_days: Option<toml::Value>,
    s3_endpoint: Option<String>,
    s3_bucket: Option<String>,
    s3_region: Option<String>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    s3_virtual_hosted: Option<bool>,
    s3_presign_downloads_secs: Option<toml::Value>,
    report_font_dirs: Option<Vec<String>>,
    smtp_url: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<toml::Value>,
    smtp_from: Option<String>,
    smtp_ca_file: Option<String>,
    report_webhook_url: Option<String>,
    report_webhook_secret: Option<String>,
    cache_l1_mb: Option<toml::Value>,
    dataset_cache_mb: Option<toml::Value>,
    cache_redis_prefix: Option<String>,
    workers: Option<toml::Value>,
    job_lease_secs: Option<toml::Value>,
    batch_cron: Option<String>,
    batch_chunk_size: Option<toml::Value>,
    /// `[upstreams.course-builder]` with `url` and `token`.
    upstreams: Option<BTreeMap<String, FileUpstream>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpstream {
    url: Option<String>,
    token: Option<String>,
}

/// One raw setting value and where it came from, for error messages.
struct Raw {
    name: String,
    value: String,
}

impl Config {
    /// Loads from the process environment and an optional file.
    pub fn from_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("LUMEN_") || k == "DATABASE_URL" || k == "REDIS_URL")
            .collect();
        Self::load(file, &env)
    }

    /// Loads from a given environment, for tests and for `from_env`.
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let file_path = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("LUMEN_CONFIG").map(Into::into));
        let file_cfg = match &file_path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new(
                        "LUMEN_CONFIG",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| {
                    ConfigError::new(
                        format!("config file {}", path.display()),
                        e.message().to_owned(),
                    )
                })?
            }
            None => FileConfig::default(),
        };
        let file_name = |key: &str| match &file_path {
            Some(p) => format!("{key} (in {})", p.display()),
            None => key.to_owned(),
        };
        // Environment wins over the file.
        let pick = |env_key: &str, file_key: &str, file_val: Option<String>| -> Option<Raw> {
            env.get(env_key)
                .map(|v| Raw {
                    name: env_key.to_owned(),
                    value: v.clone(),
                })
                .or(file_val.map(|v| Raw {
                    name: file_name(file_key),
                    value: v,
                }))
        };
        let val = |v: &Option<toml::Value>| {
            v.as_ref().map(|v| match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };

        let mut cfg = Config::default();
        if let Some(raw) = pick("LUMEN_HOST", "host", file_cfg.host) {
            cfg.host = raw
                .value
                .parse()
                .map_err(|_| ConfigError::new(raw.name, "must be an IP address, e.g. 0.0.0.0"))?;
        }
        if let Some(raw) = pick("LUMEN_PORT", "port", val(&file_cfg.port)) {
            cfg.port = parse_num(&raw, 1, u16::MAX.into())? as u16;
        }
        if let Some(raw) = pick("DATABASE_URL", "database_url", file_cfg.database_url) {
            cfg.database_url = Secret::new(raw.value);
        }
        DatabaseKind::of(cfg.database_url.expose())?;
        if let Some(raw) = pick(
            "LUMEN_DB_MAX_CONNECTIONS",
            "db_max_connections",
            val(&file_cfg.db_max_connections),
        ) {
            cfg.db_max_connections = parse_num(&raw, 1, 1000)? as u32;
        }
        if let Some(raw) = pick("REDIS_URL", "redis_url", file_cfg.redis_url)
            && !raw.value.is_empty()
        {
            if !(raw.value.starts_with("redis://") || raw.value.starts_with("rediss://")) {
                return Err(ConfigError::new(
                    raw.name,
                    "must start with redis:// or rediss://",
                ));
            }
            cfg.redis_url = Some(Secret::new(raw.value));
        }
        let cors = env
            .get("LUMEN_CORS_ORIGINS")
            .map(|v| {
                (
                    "LUMEN_CORS_ORIGINS".to_owned(),
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            })
            .or(file_cfg
                .cors_origins
                .map(|v| (file_name("cors_origins"), v)));
        if let Some((name, origins)) = cors {
            for origin in &origins {
                let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.ends_with('/')
                    && axum::http::HeaderValue::from_str(origin).is_ok();
                if !ok {
                    return Err(ConfigError::new(
                        name,
                        format!("{origin:?} is not an origin like https://app.example.com"),
                    ));
                }
            }
            cfg.cors_origins = origins;
        }
        if let Some(raw) = pick(
            "LUMEN_BODY_LIMIT_BYTES",
            "body_limit_bytes",
            val(&file_cfg.body_limit_bytes),
        ) {
            cfg.body_limit_bytes = parse_num(&raw, 1024, 1 << 30)? as usize;
        }
        if let Some(raw) = pick(
            "LUMEN_REQUEST_TIMEOUT_SECS",
            "request_timeout_secs",
            val(&file_cfg.request_timeout_secs),
        ) {
            cfg.request_timeout = Duration::from_secs(parse_num(&raw, 1, 3600)?);
        }
        if let Some(raw) = pick(
            "LUMEN_SHUTDOWN_GRACE_SECS",
            "shutdown_grace_secs",
            val(&file_cfg.shutdown_grace_secs),
        ) {
            cfg.shutdown_grace = Duration::from_secs(parse_num(&raw, 1, 3600)?);
        }
        if let Some(raw) = pick("LUMEN_HSTS", "hsts", file_cfg.hsts.map(|b| b.to_string())) {
            cfg.hsts = parse_bool(&raw)?;
        }
        if let Some(raw) = pick("LUMEN_LOG", "log_level", file_cfg.log_level) {
            tracing_subscriber::EnvFilter::try_new(&raw.value)
                .map_err(|e| ConfigError::new(raw.name, format!("not a log filter: {e}")))?;
            cfg.log_level = raw.value;
        }
        if let Some(raw) = pick("LUMEN_LOG_FORMAT", "log_format", file_cfg.log_format) {
            cfg.log_format = match raw.value.as_str() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                _ => return Err(ConfigError::new(raw.name, "must be json or pretty")),
            };
        }
        if let Some(raw) = pick("LUMEN_JWT_SECRET", "jwt_secret", file_cfg.jwt_secret) {
            if raw.value.len() < MIN_JWT_SECRET_BYTES {
                return Err(ConfigError::new(
                    raw.name,
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes (value not shown)"),
                ));
            }
            cfg.jwt_secret = Some(Secret::new(raw.value));
        }
        if let Some(raw) = pick("LUMEN_JWT_ISSUER", "jwt_issuer", file_cfg.jwt_issuer) {
            cfg.jwt_issuer = non_empty(raw)?;
        }
        if let Some(raw) = pick("LUMEN_JWT_AUDIENCE", "jwt_audience", file_cfg.jwt_audience) {
            cfg.jwt_audience = non_empty(raw)?;
        }
        let issuer = pick("LUMEN_AUTH_ISSUER", "auth_issuer", file_cfg.auth_issuer);
        let audience = pick(
            "LUMEN_AUTH_AUDIENCE",
            "auth_audience",
            file_cfg.auth_audience,
        );
        if let Some(raw) = pick(
            "LUMEN_AUTH_JWKS_URL",
            "auth_jwks_url",
            file_cfg.auth_jwks_url,
        ) && !raw.value.is_empty()
        {
            check_jwks_url(&raw)?;
            let required = |r: Option<Raw>, name: &str| {
                r.map(non_empty).transpose()?.ok_or_else(|| {
                    ConfigError::new(name, "required when LUMEN_AUTH_JWKS_URL is set")
                })
            };
            cfg.platform_auth = Some(PlatformAuth {
                jwks_url: raw.value,
                issuer: required(issuer, "LUMEN_AUTH_ISSUER")?,
                audience: required(audience, "LUMEN_AUTH_AUDIENCE")?,
            });
        }
        if let Some(raw) = pick(
            "LUMEN_AUTH_MAX_TOKEN_AGE_SECS",
            "auth_max_token_age_secs",
            val(&file_cfg.auth_max_token_age_secs),
        ) {
            cfg.platform_token_max_age = Duration::from_secs(parse_num(&raw, 60, 7 * 86_400)?);
        }
        if let Some(raw) = pick(
            "LUMEN_SESSION_MAX_AGE_SECS",
            "session_max_age_secs",
            val(&file_cfg.session_max_age_secs),
        ) {
            cfg.session_max_age = Duration::from_secs(parse_num(&raw, 300, 366 * 86_400)?);
        }
        if let Some(raw) = pick(
            "LUMEN_SESSION_IDLE_TIMEOUT_SECS",
            "session_idle_timeout_secs",
            val(&file_cfg.session_idle_timeout_secs),
        ) {
            cfg.session_idle_timeout = Duration::from_secs(parse_num(&raw, 60, 366 * 86_400)?);
        }
        if let Some(raw) = pick("LUMEN_OPS_TOKEN", "ops_token", file_cfg.ops_token)
            && !raw.value.is_empty()
        {
            if raw.value.len() < 16 {
                return Err(ConfigError::new(
                    raw.name,
                    "must be at least 16 characters (value not shown)",
                ));
            }
            cfg.ops_token = Some(Secret::new(raw.value));
        }
        if let Some(raw) = pick("LUMEN_METRICS_ADDR", "metrics_addr", file_cfg.metrics_addr)
            && !raw.value.is_empty()
        {
            cfg.metrics_addr = Some(raw.value.parse().map_err(|_| {
                ConfigError::new(raw.name, "must be an address and port, e.g. 127.0.0.1:9100")
            })?);
        }
        if let Some(raw) = pick("LUMEN_RATE_LIMITS", "rate_limits", file_cfg.rate_limits) {
            cfg.rate_limits_enabled = parse_bool(&raw)?;
        }
        let file_limits = [
            (LimitClass::Login, file_cfg.rate_limit_login),
            (LimitClass::Refresh, file_cfg.rate_limit_refresh),
            (LimitClass::Session, file_cfg.rate_limit_session),
            (LimitClass::Analytics, file_cfg.rate_limit_analytics),
            (LimitClass::System, file_cfg.rate_limit_system),
            (
                LimitClass::ManualRefresh,
                file_cfg.rate_limit_manual_refresh,
            ),
        ];
        for (class, file_value) in file_limits {
            let file_key = format!("rate_limit_{}", class.name());
            if let Some(raw) = pick(&class.env_var(), &file_key, file_value) {
                let quota = raw
                    .value
                    .parse::<Quota>()
                    .map_err(|reason| ConfigError::new(raw.name, reason))?;
                cfg.rate_limits.insert(class, quota);
            }
        }
        if let Some(raw) = pick(
            "LUMEN_TRUSTED_PROXY_HOPS",
            "trusted_proxy_hops",
            val(&file_cfg.trusted_proxy_hops),
        ) {
            cfg.trusted_proxy_hops = parse_num(&raw, 0, 10)? as usize;
        }
        if let Some(raw) = pick(
            "LUMEN_PASSWORD_HASH_CONCURRENCY",
            "password_hash_concurrency",
            val(&file_cfg.password_hash_concurrency),
        ) {
            cfg.password_hash_concurrency = parse_num(&raw, 1, 1024)? as usize;
        }
        if let Some(raw) = pick(
            "LUMEN_FORWARDED_HEADER",
            "forwarded_header",
            file_cfg.forwarded_header,
        ) {
            cfg.forwarded_header = match raw.value.to_ascii_lowercase().as_str() {
                "x-forwarded-for" => ForwardedHeader::XForwardedFor,
                "forwarded" => ForwardedHeader::Forwarded,
                _ => {
                    return Err(ConfigError::new(
                        raw.name,
                        "must be x-forwarded-for or forwarded",
                    ));
                }
            };
        }
        if let Some(raw) = pick(
            "LUMEN_UPSTREAM_TIMEOUT_SECS",
            "upstream_timeout_secs",
            val(&file_cfg.upstream_timeout_secs),
        ) {
            cfg.upstream_timeout = Duration::from_secs(parse_num(&raw, 1, 600)?);
        }
        if let Some(raw) = pick(
            "LUMEN_MOCK_FALLBACK",
            "mock_fallback",
            file_cfg.mock_fallback.map(|b| b.to_string()),
        ) {
            cfg.mock_fallback = parse_bool(&raw)?;
        }
        if let Some(raw) = pick(
            "LUMEN_COLLECT_INTERVAL_SECS",
            "collect_interval_secs",
            val(&file_cfg.collect_interval_secs),
        ) {
            cfg.collect_interval = Duration::from_secs(parse_num(&raw, 0, 7 * 86_400)?);
        }
        if let Some(raw) = pick(
            "LUMEN_K_ANONYMITY",
            "k_anonymity",
            val(&file_cfg.k_anonymity),
        ) {
            cfg.k_anonymity = parse_num(&raw, 2, 1000)? as usize;
        }
        // Reports (docs/reports.md).
        if let Some(raw) = pick("LUMEN_REPORTS_DIR", "reports_dir", file_cfg.reports_dir) {
            cfg.reports.dir = non_empty(raw)?.into();
        }
        if let Some(raw) = pick(
            "LUMEN_REPORT_RETENTION_DAYS",
            "report_retention_days",
            val(&file_cfg.report_retention_days),
        ) {
            cfg.reports.retention_days = parse_num(&raw, 1, 3650)? as u32;
        }
        if let Some(raw) = pick(
            "LUMEN_REPORT_SCHEDULES_PER_USER",
            "report_schedules_per_user",
            val(&file_cfg.report_schedules_per_user),
        ) {
            cfg.reports.schedules_per_user = parse_num(&raw, 1, 1000)? as usize;
        }
        if let Some(raw) = pick(
            "LUMEN_REPORT_SCHEDULE_MIN_INTERVAL_SECS",
            "report_schedule_min_interval_secs",
            val(&file_cfg.report_schedule_min_interval_secs),
        ) {
            cfg.reports.schedule_min_interval =
                Duration::from_secs(parse_num(&raw, 60, 31 * 86_400)?);
        }
        if let Some(raw) = pick(
            "LUMEN_REPORT_STORAGE_PER_USER_BYTES",
            "report_storage_per_user_bytes",
            val(&file_cfg.report_storage_per_user_bytes),
        ) {
            cfg.reports.storage_per_user_bytes = parse_num(&raw, 1024, 1 << 40)?;
        }
        let set = |raw: Option<Raw>| raw.filter(|r| !r.value.trim().is_empty());
        let endpoint = set(pick(
            "LUMEN_S3_ENDPOINT",
            "s3_endpoint",
            file_cfg.s3_endpoint,
        ));
        let bucket = set(pick("LUMEN_S3_BUCKET", "s3_bucket", file_cfg.s3_bucket));
        if let Some(e) = &endpoint
            && !(e.value.starts_with("http://") || e.value.starts_with("https://"))
        {
            return Err(ConfigError::new(e.name.clone(), "must be an http(s) URL"));
        }
        if endpoint.is_some() || bucket.is_some() {
            let bucket = bucket.map(|r| r.value).ok_or_else(|| {
                ConfigError::new("LUMEN_S3_BUCKET", "required when LUMEN_S3_ENDPOINT is set")
            })?;
            let key_id = set(pick(
                "LUMEN_S3_ACCESS_KEY_ID",
                "s3_access_key_id",
                file_cfg.s3_access_key_id,
            ));
            let secret = set(pick(
                "LUMEN_S3_SECRET_ACCESS_KEY",
                "s3_secret_access_key",
                file_cfg.s3_secret_access_key,
            ));
            if key_id.is_some() != secret.is_some() {
                let missing = if key_id.is_none() {
                    "LUMEN_S3_ACCESS_KEY_ID"
                } else {
                    "LUMEN_S3_SECRET_ACCESS_KEY"
                };
                return Err(ConfigError::new(
                    missing,
                    "set both static keys, or neither (then the AWS credential chain is used)",
                ));
            }
            let virtual_hosted = match pick(
                "LUMEN_S3_VIRTUAL_HOSTED",
                "s3_virtual_hosted",
                file_cfg.s3_virtual_hosted.map(|b| b.to_string()),
            ) {
                Some(raw) => parse_bool(&raw)?,
                None => false,
            };
            let presign = match set(pick(
                "LUMEN_S3_PRESIGN_DOWNLOADS_SECS",
                "s3_presign_downloads_secs",
                val(&file_cfg.s3_presign_downloads_secs),
            )) {
                Some(raw) => match parse_num(&raw, 0, 7 * 86_400)? {
                    0 => None,
                    n => Some(Duration::from_secs(n)),
                },
                None => None,
            };
            cfg.reports.s3 = Some(S3Config {
                endpoint: endpoint.map(|e| e.value.trim_end_matches('/').to_owned()),
                bucket,
                region: set(pick("LUMEN_S3_REGION", "s3_region", file_cfg.s3_region))
                    .map_or_else(|| "us-east-1".to_owned(), |r| r.value),
                access_key_id: key_id.map(|r| r.value),
                secret_access_key: secret.map(|r| Secret::new(r.value)),
                virtual_hosted,
                presign_downloads: presign,
            });
        }
        let font_dirs = env
            .get("LUMEN_REPORT_FONT_DIRS")
            .map(|v| {
                (
                    "LUMEN_REPORT_FONT_DIRS".to_owned(),
                    std::env::split_paths(v)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect::<Vec<_>>(),
                )
            })
            .or(file_cfg.report_font_dirs.map(|v| {
                (
                    file_name("report_font_dirs"),
                    v.into_iter().map(std::path::PathBuf::from).collect(),
                )
            }));
        if let Some((name, dirs)) = font_dirs {
            if let Some(bad) = dirs.iter().find(|d| !d.is_dir()) {
                return Err(ConfigError::new(
                    name,
                    format!("{} is not a directory", bad.display()),
                ));
            }
            cfg.reports.font_dirs = dirs;
        }
        let smtp_url = match set(pick("LUMEN_SMTP_URL", "smtp_url", file_cfg.smtp_url)) {
            Some(raw) => {
                let url = url::Url::parse(raw.value.trim())
                    .map_err(|e| ConfigError::new(&raw.name, format!("not a URL: {e}")))?;
                if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none() {
                    return Err(ConfigError::new(
                        raw.name,
                        "must be smtp://host[:port][?tls=required] or smtps://[user:pass@]host[:port]",
                    ));
                }
                Some(raw.value.trim().to_owned())
            }
            // The older settings: a plain relay at host and port.
            None => match set(pick("LUMEN_SMTP_HOST", "smtp_host", file_cfg.smtp_host)) {
                Some(host) => {
                    let port = match pick("LUMEN_SMTP_PORT", "smtp_port", val(&file_cfg.smtp_port))
                    {
                        Some(raw) => parse_num(&raw, 1, u16::MAX.into())? as u16,
                        None => 25,
                    };
                    Some(format!("smtp://{}:{port}", host.value.trim()))
                }
                None => None,
            },
        };
        if let Some(url) = smtp_url {
            let from = set(pick("LUMEN_SMTP_FROM", "smtp_from", file_cfg.smtp_from))
                .map_or_else(|| "lumen@localhost".to_owned(), |r| r.value);
            if !lumen_core::model::is_plausible_email(&from) && from != "lumen@localhost" {
                return Err(ConfigError::new(
                    "LUMEN_SMTP_FROM",
                    "must be an email address",
                ));
            }
            let ca_file = set(pick(
                "LUMEN_SMTP_CA_FILE",
                "smtp_ca_file",
                file_cfg.smtp_ca_file,
            ))
            .map(|r| std::path::PathBuf::from(r.value));
            cfg.reports.smtp = Some(SmtpConfig {
                url: Secret::new(url),
                from,
                ca_file,
            });
        }
        if let Some(url) = set(pick(
            "LUMEN_REPORT_WEBHOOK_URL",
            "report_webhook_url",
            file_cfg.report_webhook_url,
        )) {
            if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
                return Err(ConfigError::new(url.name, "must be an http(s) URL"));
            }
            let secret = set(pick(
                "LUMEN_REPORT_WEBHOOK_SECRET",
                "report_webhook_secret",
                file_cfg.report_webhook_secret,
            ))
            .filter(|r| r.value.len() >= 16)
            .ok_or_else(|| {
                ConfigError::new(
                    "LUMEN_REPORT_WEBHOOK_SECRET",
                    "required with LUMEN_REPORT_WEBHOOK_URL, at least 16 characters",
                )
            })?;
            cfg.reports.webhook = Some(WebhookConfig {
                url: url.value,
                secret: Secret::new(secret.value),
            });
        }
        if let Some(raw) = pick(
            "LUMEN_CACHE_L1_MB",
            "cache_l1_mb",
            val(&file_cfg.cache_l1_mb),
        ) {
            cfg.cache_l1_bytes = parse_num(&raw, 1, 1024 * 1024)? * 1024 * 1024;
        }
        if let Some(raw) = pick(
            "LUMEN_DATASET_CACHE_MB",
            "dataset_cache_mb",
            val(&file_cfg.dataset_cache_mb),
        ) {
            cfg.dataset_cache_bytes = parse_num(&raw, 0, 1024 * 1024)? * 1024 * 1024;
        }
        if let Some(raw) = pick(
            "LUMEN_CACHE_REDIS_PREFIX",
            "cache_redis_prefix",
            file_cfg.cache_redis_prefix,
        ) {
            let prefix = raw.value.trim();
            if prefix.is_empty() || prefix.contains(char::is_whitespace) {
                return Err(ConfigError::new(raw.name, "must be a non-empty word"));
            }
            cfg.cache_redis_prefix = prefix.to_owned();
        }
        if let Some(raw) = pick("LUMEN_WORKERS", "workers", val(&file_cfg.workers)) {
            cfg.workers = parse_num(&raw, 0, 256)? as usize;
        }
        if let Some(raw) = pick(
            "LUMEN_JOB_LEASE_SECS",
            "job_lease_secs",
            val(&file_cfg.job_lease_secs),
        ) {
            cfg.job_lease = Duration::from_secs(parse_num(&raw, 3, 3600)?);
        }
        if let Some(raw) = pick("LUMEN_BATCH_CRON", "batch_cron", file_cfg.batch_cron) {
            let value = raw.value.trim();
            cfg.batch_cron = if value == "off" {
                None
            } else {
                crate::cron::parse_cron(value)
                    .map_err(|reason| ConfigError::new(raw.name, reason))?;
                Some(value.to_owned())
            };
        }
        if let Some(raw) = pick(
            "LUMEN_BATCH_CHUNK_SIZE",
            "batch_chunk_size",
            val(&file_cfg.batch_chunk_size),
        ) {
            cfg.batch_chunk_size = parse_num(&raw, 1, 100_000)? as usize;
        }
        let mut file_upstreams = file_cfg.upstreams.unwrap_or_default();
        if let Some(unknown) = file_upstreams
            .keys()
            .find(|k| !UPSTREAM_SERVICES.contains(&k.as_str()))
        {
            return Err(ConfigError::new(
                file_name(&format!("upstreams.{unknown}")),
                format!(
                    "unknown service; expected one of {}",
                    UPSTREAM_SERVICES.join(", ")
                ),
            ));
        }
        for service in UPSTREAM_SERVICES {
            let file_up = file_upstreams.remove(service).unwrap_or_default();
            let url = pick(
                &upstream_env_var(service, "URL"),
                &format!("upstreams.{service}.url"),
                file_up.url,
            );
            let token = pick(
                &upstream_env_var(service, "TOKEN"),
                &format!("upstreams.{service}.token"),
                file_up.token,
            );
            let Some(url) = url.filter(|u| !u.value.is_empty()) else {
                continue;
            };
            if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
                return Err(ConfigError::new(url.name, "must be an http(s) URL"));
            }
            let token = token.map(non_empty).transpose()?.ok_or_else(|| {
                ConfigError::new(
                    upstream_env_var(service, "TOKEN"),
                    "required when the service's URL is set",
                )
            })?;
            cfg.upstreams.insert(
                service,
                UpstreamConfig {
                    base_url: url.value.trim_end_matches('/').to_owned(),
                    token: Secret::new(token),
                },
            );
        }
        Ok(cfg)
    }

    pub fn database_kind(&self) -> DatabaseKind {
        // Checked in `load`; a URL set in code after loading defaults to SQLite's rules.
        DatabaseKind::of(self.database_url.expose()).unwrap_or(DatabaseKind::Sqlite)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn of(url: &str) -> Result<Self, ConfigError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(ConfigError::new(
                "DATABASE_URL",
                "must start with sqlite: or postgres:// (value not shown: it may hold a password)",
            ))
        }
    }
}

/// `scheme://user:password@host/db` → `scheme://user:***@host/db`, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn parse_num(raw: &Raw, min: u64, max: u64) -> Result<u64, ConfigError> {
    raw.value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                raw.name.clone(),
                format!(
                    "must be a whole number from {min} to {max}, got {:?}",
                    raw.value
                ),
            )
        })
}

/// The JWKS decides which tokens are genuine, so it is fetched over HTTPS;
/// plain HTTP only on loopback (a local Auth service, tests).
fn check_jwks_url(raw: &Raw) -> Result<(), ConfigError> {
    let url = url::Url::parse(&raw.value)
        .map_err(|e| ConfigError::new(&raw.name, format!("not a URL: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(ConfigError::new(
            &raw.name,
            "must be an https:// URL (plain http only on loopback)",
        )),
        _ => Err(ConfigError::new(&raw.name, "must be an https:// URL")),
    }
}

fn non_empty(raw: Raw) -> Result<String, ConfigError> {
    if raw.value.trim().is_empty() {
        Err(ConfigError::new(raw.name, "must not be empty"))
    } else {
        Ok(raw.value)
    }
}

fn parse_bool(raw: &Raw) -> Result<bool, ConfigError> {
    match raw.value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(raw.name.clone(), "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_err(pairs: &[(&str, &str)]) -> ConfigError {
        match Config::load(None, &env(pairs)) {
            Err(e) => e,
            Ok(_) => panic!("expected {pairs:?} to be rejected"),
        }
    }

    #[test]
    fn the_jwks_url_must_be_https_except_on_loopback() {
        let with = |url: &str| {
            Config::load(
                None,
                &env(&[
                    ("LUMEN_AUTH_JWKS_URL", url),
                    ("LUMEN_AUTH_ISSUER", "https://auth.test"),
                    ("LUMEN_AUTH_AUDIENCE", "lumen"),
                ]),
            )
        };
        for bad in [
            "http://auth.internal/jwks.json",
            "http://10.0.0.7/jwks.json",
            "ftp://auth.test/jwks.json",
        ] {
            let err = with(bad).expect_err(bad);
            assert_eq!(err.setting, "LUMEN_AUTH_JWKS_URL", "{bad}");
            assert!(err.reason.contains("https"), "{bad}: {}", err.reason);
        }
        for good in [
            "https://auth.test/.well-known/jwks.json",
            "http://127.0.0.1:9000/jwks.json",
            "http://localhost/jwks.json",
            "http://[::1]:9000/jwks.json",
        ] {
            assert!(with(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn security_limits_have_defaults_and_bounds() {
        let cfg = Config::load(None, &env(&[])).expect("defaults");
        assert_eq!(cfg.session_max_age, Duration::from_secs(30 * 86_400));
        assert_eq!(cfg.reports.schedules_per_user, 10);
        assert_eq!(cfg.reports.schedule_min_interval, Duration::from_secs(3600));
        assert!(cfg.ops_token.is_none() && cfg.metrics_addr.is_none());
        assert_eq!(
            load_err(&[("LUMEN_OPS_TOKEN", "short")]).setting,
            "LUMEN_OPS_TOKEN"
        );
        assert_eq!(
            load_err(&[("LUMEN_REPORT_SCHEDULES_PER_USER", "0")]).setting,
            "LUMEN_REPORT_SCHEDULES_PER_USER"
        );
        assert_eq!(
            load_err(&[("LUMEN_METRICS_ADDR", "nowhere")]).setting,
            "LUMEN_METRICS_ADDR"
        );
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let cfg = Config::load(None, &env(&[])).expect("defaults are valid");
        assert_eq!(cfg.port, 8080);
        assert_eq!(cfg.database_kind(), DatabaseKind::Sqlite);
        assert!(cfg.redis_url.is_none());
        assert_eq!(cfg.dataset_cache_bytes, 2048 * 1024 * 1024);
    }

    #[test]
    fn the_dataset_cache_budget_is_in_mebibytes_and_may_be_zero() {
        let cfg = Config::load(None, &env(&[("LUMEN_DATASET_CACHE_MB", "64")])).expect("valid");
        assert_eq!(cfg.dataset_cache_bytes, 64 * 1024 * 1024);
        let cfg = Config::load(None, &env(&[("LUMEN_DATASET_CACHE_MB", "0")])).expect("valid");
        assert_eq!(cfg.dataset_cache_bytes, 0);
        assert_eq!(
            load_err(&[("LUMEN_DATASET_CACHE_MB", "lots")]).setting,
            "LUMEN_DATASET_CACHE_MB"
        );
    }

    #[test]
    fn invalid_settings_are_named_in_the_error() {
        assert_eq!(load_err(&[("LUMEN_PORT", "eighty")]).setting, "LUMEN_PORT");
        assert_eq!(load_err(&[("LUMEN_PORT", "0")]).setting, "LUMEN_PORT");
        assert_eq!(
            load_err(&[("DATABASE_URL", "mysql://x")]).setting,
            "DATABASE_URL"
        );
        assert_eq!(load_err(&[("REDIS_URL", "localhost")]).setting, "REDIS_URL");
        assert_eq!(
            load_err(&[("LUMEN_CORS_ORIGINS", "example.com")]).setting,
            "LUMEN_CORS_ORIGINS"
        );
        assert_eq!(load_err(&[("LUMEN_HSTS", "maybe")]).setting, "LUMEN_HSTS");
        assert_eq!(
            load_err(&[("LUMEN_LOG_FORMAT", "xml")]).setting,
            "LUMEN_LOG_FORMAT"
        );
    }

    #[test]
    fn secrets_never_appear_in_debug_output_or_errors() {
        let cfg = Config::load(
            None,
            &env(&[
                ("DATABASE_URL", "postgres://lumen:hunter2@db/lumen"),
                ("REDIS_URL", "redis://:hunter2@cache:6379"),
                (
                    "LUMEN_JWT_SECRET",
                    "hunter2-hunter2-hunter2-hunter2-hunter2",
                ),
            ]),
        )
        .expect("valid");
        assert!(!format!("{cfg:?}").contains("hunter2"));
        let err = load_err(&[("DATABASE_URL", "mysql://root:hunter2@db")]);
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(
            redact_url("postgres://lumen:hunter2@db/lumen"),
            "postgres://lumen:***@db/lumen"
        );
    }

    #[test]
    fn environment_overrides_the_file_and_unknown_file_keys_fail() {
        let dir = std::env::temp_dir().join(format!("lumen-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("lumen.toml");
        std::fs::write(
            &path,
            "port = 9000\ncors_origins = [\"https://app.example.com\"]\n",
        )
        .expect("write");
        let cfg = Config::load(Some(&path), &env(&[])).expect("valid file");
        assert_eq!(cfg.port, 9000);
        assert_eq!(cfg.cors_origins, vec!["https://app.example.com"]);
        let cfg = Config::load(Some(&path), &env(&[("LUMEN_PORT", "9100")])).expect("valid");
        assert_eq!(cfg.port, 9100);

        std::fs::write(&path, "prot = 9000\n").expect("write");
        let err = Config::load(Some(&path), &env(&[])).expect_err("typo is rejected");
        assert!(err.reason.contains("prot"), "{err}");

        std::fs::write(&path, "port = \"high\"\n").expect("write");
        let err = Config::load(Some(&path), &env(&[])).expect_err("bad port is rejected");
        assert!(err.setting.starts_with("port (in "), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn s3_and_font_settings() {
        // A bucket alone: AWS's endpoint and the credential chain.
        let cfg = Config::load(None, &env(&[("LUMEN_S3_BUCKET", "reports")])).expect("config");
        let s3 = cfg.reports.s3.expect("s3");
        assert_eq!((s3.endpoint, s3.access_key_id), (None, None));
        assert_eq!(s3.presign_downloads, None);
        let err = load_err(&[
            ("LUMEN_S3_BUCKET", "reports"),
            ("LUMEN_S3_ACCESS_KEY_ID", "AKIA"),
        ]);
        assert_eq!(err.setting, "LUMEN_S3_SECRET_ACCESS_KEY");
        let err = load_err(&[
            ("LUMEN_S3_ENDPOINT", "s3.example.com"),
            ("LUMEN_S3_BUCKET", "b"),
        ]);
        assert_eq!(err.setting, "LUMEN_S3_ENDPOINT");
        let cfg = Config::load(
            None,
            &env(&[
                ("LUMEN_S3_BUCKET", "reports"),
                ("LUMEN_S3_ENDPOINT", "http://127.0.0.1:9000/"),
                ("LUMEN_S3_VIRTUAL_HOSTED", "true"),
                ("LUMEN_S3_PRESIGN_DOWNLOADS_SECS", "300"),
            ]),
        )
        .expect("config");
        let s3 = cfg.reports.s3.expect("s3");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(s3.virtual_hosted);
        assert_eq!(s3.presign_downloads, Some(Duration::from_secs(300)));
        let err = load_err(&[
            ("LUMEN_S3_BUCKET", "b"),
            ("LUMEN_S3_PRESIGN_DOWNLOADS_SECS", "9999999"),
        ]);
        assert_eq!(err.setting, "LUMEN_S3_PRESIGN_DOWNLOADS_SECS");
        let tmp = std::env::temp_dir();
        let dirs = format!("{}:{}", tmp.display(), tmp.display());
        let cfg = Config::load(None, &env(&[("LUMEN_REPORT_FONT_DIRS", &dirs)])).expect("config");
        assert_eq!(cfg.reports.font_dirs, vec![tmp.clone(), tmp]);
        let err = load_err(&[("LUMEN_REPORT_FONT_DIRS", "/no/such/fonts")]);
        assert_eq!(err.setting, "LUMEN_REPORT_FONT_DIRS");
    }

    #[test]
    fn report_settings_are_checked_and_need_their_companions() {
        let err = load_err(&[("LUMEN_REPORT_WEBHOOK_URL", "https://hooks.example.com/x")]);
        assert_eq!(err.setting, "LUMEN_REPORT_WEBHOOK_SECRET");
        let err = load_err(&[("LUMEN_S3_ENDPOINT", "https://s3.example.com")]);
        assert_eq!(err.setting, "LUMEN_S3_BUCKET");
        let err = load_err(&[("LUMEN_REPORT_RETENTION_DAYS", "0")]);
        assert_eq!(err.setting, "LUMEN_REPORT_RETENTION_DAYS");
        let cfg = Config::load(
            None,
            &env(&[
                ("LUMEN_SMTP_HOST", "127.0.0.1"),
                ("LUMEN_SMTP_PORT", "2525"),
                ("LUMEN_REPORT_WEBHOOK_URL", "http://127.0.0.1:9/hook"),
                ("LUMEN_REPORT_WEBHOOK_SECRET", "0123456789abcdef"),
                ("LUMEN_REPORTS_DIR", "/var/lib/lumen/reports"),
            ]),
        )
        .expect("valid");
        assert_eq!(
            cfg.reports.smtp.map(|s| s.url.expose().clone()).as_deref(),
            Some("smtp://127.0.0.1:2525")
        );
        assert!(cfg.reports.webhook.is_some() && cfg.reports.s3.is_none());
        assert_eq!(
            cfg.reports.dir,
            std::path::PathBuf::from("/var/lib/lumen/reports")
        );
    }

    #[test]
    fn the_smtp_url_keeps_its_password_out_of_logs() {
        let cfg = Config::load(
            None,
            &env(&[
                (
                    "LUMEN_SMTP_URL",
                    "smtps://mailer:p%40ss-w0rd@smtp.example.com:465",
                ),
                ("LUMEN_SMTP_HOST", "ignored.example.com"),
                ("LUMEN_SMTP_CA_FILE", "/etc/lumen/smtp-ca.pem"),
            ]),
        )
        .expect("valid");
        let smtp = cfg.reports.smtp.expect("smtp");
        assert_eq!(
            smtp.redacted_url(),
            "smtps://mailer:***@smtp.example.com:465"
        );
        assert!(!format!("{smtp:?}").contains("w0rd"));
        assert_eq!(
            smtp.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/lumen/smtp-ca.pem"))
        );
        let err = load_err(&[("LUMEN_SMTP_URL", "http://mail.example.com")]);
        assert_eq!(err.setting, "LUMEN_SMTP_URL");
    }
}
