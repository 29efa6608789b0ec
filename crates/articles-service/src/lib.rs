//! articles-service: the company's articles API, and the OAuth 2.0 *client* of the s2s
//! scenario. Two of its routes call user-schedule-service with this service's own
//! client-credentials access token.
//!
//! - `GET /articles?limit=&cursor=&status=`, `POST /articles`, `GET`/`PUT`/`DELETE
//!   /articles/{id}`: the public CRUD API, keyset-paginated by `(created_at, id)`.
//! - `GET /articles/{id}/author-schedule`: the author's events around `publish_at`, read
//!   from user-schedule-service (scope `user-schedule-service/schedule.read`).
//! - `POST /articles/{id}/publication`: books `"Publish: <title>"` in the author's schedule
//!   (scope `user-schedule-service/schedule.update`), stores the event id and sets the
//!   status `scheduled`; repeating it books nothing (a claim in the store makes even
//!   concurrent repeats safe).
//! - `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.
//!
//! Errors are RFC 9457 problem documents (`application/problem+json`). When
//! user-schedule-service refuses (401/403) the answer is a 502 naming the upstream status
//! and, for a 403, the missing scope from its `WWW-Authenticate` challenge; a refusal of
//! the token endpoint is a 502 naming the OAuth error code; an unreachable upstream is a
//! 503 and a silent one a 504. The article is unchanged in every failure case.
//!
//! The service does not read the environment: the `s2s` binary builds the [`Config`] and
//! the [`TokenProvider`](token_provider::TokenProvider).
//!
//! # Who may write
//!
//! The API is anonymous by design, and stays so on loopback. Off loopback the write routes
//! (`POST /articles`, `PUT`/`DELETE /articles/{id}`, `POST /articles/{id}/publication`)
//! need a bearer token with [`WRITE_SCOPE`] (`articles-service/articles.write`) from the
//! issuer [`Config::write_auth`] names, verified by `jwt-verifier` (401/403 per RFC 6750);
//! reads stay anonymous. [`serve`] refuses a non-loopback listener when writes would be
//! anonymous, unless [`Config::allow_anonymous_writes`] says so explicitly.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use articles_service::{AppState, Config, router, serve, store};
//! use oauth_proto::time::SystemClock;
//! use token_provider::{ClientAuth, ClientId, ClientSecret, TokenProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // No token is fetched until the first upstream call.
//! let tokens = TokenProvider::builder()
//!     .token_url("http://127.0.0.1:9229/oauth2/token")
//!     .client_id(ClientId::parse("26cb2c60kq7nbmas7rbme9b6pp")?)
//!     .client_secret(ClientSecret::new("read-from-a-secret-file"))
//!     .auth(ClientAuth::Basic)
//!     .build()?;
//! let store = store::connect("sqlite::memory:").await?;
//! let config = Config::new("http://127.0.0.1:8082");
//! let state = AppState::new(config, store, tokens, Arc::new(SystemClock))?;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! // Loopback: anonymous writes are allowed. On 0.0.0.0, `serve` would refuse to start
//! // without `config.write_auth` (or `allow_anonymous_writes`).
//! let server = tokio::spawn(serve(listener, state.clone(), router(state), async move {
//!     let _ = stopped.await;
//! }));
//! stop.send(()).ok(); // graceful shutdown
//! server.await??;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `sqlite` (default): the SQLite store (`sqlite://PATH`, `sqlite::memory:`).
//! - `postgres` (default): the PostgreSQL store (`postgres://…`).
//!
//! # Metrics
//!
//! Through the `metrics` facade: `http_requests_total{service,route,method,status}`,
//! `http_request_duration_seconds{service,route}` (`service="articles-service"`), `upstream_requests_total{status}` (an HTTP
//! status, or `timeout`, `unreachable`, `error`). `/metrics` renders
//! [`Config::metrics`] and adds `articles_service_token_requests_total`, the requests this
//! service's provider made to the token endpoint.
//!
//! # Security notes
//!
//! - The token is attached only to requests for the host of [`Config::schedules_url`],
//!   and redirects are never followed, so it cannot leak to another host.
//! - Neither the token nor the client secret is logged; upstream error bodies are cut to
//!   their `detail` before they reach a problem document.
//! - Database errors reach the logs, never the client (an opaque 500).
//! - Off loopback, writes need a token with the write scope (see above); the check is in
//!   [`serve`] and the router, not in the binary, so every caller gets it.
//! - `author_id` is restricted to `[A-Za-z0-9._-]` (and not `.` or `..`), so it cannot
//!   change the path of the upstream URL it is put in.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use oauth_proto::time::Clock;
use server_kit::admission::{Admission, AdmissionLimits};
use time::OffsetDateTime;

pub mod domain;
mod error;
mod openapi;
mod routes;
mod schedule;
pub mod store;
mod tokens;
mod trace_propagation;
mod write_auth;

use error::ApiError;
pub use error::Error;
use schedule::ScheduleClient;
use tokens::Tokens;
pub use write_auth::{ListenError, WRITE_SCOPE, WriteAuth};

