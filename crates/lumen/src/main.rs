//! The `lumen` binary: parses the command line and hands over to the library.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use lumen::config::{Config, Secret, redact_url};
use lumen::{AppState, accounts, http, store, telemetry};
use lumen_core::Role;

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
    /// database in --data-dir, the demo logins, and the server on --port.
    Demo(DemoArgs),
    /// Serve the nine upstream services, simulated over HTTP from a
    /// deterministic synthetic organisation, with fault injection
    /// (`PUT /_sim/faults/{service}`).
    Simulate(SimulateArgs),
    /// Collect once from every configured upstream service into the store,
    /// then print what was fetched, stored and rejected.
    Collect(ConfigArgs),
    /// Manage local accounts (email and password logins).
    #[command(subcommand)]
    User(UserCommand),
    /// Run job workers and the scheduler only (no HTTP): the daily batch,
    /// refreshes and reports queued by any instance.
    Worker(ConfigArgs),
    /// Run the daily batch now (Collect, Analyze, Aggregate) with a progress
    /// bar, using this process's workers and any others on the queue.
    Batch(BatchArgs),
    /// Import learning records from NDJSON files (docs/import.md), or the
    /// OULAD dataset (`lumen import oulad DIR`, docs/oulad.md).
    Import(ImportArgs),
    /// The drop-off model offline.
    #[command(subcommand)]
    Model(ModelCommand),
}

#[derive(Args)]
struct BatchArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Skip the Collect stage (analyse what is stored).
    #[arg(long)]
    skip_collect: bool,
    /// Time ranges to precompute (7d, 30d, 90d, 1y); repeat for several. Default 30d.
    #[arg(long = "time-range")]
    time_ranges: Vec<lumen_core::analytics::TimeRange>,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ImportArgs {
    #[command(subcommand)]
    dataset: Option<ImportDataset>,
    #[command(flatten)]
    config: ConfigArgs,
    /// A file `<kind>.ndjson`, or a directory of them (imported in dependency order).
    path: Option<PathBuf>,
    /// Ids derive from `import:<NAME>`; default: the directory's name (a
    /// file's: its directory's). Import related files under one name.
    #[arg(long)]
    name: Option<String>,
    /// A file with a bad record imports nothing (default: its good records).
    #[arg(long)]
    strict: bool,
}

