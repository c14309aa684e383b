//! The `lumen` binary as an operator uses it: help on every subcommand,
//! configuration errors that name the setting without leaking secrets, and
//! `lumen demo` serving real HTTP, then shutting down cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn lumen() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lumen"));
    // Start from a clean configuration whatever the caller's environment holds.
    for (key, _) in std::env::vars() {
        if key.starts_with("LUMEN_") || key == "DATABASE_URL" || key == "REDIS_URL" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Every subcommand `lumen --help` lists, and every subcommand of those,
/// answers `--help` with its usage: the list is read from the help itself,
/// so a new command is covered without editing this test.
#[test]
fn every_subcommand_has_help() {
    fn help(args: &[String]) -> String {
        let out = lumen()
            .args(args)
            .arg("--help")
            .output()
            .expect("run lumen");
        assert!(out.status.success(), "lumen {args:?} --help failed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("Usage: lumen"), "{args:?}: {text}");
        text
    }
    /// The names under `Commands:`, without `help`.
    fn commands(help: &str) -> Vec<String> {
        help.lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| *c != "help")
            .map(str::to_owned)
            .collect()
    }
    let top = commands(&help(&[]));
    for expected in [
        "serve", "migrate", "demo", "simulate", "collect", "user", "worker", "batch", "import",
        "model", "openapi",
    ] {
        assert!(top.iter().any(|c| c == expected), "{expected} in {top:?}");
    }
    let mut checked = 0;
    for command in &top {
        let text = help(std::slice::from_ref(command));
        checked += 1;
        for sub in commands(&text) {
            help(&[command.clone(), sub]);
            checked += 1;
        }
    }
    assert!(
        checked > top.len(),
        "nested subcommands were found and checked"
    );
}

#[test]
fn an_invalid_setting_fails_start_up_naming_the_setting() {
    let out = lumen()
        .arg("serve")
        .env("LUMEN_PORT", "eighty")
        .output()
        .expect("run lumen");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LUMEN_PORT"), "{stderr}");
}

#[test]
fn an_unreachable_database_fails_without_printing_its_password() {
    let out = lumen()
        .arg("migrate")
        .env("DATABASE_URL", "postgres://lumen:hunter2@127.0.0.1:1/lumen")
        .output()
        .expect("run lumen");
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("hunter2"), "{all}");
    assert!(all.contains("lumen:***@127.0.0.1:1"), "{all}");
}

#[test]
fn migrate_creates_an_sqlite_database() {
    let dir = std::env::temp_dir().join(format!("lumen-cli-{}", uuid::Uuid::new_v4().simple()));
    let db = dir.join("sub").join("lumen.db");
    let out = lumen()
        .arg("migrate")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .expect("run lumen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
    std::fs::remove_dir_all(dir).ok();
}

/// `lumen demo --port 0` in `dir` with `env`: the running child, the URL
/// it announces, and every line it writes to stderr.
fn start_demo(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (KillOnDrop, String, std::sync::mpsc::Receiver<String>) {
    let mut child = lumen()
        .args(["demo", "--port", "0", "--data-dir"])
        .arg(dir)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start demo");
    let stderr = child.stderr.take().expect("stderr");
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Lumen is running at ") {
                let _ = url_tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            let _ = line_tx.send(line);
        }
    });
    let base = url_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("demo announces its URL");
    (KillOnDrop(child), base, line_rx)
}

#[tokio::test]
async fn demo_serves_http_and_stops_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("lumen-demo-{}", uuid::Uuid::new_v4().simple()));
    let (mut demo, base, _) = start_demo(&dir, &[]);

    lumen::install_crypto_provider();
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{base}/api/health"))
        .send()
        .await
        .expect("GET health");
    assert_eq!(health.status(), 200);
    let delete = client
        .delete(format!("{base}/api/health"))
        .send()
        .await
        .expect("DELETE health");
    assert_eq!(delete.status(), 405);
    assert!(
        delete.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/json")
    );
    let spec = client
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .expect("spec");
    assert!(
        spec.text()
            .await
            .expect("body")
            .contains("\"openapi\":\"3.1")
    );
    assert!(
        dir.join("lumen.db").exists(),
        "the demo keeps its data in --data-dir"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &demo.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = demo.0.wait().expect("wait");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    std::fs::remove_dir_all(dir).ok();
}

