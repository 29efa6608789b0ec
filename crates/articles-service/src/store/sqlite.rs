//! The SQLite store: the embedded default.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ArticleStore, StoreError, article_from_columns, from_micros, to_micros};
use crate::domain::{Article, ArticleId, ArticleInput, Cursor, Page, PageRequest};

const COLUMNS: &str =
    "id, title, body, author_id, publish_at, status, schedule_event_id, created_at, updated_at";

/// Articles in SQLite (a file, or memory for tests).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (creating the file) or `sqlite::memory:` and migrates it.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Connect)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            // An in-memory database lives as long as one connection to it: keep exactly one,
            // forever. (Several connections would share it through SQLite's shared cache,
            // whose table locks fail instead of waiting.)
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                .await
        }
        .map_err(StoreError::Connect)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self { pool })
    }
}

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

fn id_text(id: ArticleId) -> String {
    id.as_uuid().hyphenated().to_string()
}

#[async_trait]
impl ArticleStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert(&self, a: &Article) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO articles (id, title, body, author_id, publish_at, status, \
             schedule_event_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id_text(a.id))
        .bind(a.title.as_str())
        .bind(a.body.as_str())
        .bind(a.author_id.as_str())
        .bind(a.publish_at.map(to_micros))
        .bind(a.status.as_str())
        .bind(a.schedule_event_id.as_deref())
        .bind(to_micros(a.created_at))
        .bind(to_micros(a.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get(&self, id: ArticleId) -> Result<Option<Article>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM articles WHERE id = ?"))
            .bind(id_text(id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read_article).transpose()
    }

    async fn list(&self, page: &PageRequest) -> Result<Page, StoreError> {
        let mut query: QueryBuilder<'_, Sqlite> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM articles WHERE 1 = 1"));
        if let Some(status) = page.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = page.after {
            query
                .push(" AND (created_at, id) > (")
                .push_bind(to_micros(after.created_at))
                .push(", ")
                .push_bind(id_text(after.id))
                .push(")");
        }
        query
            .push(" ORDER BY created_at, id LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows = query.build().fetch_all(&self.pool).await?;
        let mut articles = rows
            .iter()
            .map(read_article)
            .collect::<Result<Vec<_>, _>>()?;
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
            "UPDATE articles SET title = ?, body = ?, author_id = ?, publish_at = ?, \
             status = ?, updated_at = ? WHERE id = ? RETURNING {COLUMNS}"
        ))
        .bind(input.title.as_str())
        .bind(input.body.as_str())
        .bind(input.author_id.as_str())
        .bind(input.publish_at.map(to_micros))
        .bind(input.status.as_str())
        .bind(to_micros(now))
        .bind(id_text(id))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read_article).transpose()
    }

    async fn delete(&self, id: ArticleId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM articles WHERE id = ?")
            .bind(id_text(id))
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
            "UPDATE articles SET publication_claim = ?, publication_claimed_at = ? \
             WHERE id = ? AND schedule_event_id IS NULL \
             AND (publication_claim IS NULL OR publication_claimed_at < ?)",
        )
        .bind(claim.hyphenated().to_string())
        .bind(to_micros(now))
        .bind(id_text(id))
        .bind(to_micros(stale_before))
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
            "UPDATE articles SET schedule_event_id = ?, status = 'scheduled', updated_at = ?, \
             publication_claim = NULL, publication_claimed_at = NULL \
             WHERE id = ? AND publication_claim = ? AND schedule_event_id IS NULL \
             RETURNING {COLUMNS}"
        ))
        .bind(event_id)
        .bind(to_micros(now))
        .bind(id_text(id))
        .bind(claim.hyphenated().to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read_article).transpose()
    }

    async fn release_publication(&self, id: ArticleId, claim: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE articles SET publication_claim = NULL, publication_claimed_at = NULL \
             WHERE id = ? AND publication_claim = ?",
        )
        .bind(id_text(id))
        .bind(claim.hyphenated().to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
