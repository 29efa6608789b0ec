//! The PostgreSQL store: several replicas over one database.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{ArticleStore, StoreError, article_from_columns};
use crate::domain::{Article, ArticleId, ArticleInput, Cursor, Page, PageRequest};

const COLUMNS: &str =
    "id, title, body, author_id, publish_at, status, schedule_event_id, created_at, updated_at";

/// Articles in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `postgres://…` and migrates the database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
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

#[async_trait]
impl ArticleStore for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert(&self, a: &Article) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO articles (id, title, body, author_id, publish_at, status, \
             schedule_event_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(a.id.as_uuid())
        .bind(a.title.as_str())
        .bind(a.body.as_str())
        .bind(a.author_id.as_str())
        .bind(a.publish_at)
        .bind(a.status.as_str())
        .bind(a.schedule_event_id.as_deref())
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get(&self, id: ArticleId) -> Result<Option<Article>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM articles WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read_article).transpose()
    }

    async fn list(&self, page: &PageRequest) -> Result<Page, StoreError> {
        let mut query: QueryBuilder<'_, Postgres> =
            QueryBuilder::new(format!("SELECT {COLUMNS} FROM articles WHERE 1 = 1"));
        if let Some(status) = page.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = page.after {
            query
                .push(" AND (created_at, id) > (")
                .push_bind(after.created_at)
                .push(", ")
                .push_bind(after.id.as_uuid())
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
            "UPDATE articles SET title = $1, body = $2, author_id = $3, publish_at = $4, \
             status = $5, updated_at = $6 WHERE id = $7 RETURNING {COLUMNS}"
        ))
        .bind(input.title.as_str())
        .bind(input.body.as_str())
        .bind(input.author_id.as_str())
        .bind(input.publish_at)
        .bind(input.status.as_str())
        .bind(now)
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read_article).transpose()
    }

    async fn delete(&self, id: ArticleId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM articles WHERE id = $1")
            .bind(id.as_uuid())
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
        .bind(claim)
        .bind(now)
        .bind(id.as_uuid())
        .bind(stale_before)
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
            "UPDATE articles SET schedule_event_id = $1, status = 'scheduled', updated_at = $2, \
             publication_claim = NULL, publication_claimed_at = NULL \
             WHERE id = $3 AND publication_claim = $4 AND schedule_event_id IS NULL \
             RETURNING {COLUMNS}"
        ))
        .bind(event_id)
        .bind(now)
        .bind(id.as_uuid())
        .bind(claim)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read_article).transpose()
    }

    async fn release_publication(&self, id: ArticleId, claim: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE articles SET publication_claim = NULL, publication_claimed_at = NULL \
             WHERE id = $1 AND publication_claim = $2",
        )
        .bind(id.as_uuid())
        .bind(claim)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