/// A stop is bounded: with a request still in flight (its body never
/// finishes arriving, and the request timeout is ten minutes), SIGTERM
/// stops the process after `LUMEN_SHUTDOWN_GRACE_SECS`, not when the
/// request gives up.
#[tokio::test]
async fn sigterm_stops_within_the_grace_period_whatever_is_in_flight() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("lumen-grace-{}", uuid::Uuid::new_v4().simple()));
    let (mut demo, base, said_rx) = start_demo(
        &dir,
        &[
            ("LUMEN_SHUTDOWN_GRACE_SECS", "1"),
            ("LUMEN_REQUEST_TIMEOUT_SECS", "600"),
        ],
    );
    let addr = base.trim_start_matches("http://").to_owned();

    // A request whose body stops half-way: the handler waits for the rest.
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"email\":"
    )
    .expect("send a partial request");
    stream.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(500));

    let killed = Command::new("kill")
        .args(["-TERM", &demo.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = demo.0.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            panic!("still running a minute after SIGTERM with a 1 s grace period");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        !status.success(),
        "a stop forced by the grace period exits 1"
    );
    // Everything it wrote (the stream ends with the process's stderr).
    let said: Vec<String> = said_rx.iter().collect();
    assert!(
        said.iter().any(|l| l.contains("did not stop within 1 s")),
        "says why it exited: {said:?}"
    );
    drop(stream);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn user_commands_add_list_and_set_passwords() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("lumen-users-{}", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", dir.join("lumen.db").display());
    let run = |args: &[&str], stdin: &str| {
        let mut child = lumen()
            .args(args)
            .env("DATABASE_URL", &url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lumen");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write");
        child.wait_with_output().expect("wait")
    };
    let add = run(
        &[
            "user",
            "add",
            "--email",
            "grace@acme.test",
            "--name",
            "Grace Hopper",
            "--role",
            "trainer",
            "--role",
            "learner",
            "--org",
            "Acme",
        ],
        "a-long-password\n",
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let again = run(
        &[
            "user",
            "add",
            "--email",
            "grace@acme.test",
            "--name",
            "G",
            "--role",
            "learner",
        ],
        "a-long-password\n",
    );
    assert!(!again.status.success(), "a duplicate email is refused");
    let short = run(
        &[
            "user",
            "add",
            "--email",
            "x@acme.test",
            "--name",
            "X",
            "--role",
            "learner",
        ],
        "short\n",
    );
    assert!(!short.status.success(), "a short password is refused");
    let bad_role = run(
        &[
            "user",
            "add",
            "--email",
            "y@acme.test",
            "--name",
            "Y",
            "--role",
            "admin",
        ],
        "a-long-password\n",
    );
    assert!(!bad_role.status.success(), "an unknown role is refused");
    let list = run(&["user", "list"], "");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("grace@acme.test") && listed.contains("learner,trainer"),
        "{listed}"
    );
    assert!(!listed.contains("x@acme.test"));
    let set = run(
        &["user", "set-password", "grace@acme.test"],
        "another-long-password\n",
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    // The new password is the one that now verifies, the old one no longer.
    let stored = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let store = lumen::store::Store::open(&url, 1).await.expect("open");
            let (_, hash) = store
                .credentials("grace@acme.test")
                .await
                .expect("read")
                .expect("grace exists");
            store.close().await;
            hash
        });
    use lumen::auth::passwords::{Verified, verify};
    assert!(matches!(
        verify("another-long-password", stored.as_deref()),
        Verified::Match { .. }
    ));
    assert!(matches!(
        verify("a-long-password", stored.as_deref()),
        Verified::Mismatch
    ));
    let missing = run(
        &["user", "set-password", "nobody@acme.test"],
        "another-long-password\n",
    );
    assert!(!missing.status.success());
    std::fs::remove_dir_all(dir).ok();
}

