//! The `--header-read-timeout`, `--request-timeout`, `--idle-timeout` and
//! `--max-connections` flags every server takes: its defences against slow and hostile
//! clients (see `server_kit::ServeConfig`); and the services' `--database-queue` (see
//! `server_kit::admission`).

use std::time::Duration;

use clap::Args;
use server_kit::ServeConfig;

/// Connection limits of a server. The defaults are `ServeConfig::default()`'s.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectionLimits {
    /// Seconds a client may take to send a request's line and headers, counted from when
    /// the connection starts waiting for it; then the connection is closed.
    #[arg(long, env = "S2S_HEADER_READ_TIMEOUT", value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) header_read_timeout: u64,

    /// Seconds a request may take, reading its body included, before it is answered
    /// 408 Request Timeout.
    #[arg(long, env = "S2S_REQUEST_TIMEOUT", value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) request_timeout: u64,

    /// Seconds a keep-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "S2S_IDLE_TIMEOUT", value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) idle_timeout: u64,

    /// Connections served at once; past it a new connection is answered 503 Service
    /// Unavailable (Retry-After: 1) and closed.
    #[arg(long, env = "S2S_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) max_connections: u64,
}

impl ConnectionLimits {
    pub(crate) fn serve_config(&self) -> ServeConfig {
        ServeConfig {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }
}

/// How many requests may wait for a service's database (user-schedule-service's API,
/// articles-service's /articles routes).
#[derive(Debug, Clone, Args)]
pub(crate) struct DatabaseQueue {
    /// Requests that may wait for the database while as many run as its pool has
    /// connections (8); past it a request is answered at once with 503 Service
    /// Unavailable, Retry-After: 1 and a database-busy problem document, so that the wait
    /// and the memory stay bounded under overload. 0: refuse any request that cannot run
    /// at once.
    #[arg(long, env = "S2S_DATABASE_QUEUE", value_name = "N",
          default_value_t = user_schedule_service::DEFAULT_ADMISSION_QUEUE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000))]
    pub(crate) database_queue: usize,
}

impl Default for DatabaseQueue {
    /// The flag's default, for `s2s up`.
    fn default() -> Self {
        Self {
            database_queue: user_schedule_service::DEFAULT_ADMISSION_QUEUE,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Command {
        #[command(flatten)]
        limits: ConnectionLimits,
    }

    #[test]
    fn the_flag_defaults_are_the_server_defaults() {
        let command = Command::try_parse_from(["s2s"]).unwrap();
        assert_eq!(command.limits.serve_config(), ServeConfig::default());
    }

    #[test]
    fn flags_set_every_limit() {
        let command = Command::try_parse_from([
            "s2s",
            "--header-read-timeout=2",
            "--request-timeout=3",
            "--idle-timeout=4",
            "--max-connections=5",
        ])
        .unwrap();
        assert_eq!(
            command.limits.serve_config(),
            ServeConfig {
                header_read_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(3),
                idle_timeout: Duration::from_secs(4),
                max_connections: 5,
            }
        );
    }

    #[derive(Debug, Parser)]
    struct Service {
        #[command(flatten)]
        queue: DatabaseQueue,
    }

    #[test]
    fn the_database_queue_defaults_to_the_services_default() {
        let service = Service::try_parse_from(["s2s"]).unwrap();
        assert_eq!(
            service.queue.database_queue,
            user_schedule_service::DEFAULT_ADMISSION_QUEUE
        );
        assert_eq!(
            service.queue.database_queue,
            articles_service::DEFAULT_ADMISSION_QUEUE
        );
        assert_eq!(
            DatabaseQueue::default().database_queue,
            service.queue.database_queue
        );
        let service = Service::try_parse_from(["s2s", "--database-queue=0"]).unwrap();
        assert_eq!(service.queue.database_queue, 0);
        assert!(Service::try_parse_from(["s2s", "--database-queue=-1"]).is_err());
    }

    #[test]
    fn a_zero_limit_is_refused() {
        assert!(Command::try_parse_from(["s2s", "--max-connections=0"]).is_err());
        assert!(Command::try_parse_from(["s2s", "--idle-timeout=0"]).is_err());
    }
}
