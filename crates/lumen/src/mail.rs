//! Mail through an SMTP server with `lettre`: STARTTLS or implicit TLS,
//! AUTH PLAIN/LOGIN, pooled connections. Reports use it to mail finished
//! scheduled reports (docs/reports.md §5).

use std::time::Duration;

use anyhow::{Context, bail};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::config::SmtpConfig;
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
