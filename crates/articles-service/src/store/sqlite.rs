//! The SQLite store: the embedded default.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, article_from_columns};
use crate::domain::Article;

/// Articles in SQLite (a file, or memory for tests).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (creating the file) or `sqlite::memory:` and migrates it; see
    /// [`server_kit::db::sqlite_pool`] for the pool.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = server_kit::db::sqlite_pool(url, super::POOL_SIZE)
            .await
            .map_err(StoreError::Connect)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }
}

/// An article from a row of `articles`.
fn read_article(row: &SqliteRow) -> Result<Article, StoreError> {
    let id: String = row.try_get("id")?;
    let uuid = Uuid::try_parse(&id).map_err(|_| StoreError::Corrupt {
        id: id.clone(),
        problem: "id is not a UUID".to_owned(),
    })?;
    let publish_at = match row.try_get::<Option<i64>, _>("publish_at")? {
        Some(micros) => Some(from_micros(micros, &id)?),
        None => None,
    };
    article_from_columns(
        uuid,
        row.try_get("title")?,
        row.try_get("body")?,
        row.try_get("author_id")?,
        publish_at,
        row.try_get("status")?,
        row.try_get("schedule_event_id")?,
        from_micros(row.try_get("created_at")?, &id)?,
        from_micros(row.try_get("updated_at")?, &id)?,
    )
}

/// A UUID as stored: lowercase and hyphenated, which sorts like PostgreSQL's `uuid`.
fn uuid_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Unix microseconds of a timestamp (the stored form).
fn to_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// A timestamp from unix microseconds.
fn from_micros(micros: i64, id: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).map_err(|_| {
        StoreError::Corrupt {
            id: id.to_owned(),
            problem: format!("timestamp {micros} out of range"),
        }
    })
}

super::impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    uuid: uuid_text,
    time: to_micros,
    read: read_article,
);
