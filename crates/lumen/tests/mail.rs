//! Report mail through real SMTP servers (Python `aiosmtpd`, started here on
//! 127.0.0.1; see tests/support/smtp_server.py): STARTTLS with a certificate
//! trusted through `ca_file` only, with and without AUTH, and implicit TLS
//! with AUTH. Each received message is read back by Python's MIME parser:
//! the non-ASCII subject and recipient name, both bodies and the attachment.

mod support;

use base64::Engine;
use chrono::Utc;
use lumen::config::{Secret, SmtpConfig};
use lumen::mail::Mailer;
use lumen::store::ReportRow;
use serde_json::Value;
use support::smtp::{PASSWORD_IN_URL, SmtpServers};
use uuid::Uuid;

const NAME: &str = "Łukasz Dvořák-Şahin";
const ADDRESS: &str = "lukasz@lumen.test";

fn config(url: String, ca_file: Option<std::path::PathBuf>) -> SmtpConfig {
    SmtpConfig {
        url: Secret::new(url),
        from: "reports@lumen.test".into(),
        ca_file,
    }
}

fn report() -> ReportRow {
    ReportRow {
        id: Uuid::new_v4(),
        owner_id: Uuid::new_v4(),
        report_type: "learner".into(),
        format: "pdf".into(),
        time_range: "30d".into(),
        analytics: "[]".into(),
        status: "done".into(),
        error: None,
        job_id: None,
        schedule_id: None,
        object_key: None,
        file_name: Some("lumen-learner-report.pdf".into()),
        content_type: Some("application/pdf".into()),
        size_bytes: None,
        created_at: Utc::now(),
        finished_at: Some(Utc::now()),
    }
}

const FILE: &[u8] = b"%PDF-1.7 not really, but bytes to carry\n.\r\n.line with a dot\n";

fn assert_delivered(message: &Value, row: &ReportRow, authenticated: bool) {
    assert_eq!(message["tls"], true, "{message}");
    assert_eq!(message["authenticated"], authenticated);
    assert_eq!(message["mailFrom"], "reports@lumen.test");
    assert_eq!(message["rcptTo"], serde_json::json!([ADDRESS]));
    assert_eq!(message["toName"], NAME);
    assert_eq!(message["toAddress"], ADDRESS);
    assert_eq!(
        message["subject"],
        format!("Lumen learner report for {NAME}")
    );
    let raw = message["raw"].as_str().expect("raw");
    assert!(raw.is_ascii(), "headers and bodies are encoded: {raw}");
    assert!(
        raw.lines()
            .any(|l| l.starts_with("Subject: ") && l.contains("=?utf-8?")),
        "RFC 2047 subject: {raw}"
    );
    let link = format!("/api/v1/reports/{}/download", row.id);
    assert!(message["text"].as_str().expect("text").contains(&link));
    assert!(
        message["html"]
            .as_str()
            .expect("html")
            .contains(&format!("<a href=\"{link}\">"))
    );
    let attachments = message["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["filename"], "lumen-learner-report.pdf");
    assert_eq!(attachments[0]["contentType"], "application/pdf");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(attachments[0]["base64"].as_str().expect("base64"))
        .expect("decodes");
    assert_eq!(bytes, FILE);
}

#[tokio::test]
async fn reports_are_mailed_over_starttls_and_implicit_tls_with_and_without_auth() {
    let Some(servers) = SmtpServers::start() else {
        return;
    };
    let ca = Some(servers.ca_file());
    let cases = [
        ("starttls", servers.starttls_url(), false),
        (
            "starttls-auth",
            servers.starttls_auth_url(PASSWORD_IN_URL),
            true,
        ),
        ("tls-auth", servers.tls_auth_url(), true),
    ];
    for (server, url, authenticated) in cases {
        let mailer = Mailer::new(&config(url, ca.clone())).expect("mailer");
        let row = report();
        mailer
            .send_report(NAME, ADDRESS, &row, FILE.to_vec())
            .await
            .unwrap_or_else(|e| panic!("{server}: {e:#}"));
        let received = servers.received(server);
        assert_eq!(received.len(), 1, "{server}");
        assert_delivered(&received[0], &row, authenticated);
    }
}

#[tokio::test]
async fn an_untrusted_certificate_or_a_wrong_password_fails_without_showing_the_password() {
    let Some(servers) = SmtpServers::start() else {
        return;
    };
    // The servers' certificate is not trusted without the CA file: no
    // "accept invalid certificates" anywhere.
    let untrusted = Mailer::new(&config(servers.starttls_url(), None)).expect("mailer");
    let err = untrusted
        .send_report(NAME, ADDRESS, &report(), FILE.to_vec())
        .await
        .expect_err("untrusted certificate");
    assert!(format!("{err:#}").contains("127.0.0.1"), "{err:#}");

    // A wrong password: AUTH fails, and the error names the server, never the password.
    let wrong = config(
        servers.starttls_auth_url("wrong-secret-42"),
        Some(servers.ca_file()),
    );
    assert!(wrong.redacted_url().contains("lumen-mailer:***@"));
    let err = Mailer::new(&wrong)
        .expect("mailer")
        .send_report(NAME, ADDRESS, &report(), FILE.to_vec())
        .await
        .expect_err("wrong password");
    let shown = format!("{err:#} {err:?}");
    assert!(shown.contains("lumen-mailer:***@127.0.0.1"), "{shown}");
    assert!(!shown.contains("wrong-secret-42"), "{shown}");
    assert!(servers.received("starttls").is_empty());
    assert!(servers.received("starttls-auth").is_empty());
}
