//! Storage of users and their events: one trait, one implementation per backend.
//!
//! [`connect`] picks the backend from the URL scheme and runs the embedded migrations.
//! Both backends keep times as signed 64-bit nanoseconds since the Unix epoch and ids as
//! text/UUID, so ordering and the keyset cursor behave identically on both; the
//! conformance suite in `tests/api/store.rs` runs the same checks on each. Both run the
//! same SQL, written once in the `impl_store!` macro; a backend file adds only its
//! connection setup and how it stores an event id.

// Built with neither backend, only the trait and its types remain.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code, unused_macros, unused_imports)
)]

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Event, EventDraft, EventId, Timestamp, UserId};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The user has no row: they never had an event created.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// The user exists but has no event with this id.
    #[error("unknown event {0}")]
    UnknownEvent(EventId),
    /// `If-Match` named another version than the current one.
    #[error("event {id} is at version {current}, not {expected}")]
    VersionMismatch {
        /// The event.
        id: EventId,
        /// The version the caller expected.
        expected: i64,
        /// The version in the store.
        current: i64,
    },
    /// An event with this id already exists (ids are random: this means a bug upstream).
    #[error("event {0} already exists")]
    DuplicateEvent(EventId),
    /// The URL's scheme names no backend compiled into this build.
    #[error("unsupported database url scheme in {0:?}: expected sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// A stored row could not be turned back into an event.
    #[error("corrupt row for event {id}: {problem}")]
    CorruptRow {
        /// The row's id column.
        id: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Running the embedded migrations failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Which events [`ScheduleStore::list_events`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only events that end after this time (overlap with a window starting here).
    pub from: Option<Timestamp>,
    /// Only events that start before this time (overlap with a window ending here).
    pub to: Option<Timestamp>,
    /// Only events after this position in `(starts_at, id)` order (the keyset cursor).
    pub after: Option<(Timestamp, EventId)>,
    /// At most this many events.
    pub limit: u32,
}

/// Users' schedules.
///
/// Every method is one atomic step: a failed call writes nothing.
#[async_trait]
pub trait ScheduleStore: Debug + Send + Sync + 'static {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new event, creating the user's row if this is their first event.
    async fn create_event(&self, event: &Event) -> Result<(), StoreError>;

    /// One event of a user. [`StoreError::UnknownUser`] or [`StoreError::UnknownEvent`]
    /// when there is none.
    async fn get_event(&self, user: &UserId, id: EventId) -> Result<Event, StoreError>;

    /// A user's events ordered by `(starts_at, id)`, filtered and cut as `query` says.
    /// [`StoreError::UnknownUser`] for a user never seen.
    async fn list_events(&self, user: &UserId, query: &ListQuery)
    -> Result<Vec<Event>, StoreError>;

    /// Replaces the editable fields of an event, sets `updated_at` and bumps its version.
    /// With `expected_version`, fails with [`StoreError::VersionMismatch`] (and writes
    /// nothing) unless the stored version is that one; the check and the write are atomic.
    async fn replace_event(
        &self,
        user: &UserId,
        id: EventId,
        draft: &EventDraft,
        updated_at: Timestamp,
        expected_version: Option<i64>,
    ) -> Result<Event, StoreError>;

    /// Deletes an event, with the same `expected_version` rule as
    /// [`ScheduleStore::replace_event`]. The user stays known.
    async fn delete_event(
        &self,
        user: &UserId,
        id: EventId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;
}

/// Connections of the store's pool (an in-memory SQLite database has one): also how many
/// API requests run at once by default ([`crate::Config::admission`]).
pub const POOL_SIZE: u32 = 8;

/// Opens the store a URL names and runs its migrations.
///
/// - `sqlite://PATH` (the file is created if missing) or `sqlite::memory:` (a private
///   in-memory database, gone when the store is dropped);
/// - `postgres://…` or `postgresql://…`.
pub async fn connect(url: &str) -> Result<Arc<dyn ScheduleStore>, StoreError> {
    use server_kit::db::Backend;
    match Backend::of(url) {
        #[cfg(feature = "sqlite")]
        Some(Backend::Sqlite) => Ok(Arc::new(SqliteStore::connect(url).await?)),
        #[cfg(feature = "postgres")]
        Some(Backend::Postgres) => Ok(Arc::new(PostgresStore::connect(url).await?)),
        // Never echo a URL that may hold a password: keep only the scheme.
        _ => Err(StoreError::UnsupportedUrl(server_kit::db::scheme(url))),
    }
}

/// Why a conditional write touched no row: unknown user, unknown event or version.
async fn explain_miss<S: ScheduleStore>(
    store: &S,
    user: &UserId,
    id: EventId,
    expected_version: Option<i64>,
) -> StoreError {
    match store.get_event(user, id).await {
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

/// Checks a version precondition against the stored version.
fn check_version(id: EventId, expected: Option<i64>, current: i64) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != current => Err(StoreError::VersionMismatch {
            id,
            expected,
            current,
        }),
        _ => Ok(()),
    }
}

/// The columns of an `events` row, before validation.
pub(crate) struct EventRow {
    pub(crate) id: EventId,
    pub(crate) user_id: String,
    pub(crate) title: String,
    pub(crate) notes: Option<String>,
    pub(crate) starts_at: i64,
    pub(crate) ends_at: i64,
    pub(crate) created_by: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) version: i64,
}