#[derive(Subcommand)]
enum ImportDataset {
    /// The Open University Learning Analytics Dataset, from its CSV files
    /// (studentVle*.csv[.gz] for the clickstream).
    Oulad {
        #[command(flatten)]
        config: ConfigArgs,
        /// The directory holding courses.csv, studentInfo.csv, … .
        dir: PathBuf,
        /// Then run every analytic on the imported organisation and say
        /// which work and which lack inputs (minutes on the full dataset).
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Evaluate the drop-off model on OULAD's real outcomes: trained on an
    /// earlier presentation, tested on a later one of the same module, at
    /// prediction days 30, 60, 90 and 120, against two baselines.
    Evaluate {
        /// The OULAD directory (as for `lumen import oulad`).
        #[arg(long, value_name = "DIR")]
        oulad: PathBuf,
        /// Prediction days (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = lumen::evaluate::DAYS)]
        days: Vec<i64>,
        /// Also write the full results (with reliability bins) as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; reads its password from the first line of standard input.
    Add {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// learner, trainer or org-admin; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
        /// Organisation name (created if missing).
        #[arg(long, default_value = "Local accounts")]
        org: String,
    },
    /// Set an account's password; reads it from the first line of standard input.
    SetPassword {
        #[command(flatten)]
        config: ConfigArgs,
        email: String,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        config: ConfigArgs,
    },
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
struct SimulateArgs {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 9090)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Seed of the synthetic organisation: the same seed, scale and date
    /// give the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// small (~40 learners), medium (~500) or large (~20,000, millions of activity records).
    #[arg(long, default_value = "medium")]
    scale: lumen::simulate::Scale,
    /// The simulated present (RFC 3339); default: today, 00:00 UTC.
    #[arg(long)]
    now: Option<chrono::DateTime<chrono::Utc>>,
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
            let store = open_store(&config).await?;
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
            config.reports.dir = args.data_dir.join("reports");
            config.host = args.host;
            config.port = args.port;
            if config.jwt_secret.is_none() {
                config.jwt_secret = Some(Secret::new(demo_secret(&args.data_dir)?));
            }
            telemetry::init(&config);
            // The nine upstreams, simulated in-process on a loopback port.
            let sim = lumen::simulate::SimHandle::new(lumen::simulate::SimConfig {
                seed: DEMO_SEED,
                scale: lumen::simulate::Scale::Medium,
                now: today(),
            });
            let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let sim_addr = sim_listener.local_addr()?;
            let sim_server = sim.clone();
            tokio::spawn(async move { sim_server.serve(sim_listener).await });
            for service in lumen::simulate::SERVICES {
                config.upstreams.insert(
                    service,
                    lumen::config::UpstreamConfig {
                        base_url: format!("http://{sim_addr}/{service}"),
                        token: Secret::new("demo".into()),
                    },
                );
            }
            let store = open_store(&config).await?;
            eprintln!("Collecting the demo organisation from the simulated upstreams…");
            let upstreams = std::sync::Arc::new(lumen::upstream::Upstreams::from_config(
                &config,
                lumen::upstream::Resilience::from_config(&config),
            )?);
            let report = lumen::collector::Collector::new(store.clone(), upstreams)
                .run()
                .await?;
            eprintln!(
                "Collected {} records ({} read).",
                report.stored(),
                report.fetched()
            );
            accounts::seed_demo(&store).await?;
            // Warm the cache in the background: the daily batch, now.
            store
                .enqueue_job(
                    &lumen::jobs::NewJob {
                        kind: "batch".into(),
                        payload: serde_json::json!({ "skipCollect": true }),
                        singleton_key: Some("batch:demo".into()),
                        ..Default::default()
                    },
                    chrono::Utc::now(),
                )
                .await?;
            eprintln!(
                "Demo logins (password {:?}): {}",
                accounts::DEMO_PASSWORD,
                accounts::DEMO_LOGINS.map(|(email, _, _)| email).join(", ")
            );
            serve_with(config, store).await
        }
        Command::User(command) => user_command(command).await,
        Command::Worker(args) => {
            let config = without_tokens(Config::from_env(args.config.as_deref())?);
            telemetry::init(&config);
            anyhow::ensure!(
                config.workers > 0,
                "LUMEN_WORKERS is 0: this worker would run nothing"
            );
            let store = open_store(&config).await?;
            let state = AppState::new(config, store.clone())?;
            let shutdown = tokio_util::sync::CancellationToken::new();
            let tasks = lumen::jobs::start(&state, &shutdown).await?;
            eprintln!(
                "Lumen worker running {} jobs at a time on {}; Ctrl-C to stop.",
                state.config.workers,
                store.backend()
            );
            shutdown_signal().await;
            shutdown.cancel();
            for task in tasks {
                let _ = task.await;
            }
            store.close().await;
            Ok(())
        }
        Command::Batch(args) => batch_command(args).await,
        Command::Import(args) => import_command(args).await,
        Command::Model(ModelCommand::Evaluate { oulad, days, json }) => {
            let results = lumen::evaluate::evaluate_oulad(&oulad, &days)?;
            print!("{}", lumen::evaluate::markdown(&results));
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_vec_pretty(&results)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(())
        }
        Command::Simulate(args) => {
            let config = Config::from_env(None)?;
            telemetry::init(&config);
            let cfg = lumen::simulate::SimConfig {
                seed: args.seed,
                scale: args.scale,
                now: args.now.unwrap_or_else(today),
            };
            let started = std::time::Instant::now();
            let sim = lumen::simulate::SimHandle::new(cfg);
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
                .await
                .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
            let local = listener.local_addr()?;
            eprintln!(
                "Simulating {} upstream services (seed {}, scale {}, now {}) at http://{local}, generated in {:.1} s.",
                lumen::simulate::SERVICES.len(),
                args.seed,
                args.scale,
                sim.now().to_rfc3339(),
                started.elapsed().as_secs_f64()
            );
            eprintln!("Point Lumen at it with (any non-empty token is accepted):");
            for service in lumen::simulate::SERVICES {
                println!(
                    "{}=http://{local}/{service} {}=simulator",
                    lumen::config::upstream_env_var(service, "URL"),
                    lumen::config::upstream_env_var(service, "TOKEN")
                );
            }
            tokio::select! {
                served = sim.serve(listener) => served?,
                () = shutdown_signal() => {}
            }
            Ok(())
        }
        Command::Collect(args) => {
            let config = Config::from_env(args.config.as_deref())?;
            telemetry::init(&config);
            anyhow::ensure!(
                !config.upstreams.is_empty(),
                "no upstream is configured: set LUMEN_UPSTREAM_<SERVICE>_URL and _TOKEN"
            );
            let store = open_store(&config).await?;
            let upstreams = std::sync::Arc::new(lumen::upstream::Upstreams::from_config(
                &config,
                lumen::upstream::Resilience::from_config(&config),
            )?);
            let started = std::time::Instant::now();
            let report = lumen::collector::Collector::new(store.clone(), upstreams)
                .run()
                .await?;
            let secs = started.elapsed().as_secs_f64();
            for f in &report.feeds {
                let rejected: u64 = f.rejected.values().sum();
                println!(
                    "{:<16} {:<22} fetched {:>9}  stored {:>9}  rejected {:>6}  {}",
                    f.service,
                    f.feed,
                    f.fetched,
                    f.stored,
                    rejected,
                    f.error
                        .as_deref()
                        .unwrap_or(if f.complete { "complete" } else { "" })
                );
            }
            println!(
                "total: fetched {} stored {} in {secs:.1} s ({:.0} records/s)",
                report.fetched(),
                report.stored(),
                report.stored() as f64 / secs.max(1e-9)
            );
            store.close().await;
            Ok(())
        }
    }
}

