//! The `lumen` commands (`main.rs` only parses the command line). Each
//! submodule holds its commands' arguments and what they do; the pieces
//! they share are here: opening the store, the shutdown signal, and
//! [`with_workers`], the one way a process runs job workers until it stops
//! (`serve`, `demo`, `worker`, `batch`).

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Secret, redact_url};
use crate::{AppState, jobs, store, telemetry};

pub mod batch;
pub mod data;
pub mod serve;
pub mod user;

// `--config`, shared by the commands that read the configuration. (No doc
// comment: clap would show it as the about of the commands it is flattened in.)
#[derive(Args)]
pub struct ConfigArgs {
    /// TOML configuration file (also LUMEN_CONFIG); environment variables override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArgs {
    /// The configuration, with logging set up from it.
    pub fn load(&self) -> anyhow::Result<Config> {
        let config = Config::from_env(self.config.as_deref())?;
        telemetry::init(&config);
        Ok(config)
    }
}

/// `lumen openapi`: prints the OpenAPI document, the same bytes
/// `/api/openapi.json` serves, with no configuration, database or network.
pub fn openapi() -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(crate::http::openapi::document().as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .context("writing the document to standard output")
}

/// `lumen migrate`: the migrations are applied when the store opens.
pub async fn migrate(args: ConfigArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    let store = open_store(&config).await?;
    store.close().await;
    tracing::info!(backend = store.backend(), "migrations applied");
    Ok(())
}

/// `lumen worker`: the scheduler and job workers, no HTTP, until a signal.
pub async fn worker(args: ConfigArgs) -> anyhow::Result<()> {
    let config = without_tokens(args.load()?);
    anyhow::ensure!(
        config.workers > 0,
        "LUMEN_WORKERS is 0: this worker would run nothing"
    );
    let store = open_store(&config).await?;
    let state = AppState::new(config, store.clone())?;
    let running = async {
        eprintln!(
            "Lumen worker running {} jobs at a time on {}; Ctrl-C to stop.",
            state.config.workers,
            store.backend()
        );
        shutdown_signal_within(state.config.shutdown_grace).await;
    };
    with_workers(&state, Schedules::Run, running).await?;
    store.close().await;
    Ok(())
}

/// Whether a process also fires cron schedules (and keeps L1 in step with
/// other instances), or only runs jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedules {
    Run,
    Skip,
}

/// Runs `state`'s job workers (with `Schedules::Run`, also the scheduler
/// and the L1 invalidation listener) while `until` runs, then stops them
/// and waits for them; `until`'s output. Jobs still running are left to
/// their lease (another worker takes them over).
pub async fn with_workers<F: Future>(
    state: &AppState,
    schedules: Schedules,
    until: F,
) -> anyhow::Result<F::Output> {
    let shutdown = CancellationToken::new();
    let tasks = match schedules {
        Schedules::Run => jobs::start(state, &shutdown).await?,
        Schedules::Skip => vec![tokio::spawn(jobs::run_workers(
            state.clone(),
            jobs::WorkerConfig {
                concurrency: state.config.workers,
                lease: state.config.job_lease,
                ..jobs::WorkerConfig::default()
            },
            shutdown.clone(),
        ))],
    };
    let output = until.await;
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }
    Ok(output)
}

pub async fn open_store(config: &Config) -> anyhow::Result<store::Store> {
    store::Store::connect(config)
        .await
        .with_context(|| format!("cannot open {}", redact_url(config.database_url.expose())))
}

/// `worker` and `batch` issue no tokens: they need no `LUMEN_JWT_SECRET`.
fn without_tokens(mut config: Config) -> Config {
    if config.jwt_secret.is_none() {
        let key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        config.jwt_secret = Some(Secret::new(key));
    }
    config
}

/// Resolves at Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

/// [`shutdown_signal`], after which the process has `grace` to stop: a
/// watchdog thread (not a task, so a runtime busy or blocked in a
/// computation cannot hold it up) exits the process when it is over. Jobs
/// still running are then left to their lease, and another worker takes
/// them over.
pub async fn shutdown_signal_within(grace: std::time::Duration) {
    shutdown_signal().await;
    let spawned = std::thread::Builder::new()
        .name("shutdown-watchdog".into())
        .spawn(move || {
            std::thread::sleep(grace);
            tracing::error!(
                grace_secs = grace.as_secs(),
                "still running after the shutdown grace period: exiting"
            );
            eprintln!(
                "Lumen did not stop within {} s (LUMEN_SHUTDOWN_GRACE_SECS): exiting.",
                grace.as_secs()
            );
            std::process::exit(1);
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "no shutdown watchdog: the stop is not bounded");
    }
}
