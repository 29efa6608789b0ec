//! The SQLite store: the embedded default.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::StoreError;
use crate::domain::EventId;

/// Users' schedules in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (created if missing) or `sqlite::memory:` and migrates it;
    /// see [`server_kit::db::sqlite_pool`] for the pool.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = server_kit::db::sqlite_pool(url, super::POOL_SIZE).await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

/// SQLite keeps event ids as TEXT: lowercase hyphenated UUIDs.
fn id_value(id: EventId) -> String {
    id.to_string()
}

fn id_from_row(row: &SqliteRow) -> Result<EventId, StoreError> {
    let raw: String = row.try_get("id")?;
    EventId::parse(&raw).map_err(|e| StoreError::CorruptRow {
        id: raw.clone(),
        problem: e.to_string(),
    })
}

super::impl_store!(SqliteStore, SqliteRow, id_value, id_from_row);
