//! The PostgreSQL store, for deployments with several replicas over one database.

use sqlx::postgres::PgPool;

use super::StoreError;

/// A store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub(crate) struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `postgres://...` and migrates the database. The pool is server-kit's:
    /// taking a connection waits at most 5 s (sqlx's default, 30 s, is the request timeout:
    /// an admin call would time out as a 408 before the store could say the database is
    /// unavailable), and lost connections are replaced without a restart.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = server_kit::db::postgres_pool(url, 8).await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

super::sql::impl_store!(PostgresStore, sqlx::postgres::PgRow);
super::sql_secrets::impl_client_secrets!(PostgresStore);
