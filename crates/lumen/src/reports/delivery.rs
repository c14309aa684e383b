//! Delivery of finished scheduled reports (docs/reports.md §5): an email
//! with the file attached, through `lettre` (STARTTLS or implicit TLS, AUTH
//! PLAIN/LOGIN, pooled connections), and/or a webhook announcement signed
//! with HMAC-SHA256. Each channel is delivered (and retried) on its own.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use crate::config::{SmtpConfig, WebhookConfig};
use crate::state::AppState;
use crate::store::ReportRow;

/// How long one SMTP command may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The configured SMTP server: a pool of connections, TLS as the URL asks
/// (trusting the system's roots and `ca_file`), AUTH when it has a user.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The URL with its password masked, for errors.
    server: String,
}

impl Mailer {
    pub fn new(smtp: &SmtpConfig) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let server = smtp.redacted_url();
        let url = url::Url::parse(smtp.url.expose())
            .with_context(|| format!("SMTP URL {server} is not a URL"))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp.url.expose())
            .with_context(|| format!("SMTP URL {server}"))?
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(ca_file) = &smtp.ca_file {
            let host = url.host_str().unwrap_or_default().to_owned();
            let pem = std::fs::read(ca_file)
                .with_context(|| format!("reading LUMEN_SMTP_CA_FILE {}", ca_file.display()))?;
            let parameters = TlsParameters::builder(host)
                .add_root_certificate(Certificate::from_pem(&pem).with_context(|| {
                    format!("LUMEN_SMTP_CA_FILE {} is not PEM", ca_file.display())
                })?)
                .build()?;
            let tls = url
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.into_owned());
            builder = builder.tls(match (url.scheme(), tls.as_deref()) {
                ("smtps", _) => Tls::Wrapper(parameters),
                (_, Some("required")) => Tls::Required(parameters),
                (_, Some("opportunistic")) => Tls::Opportunistic(parameters),
                _ => bail!("LUMEN_SMTP_CA_FILE is set but {server} uses no TLS"),
            });
        }
        Ok(Self {
            transport: builder.build(),
            from: smtp
                .from
                .parse()
                .with_context(|| format!("sender address {}", smtp.from))?,
            server,
        })
    }

    /// Mails `row`'s file to its owner `to_name <to_email>`: a text and an
    /// HTML body, the file attached; non-ASCII names and subject RFC 2047-encoded.
    pub async fn send_report(
        &self,
        to_name: &str,
        to_email: &str,
        row: &ReportRow,
        file: Vec<u8>,
    ) -> anyhow::Result<()> {
        let to = Mailbox::new(
            Some(to_name.to_owned()),
            to_email
                .parse()
                .with_context(|| format!("recipient address {to_email}"))?,
        );
        let message = report_message(self.from.clone(), to, row, file)?;
        self.transport
            .send(message)
            .await
            .with_context(|| format!("sending mail through {}", self.server))?;
        Ok(())
    }
}

/// The report email: subject, text and HTML bodies, the file attached.
fn report_message(
    from: Mailbox,
    to: Mailbox,
    row: &ReportRow,
    file: Vec<u8>,
) -> anyhow::Result<Message> {
    let name = row.file_name.as_deref().unwrap_or("report");
    let content_type = row
        .content_type
        .as_deref()
        .and_then(|t| ContentType::parse(t).ok())
        .unwrap_or_else(|| ContentType::parse("application/octet-stream").expect("valid"));
    let (kind, range, id) = (&row.report_type, &row.time_range, row.id);
    let link = format!("/api/v1/reports/{id}/download");
    let text = format!(
        "Your scheduled {kind} report ({range}) is attached: {name}.\r\n\
         It is also in Lumen: {link}\r\n"
    );
    let html = format!(
        "<!doctype html><html><body><p>Your scheduled {kind} report ({range}) is attached: \
         <strong>{}</strong>.</p><p>It is also in Lumen: <a href=\"{link}\">{link}</a></p>\
         </body></html>",
        html_escape(name)
    );
    let subject = format!(
        "Lumen {kind} report for {}",
        to.name.as_deref().unwrap_or(to.email.as_ref())
    );
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{id}.{}@lumen>", Uuid::new_v4().simple())))
        .multipart(
            MultiPart::mixed()
                .multipart(MultiPart::alternative_plain_html(text, html))
                .singlepart(Attachment::new(name.to_owned()).body(file, content_type)),
        )?)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The channels configured, by name (`email`, `webhook`).
pub fn channels(state: &AppState) -> Vec<&'static str> {
    let r = &state.config.reports;
    let mut out = Vec::new();
    if state.mailer.is_some() {
        out.push("email");
    }
    if r.webhook.is_some() {
        out.push("webhook");
    }
    out
}

/// Delivers a finished report on one channel, or on every configured one
/// (`None`); every channel is tried, and the first failure is returned.
pub async fn deliver(
    state: &AppState,
    report_id: Uuid,
    channel: Option<&str>,
) -> anyhow::Result<()> {
    let row = state
        .store
        .report(report_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no report {report_id}"))?;
    anyhow::ensure!(row.status == "done", "report {report_id} is {}", row.status);
    let mut first_error = None;
    for ch in channels(state) {
        if channel.is_some_and(|c| c != ch) {
            continue;
        }
        let result = match ch {
            "email" => email(state, &row).await,
            _ => webhook(state, &row).await,
        };
        if let Err(e) = result {
            tracing::warn!(report = %report_id, channel = ch, error = %e, "report delivery failed");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn file_bytes(state: &AppState, row: &ReportRow) -> anyhow::Result<Vec<u8>> {
    let key = row.object_key.as_deref().context("report has no file")?;
    let mut stream = super::storage::from_config(&state.config)?
        .get(key)
        .await?
        .context("report file is missing")?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

async fn email(state: &AppState, row: &ReportRow) -> anyhow::Result<()> {
    let Some(mailer) = &state.mailer else {
        return Ok(());
    };
    let owner = state
        .store
        .user(row.owner_id)
        .await?
        .context("the report's owner no longer exists")?;
    let bytes = file_bytes(state, row).await?;
    mailer
        .send_report(&owner.full_name, &owner.email, row, bytes)
        .await
}

/// The signature header's value: `sha256=` and the hex HMAC-SHA256 of
/// `{timestamp}.{body}` under the configured secret.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn webhook(state: &AppState, row: &ReportRow) -> anyhow::Result<()> {
    let Some(WebhookConfig { url, secret }) = &state.config.reports.webhook else {
        return Ok(());
    };
    let body = serde_json::to_vec(&json!({
        "event": "report.ready",
        "reportId": row.id,
        "scheduleId": row.schedule_id,
        "ownerId": row.owner_id,
        "type": row.report_type,
        "format": row.format,
        "fileName": row.file_name,
        "sizeBytes": row.size_bytes,
        "finishedAt": row.finished_at,
        "downloadUrl": format!("/api/v1/reports/{}/download", row.id),
    }))?;
    let timestamp = Utc::now().timestamp();
    crate::install_crypto_provider();
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .post(url)
        .header("content-type", "application/json")
        .header("x-lumen-event", "report.ready")
        .header("x-lumen-timestamp", timestamp.to_string())
        .header(
            "x-lumen-signature",
            signature(secret.expose(), timestamp, &body),
        )
        .body(body)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("webhook answered {}", response.status());
    }
    Ok(())
}
