//! The crate's error types: configuration and storage. Protocol errors (admin API
//! exceptions, OAuth error codes) are responses, not Rust errors, and live with their
//! endpoints (`admin/error.rs`, `token.rs`).

use std::net::SocketAddr;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A configuration the server refuses to run with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Listening on a non-loopback address without admin credentials would let anyone on
    /// the network create clients and mint tokens.
    #[error(
        "refusing to listen on {addr} without admin credentials: the admin API would accept \
         unsigned requests from the network; listen on a loopback address (127.0.0.1 or ::1) \
         or configure admin credentials (access key id and secret access key) so that \
         SigV4 signatures are verified"
    )]
    UnauthenticatedAdminApi {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The public URL is not an absolute http(s) URL.
    #[error(
        "invalid public url {0:?}: expected http:// or https:// followed by a host, with no trailing slash"
    )]
    InvalidPublicUrl(String),
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names no supported backend (or one this build leaves out).
    #[error(
        "unsupported database url {0:?}: expected sqlite://PATH, sqlite::memory: or postgres://..."
    )]
    UnsupportedUrl(String),
    /// A unique constraint refused the write (duplicate domain, identifier or id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database refused or failed an operation.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Embedded migrations could not be applied.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back (corrupt row) or randomness failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Whether the database is unavailable (a lost, refused or exhausted connection;
    /// [`server_kit::db::is_unavailable`]): a retry may succeed, so each endpoint answers
    /// with its protocol's retryable error rather than an internal one.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Database(error) if server_kit::db::is_unavailable(error))
    }
}

/// What the public read endpoints (JWKS, discovery) answer when the store fails: `503` with
/// `Retry-After` when the database is unavailable, else `500`; a `{"message": ...}` body in
/// the shape of their 404, details only in the log.
pub(crate) fn store_failure_response(endpoint: &str, error: &StoreError) -> Response {
    if error.is_unavailable() {
        tracing::warn!(%error, endpoint, "the database is unavailable");
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "message": "The database is unavailable; retry after the delay in Retry-After."
            })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, server_kit::db::retry_after());
        response
    } else {
        tracing::error!(%error, endpoint, "request failed in the store");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({
                "message": "An internal error occurred; the x-request-id header identifies it in the logs."
            })),
        )
            .into_response()
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(db.message().to_owned())
            }
            _ => Self::Database(error),
        }
    }
}
