//! The crate's error types: configuration and storage. Protocol errors (admin API
//! exceptions, OAuth error codes) are responses, not Rust errors, and live with their
//! endpoints (`admin/error.rs`, `token.rs`).

use std::net::SocketAddr;

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
