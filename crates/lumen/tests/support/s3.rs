//! A real S3-compatible server for the object-storage tests: `moto` in
//! server mode (Python, `pip install 'moto[server]'`; `.ci/run` installs
//! it) on 127.0.0.1, on a port it picks, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl S3Server {
    /// The server with `bucket` created, or `None` (test skipped) when
    /// Python or moto is missing outside CI.
    pub async fn start(bucket: &str) -> Option<Self> {
        match Command::new("python3")
            .args(["-c", "import moto.server"])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                super::unavailable(
                    "Python moto (pip install 'moto[server]')",
                    String::from_utf8_lossy(&out.stderr),
                );
                return None;
            }
            Err(err) => {
                super::unavailable("python3", err);
                return None;
            }
        }
        let mut child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto.server");
        // Werkzeug prints " * Running on http://127.0.0.1:PORT" once listening.
        let stderr = child.stderr.take().expect("stderr");
        let endpoint = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines();
            let found = lines.by_ref().map_while(Result::ok).find_map(|l| {
                l.split("Running on ")
                    .nth(1)
                    .map(|u| u.trim().trim_end_matches('/').to_owned())
            });
            // Keep reading so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            found
        })
        .await
        .expect("reader")
        .expect("moto printed where it listens");
        let server = Self { child, endpoint };
        // The bucket (moto accepts any credentials and unsigned requests).
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match http
                .put(format!("{}/{bucket}", server.endpoint))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => break,
                other => {
                    assert!(Instant::now() < deadline, "moto never answered: {other:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Some(server)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
