//! The PostgreSQL store, for deployments with several replicas over one database.

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::StoreError;

/// A store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub(crate) struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `postgres://...` and migrates the database.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

super::sql::impl_store!(PostgresStore, sqlx::postgres::PgRow);
super::sql_secrets::impl_client_secrets!(PostgresStore);
