//! What the servers' database-loss tests share (feature `test-util`, for tests only): a
//! fresh PostgreSQL database, a task that keeps terminating its connections, a relay that
//! can start refusing connections, and the assertion that an answer is the retryable 503
//! problem document.
//!
//! Every helper panics on failure: they exist for tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use sqlx::Connection as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A uniquely named database on the PostgreSQL server `TEST_DATABASE_URL` names.
#[derive(Debug)]
pub struct TestPostgres {
    /// `TEST_DATABASE_URL`: the server, connected to its maintenance database.
    pub server_url: String,
    /// The new database's name.
    pub name: String,
    /// `server_url` with the new database in place of the maintenance one.
    pub url: String,
}

impl TestPostgres {
    /// Creates `{prefix}_{random}`; `None`, with a note on stderr, when
    /// `TEST_DATABASE_URL` is unset (the PostgreSQL tests are then skipped).
    pub async fn create(prefix: &str) -> Option<Self> {
        let Ok(server_url) = std::env::var("TEST_DATABASE_URL") else {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("TEST_DATABASE_URL unset: skipping this PostgreSQL test");
            }
            return None;
        };
        let mut bytes = [0u8; 8];
        random_bytes(&mut bytes);
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{prefix}_{suffix}");
        let mut admin = sqlx::PgConnection::connect(&server_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        let url = replace_path(&server_url, &name);
        Some(Self {
            server_url,
            name,
            url,
        })
    }

    /// Drops the database, terminating whatever is still connected to it.
    pub async fn drop_database(self) {
        let mut admin = sqlx::PgConnection::connect(&self.server_url).await.unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await
        .unwrap();
        let _ = admin.close().await;
    }

    /// Starts a [`BackendKiller`] on this database.
    pub async fn start_killing_connections(&self) -> BackendKiller {
        BackendKiller::start(&self.server_url, &self.name).await
    }

    /// A [`RefusingRelay`] in front of this database's server, and `url` pointing at it.
    pub async fn relay(&self) -> (RefusingRelay, String) {
        let upstream = host_and_port(&self.url);
        let relay = RefusingRelay::start(upstream).await;
        let url = replace_authority_host(&self.url, relay.addr());
        (relay, url)
    }
}

/// Random bytes from the standard library's randomly seeded `RandomState`: enough for a
/// unique test database name.
fn random_bytes(out: &mut [u8]) {
    use std::hash::{BuildHasher as _, Hasher as _};
    for chunk in out.chunks_mut(8) {
        let value = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            .to_le_bytes();
        chunk.copy_from_slice(&value[..chunk.len()]);
    }
}

/// `scheme://authority/database?query` with `database` replaced by `name`.
fn replace_path(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

/// The `host:port` of a `postgres://[user[:password]@]host[:port]/…` URL (port 5432 when
/// none is given).
fn host_and_port(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

/// The URL with its `host[:port]` replaced by `addr` (credentials kept).
fn replace_authority_host(url: &str, addr: SocketAddr) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let userinfo = authority
        .rsplit_once('@')
        .map(|(userinfo, _)| format!("{userinfo}@"))
        .unwrap_or_default();
    format!(
        "{}{userinfo}{addr}{}",
        &url[..after_scheme],
        &rest[authority_len..]
    )
}

/// A task that terminates every connection to one database, over and over, as an
/// operator's `pg_terminate_backend`, a failover or a crashing proxy would: each server
/// connection gets `FATAL 57P01` and is closed.
#[derive(Debug)]
pub struct BackendKiller {
    stop: Arc<AtomicBool>,
    task: JoinHandle<u64>,
}

impl BackendKiller {
    /// Starts terminating the connections to `database`, connected to `server_url` (another
    /// database, so the killer does not kill itself).
    pub async fn start(server_url: &str, database: &str) -> Self {
        let mut admin = sqlx::PgConnection::connect(server_url).await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let database = database.to_owned();
        let stopping = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut terminated = 0u64;
            // Pacing, not synchronisation: a few hundred rounds a second is plenty to hit
            // queries in flight without starving the database of CPU.
            let mut pace = tokio::time::interval(Duration::from_millis(3));
            while !stopping.load(Ordering::Relaxed) {
                pace.tick().await;
                let killed: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()) AS t",
                )
                .bind(&database)
                .fetch_one(&mut admin)
                .await
                .unwrap();
                terminated += u64::try_from(killed).unwrap_or(0);
            }
            let _ = admin.close().await;
            terminated
        });
        Self { stop, task }
    }

    /// Stops, and returns how many connections were terminated in all.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// A TCP relay in front of a database server that can, at a chosen moment, cut every
/// connection it relays and close its port: from then on connecting to it is refused,
/// as when the database host is down.
#[derive(Debug)]
pub struct RefusingRelay {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RefusingRelay {
    /// Relays `127.0.0.1:0` to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            // Dropped with this task: aborting it cuts every relayed connection.
            let mut relays = JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                relays.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { addr, task }
    }

    /// The address the relay listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every relayed connection and closes the port, for good.
    pub async fn refuse(self) {
        self.task.abort();
        let _ = self.task.await;
        // The port now refuses connections (nothing listens on it any more).
        assert!(
            TcpStream::connect(self.addr).await.is_err(),
            "the relay's port still accepts connections"
        );
    }
}

/// Asserts that an answer is the retryable database-unavailable problem document of the
/// services: `503`, `Retry-After` in seconds, `application/problem+json` with `status`
/// 503, a `type` ending in `database-unavailable` and a `detail`.
pub fn assert_database_unavailable_problem(status: u16, headers: &HeaderMap, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE.as_u16(),
        "expected a 503, got {status}: {text}"
    );
    let retry_after = headers
        .get(header::RETRY_AFTER)
        .unwrap_or_else(|| panic!("a 503 without Retry-After: {text}"));
    assert!(
        retry_after.to_str().unwrap().parse::<u32>().is_ok(),
        "Retry-After is not delay-seconds: {retry_after:?}"
    );
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap()),
        Some("application/problem+json"),
        "{text}"
    );
    let problem: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(problem["status"], 503, "{problem}");
    let kind = problem["type"].as_str().unwrap_or_default();
    assert!(kind.ends_with("database-unavailable"), "{problem}");
    assert!(problem["title"].is_string(), "{problem}");
    assert!(
        problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{problem}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_database_urls() {
        assert_eq!(
            replace_path("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_path("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(replace_path("postgres://h:1", "x"), "postgres://h:1/x");
        assert_eq!(host_and_port("postgres://u:p@db.local/x"), "db.local:5432");
        assert_eq!(
            host_and_port("postgres://u@127.0.0.1:6543/x?a=b"),
            "127.0.0.1:6543"
        );
        assert_eq!(
            replace_authority_host(
                "postgres://u:p@127.0.0.1:5432/x?a=b",
                "127.0.0.1:9".parse().unwrap()
            ),
            "postgres://u:p@127.0.0.1:9/x?a=b"
        );
    }
}
