//! The PostgreSQL store: for several replicas over one database.

use async_trait::async_trait;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{EVENT_COLUMNS, EventRow, ListQuery, ScheduleStore, StoreError, check_version};
use crate::domain::{Event, EventDraft, EventId, Timestamp, UserId};

/// Users' schedules in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `postgres://…` and migrates the database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new().max_connections(8).connect(url).await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    async fn user_exists(&self, user: &UserId) -> Result<bool, StoreError> {
        let found = sqlx::query("SELECT 1 FROM users WHERE id = $1")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// Why a conditional write touched no row: unknown user, unknown event or version.
    async fn explain_miss(
        &self,
        user: &UserId,
        id: EventId,
        expected_version: Option<i64>,
    ) -> StoreError {
        match self.get_event(user, id).await {
            Ok(event) => check_version(id, expected_version, event.version)
                .err()
                // The row changed between the write and this read: report it as a
                // version conflict, which is what it was.
                .unwrap_or(StoreError::VersionMismatch {
                    id,
                    expected: expected_version.unwrap_or_default(),
                    current: event.version,
                }),
            Err(e) => e,
        }
    }
}

fn event_from_row(row: &PgRow) -> Result<Event, StoreError> {
    let id: Uuid = row.try_get("id")?;
    let id = EventId::from(id);
    EventRow {
        id,
        user_id: row.try_get("user_id")?,
        title: row.try_get("title")?,
        notes: row.try_get("notes")?,
        starts_at: row.try_get("starts_at")?,
        ends_at: row.try_get("ends_at")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
    }
    .into_event()
}

#[async_trait]
impl ScheduleStore for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(event.user_id.as_str())
            .bind(event.created_at.unix_nanos())
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO events (id, user_id, title, notes, starts_at, ends_at, created_by, \
             created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(event.id.as_uuid())
        .bind(event.user_id.as_str())
        .bind(event.draft.title.as_str())
        .bind(event.draft.notes.as_ref().map(|n| n.as_str()))
        .bind(event.draft.starts_at.unix_nanos())
        .bind(event.draft.ends_at.unix_nanos())
        .bind(&event.created_by)
        .bind(event.created_at.unix_nanos())
        .bind(event.updated_at.unix_nanos())
        .bind(event.version)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::DuplicateEvent(event.id));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_event(&self, user: &UserId, id: EventId) -> Result<Event, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE user_id = $1 AND id = $2"
        ))
        .bind(user.as_str())
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => event_from_row(&row),
            None if self.user_exists(user).await? => Err(StoreError::UnknownEvent(id)),
            None => Err(StoreError::UnknownUser(user.to_string())),
        }
    }

    async fn list_events(
        &self,
        user: &UserId,
        query: &ListQuery,
    ) -> Result<Vec<Event>, StoreError> {
        if !self.user_exists(user).await? {
            return Err(StoreError::UnknownUser(user.to_string()));
        }
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE user_id = $1 \
             AND ($2::BIGINT IS NULL OR ends_at > $2) \
             AND ($3::BIGINT IS NULL OR starts_at < $3) \
             AND ($4::BIGINT IS NULL OR starts_at > $4 OR (starts_at = $4 AND id > $5)) \
             ORDER BY starts_at, id LIMIT $6"
        ))
        .bind(user.as_str())
        .bind(query.from.map(Timestamp::unix_nanos))
        .bind(query.to.map(Timestamp::unix_nanos))
        .bind(query.after.map(|(t, _)| t.unix_nanos()))
        .bind(query.after.map(|(_, id)| id.as_uuid()))
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn replace_event(
        &self,
        user: &UserId,
        id: EventId,
        draft: &EventDraft,
        updated_at: Timestamp,
        expected_version: Option<i64>,
    ) -> Result<Event, StoreError> {
        // One statement: the version check and the write cannot interleave with another.
        let row = sqlx::query(&format!(
            "UPDATE events SET title = $1, notes = $2, starts_at = $3, ends_at = $4, \
             updated_at = $5, version = version + 1 \
             WHERE user_id = $6 AND id = $7 AND ($8::BIGINT IS NULL OR version = $8) \
             RETURNING {EVENT_COLUMNS}"
        ))
        .bind(draft.title.as_str())
        .bind(draft.notes.as_ref().map(|n| n.as_str()))
        .bind(draft.starts_at.unix_nanos())
        .bind(draft.ends_at.unix_nanos())
        .bind(updated_at.unix_nanos())
        .bind(user.as_str())
        .bind(id.as_uuid())
        .bind(expected_version)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => event_from_row(&row),
            None => Err(self.explain_miss(user, id, expected_version).await),
        }
    }

    async fn delete_event(
        &self,
        user: &UserId,
        id: EventId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let deleted = sqlx::query(
            "DELETE FROM events WHERE user_id = $1 AND id = $2 AND ($3::BIGINT IS NULL OR version = $3)",
        )
        .bind(user.as_str())
        .bind(id.as_uuid())
        .bind(expected_version)
        .execute(&self.pool)
        .await?;
        if deleted.rows_affected() == 1 {
            Ok(())
        } else {
            Err(self.explain_miss(user, id, expected_version).await)
        }
    }
}
