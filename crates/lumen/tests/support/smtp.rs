//! Real SMTP servers for the mail tests: `smtp_server.py` (Python `aiosmtpd`,
//! `pip install aiosmtpd`; `.ci/run` installs it) on 127.0.0.1, speaking
//! STARTTLS or implicit TLS with a certificate from a test CA it makes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use uuid::Uuid;

/// The account of the servers that require AUTH, percent-encoded for a URL.
pub const USER: &str = "lumen-mailer";
pub const PASSWORD_IN_URL: &str = "p%40ss%20w0rd";

pub struct SmtpServers {
    child: Child,
    dir: PathBuf,
    ports: Value,
}

impl SmtpServers {
    /// The servers, or `None` (test skipped) when Python or `aiosmtpd` is
    /// missing outside CI.
    pub fn start() -> Option<Self> {
        let probe = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output();
        match probe {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                super::unavailable(
                    "Python aiosmtpd (pip install aiosmtpd)",
                    String::from_utf8_lossy(&out.stderr),
                );
                return None;
            }
            Err(err) => {
                super::unavailable("python3", err);
                return None;
            }
        }
        let dir = std::env::temp_dir().join(format!("lumen-smtp-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start smtp_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ports");
        let ports = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        Some(Self { child, dir, ports })
    }

    fn port(&self, server: &str) -> u64 {
        self.ports[server].as_u64().expect(server)
    }

    /// STARTTLS, no AUTH.
    pub fn starttls_url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=required", self.port("starttls"))
    }

    /// STARTTLS and AUTH with `password` (percent-encoded).
    pub fn starttls_auth_url(&self, password: &str) -> String {
        format!(
            "smtp://{USER}:{password}@127.0.0.1:{}?tls=required",
            self.port("starttls-auth")
        )
    }

    /// Implicit TLS and AUTH.
    pub fn tls_auth_url(&self) -> String {
        format!(
            "smtps://{USER}:{PASSWORD_IN_URL}@127.0.0.1:{}",
            self.port("tls-auth")
        )
    }

    /// The test CA that signed the servers' certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// What `server` received, in order, each as read by Python's MIME parser
    /// (see smtp_server.py), with the raw message under `"raw"`.
    pub fn received(&self, server: &str) -> Vec<Value> {
        (1..)
            .map_while(|n| {
                let base = self.dir.join(format!("{server}-{n}"));
                let json = std::fs::read_to_string(base.with_extension("json")).ok()?;
                let mut message: Value = serde_json::from_str(&json).expect("json");
                let raw = std::fs::read_to_string(base.with_extension("eml")).expect("eml");
                message["raw"] = Value::String(raw);
                Some(message)
            })
            .collect()
    }
}

impl Drop for SmtpServers {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
