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

/// Opens a PostgreSQL pool on `postgres://…` with up to `max_connections` connections;
/// taking one waits at most 5 s.
#[cfg(feature = "postgres")]
pub async fn postgres_pool(url: &str, max_connections: u32) -> Result<sqlx::PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(url)
        .await
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
