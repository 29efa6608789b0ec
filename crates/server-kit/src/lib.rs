//! The skeleton the three s2s servers (authorization-server, user-schedule-service,
//! articles-service) share, so that the same role has the same shape everywhere:
//!
//! - [`bind`]: a listener with an accept queue deep enough for thousands of callers;
//! - [`serve`] / [`serve_with`]: serve a router on a listener the caller bound, log the
//!   bound address with the service's name, defend against slow and hostile clients
//!   ([`ServeConfig`]: header-read, request and idle timeouts, a connection cap), drain
//!   the requests in flight on shutdown;
//! - [`layers::instrument`]: set and propagate `x-request-id`, open one trace span per
//!   request (server, method, path, route, request id — never headers, never the query
//!   string) that continues the caller's W3C trace, and log, inside that span, the error
//!   a response was made from;
//! - [`trace_context`]: carry the trace context over HTTP (`traceparent`) into and out
//!   of a server;
//! - [`errors`]: how a handler's error reaches that log ([`errors::ErrorReport`] in the
//!   response extensions), so no service logs in its `IntoResponse`;
//! - [`metrics::track`]: `http_requests_total`, `http_request_duration_seconds` and
//!   `http_auth_refusals_total`, labelled with the service;
//! - [`db`]: the SQLite and PostgreSQL connection pools every store opens the same way,
//!   and [`db::is_unavailable`], which tells a lost or refused database (a retryable 503)
//!   from a failed query;
//! - [`admission`]: bounded admission for the routes that wait for the database: at most
//!   so many run, so many more wait in arrival order, and the rest are refused at once
//!   (the service's `503` with `Retry-After`).
//!
//! Feature `test-util` adds `test_util`, what the servers' database-loss tests share.
//!
//! Nothing else belongs here: routes, handlers, state and OpenAPI documents stay in each
//! service. Of the workspace's crates this one depends on `oauth-proto` only (the bearer
//! challenge the metrics read).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let router = server_kit::layers::instrument(axum::Router::new(), "my-service");
//! let listener = server_kit::bind("127.0.0.1:0".parse().unwrap())?;
//! server_kit::serve("my-service", listener, router, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

pub mod admission;
pub mod db;
pub mod errors;
mod head;
pub mod layers;
pub mod metrics;
mod serve;
#[cfg(test)]
mod test_log;
#[cfg(feature = "test-util")]
pub mod test_util;
pub mod trace_context;

pub use serve::{ServeConfig, bind, serve, serve_with};
