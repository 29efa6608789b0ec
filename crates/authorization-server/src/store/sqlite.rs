//! The SQLite store: the embedded default.

use sqlx::sqlite::SqlitePool;

use super::StoreError;

/// A store in one SQLite file (or in memory).
#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (created if missing) or `sqlite::memory:` and migrates it.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = server_kit::db::sqlite_pool(url, 4).await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

super::sql::impl_store!(SqliteStore, sqlx::sqlite::SqliteRow);
super::sql_secrets::impl_client_secrets!(SqliteStore);
