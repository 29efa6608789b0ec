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

/// Connections of a SQLite file's pool (an in-memory database has one; a PostgreSQL pool
/// has 10, which leaves two for the publication routes): also how many `/articles`
/// requests run at once by default ([`crate::Config::admission`]).
pub const POOL_SIZE: u32 = 8;

/// Opens the database named by `url`, runs the embedded migrations and returns the store.
///
/// `sqlite://PATH` creates the file if missing; `sqlite::memory:` is a private in-memory
/// database; `postgres://…` connects to PostgreSQL.
pub async fn connect(url: &str) -> Result<Arc<dyn ArticleStore>, StoreError> {
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

/// Implements [`ArticleStore`] for a backend's store type, so each statement is written once.
///
/// The backend passes its sqlx database type and three functions of its own: `uuid` and
/// `time` turn a [`Uuid`] and an [`OffsetDateTime`] into the value its column stores, and
/// `read` turns a returned row into an [`Article`]. Both backends accept `$N` placeholders
/// (sqlx's SQLite driver binds `$N` to the N-th argument), so the SQL is shared.
macro_rules! impl_store {
    ($store:ty, $db:ty, uuid: $uuid:path, time: $time:path, read: $read:path $(,)?) => {
        const _: () = {
            use time::OffsetDateTime;
            use uuid::Uuid;

            use $crate::domain::{Article, ArticleId, ArticleInput, Cursor, Page, PageRequest};
            use $crate::store::{ArticleStore, StoreError};

            const COLUMNS: &str = "id, title, body, author_id, publish_at, status, \
                                   schedule_event_id, created_at, updated_at";

            #[async_trait::async_trait]
            impl ArticleStore for $store {
                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                async fn insert(&self, a: &Article) -> Result<(), StoreError> {
                    sqlx::query(&format!(
                        "INSERT INTO articles ({COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ))
                    .bind($uuid(a.id.as_uuid()))
                    .bind(a.title.as_str())
                    .bind(a.body.as_str())
                    .bind(a.author_id.as_str())
                    .bind(a.publish_at.map($time))
                    .bind(a.status.as_str())
                    .bind(a.schedule_event_id.as_deref())
                    .bind($time(a.created_at))
                    .bind($time(a.updated_at))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn get(&self, id: ArticleId) -> Result<Option<Article>, StoreError> {
                    let sql = format!("SELECT {COLUMNS} FROM articles WHERE id = $1");
                    let row = sqlx::query(&sql)
                        .bind($uuid(id.as_uuid()))
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map($read).transpose()
                }

                async fn list(&self, page: &PageRequest) -> Result<Page, StoreError> {
                    let sql = format!("SELECT {COLUMNS} FROM articles WHERE 1 = 1");
                    let mut query = sqlx::QueryBuilder::<'_, $db>::new(sql);
                    if let Some(status) = page.status {
                        query.push(" AND status = ").push_bind(status.as_str());
                    }
                    if let Some(after) = page.after {
                        query
                            .push(" AND (created_at, id) > (")
                            .push_bind($time(after.created_at))
                            .push(", ")
                            .push_bind($uuid(after.id.as_uuid()))
                            .push(")");
                    }
                    query
                        .push(" ORDER BY created_at, id LIMIT ")
                        .push_bind(i64::from(page.limit) + 1);
                    let rows = query.build().fetch_all(&self.pool).await?;
                    let mut articles = rows.iter().map($read).collect::<Result<Vec<_>, _>>()?;
                    let next = if articles.len() > page.limit as usize {
                        articles.truncate(page.limit as usize);
                        articles.last().map(Cursor::after)
                    } else {
                        None
                    };
                    Ok(Page { articles, next })
                }

                async fn replace(
                    &self,
                    id: ArticleId,
                    input: &ArticleInput,
                    now: OffsetDateTime,
                ) -> Result<Option<Article>, StoreError> {
                    let row = sqlx::query(&format!(
                        "UPDATE articles SET title = $1, body = $2, author_id = $3, \
                         publish_at = $4, status = $5, updated_at = $6 WHERE id = $7 \
                         RETURNING {COLUMNS}"
                    ))
                    .bind(input.title.as_str())
                    .bind(input.body.as_str())
                    .bind(input.author_id.as_str())
                    .bind(input.publish_at.map($time))
                    .bind(input.status.as_str())
                    .bind($time(now))
                    .bind($uuid(id.as_uuid()))
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map($read).transpose()
                }

                async fn delete(&self, id: ArticleId) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM articles WHERE id = $1")
                        .bind($uuid(id.as_uuid()))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn claim_publication(
                    &self,
                    id: ArticleId,
                    claim: Uuid,
                    now: OffsetDateTime,
                    stale_before: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE articles SET publication_claim = $1, publication_claimed_at = $2 \
                         WHERE id = $3 AND schedule_event_id IS NULL \
                         AND (publication_claim IS NULL OR publication_claimed_at < $4)",
                    )
                    .bind($uuid(claim))
                    .bind($time(now))
                    .bind($uuid(id.as_uuid()))
                    .bind($time(stale_before))
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn complete_publication(
                    &self,
                    id: ArticleId,
                    claim: Uuid,
                    event_id: &str,
                    now: OffsetDateTime,
                ) -> Result<Option<Article>, StoreError> {
                    let row = sqlx::query(&format!(
                        "UPDATE articles SET schedule_event_id = $1, status = 'scheduled', \
                         updated_at = $2, publication_claim = NULL, publication_claimed_at = NULL \
                         WHERE id = $3 AND publication_claim = $4 AND schedule_event_id IS NULL \
                         RETURNING {COLUMNS}"
                    ))
                    .bind(event_id)
                    .bind($time(now))
                    .bind($uuid(id.as_uuid()))
                    .bind($uuid(claim))
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map($read).transpose()
                }

                async fn release_publication(
                    &self,
                    id: ArticleId,
                    claim: Uuid,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "UPDATE articles SET publication_claim = NULL, \
                         publication_claimed_at = NULL WHERE id = $1 AND publication_claim = $2",
                    )
                    .bind($uuid(id.as_uuid()))
                    .bind($uuid(claim))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use impl_store;
