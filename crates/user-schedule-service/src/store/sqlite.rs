//! The SQLite store: the embedded default.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};

use super::StoreError;
use crate::domain::EventId;

/// Users' schedules in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (created if missing) or `sqlite::memory:` and migrates it.
    ///
    /// An in-memory database lives in one connection that is never recycled, since each
    /// new connection to `:memory:` would be a different, empty database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                .await?
        };
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
