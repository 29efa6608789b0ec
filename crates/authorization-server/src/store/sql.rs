//! The SQL both backends run, as one macro expanded in `sqlite.rs` and `postgres.rs`
//! (runtime `sqlx::query`, so no per-backend offline data), plus the JSON encoding of the
//! columns that hold settings.

use serde::{Deserialize, Serialize};

use super::StoreError;

/// The columns of a client row, with `secret` the newest of its active secrets (the one
/// `DescribeUserPoolClient` shows). Alias `c` is `app_clients`.
pub(super) const CLIENT_COLUMNS: &str = "c.client_id, c.pool_id, c.name, c.settings, \
     c.created_ms, c.modified_ms, \
     (SELECT s.secret FROM client_secrets s WHERE s.client_id = c.client_id \
      ORDER BY s.created_ms DESC, s.secret_id DESC LIMIT 1) AS secret";

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(format!("cannot encode: {e}")))
}

pub(super) fn from_json<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Internal(format!("corrupt stored json: {e}")))
}

/// Implements [`Store`](super::Store) for a backend. Both backends accept `$N` placeholders (SQLite
/// numbers them by first appearance, so they appear in order here), so the SQL is shared.
macro_rules! impl_store {
    ($store:ty, $row:ty) => {
        impl $store {
            fn pool_row(
                row: &$row,
            ) -> Result<$crate::store::UserPoolRecord, $crate::store::StoreError> {
                use sqlx::Row as _;
                Ok($crate::store::UserPoolRecord {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    settings: $crate::store::sql::from_json(&row.try_get::<String, _>("settings")?)?,
                    lambda_config: $crate::store::sql::from_json(
                        &row.try_get::<String, _>("lambda_config")?,
                    )?,
                    created_ms: row.try_get("created_ms")?,
                    modified_ms: row.try_get("modified_ms")?,
                })
            }

            fn key_row(
                row: &$row,
            ) -> Result<$crate::store::SigningKeyRecord, $crate::store::StoreError> {
                use sqlx::Row as _;
                Ok($crate::store::SigningKeyRecord {
                    pool_id: row.try_get("pool_id")?,
                    kid: row.try_get("kid")?,
                    pkcs8: row.try_get("pkcs8")?,
                    n: row.try_get("n")?,
                    e: row.try_get("e")?,
                    created_ms: row.try_get("created_ms")?,
                    token_use: $crate::store::KeyUse::parse(&row.try_get::<String, _>("token_use")?)?,
                })
            }

            fn client_row(
                row: &$row,
            ) -> Result<$crate::store::ClientRecord, $crate::store::StoreError> {
                use sqlx::Row as _;
                Ok($crate::store::ClientRecord {
                    pool_id: row.try_get("pool_id")?,
                    client_id: row.try_get("client_id")?,
                    name: row.try_get("name")?,
                    secret: row
                        .try_get::<Option<String>, _>("secret")?
                        .map(oauth_proto::ClientSecret::new),
                    settings: $crate::store::sql::from_json(&row.try_get::<String, _>("settings")?)?,
                    created_ms: row.try_get("created_ms")?,
                    modified_ms: row.try_get("modified_ms")?,
                })
            }

            fn server_row(
                row: &$row,
            ) -> Result<$crate::store::ResourceServerRecord, $crate::store::StoreError> {
                use sqlx::Row as _;
                Ok($crate::store::ResourceServerRecord {
                    pool_id: row.try_get("pool_id")?,
                    identifier: row.try_get("identifier")?,
                    name: row.try_get("name")?,
                    scopes: $crate::store::sql::from_json(&row.try_get::<String, _>("scopes")?)?,
                })
            }

            fn domain_row(
                row: &$row,
            ) -> Result<$crate::store::DomainRecord, $crate::store::StoreError> {
                use sqlx::Row as _;
                Ok($crate::store::DomainRecord {
                    domain: row.try_get("domain")?,
                    pool_id: row.try_get("pool_id")?,
                    created_ms: row.try_get("created_ms")?,
                    managed_login_version: row.try_get("managed_login_version")?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn create_user_pool(
                &self,
                pool: &$crate::store::UserPoolRecord,
                keys: &[$crate::store::SigningKeyRecord],
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO user_pools \
                     (id, name, settings, created_ms, modified_ms, lambda_config) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&pool.id)
                .bind(&pool.name)
                .bind($crate::store::sql::to_json(&pool.settings)?)
                .bind(pool.created_ms)
                .bind(pool.modified_ms)
                .bind($crate::store::sql::to_json(&pool.lambda_config)?)
                .execute(&mut *tx)
                .await?;
                for (seq, key) in (1_i64..).zip(keys) {
                    sqlx::query(
                        "INSERT INTO signing_keys \
                         (kid, pool_id, seq, pkcs8, n, e, created_ms, token_use) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&key.kid)
                    .bind(&pool.id)
                    .bind(seq)
                    .bind(&key.pkcs8)
                    .bind(&key.n)
                    .bind(&key.e)
                    .bind(key.created_ms)
                    .bind(key.token_use.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn user_pool(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::UserPoolRecord>, $crate::store::StoreError> {
                sqlx::query("SELECT * FROM user_pools WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(Self::pool_row)
                    .transpose()
            }

            async fn list_user_pools(
                &self,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<$crate::store::UserPoolRecord>, $crate::store::StoreError> {
                sqlx::query(
                    "SELECT * FROM user_pools WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::pool_row)
                .collect()
            }

            async fn delete_user_pool(&self, id: &str) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                // Children first, so the deletion does not depend on foreign-key cascades.
                sqlx::query(
                    "DELETE FROM client_secrets WHERE client_id IN \
                     (SELECT client_id FROM app_clients WHERE pool_id = $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                for table in ["signing_keys", "app_clients", "resource_servers", "domains"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE pool_id = $1"))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                let deleted = sqlx::query("DELETE FROM user_pools WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(deleted > 0)
            }

            async fn add_signing_key(
                &self,
                key: &$crate::store::SigningKeyRecord,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO signing_keys \
                     (kid, pool_id, seq, pkcs8, n, e, created_ms, token_use) \
                     SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7 \
                     FROM signing_keys WHERE pool_id = $2",
                )
                .bind(&key.kid)
                .bind(&key.pool_id)
                .bind(&key.pkcs8)
                .bind(&key.n)
                .bind(&key.e)
                .bind(key.created_ms)
                .bind(key.token_use.as_str())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn signing_keys(
                &self,
                pool_id: &str,
            ) -> Result<Vec<$crate::store::SigningKeyRecord>, $crate::store::StoreError> {
                sqlx::query("SELECT * FROM signing_keys WHERE pool_id = $1 ORDER BY seq DESC")
                    .bind(pool_id)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(Self::key_row)
                    .collect()
            }

            async fn create_client(
                &self,
                client: &$crate::store::ClientRecord,
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "INSERT INTO app_clients \
                     (client_id, pool_id, name, settings, created_ms, modified_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&client.client_id)
                .bind(&client.pool_id)
                .bind(&client.name)
                .bind($crate::store::sql::to_json(&client.settings)?)
                .bind(client.created_ms)
                .bind(client.modified_ms)
                .execute(&mut *tx)
                .await?;
                if let Some(secret) = &client.secret {
                    sqlx::query(
                        "INSERT INTO client_secrets (secret_id, client_id, secret, created_ms) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(format!("{}--{}", client.client_id, client.created_ms))
                    .bind(&client.client_id)
                    .bind(secret.expose())
                    .bind(client.created_ms)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn client(
                &self,
                client_id: &str,
            ) -> Result<Option<$crate::store::ClientRecord>, $crate::store::StoreError> {
                let sql = format!(
                    "SELECT {} FROM app_clients c WHERE c.client_id = $1",
                    $crate::store::sql::CLIENT_COLUMNS
                );
                sqlx::query(&sql)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(Self::client_row)
                    .transpose()
            }

            async fn token_context(
                &self,
                client_id: &str,
            ) -> Result<Option<$crate::store::TokenContext>, $crate::store::StoreError> {
                use sqlx::Row as _;
                let sql = format!(
                    "SELECT {}, \
                     (SELECT COUNT(*) FROM domains d WHERE d.pool_id = c.pool_id) AS domain_count, \
                     (SELECT k.kid FROM signing_keys k \
                      WHERE k.pool_id = c.pool_id AND k.token_use = 'access' \
                      ORDER BY k.seq DESC LIMIT 1) AS signing_kid, \
                     (SELECT p.lambda_config FROM user_pools p WHERE p.id = c.pool_id) \
                      AS lambda_config \
                     FROM app_clients c WHERE c.client_id = $1",
                    $crate::store::sql::CLIENT_COLUMNS
                );
                let row = sqlx::query(&sql)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                // A second read: a secret deleted between the two reads is simply absent.
                let secrets = sqlx::query(
                    "SELECT secret FROM client_secrets WHERE client_id = $1 \
                     ORDER BY created_ms, secret_id",
                )
                .bind(client_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("secret").map(oauth_proto::ClientSecret::new))
                .collect::<Result<Vec<_>, _>>()?;
                // A corrupt column is an error, never "no trigger": the token would be
                // issued without the customisation the pool asks for.
                let lambda_config: $crate::store::LambdaConfig =
                    match row.try_get::<Option<String>, _>("lambda_config")? {
                        Some(text) => $crate::store::sql::from_json(&text)?,
                        None => $crate::store::LambdaConfig::default(),
                    };
                Ok(Some($crate::store::TokenContext {
                    client: Self::client_row(&row)?,
                    pool_has_domain: row.try_get::<i64, _>("domain_count")? > 0,
                    signing_kid: row.try_get("signing_kid")?,
                    secrets,
                    pre_token_generation: lambda_config.pre_token_generation,
                }))
            }

            async fn update_client(
                &self,
                client: &$crate::store::ClientRecord,
            ) -> Result<bool, $crate::store::StoreError> {
                let updated = sqlx::query(
                    "UPDATE app_clients SET name = $1, settings = $2, modified_ms = $3 \
                     WHERE client_id = $4 AND pool_id = $5",
                )
                .bind(&client.name)
                .bind($crate::store::sql::to_json(&client.settings)?)
                .bind(client.modified_ms)
                .bind(&client.client_id)
                .bind(&client.pool_id)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(updated > 0)
            }

            async fn list_clients(
                &self,
                pool_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<$crate::store::ClientRecord>, $crate::store::StoreError> {
                let sql = format!(
                    "SELECT {} FROM app_clients c WHERE c.pool_id = $1 \
                     AND ($2 IS NULL OR c.client_id > $2) ORDER BY c.client_id LIMIT $3",
                    $crate::store::sql::CLIENT_COLUMNS
                );
                sqlx::query(&sql)
                .bind(pool_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::client_row)
                .collect()
            }

            async fn delete_client(
                &self,
                pool_id: &str,
                client_id: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "DELETE FROM client_secrets WHERE client_id IN \
                     (SELECT client_id FROM app_clients WHERE pool_id = $1 AND client_id = $2)",
                )
                .bind(pool_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await?;
                let deleted =
                    sqlx::query("DELETE FROM app_clients WHERE pool_id = $1 AND client_id = $2")
                        .bind(pool_id)
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                tx.commit().await?;
                Ok(deleted > 0)
            }

            async fn create_resource_server(
                &self,
                server: &$crate::store::ResourceServerRecord,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO resource_servers (pool_id, identifier, name, scopes) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&server.pool_id)
                .bind(&server.identifier)
                .bind(&server.name)
                .bind($crate::store::sql::to_json(&server.scopes)?)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn resource_server(
                &self,
                pool_id: &str,
                identifier: &str,
            ) -> Result<Option<$crate::store::ResourceServerRecord>, $crate::store::StoreError>
            {
                sqlx::query("SELECT * FROM resource_servers WHERE pool_id = $1 AND identifier = $2")
                    .bind(pool_id)
                    .bind(identifier)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(Self::server_row)
                    .transpose()
            }

            async fn update_resource_server(
                &self,
                server: &$crate::store::ResourceServerRecord,
            ) -> Result<bool, $crate::store::StoreError> {
                let updated = sqlx::query(
                    "UPDATE resource_servers SET name = $1, scopes = $2 \
                     WHERE pool_id = $3 AND identifier = $4",
                )
                .bind(&server.name)
                .bind($crate::store::sql::to_json(&server.scopes)?)
                .bind(&server.pool_id)
                .bind(&server.identifier)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(updated > 0)
            }

            async fn list_resource_servers(
                &self,
                pool_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<$crate::store::ResourceServerRecord>, $crate::store::StoreError> {
                sqlx::query(
                    "SELECT * FROM resource_servers WHERE pool_id = $1 \
                     AND ($2 IS NULL OR identifier > $2) ORDER BY identifier LIMIT $3",
                )
                .bind(pool_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::server_row)
                .collect()
            }

            async fn delete_resource_server(
                &self,
                pool_id: &str,
                identifier: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let deleted = sqlx::query(
                    "DELETE FROM resource_servers WHERE pool_id = $1 AND identifier = $2",
                )
                .bind(pool_id)
                .bind(identifier)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(deleted > 0)
            }

            async fn create_domain(
                &self,
                domain: &$crate::store::DomainRecord,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO domains (domain, pool_id, created_ms, managed_login_version) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&domain.domain)
                .bind(&domain.pool_id)
                .bind(domain.created_ms)
                .bind(domain.managed_login_version)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn domain(
                &self,
                domain: &str,
            ) -> Result<Option<$crate::store::DomainRecord>, $crate::store::StoreError> {
                sqlx::query("SELECT * FROM domains WHERE domain = $1")
                    .bind(domain)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(Self::domain_row)
                    .transpose()
            }

            async fn domain_of_pool(
                &self,
                pool_id: &str,
            ) -> Result<Option<$crate::store::DomainRecord>, $crate::store::StoreError> {
                sqlx::query("SELECT * FROM domains WHERE pool_id = $1")
                    .bind(pool_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(Self::domain_row)
                    .transpose()
            }

            async fn delete_domain(
                &self,
                pool_id: &str,
                domain: &str,
            ) -> Result<bool, $crate::store::StoreError> {
                let deleted = sqlx::query("DELETE FROM domains WHERE pool_id = $1 AND domain = $2")
                    .bind(pool_id)
                    .bind(domain)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(deleted > 0)
            }

            async fn update_user_pool(
                &self,
                pool: &$crate::store::UserPoolRecord,
            ) -> Result<bool, $crate::store::StoreError> {
                let updated = sqlx::query(
                    "UPDATE user_pools SET name = $1, settings = $2, modified_ms = $3, \
                     lambda_config = $4 WHERE id = $5",
                )
                .bind(&pool.name)
                .bind($crate::store::sql::to_json(&pool.settings)?)
                .bind(pool.modified_ms)
                .bind($crate::store::sql::to_json(&pool.lambda_config)?)
                .bind(&pool.id)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(updated > 0)
            }

            async fn update_domain(
                &self,
                domain: &$crate::store::DomainRecord,
            ) -> Result<bool, $crate::store::StoreError> {
                let updated = sqlx::query(
                    "UPDATE domains SET managed_login_version = $1 \
                     WHERE domain = $2 AND pool_id = $3",
                )
                .bind(domain.managed_login_version)
                .bind(&domain.domain)
                .bind(&domain.pool_id)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(updated > 0)
            }

            // === client secrets (AddUserPoolClientSecret and friends) ===
            async fn client_secrets(
                &self,
                pool_id: &str,
                client_id: &str,
            ) -> Result<Vec<$crate::store::ClientSecretRecord>, $crate::store::StoreError> {
                self.select_client_secrets(pool_id, client_id).await
            }

            async fn add_client_secret(
                &self,
                pool_id: &str,
                secret: &$crate::store::ClientSecretRecord,
                max_active: usize,
            ) -> Result<$crate::store::AddSecretOutcome, $crate::store::StoreError> {
                self.insert_client_secret(pool_id, secret, max_active).await
            }

            async fn delete_client_secret(
                &self,
                pool_id: &str,
                client_id: &str,
                secret_id: &str,
            ) -> Result<$crate::store::DeleteSecretOutcome, $crate::store::StoreError> {
                self.remove_client_secret(pool_id, client_id, secret_id).await
            }
        }
    };
}
pub(crate) use impl_store;
