//! Delivery of finished scheduled reports (docs/reports.md §5): an email
//! with the file attached, through a plain SMTP relay, and/or a webhook
//! announcement signed with HMAC-SHA256. Each channel is delivered (and
//! retried) on its own.

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use chrono::Utc;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use uuid::Uuid;

use crate::config::{SmtpConfig, WebhookConfig};
use crate::state::AppState;
use crate::store::ReportRow;

/// The channels configured, by name (`email`, `webhook`).
pub fn channels(state: &AppState) -> Vec<&'static str> {
    let r = &state.config.reports;
    let mut out = Vec::new();
    if r.smtp.is_some() {
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
    let Some(smtp) = &state.config.reports.smtp else {
        return Ok(());
    };
    let owner = state
        .store
        .user(row.owner_id)
        .await?
        .context("the report's owner no longer exists")?;
    let bytes = file_bytes(state, row).await?;
    let message = mime_message(smtp, &owner.email, row, &bytes);
    send_mail(smtp, &owner.email, &message).await
}

/// A multipart message: a short text and the report attached.
fn mime_message(smtp: &SmtpConfig, to: &str, row: &ReportRow, file: &[u8]) -> String {
    let boundary = format!("lumen-{}", Uuid::new_v4().simple());
    let name = row.file_name.as_deref().unwrap_or("report");
    let content_type = row
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let encoded = base64::engine::general_purpose::STANDARD.encode(file);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "From: Lumen <{from}>\r\nTo: <{to}>\r\nSubject: Your Lumen {kind} report\r\n\
         Date: {date}\r\nMessage-ID: <{id}@lumen>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Your scheduled {kind} report ({range}) is attached: {name}.\r\n\
         It is also in Lumen: /api/v1/reports/{id}/download\r\n\r\n\
         --{boundary}\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--{boundary}--\r\n",
        from = smtp.from,
        kind = row.report_type,
        date = Utc::now().to_rfc2822(),
        id = row.id,
        range = row.time_range,
        body = lines.join("\r\n"),
    )
}

/// One SMTP transaction (RFC 5321), no authentication, no TLS.
async fn send_mail(smtp: &SmtpConfig, to: &str, message: &str) -> anyhow::Result<()> {
    let conn = tokio::time::timeout(
        Duration::from_secs(10),
        TcpStream::connect((smtp.host.as_str(), smtp.port)),
    )
    .await
    .context("SMTP connect timed out")??;
    let (read, mut write) = conn.into_split();
    let mut read = BufReader::new(read);
    async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> anyhow::Result<u16> {
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(30), read.read_line(&mut line))
                .await
                .context("SMTP reply timed out")??;
            if n == 0 {
                bail!("SMTP server closed the connection");
            }
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .context("bad SMTP reply")?;
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(code);
            }
        }
    }
    let expect = |got: u16, want: &[u16], step: &str| -> anyhow::Result<()> {
        if want.contains(&got) {
            Ok(())
        } else {
            bail!("SMTP {step}: server answered {got}")
        }
    };
    expect(reply(&mut read).await?, &[220], "greeting")?;
    let steps = [
        ("EHLO lumen\r\n".to_owned(), vec![250], "EHLO"),
        (
            format!("MAIL FROM:<{}>\r\n", smtp.from),
            vec![250],
            "MAIL FROM",
        ),
        (format!("RCPT TO:<{to}>\r\n"), vec![250, 251], "RCPT TO"),
        ("DATA\r\n".to_owned(), vec![354], "DATA"),
    ];
    for (command, want, step) in steps {
        write.write_all(command.as_bytes()).await?;
        expect(reply(&mut read).await?, &want, step)?;
    }
    // Dot-stuffing: a line starting with "." gets another.
    let body = message.replace("\r\n.", "\r\n..");
    write.write_all(body.as_bytes()).await?;
    write.write_all(b"\r\n.\r\n").await?;
    expect(reply(&mut read).await?, &[250], "message")?;
    write.write_all(b"QUIT\r\n").await?;
    let _ = reply(&mut read).await;
    Ok(())
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
