//! Where articles live: one trait, one implementation per database, one conformance suite.
//!
//! [`connect`] picks the backend from the URL scheme and runs the embedded migrations:
//!
//! - `sqlite://PATH` — a file, created if missing (the default deployment);
//! - `sqlite::memory:` — a private in-memory database (tests, demos);
//! - `postgres://…` (or `postgresql://…`) — for several replicas over one database.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Article, ArticleId, ArticleInput, Page, PageRequest};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(test)]
pub(crate) mod conformance;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A failure of the store. Messages never include a database URL (it may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL's scheme names no backend this build supports.
    #[error("unsupported database url scheme {0:?} (expected sqlite: or postgres:)")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot connect to the database")]
    Connect(#[source] sqlx::Error),
    /// The embedded migrations failed.
    #[error("cannot migrate the database")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
    /// A stored row holds a value this version cannot read.
    #[error("stored article {id} is corrupt: {problem}")]
    Corrupt {
        /// The row's id, as stored.
        id: String,
        /// What could not be read.
        problem: String,
    },
}

/// Storage of articles.
///
/// Every method is one statement (or one transaction), so a failed request never leaves a
/// half-written article behind. The publication methods implement a claim so that
/// concurrent `POST /articles/{id}/publication` calls book the event at most once:
/// [`claim_publication`](Self::claim_publication) succeeds for one caller only,
/// which then books upstream and either [completes](Self::complete_publication) or
/// [releases](Self::release_publication) its claim. A claim older than `stale_before`
/// (its holder crashed) can be taken over.
#[async_trait]
pub trait ArticleStore: Debug + Send + Sync + 'static {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Inserts a new article.
    async fn insert(&self, article: &Article) -> Result<(), StoreError>;

    /// The article with this id, if any.
    async fn get(&self, id: ArticleId) -> Result<Option<Article>, StoreError>;

    /// One page of articles ordered by `(created_at, id)`, oldest first.
    async fn list(&self, page: &PageRequest) -> Result<Page, StoreError>;

    /// Replaces the client-writable fields of an article and sets `updated_at`; the
    /// booked event id and `created_at` are kept. `None` if there is no such article.
    async fn replace(
        &self,
        id: ArticleId,
        input: &ArticleInput,
        now: OffsetDateTime,
    ) -> Result<Option<Article>, StoreError>;

    /// Deletes an article; `false` if there was none.
    async fn delete(&self, id: ArticleId) -> Result<bool, StoreError>;

    /// Takes the right to book the article's publication: succeeds (`true`) only if the
    /// article exists, has no booked event, and nobody holds a claim taken at or after
    /// `stale_before`.
    async fn claim_publication(
        &self,
        id: ArticleId,
        claim: Uuid,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Records the booked event under `claim`: stores `event_id`, sets the status to
    /// `scheduled` and `updated_at` to `now`, and drops the claim, in one statement.
    /// `None` if the claim was lost (taken over or the article deleted).
    async fn complete_publication(
        &self,
        id: ArticleId,
        claim: Uuid,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Article>, StoreError>;

    /// Drops `claim` after a failed booking; the article is otherwise untouched.
    async fn release_publication(&self, id: ArticleId, claim: Uuid) -> Result<(), StoreError>;
}

/// Opens the database named by `url`, runs the embedded migrations and returns the store.
///
/// `sqlite://PATH` creates the file if missing; `sqlite::memory:` is a private in-memory
/// database; `postgres://…` connects to PostgreSQL.
pub async fn connect(url: &str) -> Result<Arc<dyn ArticleStore>, StoreError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        #[cfg(feature = "sqlite")]
        "sqlite" => Ok(Arc::new(SqliteStore::connect(url).await?)),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::connect(url).await?)),
        other => Err(StoreError::UnsupportedUrl(other.chars().take(32).collect())),
    }
}

/// Unix microseconds of a timestamp (the SQLite storage form).
#[cfg(feature = "sqlite")]
fn to_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// A timestamp from unix microseconds.
#[cfg(feature = "sqlite")]
fn from_micros(micros: i64, id: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).map_err(|_| {
        StoreError::Corrupt {
            id: id.to_owned(),
            problem: format!("timestamp {micros} out of range"),
        }
    })
}

/// Builds an [`Article`] from stored column values, re-validating each one.
#[allow(clippy::too_many_arguments)]
fn article_from_columns(
    id: Uuid,
    title: &str,
    body: &str,
    author_id: &str,
    publish_at: Option<OffsetDateTime>,
    status: &str,
    schedule_event_id: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
) -> Result<Article, StoreError> {
    use crate::domain::{AuthorId, Body, Status, Title};
    let corrupt = |e: crate::domain::InvalidField| StoreError::Corrupt {
        id: id.to_string(),
        problem: e.to_string(),
    };
    Ok(Article {
        id: ArticleId::from(id),
        title: Title::parse(title).map_err(corrupt)?,
        body: Body::parse(body).map_err(corrupt)?,
        author_id: AuthorId::parse(author_id).map_err(corrupt)?,
        publish_at,
        status: Status::parse(status, "status").map_err(corrupt)?,
        schedule_event_id,
        created_at,
        updated_at,
    })
}