/// The service's configuration. Build it with [`Config::new`] and change fields as needed.
#[derive(Clone)]
pub struct Config {
    /// Base URL of user-schedule-service, e.g. `http://127.0.0.1:8082`. Required.
    pub schedules_url: String,
    /// The Prometheus recorder's handle, rendered by `/metrics`. Default `None` (only this
    /// service's own token count is served).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// How long a call to user-schedule-service may take, token fetch included, before the
    /// request fails with 504. Default 5 s.
    pub upstream_timeout: Duration,
    /// How long connecting to user-schedule-service may take. Default 2 s.
    pub connect_timeout: Duration,
    /// `GET /articles/{id}/author-schedule` covers `publish_at` ± this. Default 7 days.
    pub schedule_window: Duration,
    /// Without a `publish_at`, `author-schedule` covers now to now + this. Default 14 days.
    pub schedule_lookahead: Duration,
    /// Length of the publication event booked by `POST /articles/{id}/publication`.
    /// Default 30 minutes.
    pub publication_length: Duration,
    /// Largest request body accepted, in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// When user-schedule-service answers 403 `insufficient_scope` for a scope the token
    /// lacks, the token is replaced and the call retried, so a scope just granted is used by
    /// the next call. After a replacement that did not bring the scope, the next one waits
    /// this long, then twice as long each time up to
    /// [`scope_refresh_max_wait`](Self::scope_refresh_max_wait). Default 5 s.
    pub scope_refresh_first_wait: Duration,
    /// The longest wait between two such replacements. Default 60 s.
    pub scope_refresh_max_wait: Duration,
    /// Who may call the write routes. `Some`: a bearer token the verifier accepts, with
    /// the write scope ([`WriteAuth::scope`]), on any listener. `None` (default): anyone,
    /// which [`serve`] allows on a loopback listener only (unless
    /// [`allow_anonymous_writes`](Self::allow_anonymous_writes)).
    pub write_auth: Option<WriteAuth>,
    /// Serve the write routes without a credential on a non-loopback listener (default
    /// `false`). Only where nobody else can reach the port, or where the articles are
    /// meant to be writable by anyone: anyone who can connect can change and delete them.
    pub allow_anonymous_writes: bool,
    /// Bounded admission for the `/articles` routes (the ones whose work is the database):
    /// requests that run at once and that may wait their turn; past them a request is
    /// answered at once with `503`, `Retry-After` and a `database-busy` problem document.
    /// Default: [`store::POOL_SIZE`] running, [`DEFAULT_ADMISSION_QUEUE`] waiting. The
    /// publication routes are not counted: they wait mostly for user-schedule-service,
    /// which has its own, and holding a place meanwhile would let a slow upstream starve
    /// the articles API.
    pub admission: AdmissionLimits,
}

/// Requests that may wait for the database by default: a full queue is a wait of a
/// fraction of a second, and a waiting request costs a few kilobytes.
pub const DEFAULT_ADMISSION_QUEUE: usize = 512;

