//! The PostgreSQL store: for several replicas over one database.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::StoreError;
use crate::domain::EventId;

/// Users' schedules in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `postgres://…` and migrates the database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = server_kit::db::postgres_pool(url, super::POOL_SIZE).await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

/// PostgreSQL keeps event ids as UUID.
fn id_value(id: EventId) -> Uuid {
    id.as_uuid()
}

fn id_from_row(row: &PgRow) -> Result<EventId, StoreError> {
    Ok(row.try_get::<Uuid, _>("id")?.into())
}

super::impl_store!(PostgresStore, PgRow, id_value, id_from_row);