/// The demo's synthetic organisation is always the same one.
const DEMO_SEED: u64 = 42;

/// Today at 00:00 UTC: the simulator's default present, so a simulation is
/// the same all day.
fn today() -> chrono::DateTime<chrono::Utc> {
    use chrono::{TimeZone, Utc};
    let d = Utc::now().date_naive();
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

async fn open_store(config: &Config) -> anyhow::Result<store::Store> {
    store::Store::connect(config)
        .await
        .with_context(|| format!("cannot open {}", redact_url(config.database_url.expose())))
}

/// The demo's token key: made once, kept in the data directory (mode 0600)
/// so tokens survive a restart.
fn demo_secret(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= lumen::config::MIN_JWT_SECRET_BYTES {
            return Ok(existing);
        }
    }
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    let secret = lumen::auth::passwords::base64_url(&bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, secret.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret)
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}

async fn user_command(command: UserCommand) -> anyhow::Result<()> {
    let config_file = match &command {
        UserCommand::Add { config, .. }
        | UserCommand::SetPassword { config, .. }
        | UserCommand::List { config } => config.config.clone(),
    };
    let config = Config::from_env(config_file.as_deref())?;
    telemetry::init(&config);
    let store = open_store(&config).await?;
    match command {
        UserCommand::Add {
            email,
            name,
            roles,
            org,
            ..
        } => {
            let password = read_password()?;
            let user = accounts::add_user(&store, &org, &email, &name, &roles, &password).await?;
            println!("created {} ({})", user.email, user.id);
        }
        UserCommand::SetPassword { email, .. } => {
            let password = read_password()?;
            accounts::set_password(&store, &email, &password).await?;
            println!("password set for {email}");
        }
        UserCommand::List { .. } => {
            println!("{:<36}  {:<32}  {:<24}  roles", "id", "email", "name");
            for user in store.users(None).await? {
                let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "{:<36}  {:<32}  {:<24}  {}",
                    user.id,
                    user.email,
                    user.full_name,
                    roles.join(",")
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn import_command(args: ImportArgs) -> anyhow::Result<()> {
    let config_file = match &args.dataset {
        Some(ImportDataset::Oulad { config, .. }) => config.config.clone(),
        None => args.config.config.clone(),
    };
    let config = Config::from_env(config_file.as_deref())?;
    telemetry::init(&config);
    let store = open_store(&config).await?;
    let mut out = std::io::stdout().lock();
    let result = match args.dataset {
        Some(ImportDataset::Oulad { dir, check, .. }) => {
            let report = lumen::import::oulad::import(&store, &dir).await?;
            report.print(&mut out)?;
            lumen::import::oulad::print_outcomes(&store, &mut out).await?;
            if check {
                lumen::import::oulad::print_coverage(&store, &mut out).await?;
            }
            Ok(())
        }
        None => {
            let path = args
                .path
                .context("give a PATH to import, or `oulad DIR` (see --help)")?;
            let name = match args.name {
                Some(n) => n,
                None => lumen::import::default_name(&path)?,
            };
            let options = lumen::import::Options {
                name,
                strict: args.strict,
                now: chrono::Utc::now(),
            };
            let report = lumen::import::import_path(&store, &path, &options).await?;
            report.print(&mut out)?;
            let bad = report.bad().count();
            anyhow::ensure!(bad == 0, "{bad} bad records (listed above)");
            Ok(())
        }
    };
    store.close().await;
    result
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

async fn batch_command(args: BatchArgs) -> anyhow::Result<()> {
    use lumen::jobs::{JobState, NewJob, batch::BatchPayload};
    let mut config = without_tokens(Config::from_env(args.config.config.as_deref())?);
    telemetry::init(&config);
    config.workers = config.workers.max(1);
    let store = open_store(&config).await?;
    let state = AppState::new(config, store.clone())?;
    let payload = BatchPayload {
        as_of: Some(chrono::Utc::now()),
        time_ranges: args.time_ranges,
        skip_collect: args.skip_collect,
    };
    let job = lumen::jobs::enqueue(
        &state,
        NewJob {
            kind: "batch".into(),
            payload: serde_json::to_value(&payload)?,
            singleton_key: Some("batch:manual".into()),
            ..NewJob::default()
        },
    )
    .await?
    .id();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let workers = tokio::spawn(lumen::jobs::run_workers(
        state.clone(),
        lumen::jobs::WorkerConfig {
            concurrency: state.config.workers,
            lease: state.config.job_lease,
            ..Default::default()
        },
        shutdown.clone(),
    ));
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
        "{spinner} batch [{elapsed_precise}] {bar:40} {pos}/{len} chunks {msg}",
    )?);
    let finished = loop {
        let Some(current) = store.job(job).await? else {
            anyhow::bail!("batch job {job} disappeared");
        };
        let counts = store.child_job_counts(job).await?;
        let total: i64 = counts.values().sum();
        let done: i64 = ["completed", "cancelled", "dead"]
            .iter()
            .filter_map(|s| counts.get(*s))
            .sum();
        bar.set_length(total.max(0) as u64);
        bar.set_position(done.max(0) as u64);
        bar.set_message(if total == 0 {
            "collecting and planning"
        } else {
            ""
        });
        if current.state.finished() {
            break current;
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
            () = shutdown_signal() => {
                bar.abandon_with_message("interrupted: the batch resumes when a worker runs");
                shutdown.cancel();
                anyhow::bail!("interrupted");
            }
        }
    };
    bar.finish();
    shutdown.cancel();
    let _ = workers.await;
    let secs = started.elapsed().as_secs_f64();
    let result = finished.result.clone().unwrap_or_default();
    let subjects: i64 = store
        .batch_results(job)
        .await?
        .iter()
        .map(|(_, s, _)| *s)
        .collect::<std::collections::HashSet<_>>()
        .len() as i64;
    eprintln!(
        "Batch {job} {} in {secs:.1} s: {} results for {subjects} subjects ({:.1} subjects/s); {}",
        finished.state.as_str(),
        result.get("results").cloned().unwrap_or_default(),
        subjects as f64 / secs.max(1e-9),
        result
    );
    store.close().await;
    anyhow::ensure!(
        finished.state == JobState::Completed,
        "the batch did not complete"
    );
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config);
    let store = open_store(&config).await?;
    serve_with(config, store).await
}

async fn serve_with(config: Config, store: store::Store) -> anyhow::Result<()> {
    let addr = SocketAddr::new(config.host, config.port);
    lumen::auth::passwords::warm_up();
    let state = AppState::new(config, store.clone())?;
    let collecting = spawn_collection(&state).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let background = lumen::jobs::start(&state, &shutdown).await?;
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
    if let Some(task) = collecting {
        task.abort();
    }
    shutdown.cancel();
    for task in background {
        let _ = task.await;
    }
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
        let mock = lumen::collector::start_mock_fallback(lumen::upstream::Resilience::from_config(
            &state.config,
        ))
        .await?;
        collector = collector.with_mock_fallback(mock);
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
