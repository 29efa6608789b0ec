//! The SQL of the client-secret methods of [`super::Store`], shared by both backends like
//! `super::sql`: an inherent impl per backend that `impl_store!`'s trait methods call
//! (the `async_trait` attribute cannot see methods a macro adds inside its block).

/// The client-secret queries of one backend's store (`AddUserPoolClientSecret`,
/// `ListUserPoolClientSecrets`, `DeleteUserPoolClientSecret`).
macro_rules! impl_client_secrets {
    ($store:ident) => {
        impl $store {
            async fn select_client_secrets(
                &self,
                pool_id: &str,
                client_id: &str,
            ) -> Result<Vec<$crate::store::ClientSecretRecord>, $crate::store::StoreError> {
                use sqlx::Row as _;
                sqlx::query(
                    "SELECT s.* FROM client_secrets s JOIN app_clients c \
                     ON c.client_id = s.client_id \
                     WHERE c.pool_id = $1 AND c.client_id = $2 \
                     ORDER BY s.created_ms, s.secret_id",
                )
                .bind(pool_id)
                .bind(client_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok($crate::store::ClientSecretRecord {
                        secret_id: row.try_get("secret_id")?,
                        client_id: row.try_get("client_id")?,
                        secret: oauth_proto::ClientSecret::new(row.try_get::<String, _>("secret")?),
                        created_ms: row.try_get("created_ms")?,
                    })
                })
                .collect()
            }

            async fn insert_client_secret(
                &self,
                pool_id: &str,
                secret: &$crate::store::ClientSecretRecord,
                max_active: usize,
            ) -> Result<$crate::store::AddSecretOutcome, $crate::store::StoreError> {
                use $crate::store::AddSecretOutcome as Outcome;
                let mut tx = self.pool.begin().await?;
                // A no-op write takes the client row's lock first (PostgreSQL), or the
                // database's write lock (SQLite), so the count below stays true.
                let locked = sqlx::query(
                    "UPDATE app_clients SET modified_ms = modified_ms \
                     WHERE client_id = $1 AND pool_id = $2",
                )
                .bind(&secret.client_id)
                .bind(pool_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if locked == 0 {
                    return Ok(Outcome::NoClient);
                }
                let ids: Vec<String> =
                    sqlx::query_scalar("SELECT secret_id FROM client_secrets WHERE client_id = $1")
                        .bind(&secret.client_id)
                        .fetch_all(&mut *tx)
                        .await?;
                let outcome = if ids.is_empty() {
                    Outcome::PublicClient
                } else if ids.len() >= max_active {
                    Outcome::LimitReached
                } else if ids.contains(&secret.secret_id) {
                    Outcome::DuplicateId
                } else {
                    sqlx::query(
                        "INSERT INTO client_secrets (secret_id, client_id, secret, created_ms) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&secret.secret_id)
                    .bind(&secret.client_id)
                    .bind(secret.secret.expose())
                    .bind(secret.created_ms)
                    .execute(&mut *tx)
                    .await?;
                    Outcome::Added
                };
                tx.commit().await?;
                Ok(outcome)
            }

            async fn remove_client_secret(
                &self,
                pool_id: &str,
                client_id: &str,
                secret_id: &str,
            ) -> Result<$crate::store::DeleteSecretOutcome, $crate::store::StoreError> {
                use $crate::store::DeleteSecretOutcome as Outcome;
                let mut tx = self.pool.begin().await?;
                let locked = sqlx::query(
                    "UPDATE app_clients SET modified_ms = modified_ms \
                     WHERE client_id = $1 AND pool_id = $2",
                )
                .bind(client_id)
                .bind(pool_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if locked == 0 {
                    return Ok(Outcome::NotFound);
                }
                let ids: Vec<String> =
                    sqlx::query_scalar("SELECT secret_id FROM client_secrets WHERE client_id = $1")
                        .bind(client_id)
                        .fetch_all(&mut *tx)
                        .await?;
                let outcome = if !ids.iter().any(|id| id == secret_id) {
                    Outcome::NotFound
                } else if ids.len() == 1 {
                    Outcome::LastSecret
                } else {
                    sqlx::query(
                        "DELETE FROM client_secrets WHERE client_id = $1 AND secret_id = $2",
                    )
                    .bind(client_id)
                    .bind(secret_id)
                    .execute(&mut *tx)
                    .await?;
                    Outcome::Deleted
                };
                tx.commit().await?;
                Ok(outcome)
            }
        }
    };
}
pub(crate) use impl_client_secrets;
