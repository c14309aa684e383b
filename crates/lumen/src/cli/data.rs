//! The data commands: `lumen simulate`, `collect`, `import` and `model`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{ConfigArgs, open_store, shutdown_signal};
use crate::config::Config;
use crate::{import, simulate, telemetry};

#[derive(Args)]
pub struct SimulateArgs {
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
    scale: simulate::Scale,
    /// The simulated present (RFC 3339); default: today, 00:00 UTC.
    #[arg(long)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

/// `lumen simulate`: the nine upstreams over HTTP until a signal.
pub async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let config = Config::from_env(None)?;
    telemetry::init(&config);
    let cfg = simulate::SimConfig {
        seed: args.seed,
        scale: args.scale,
        now: args.now.unwrap_or_else(simulate::today),
    };
    let started = std::time::Instant::now();
    let sim = simulate::SimHandle::new(cfg);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let local = listener.local_addr()?;
    eprintln!(
        "Simulating {} upstream services (seed {}, scale {}, now {}) at http://{local}, generated in {:.1} s.",
        simulate::SERVICES.len(),
        args.seed,
        args.scale,
        sim.now().to_rfc3339(),
        started.elapsed().as_secs_f64()
    );
    eprintln!("Point Lumen at it with (any non-empty token is accepted):");
    for service in simulate::SERVICES {
        println!(
            "{}=http://{local}/{service} {}=simulator",
            crate::config::upstream_env_var(service, "URL"),
            crate::config::upstream_env_var(service, "TOKEN")
        );
    }
    tokio::select! {
        served = sim.serve(listener) => served?,
        () = shutdown_signal() => {}
    }
    Ok(())
}

/// `lumen collect`: every configured upstream once, with a report per feed.
pub async fn collect(args: ConfigArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    anyhow::ensure!(
        !config.upstreams.is_empty(),
        "no upstream is configured: set LUMEN_UPSTREAM_<SERVICE>_URL and _TOKEN"
    );
    let store = open_store(&config).await?;
    let upstreams = Arc::new(crate::upstream::Upstreams::from_config(
        &config,
        crate::upstream::Resilience::from_config(&config),
    )?);
    let started = std::time::Instant::now();
    let report = crate::collector::Collector::new(store.clone(), upstreams)
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

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ImportArgs {
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

/// `lumen import`: NDJSON files, or `lumen import oulad DIR`.
pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let config = match &args.dataset {
        Some(ImportDataset::Oulad { config, .. }) => config.load()?,
        None => args.config.load()?,
    };
    let store = open_store(&config).await?;
    let mut out = std::io::stdout().lock();
    let result = match args.dataset {
        Some(ImportDataset::Oulad { dir, check, .. }) => {
            let report = import::oulad::import(&store, &dir).await?;
            report.print(&mut out)?;
            import::oulad::print_outcomes(&store, &mut out).await?;
            if check {
                import::oulad::print_coverage(&store, &mut out).await?;
            }
            Ok(())
        }
        None => {
            let path = args
                .path
                .context("give a PATH to import, or `oulad DIR` (see --help)")?;
            let name = match args.name {
                Some(n) => n,
                None => import::default_name(&path)?,
            };
            let options = import::Options {
                name,
                strict: args.strict,
                now: chrono::Utc::now(),
            };
            let report = import::import_path(&store, &path, &options).await?;
            report.print(&mut out)?;
            let bad = report.bad().count();
            anyhow::ensure!(bad == 0, "{bad} bad records (listed above)");
            Ok(())
        }
    };
    store.close().await;
    result
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Evaluate the drop-off model on OULAD's real outcomes: trained on an
    /// earlier presentation, tested on a later one of the same module, at
    /// prediction days 30, 60, 90 and 120, against two baselines.
    Evaluate {
        /// The OULAD directory (as for `lumen import oulad`).
        #[arg(long, value_name = "DIR")]
        oulad: PathBuf,
        /// Prediction days (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = crate::evaluate::DAYS)]
        days: Vec<i64>,
        /// Also write the full results (with reliability bins) as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Print the fairness audit (per gender, disability, age band and
        /// IMD band of the test presentation) instead.
        #[arg(long)]
        fairness: bool,
        /// Print the feature ablation (ROC-AUC per cumulative feature group) instead.
        #[arg(long)]
        ablation: bool,
    },
}

/// `lumen model …`.
pub fn model(command: ModelCommand) -> anyhow::Result<()> {
    let ModelCommand::Evaluate {
        oulad,
        days,
        json,
        fairness,
        ablation,
    } = command;
    if ablation {
        print!("{}", crate::evaluate::ablation_oulad(&oulad, &days)?);
        return Ok(());
    }
    if fairness {
        let results = crate::evaluate::fairness_oulad(&oulad, &days)?;
        print!("{}", crate::evaluate::fairness_markdown(&results));
        if let Some(path) = json {
            std::fs::write(&path, serde_json::to_vec_pretty(&results)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        return Ok(());
    }
    let results = crate::evaluate::evaluate_oulad(&oulad, &days)?;
    print!("{}", crate::evaluate::markdown(&results));
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&results)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