impl Config {
    /// A configuration with every default, calling user-schedule-service at `schedules_url`.
    pub fn new(schedules_url: impl Into<String>) -> Self {
        Self {
            schedules_url: schedules_url.into(),
            metrics: None,
            upstream_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            schedule_window: Duration::from_secs(7 * 24 * 3600),
            schedule_lookahead: Duration::from_secs(14 * 24 * 3600),
            publication_length: Duration::from_secs(30 * 60),
            max_body_bytes: 1024 * 1024,
            scope_refresh_first_wait: Duration::from_secs(5),
            scope_refresh_max_wait: Duration::from_secs(60),
            write_auth: None,
            allow_anonymous_writes: false,
            admission: AdmissionLimits {
                in_flight: store::POOL_SIZE as usize,
                queue: DEFAULT_ADMISSION_QUEUE,
            },
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("schedules_url", &self.schedules_url)
            .field("metrics", &self.metrics.is_some())
            .field("upstream_timeout", &self.upstream_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("schedule_window", &self.schedule_window)
            .field("schedule_lookahead", &self.schedule_lookahead)
            .field("publication_length", &self.publication_length)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("scope_refresh_first_wait", &self.scope_refresh_first_wait)
            .field("scope_refresh_max_wait", &self.scope_refresh_max_wait)
            .field("write_auth", &self.write_auth)
            .field("allow_anonymous_writes", &self.allow_anonymous_writes)
            .field("admission", &self.admission)
            .finish()
    }
}

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn store::ArticleStore>,
    pub(crate) schedules: ScheduleClient,
    pub(crate) tokens: Arc<dyn Tokens>,
    pub(crate) clock: Arc<dyn Clock>,
    /// The admission control the `/articles` routes share.
    pub(crate) admission: Admission,
    /// The OpenAPI document (JSON), serialised once.
    pub(crate) openapi: Bytes,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of one service instance. `tokens` supplies this service's access tokens:
    /// the schedule calls go through a reqwest-middleware client whose
    /// [`BearerMiddleware`](token_provider::BearerMiddleware) attaches them to requests for
    /// the host of [`Config::schedules_url`] only (and replaces a token the upstream
    /// refuses as `invalid_token`, once, and one that lacks a scope the upstream asks
    /// for, backing off per [`Config::scope_refresh_first_wait`] while that does not help).
    ///
    /// Fails if `schedules_url` is not an absolute `http(s)` URL or the HTTP client cannot
    /// be built.
    pub fn new(
        config: Config,
        store: Arc<dyn store::ArticleStore>,
        tokens: token_provider::TokenProvider,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let base = schedules_url(&config.schedules_url)?;
        let host = base.host_str().unwrap_or_default();
        let host = match base.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let http = reqwest_middleware::ClientBuilder::new(http_client(&config)?)
            .with(
                token_provider::BearerMiddleware::new(tokens.clone(), [host])
                    .scope_refresh_backoff(
                        config.scope_refresh_first_wait,
                        config.scope_refresh_max_wait,
                    ),
            )
            // Innermost: one client span per request sent, its context in `traceparent`.
            .with(trace_propagation::TracePropagation)
            .build();
        Self::from_parts(config, store, http, Arc::new(tokens), clock)
    }

    /// The state from its parts: `http` is the client that attaches tokens, `tokens` the
    /// source of readiness and token counts.
    pub(crate) fn from_parts(
        config: Config,
        store: Arc<dyn store::ArticleStore>,
        http: reqwest_middleware::ClientWithMiddleware,
        tokens: Arc<dyn Tokens>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let base = schedules_url(&config.schedules_url)?;
        let schedules = ScheduleClient::new(http, base, config.upstream_timeout, tokens::classify);
        let admission = Admission::new(config.admission, error::database_busy);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                schedules,
                tokens,
                clock,
                admission,
                openapi: openapi::document(),
            }),
        })
    }

    /// The admission control of the `/articles` routes: its counters say how many
    /// requests run and how many wait for the database now.
    pub fn admission(&self) -> &Admission {
        &self.inner.admission
    }

    /// Now, from the injected clock, with the precision the stores keep.
    pub(crate) fn now(&self) -> OffsetDateTime {
        domain::timestamp(self.inner.clock.now())
    }
}

/// Checks the user-schedule-service base URL: absolute `http` or `https`, with a host.
fn schedules_url(raw: &str) -> Result<reqwest::Url, Error> {
    let url = reqwest::Url::parse(raw)
        .map_err(|e| Error::Config(format!("schedules_url {raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Config(format!(
            "schedules_url {raw:?} must be an http or https URL with a host"
        )));
    }
    Ok(url)
}

/// The HTTP client of the schedule calls, before the token middleware is added.
pub(crate) fn http_client(config: &Config) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        // A redirect could carry the bearer token to another host: never follow one.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(Error::HttpClient)
}

/// The service's routes with request ids, tracing, metrics and error logging.
pub fn router(state: AppState) -> Router {
    let body_limit = state.inner.config.max_body_bytes;
    // The admission layer sits inside the write-token check below, so that a refused
    // token takes no place in the database's queue.
    let api = Router::new()
        .merge(routes::articles::router().route_layer(state.inner.admission.layer()))
        .merge(routes::publication::router());
    // `route_layer`: only matched routes, so an unknown path is still a plain 404; inside
    // the metrics layer, so refusals are counted as `http_auth_refusals_total`.
    let api = match &state.inner.config.write_auth {
        Some(auth) => api.route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            write_auth::require_token_for_writes,
        )),
        None => api,
    };
    let routes = api.merge(routes::ops::router());
    let routes = server_kit::metrics::track(routes, SERVICE)
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    server_kit::layers::instrument(routes, SERVICE)
}

/// The `service` label of the HTTP metrics and the name in the logs: `s2s up` runs every
/// service behind one recorder.
const SERVICE: &str = "articles-service";

/// Serves `router` — the [`router`] of `state`, possibly wrapped in more layers — on
/// `listener` until `shutdown` completes, then finishes the requests in flight (graceful
/// shutdown). The caller binds the listener (port 0 in tests).
///
/// Refuses to start (an [`std::io::ErrorKind::InvalidInput`] error wrapping a
/// [`ListenError`]) on a non-loopback listener when the write routes would be anonymous:
/// no [`Config::write_auth`] and no [`Config::allow_anonymous_writes`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        server_kit::ServeConfig::default(),
        listener,
        state,
        router,
        shutdown,
    )
    .await
}

/// [`serve`] with the given connection limits (timeouts, connection cap) instead of the
/// defaults. The same rule on anonymous writes applies.
pub async fn serve_with(
    config: server_kit::ServeConfig,
    listener: tokio::net::TcpListener,
    state: AppState,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    write_auth::check_listener(&state.inner.config, listener.local_addr()?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    server_kit::serve_with(SERVICE, config, listener, router, shutdown).await
}

#[cfg(test)]
mod tests;
