//! `lumen serve` and `lumen demo`: the API server with its workers.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::{
    ConfigArgs, Schedules, open_store, shutdown_signal, shutdown_signal_within, with_workers,
};
use crate::config::{Config, Secret};
use crate::queue::{BatchPayload, JobKind, NewJob};
use crate::{AppState, accounts, http, simulate, store, telemetry};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on (overrides LUMEN_HOST).
    #[arg(long)]
    host: Option<IpAddr>,
    /// Port to listen on (overrides LUMEN_PORT).
    #[arg(long)]
    port: Option<u16>,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Directory for the demo's SQLite database (created if missing).
    #[arg(long, default_value = "./lumen-data", value_name = "DIR")]
    data_dir: PathBuf,
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
}

/// `lumen serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::from_env(args.config.config.as_deref())?;
    config.host = args.host.unwrap_or(config.host);
    config.port = args.port.unwrap_or(config.port);
    telemetry::init(&config);
    let store = open_store(&config).await?;
    serve_with(config, store).await
}

/// `lumen demo`: the simulated upstreams collected into SQLite in the data
/// directory, the demo logins, then the server. The demo never touches an
/// external database or cache.
pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let mut config = Config::from_env(None)?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let db = args.data_dir.join("lumen.db");
    config.database_url = Secret::new(format!("sqlite://{}", db.display()));
    config.redis_url = None;
    config.reports.dir = args.data_dir.join("reports");
    config.host = args.host;
    config.port = args.port;
    if config.jwt_secret.is_none() {
        config.jwt_secret = Some(Secret::new(demo_secret(&args.data_dir)?));
    }
    telemetry::init(&config);
    // The nine upstreams, simulated in-process on a loopback port.
    let sim = simulate::SimHandle::new(simulate::SimConfig {
        seed: simulate::DEMO_SEED,
        scale: simulate::Scale::Medium,
        now: simulate::today(),
    });
    let sim_addr = simulate::serve_on_loopback(sim).await?;
    simulate::point_upstreams(&mut config, sim_addr, "demo");
    let store = open_store(&config).await?;
    eprintln!("Collecting the demo organisation from the simulated upstreams…");
    let upstreams = Arc::new(crate::upstream::Upstreams::from_config(
        &config,
        crate::upstream::Resilience::from_config(&config),
    )?);
    let report = crate::collector::Collector::new(store.clone(), upstreams)
        .run()
        .await?;
    eprintln!(
        "Collected {} records ({} read).",
        report.stored(),
        report.fetched()
    );
    accounts::seed_demo(&store).await?;
    // Warm the cache in the background: the daily batch, now.
    let batch = JobKind::Batch(BatchPayload {
        skip_collect: true,
        ..BatchPayload::default()
    });
    let job = NewJob {
        singleton_key: Some("batch:demo".into()),
        ..batch.into_job()
    };
    store.enqueue_job(&job, chrono::Utc::now()).await?;
    eprintln!(
        "Demo logins (password {:?}): {}",
        accounts::DEMO_PASSWORD,
        accounts::DEMO_LOGINS.map(|(email, _, _)| email).join(", ")
    );
    serve_with(config, store).await
}

/// The API server, the background collection and the workers, until a
/// shutdown signal; then in-flight requests finish and everything stops.
async fn serve_with(config: Config, store: store::Store) -> anyhow::Result<()> {
    let addr = SocketAddr::new(config.host, config.port);
    crate::auth::passwords::warm_up();
    let state = AppState::new(config, store.clone())?;
    let collecting = spawn_collection(&state).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let app = http::app(state.clone());
    let metrics_server = match state.config.metrics_addr {
        Some(metrics_addr) => {
            let listener = tokio::net::TcpListener::bind(metrics_addr)
                .await
                .with_context(|| format!("cannot listen on {metrics_addr} (LUMEN_METRICS_ADDR)"))?;
            tracing::info!(%metrics_addr, "metrics listening");
            let metrics = http::metrics_app(state.clone());
            Some(tokio::spawn(async move {
                axum::serve(listener, metrics)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
            }))
        }
        None => None,
    };
    let serving = async {
        tracing::info!(%local, backend = store.backend(), "lumen listening");
        eprintln!("Lumen is running at http://{local}  (API docs: http://{local}/docs)");
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal_within(state.config.shutdown_grace))
        .await
    };
    let served = with_workers(&state, Schedules::Run, serving).await;
    if let Some(task) = collecting {
        task.abort();
    }
    if let Some(task) = metrics_server {
        task.abort();
    }
    served??;
    store.close().await;
    tracing::info!("lumen stopped");
    Ok(())
}

/// Collects from the upstreams every `LUMEN_COLLECT_INTERVAL_SECS`, in the
/// background, when any is configured.
async fn spawn_collection(state: &AppState) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let interval = state.config.collect_interval;
    if state.upstreams.clients.is_empty() || interval.is_zero() {
        return Ok(None);
    }
    let mut collector = state.collector();
    if state.config.mock_fallback {
        tracing::warn!(
            "LUMEN_MOCK_FALLBACK is on: services never reached are filled with synthetic data"
        );
        let resilience = crate::upstream::Resilience::from_config(&state.config);
        collector = collector.with_mock_fallback(simulate::start_mock_fallback(resilience).await?);
    }
    Ok(Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            if let Err(err) = collector.run().await {
                tracing::error!(error = format!("{err:#}"), "collection failed");
            }
        }
    })))
}

/// The demo's token key: made once, kept in the data directory (mode 0600)
/// so tokens survive a restart.
fn demo_secret(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= crate::config::MIN_JWT_SECRET_BYTES {
            return Ok(existing);
        }
    }
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let secret = crate::auth::passwords::base64_url(&bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, secret.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret)
}
