//! The `lumen` binary: parses the command line and hands over to
//! `lumen::cli`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lumen::cli::{self, ConfigArgs, batch, data, serve, user};

#[derive(Parser)]
#[command(name = "lumen", version, about = "Lumen learning-analytics service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server from configuration (environment, config file).
    Serve(serve::ServeArgs),
    /// Apply database migrations and exit.
    Migrate(ConfigArgs),
    /// Run everything on one machine with no setup: an embedded SQLite
    /// database in --data-dir, the demo logins, and the server on --port.
    Demo(serve::DemoArgs),
    /// Serve the nine upstream services, simulated over HTTP from a
    /// deterministic synthetic organisation, with fault injection
    /// (`PUT /_sim/faults/{service}`).
    Simulate(data::SimulateArgs),
    /// Collect once from every configured upstream service into the store,
    /// then print what was fetched, stored and rejected.
    Collect(ConfigArgs),
    /// Manage local accounts (email and password logins).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Run job workers and the scheduler only (no HTTP): the daily batch,
    /// refreshes and reports queued by any instance.
    Worker(ConfigArgs),
    /// Run the daily batch now (Collect, Analyze, Aggregate) with a progress
    /// bar, using this process's workers and any others on the queue.
    Batch(batch::BatchArgs),
    /// Import learning records from NDJSON files (docs/import.md), or the
    /// OULAD dataset (`lumen import oulad DIR`, docs/oulad.md).
    Import(data::ImportArgs),
    /// The drop-off model offline.
    #[command(subcommand)]
    Model(data::ModelCommand),
    /// Print the OpenAPI 3.1 document (what `/api/openapi.json` serves) and
    /// exit; no configuration or database needed.
    Openapi,
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Migrate(args) => cli::migrate(args).await,
        Command::Demo(args) => serve::demo(args).await,
        Command::Simulate(args) => data::simulate(args).await,
        Command::Collect(args) => data::collect(args).await,
        Command::User(command) => user::run(command).await,
        Command::Worker(args) => cli::worker(args).await,
        Command::Batch(args) => batch::run(args).await,
        Command::Import(args) => data::import(args).await,
        Command::Model(command) => data::model(command),
        Command::Openapi => cli::openapi(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lumen: {err:#}");
            ExitCode::FAILURE
        }
    }
}