impl EventRow {
    /// Re-validates a row: what the API wrote always passes, so a failure means the
    /// database was edited by hand and is reported rather than served.
    pub(crate) fn into_event(self) -> Result<Event, StoreError> {
        use crate::domain::{Notes, Title};
        let corrupt = |problem: String| StoreError::CorruptRow {
            id: self.id.to_string(),
            problem,
        };
        let user_id = UserId::parse(&self.user_id).map_err(|e| corrupt(e.to_string()))?;
        let title = Title::parse(&self.title).map_err(|e| corrupt(e.to_string()))?;
        let notes = self
            .notes
            .as_deref()
            .map(Notes::parse)
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Event {
            id: self.id,
            user_id,
            draft: EventDraft {
                title,
                starts_at: Timestamp::from_unix_nanos(self.starts_at),
                ends_at: Timestamp::from_unix_nanos(self.ends_at),
                notes,
            },
            created_by: self.created_by,
            created_at: Timestamp::from_unix_nanos(self.created_at),
            updated_at: Timestamp::from_unix_nanos(self.updated_at),
            version: self.version,
        })
    }
}

/// The columns of an `events` row in [`EventRow`] order: what every event query selects
/// and what `create_event` inserts.
pub(crate) const EVENT_COLUMNS: &str = "id, user_id, title, notes, starts_at, ends_at, \
     created_by, created_at, updated_at, version";

/// Implements [`ScheduleStore`] for a backend struct with a `pool` field.
///
/// Both backends accept `$N` placeholders (sqlx's SQLite driver binds `$N` to the N-th
/// argument), so the SQL is written once here. `$N IS NULL` needs no `::BIGINT` cast,
/// which SQLite would reject: sqlx tells PostgreSQL each parameter's type.
///
/// What differs is how an event id is stored (UUID in PostgreSQL, TEXT in SQLite): the
/// backend passes `$id_value`, which turns an [`EventId`] into the value to bind, and
/// `$id_from_row`, which reads it back from a row.
macro_rules! impl_store {
    ($store:ty, $row:ty, $id_value:path, $id_from_row:path) => {
        // A block scope, so the imports below stay out of the backend's module.
        const _: () = {
            use sqlx::Row as _;

            use $crate::domain::{Event, EventDraft, EventId, Timestamp, UserId};
            use $crate::store::{
                EVENT_COLUMNS, EventRow, ListQuery, ScheduleStore, StoreError, explain_miss,
            };

            fn event_from_row(row: &$row) -> Result<Event, StoreError> {
                EventRow {
                    id: $id_from_row(row)?,
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

            impl $store {
                async fn user_exists(&self, user: &UserId) -> Result<bool, StoreError> {
                    let found = sqlx::query("SELECT 1 FROM users WHERE id = $1")
                        .bind(user.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(found.is_some())
                }
            }

            #[async_trait::async_trait]
            impl ScheduleStore for $store {
                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                async fn create_event(&self, event: &Event) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query(
                        "INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(event.user_id.as_str())
                    .bind(event.created_at.unix_nanos())
                    .execute(&mut *tx)
                    .await?;
                    let inserted = sqlx::query(&format!(
                        "INSERT INTO events ({EVENT_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ))
                    .bind($id_value(event.id))
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
                    .bind($id_value(id))
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
                         AND ($2 IS NULL OR ends_at > $2) \
                         AND ($3 IS NULL OR starts_at < $3) \
                         AND ($4 IS NULL OR starts_at > $4 OR (starts_at = $4 AND id > $5)) \
                         ORDER BY starts_at, id LIMIT $6"
                    ))
                    .bind(user.as_str())
                    .bind(query.from.map(Timestamp::unix_nanos))
                    .bind(query.to.map(Timestamp::unix_nanos))
                    .bind(query.after.map(|(t, _)| t.unix_nanos()))
                    .bind(query.after.map(|(_, id)| $id_value(id)))
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
                    // One statement: the version check and the write cannot interleave with
                    // another.
                    let row = sqlx::query(&format!(
                        "UPDATE events SET title = $1, notes = $2, starts_at = $3, ends_at = $4, \
                         updated_at = $5, version = version + 1 \
                         WHERE user_id = $6 AND id = $7 AND ($8 IS NULL OR version = $8) \
                         RETURNING {EVENT_COLUMNS}"
                    ))
                    .bind(draft.title.as_str())
                    .bind(draft.notes.as_ref().map(|n| n.as_str()))
                    .bind(draft.starts_at.unix_nanos())
                    .bind(draft.ends_at.unix_nanos())
                    .bind(updated_at.unix_nanos())
                    .bind(user.as_str())
                    .bind($id_value(id))
                    .bind(expected_version)
                    .fetch_optional(&self.pool)
                    .await?;
                    match row {
                        Some(row) => event_from_row(&row),
                        None => Err(explain_miss(self, user, id, expected_version).await),
                    }
                }

                async fn delete_event(
                    &self,
                    user: &UserId,
                    id: EventId,
                    expected_version: Option<i64>,
                ) -> Result<(), StoreError> {
                    let deleted = sqlx::query(
                        "DELETE FROM events \
                         WHERE user_id = $1 AND id = $2 AND ($3 IS NULL OR version = $3)",
                    )
                    .bind(user.as_str())
                    .bind($id_value(id))
                    .bind(expected_version)
                    .execute(&self.pool)
                    .await?;
                    if deleted.rows_affected() == 1 {
                        Ok(())
                    } else {
                        Err(explain_miss(self, user, id, expected_version).await)
                    }
                }
            }
        };
    };
}
pub(crate) use impl_store;
