//! Delivery of finished scheduled reports (docs/reports.md §5): an email
//! with the file attached, through `lettre` (STARTTLS or implicit TLS, AUTH
//! PLAIN/LOGIN, pooled connections), and/or a webhook announcement signed
//! with HMAC-SHA256. Each channel is delivered (and retried) on its own.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use crate::config::WebhookConfig;
use crate::state::AppState;
use crate::store::ReportRow;

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
    let mut stream = state
        .objects
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

#[cfg(test)]
mod tests {
    /// A known answer, computed independently of this code:
    /// `python3 -c "import hmac,hashlib; print(hmac.new(b'whsec-known-answer-0123456789',
    /// b'1700000000.{\"event\":\"report.ready\"}', hashlib.sha256).hexdigest())"`.
    #[test]
    fn the_webhook_signature_matches_a_known_answer() {
        assert_eq!(
            super::signature(
                "whsec-known-answer-0123456789",
                1_700_000_000,
                br#"{"event":"report.ready"}"#
            ),
            "sha256=106f9fec92608b9754dc8b20810620358afcc4e973543ceb54daa35b20276c42"
        );
    }
}
