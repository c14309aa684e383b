//! The `lumen` binary: parses the command line and hands over to the library.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use lumen::config::{Config, Secret, redact_url};
use lumen::{AppState, http, store, telemetry};

#[derive(Parser)]
#[command(name = "lumen", version, about = "Lumen learning-analytics service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server from configuration (environment, config file).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(ConfigArgs),
    /// Run everything on one machine with no setup: an embedded SQLite
    /// database in --data-dir and the server on --port.
    Demo(DemoArgs),
}

#[derive(Args)]
struct ConfigArgs {
    /// TOML configuration file (also LUMEN_CONFIG); environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
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
struct DemoArgs {
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lumen: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let mut config = Config::from_env(args.config.config.as_deref())?;
            config.host = args.host.unwrap_or(config.host);
            config.port = args.port.unwrap_or(config.port);
            serve(config).await
        }
        Command::Migrate(args) => {
            let config = Config::from_env(args.config.as_deref())?;
            telemetry::init(&config);
            let store = store::connect(&config).await.with_context(|| {
                format!("cannot open {}", redact_url(config.database_url.expose()))
            })?;
            store.close().await;
            tracing::info!(backend = store.backend(), "migrations applied");
            Ok(())
        }
        Command::Demo(args) => {
            // The demo never touches an external database or cache.
            let mut config = Config::from_env(None)?;
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
            let db = args.data_dir.join("lumen.db");
            config.database_url = Secret::new(format!("sqlite://{}", db.display()));
            config.redis_url = None;
            config.host = args.host;
            config.port = args.port;
            serve(config).await
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config);
    let addr = SocketAddr::new(config.host, config.port);
    let store = store::connect(&config)
        .await
        .with_context(|| format!("cannot open {}", redact_url(config.database_url.expose())))?;
    let state = AppState::new(config, store.clone())?;
    let app = http::app(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, backend = store.backend(), "lumen listening");
    eprintln!("Lumen is running at http://{local}  (API docs: http://{local}/docs)");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    store.close().await;
    tracing::info!("lumen stopped");
    Ok(())
}

async fn shutdown_signal() {
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
