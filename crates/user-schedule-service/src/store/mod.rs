//! Storage of users and their events: one trait, one implementation per backend.
//!
//! [`connect`] picks the backend from the URL scheme and runs the embedded migrations.
//! Both backends keep times as signed 64-bit nanoseconds since the Unix epoch and ids as
//! text/UUID, so ordering and the keyset cursor behave identically on both; the
//! conformance suite in `tests/api/store.rs` runs the same checks on each.

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

/// Opens the store a URL names and runs its migrations.
///
/// - `sqlite://PATH` (the file is created if missing) or `sqlite::memory:` (a private
///   in-memory database, gone when the store is dropped);
/// - `postgres://…` or `postgresql://…`.
pub async fn connect(url: &str) -> Result<Arc<dyn ScheduleStore>, StoreError> {
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::connect(url).await?));
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::connect(url).await?));
    }
    // Never echo a URL that may hold a password: keep only the scheme.
    let scheme = url.split(':').next().unwrap_or_default();
    Err(StoreError::UnsupportedUrl(format!("{scheme}:")))
}

/// Checks a version precondition against the stored version.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn check_version(
    id: EventId,
    expected: Option<i64>,
    current: i64,
) -> Result<(), StoreError> {
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
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
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

#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
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

/// The columns every event query selects, in [`EventRow`] order.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) const EVENT_COLUMNS: &str = "id, user_id, title, notes, starts_at, ends_at, \
     created_by, created_at, updated_at, version";
