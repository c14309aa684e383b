//! The Lumen service: configuration, storage, HTTP API and the pieces the
//! `lumen` binary wires together. The pure domain lives in `lumen-core`.

pub mod accounts;
pub mod analytics;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod collector;
pub mod config;
pub mod cron;
pub mod datasets;
pub mod evaluate;
pub mod gamification;
pub mod http;
pub mod import;
pub mod jobs;
pub mod learner_ai;
pub mod mail;
pub mod metrics;
pub mod models;
pub mod objects;
pub mod queue;
pub mod ratelimit;
pub mod redis;
pub mod reports;
pub mod simulate;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod upstream;

pub use config::Config;
pub use state::AppState;

/// Selects ring as rustls' crypto provider for the process (the one sqlx
/// uses too), once; outbound HTTPS clients need it.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
