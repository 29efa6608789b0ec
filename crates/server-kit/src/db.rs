//! Database connection pools, opened the same way by every store.
//!
//! Each store keeps its own SQL and migrations (`sqlx::migrate!` embeds them from the
//! store's crate); what they share is reading the URL's scheme and the pool settings.

/// The database a URL names, by its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`.
    Sqlite,
    /// `postgres://…` or `postgresql://…`.
    Postgres,
}

impl Backend {
    /// The backend `url` names, or `None` for any other scheme.
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// The scheme of `url` with its `:`, for an error message: a URL may hold a password,
/// so it is never echoed whole.
pub fn scheme(url: &str) -> String {
    let scheme = url.split(':').next().unwrap_or_default();
    format!("{}:", scheme.chars().take(32).collect::<String>())
}

/// Opens a SQLite pool on `sqlite://PATH` (the file is created if missing, not its
/// directory) or `sqlite::memory:`, with foreign keys on and a 5 s busy timeout.
///
/// A file gets up to `max_connections` connections in WAL mode with `synchronous=NORMAL`
/// (readers never wait for the writer; a crash cannot corrupt the file). An in-memory
/// database lives as long as one connection to it, and every new connection to
/// `:memory:` would be another, empty database: so it gets exactly one connection, kept
/// forever.
#[cfg(feature = "sqlite")]
pub async fn sqlite_pool(url: &str, max_connections: u32) -> Result<sqlx::SqlitePool, sqlx::Error> {
    use std::str::FromStr;
    use std::time::Duration;

    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };

    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if in_memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
    } else {
        make_private(options.get_filename()).map_err(sqlx::Error::Io)?;
        SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(
                options
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal),
            )
            .await
    }
}

/// Creates the database file readable and writable by its owner only (0600), or narrows an
/// existing one (and its `-wal`/`-shm` files) to that, whatever the process's umask: the
/// authorization server's database holds private signing keys and client secrets. SQLite
/// gives the `-wal` and `-shm` files it creates later the database file's mode.
#[cfg(feature = "sqlite")]
fn make_private(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = std::path::Path::new(&name);
            if file.exists() {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// How long taking a connection from a PostgreSQL pool may wait, connecting included.
///
/// Short enough that a request meets an unreachable database with a 503 well before the
/// servers' request timeout (30 s by default, which would answer 408 instead), long enough
/// to ride out a database restart or a burst of load. sqlx's own default is 30 s.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens a PostgreSQL pool on `postgres://…` with up to `max_connections` connections;
/// taking one waits at most [`ACQUIRE_TIMEOUT`].
///
/// The pool recovers from a lost database without a restart: each connection is pinged
/// before it is handed out (`test_before_acquire`), so one the server closed (a restart,
/// `pg_terminate_backend`, a failover) is replaced by a new one rather than failing the
/// next query; a connection that fails during a query is dropped, not returned; and a
/// refused connection attempt is retried, with backoff, until the acquire timeout. What
/// still fails is a database error that [`is_unavailable`] recognises.
#[cfg(feature = "postgres")]
pub async fn postgres_pool(url: &str, max_connections: u32) -> Result<sqlx::PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(true)
        .connect(url)
        .await
}

/// How many seconds a client is told to wait (`Retry-After`) before retrying a request that
/// failed because the database was unavailable: a lost connection is replaced at once, so
/// the retry usually succeeds.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// The `Retry-After` header value of [`RETRY_AFTER_SECONDS`].
pub fn retry_after() -> axum::http::HeaderValue {
    axum::http::HeaderValue::from(RETRY_AFTER_SECONDS)
}

/// Whether `error` means that the database is unavailable for now — the connection was
/// lost, refused or could not be taken in time — rather than that the query or the data
/// is wrong. The servers answer the first kind with a retryable 503 (or their protocol's
/// equivalent) and the second with a 500.
///
/// Unavailable:
/// - I/O and TLS errors, and protocol errors (a connection cut mid-message leaves the
///   client reading something unexpected);
/// - the pool timed out (no connection could be opened or freed in time), was closed, or
///   its worker crashed;
/// - a database error whose SQLSTATE [`is_unavailable_sqlstate`] recognises.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// Whether a PostgreSQL SQLSTATE means the server cannot serve this connection now
/// (PostgreSQL documentation, appendix A, "PostgreSQL Error Codes"):
/// - class `08`, connection exception (`08000`, `08003` connection does not exist,
///   `08006` connection failure, `08001`, `08004` the server rejected the connection, …);
/// - `57P01` admin shutdown (also what `pg_terminate_backend` sends), `57P02` crash
///   shutdown, `57P03` cannot connect now (starting up or shutting down);
/// - `53300` too many connections.
pub fn is_unavailable_sqlstate(code: &str) -> bool {
    (code.len() == 5 && code.starts_with("08"))
        || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_backend_from_the_scheme() {
        assert_eq!(Backend::of("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(Backend::of("sqlite://a.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of("postgres://u@h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of("postgresql://u@h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of("mysql://u:pw@h/db"), None);
    }

    #[test]
    fn lost_and_refused_connections_are_unavailable() {
        use std::io::{Error, ErrorKind};
        for error in [
            sqlx::Error::Io(Error::from(ErrorKind::ConnectionRefused)),
            sqlx::Error::Io(Error::from(ErrorKind::UnexpectedEof)),
            sqlx::Error::Tls("handshake failed".into()),
            sqlx::Error::Protocol("unexpected message".to_owned()),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
        ] {
            assert!(is_unavailable(&error), "{error}");
        }
        for error in [
            sqlx::Error::RowNotFound,
            sqlx::Error::ColumnNotFound("x".to_owned()),
            sqlx::Error::Decode("bad".into()),
            sqlx::Error::Configuration("bad url".into()),
        ] {
            assert!(!is_unavailable(&error), "{error}");
        }
    }

    #[test]
    fn connection_sqlstates_are_unavailable_and_others_are_not() {
        for code in [
            "08000", "08003", "08006", "08001", "08004", "08P01", "57P01", "57P02", "57P03",
            "53300",
        ] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        // Unique violation, syntax error, undefined table, out of disk, query canceled,
        // serialization failure: the query's or the data's problem, or not a lost connection.
        for code in [
            "23505", "42601", "42P01", "53100", "57014", "40001", "08", "080000", "",
        ] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn a_scheme_never_carries_the_password() {
        assert_eq!(scheme("mysql://u:secret@h/db"), "mysql:");
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn an_in_memory_database_keeps_its_tables() {
        let pool = sqlite_pool("sqlite::memory:", 8).await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        // Every query of the pool sees the same (one) database.
        for _ in 0..3 {
            sqlx::query("SELECT x FROM t")
                .fetch_all(&pool)
                .await
                .unwrap();
        }
    }
}
