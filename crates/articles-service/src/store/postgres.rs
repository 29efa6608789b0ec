//! The PostgreSQL store: several replicas over one database.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{StoreError, article_from_columns};
use crate::domain::Article;

/// Articles in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `postgres://…` and migrates the database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = server_kit::db::postgres_pool(url, 10)
            .await
            .map_err(StoreError::Connect)?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }

    /// Closes the pool's connections (tests do this before dropping their database).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// An article from a row of `articles`.
fn read_article(row: &PgRow) -> Result<Article, StoreError> {
    let id: Uuid = row.try_get("id")?;
    article_from_columns(
        id,
        row.try_get("title")?,
        row.try_get("body")?,
        row.try_get("author_id")?,
        row.try_get("publish_at")?,
        row.try_get("status")?,
        row.try_get("schedule_event_id")?,
        row.try_get("created_at")?,
        row.try_get("updated_at")?,
    )
}

// PostgreSQL stores ids and timestamps in their own types.
super::impl_store!(
    PostgresStore,
    sqlx::Postgres,
    uuid: std::convert::identity,
    time: std::convert::identity,
    read: read_article,
);
