//! The Lumen service: configuration, storage, HTTP API and the pieces the
//! `lumen` binary wires together. The pure domain lives in `lumen-core`.

pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod state;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use error::ApiError;
pub use state::AppState;
