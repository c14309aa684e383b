//! PostgreSQL: the production store.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }
}

impl_store!(
    PostgresStore,
    sqlx::Postgres,
    "postgres",
    "./migrations/postgres"
);
impl_import_store!(PostgresStore, sqlx::Postgres);