/// A child process killed when the test ends, passed or failed.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// The operator's path with no Lumen server: `lumen simulate` serves the
/// nine upstreams, `lumen collect` stores what they hold, `lumen batch`
/// precomputes every subject's analytics, each run as a command.
#[test]
fn simulate_collect_and_batch_run_as_commands() {
    let dir = std::env::temp_dir().join(format!("lumen-ops-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("lumen.db").display());
    let mut sim = KillOnDrop(
        lumen()
            .args(["simulate", "--port", "0", "--scale", "small"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator"),
    );
    // It prints one `NAME=value NAME=value` line per service.
    let stdout = sim.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut env = Vec::new();
    while env.len() < 2 * lumen::simulate::SERVICES.len() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the simulator prints its settings");
        for pair in line.split_whitespace() {
            let (key, value) = pair.split_once('=').expect("NAME=value");
            env.push((key.to_owned(), value.to_owned()));
        }
    }
    let run = |args: &[&str]| {
        let out = lumen()
            .args(args)
            .env("DATABASE_URL", &url)
            .env("LUMEN_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run lumen");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "lumen {args:?} failed: {text}");
        text
    };
    let collected = run(&["collect"]);
    let total = collected
        .lines()
        .find_map(|l| l.strip_prefix("total: fetched "))
        .expect("a total line");
    let fetched: u64 = total
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(fetched > 1000, "{collected}");
    assert!(total.contains(&format!("stored {fetched} ")), "{collected}");

    let batch = run(&["batch", "--skip-collect"]);
    let line = batch
        .lines()
        .find(|l| l.starts_with("Batch ") && l.contains(" completed "))
        .unwrap_or_else(|| panic!("no completion line: {batch}"));
    let (results, subjects) = line
        .split_once(" results for ")
        .map(|(a, b)| {
            (
                a.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()),
                b.split(' ').next().and_then(|n| n.parse::<u64>().ok()),
            )
        })
        .expect("results for subjects");
    assert!(results.expect("results") > 100, "{line}");
    assert!(subjects.expect("subjects") > 10, "{line}");
    drop(sim);
    std::fs::remove_dir_all(dir).ok();
}

/// `lumen import` as a command: the fixture directory imports in dependency
/// order with every record stored, and a file with bad records fails the
/// command under `--strict`, naming the records and storing none of them.
#[test]
fn import_runs_as_a_command() {
    let dir = std::env::temp_dir().join(format!("lumen-import-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("lumen.db").display());
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
    let run = |args: &[&str]| {
        let out = lumen()
            .args(args)
            .env("DATABASE_URL", &url)
            .env("LUMEN_LOG", "warn")
            .output()
            .expect("run lumen");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, text)
    };
    let good = fixtures.join("good");
    let (status, text) = run(&["import", good.to_str().expect("utf-8 path")]);
    assert!(status.success(), "{text}");
    let records: usize = std::fs::read_dir(&good)
        .expect("fixtures")
        .map(|f| {
            std::fs::read_to_string(f.expect("entry").path())
                .expect("read")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count()
        })
        .sum();
    assert!(
        text.contains(&format!("total: stored {records} records")) && text.contains(", 0 bad"),
        "{records} records: {text}"
    );

    let bad = fixtures.join("bad");
    let (status, text) = run(&["import", "--strict", bad.to_str().expect("utf-8 path")]);
    assert!(
        !status.success(),
        "--strict with bad records must fail: {text}"
    );
    assert!(text.contains("total: stored 0 records"), "{text}");
    assert!(text.contains("bad records"), "{text}");
    std::fs::remove_dir_all(dir).ok();
}
