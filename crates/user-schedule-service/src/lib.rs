//! The resource server of s2s: users' schedules behind Cognito scope checks.
//!
//! Reads (`GET /users/{user_id}/schedule`, `GET …/events/{event_id}`) need the scope
//! `<resource-server>/schedule.read`; writes (`POST …/events`, `PUT` and `DELETE
//! …/events/{event_id}`) need `<resource-server>/schedule.update`. Tokens are verified by
//! `jwt-verifier`; refusals are its RFC 6750 responses. Everything else fails as an
//! RFC 9457 problem document.
//!
//! The crate follows the workspace's server shape: the caller builds an [`AppState`] from
//! a [`Config`], a store from [`store::connect`], a verifier and a clock, then calls
//! [`router`] and [`serve`] on a listener it bound itself.
//!
//! ```no_run
//! use std::sync::Arc;
//! use oauth_proto::time::SystemClock;
//! use user_schedule_service::{AppState, Config, router, serve, store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = store::connect("sqlite://schedule.db").await?;
//! let verifier = jwt_verifier::Verifier::builder()
//!     .issuer("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E")
//!     .client_id("26cb2c60kq7nbmas7rbme9b6pp")
//!     .build()?;
//! let state = AppState::new(Config::default(), store, verifier, Arc::new(SystemClock));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8082").await?;
//! serve(listener, router(state), async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `sqlite` (default): the SQLite store.
//! - `postgres` (default): the PostgreSQL store.
//! - `bench`: `router_without_auth_for_benchmarks`, the same router with verification
//!   switched off, for the auth-overhead benchmark. Never enable it in a deployment.
//!
//! # Security notes
//!
//! - Tokens are never logged: the trace layer records method, path, status and latency,
//!   never headers.
//! - Every API route sits behind the verification layer and a per-route scope layer;
//!   `/healthz`, `/readyz`, `/metrics` and `/openapi.json` are public.
//! - Database errors reach the logs, never the client (an opaque 500 with the request id).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use jwt_verifier::Verifier;
use jwt_verifier::axum::{JwtAuthLayer, RequireScopeLayer};
use metrics_exporter_prometheus::PrometheusHandle;
use oauth_proto::time::Clock;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

mod auth;
pub mod domain;
mod error;
mod openapi;
mod routes;
pub mod store;

pub use error::{ApiError, Problem, ProblemField};

use domain::{EventId, Timestamp};
use routes::{ops, schedule};

/// The default resource server identifier (the prefix of the two scopes).
pub const DEFAULT_RESOURCE_SERVER: &str = "user-schedule-service";

/// The service's settings. Every field has a default ([`Config::default`]).
#[derive(Clone)]
pub struct Config {
    /// The resource server identifier: the scopes checked are
    /// `{resource_server}/schedule.read` and `{resource_server}/schedule.update`.
    /// Default `"user-schedule-service"`.
    pub resource_server: String,
    /// The Prometheus handle `/metrics` renders. The caller installs the recorder.
    /// Default `None`: `/metrics` answers an empty body.
    pub metrics: Option<PrometheusHandle>,
    /// The largest request body accepted, in bytes. Default 64 KiB.
    pub body_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            resource_server: DEFAULT_RESOURCE_SERVER.to_owned(),
            metrics: None,
            body_limit: 64 * 1024,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("resource_server", &self.resource_server)
            .field(
                "metrics",
                &self.metrics.as_ref().map(|_| "PrometheusHandle"),
            )
            .field("body_limit", &self.body_limit)
            .finish()
    }
}

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn store::ScheduleStore>,
    verifier: Verifier,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .field("store", &self.inner.store)
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of one service instance.
    pub fn new(
        config: Config,
        store: Arc<dyn store::ScheduleStore>,
        verifier: Verifier,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                verifier,
                clock,
            }),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &dyn store::ScheduleStore {
        self.inner.store.as_ref()
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    pub(crate) fn now(&self) -> Result<Timestamp, ApiError> {
        Timestamp::from_system_time(self.inner.clock.now()).ok_or(ApiError::Internal(
            "the clock is outside the supported range",
        ))
    }

    /// A fresh random (v4) event id from the operating system's CSPRNG via aws-lc-rs.
    pub(crate) fn new_event_id(&self) -> Result<EventId, ApiError> {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| ApiError::Internal("the random number generator failed"))?;
        Ok(EventId::from_random_bytes(bytes))
    }

    fn read_scope(&self) -> String {
        format!("{}/schedule.read", self.inner.config.resource_server)
    }

    fn update_scope(&self) -> String {
        format!("{}/schedule.update", self.inner.config.resource_server)
    }
}

/// Whether the API routes verify tokens. Only the `bench` feature can say `Off`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    Verify,
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    Off,
}

/// The service's routes with all middleware: token verification and scope checks on the
/// API, request ids, tracing, metrics and a body size limit.
pub fn router(state: AppState) -> Router {
    build_router(state, Auth::Verify)
}

/// The same router as [`router`] with token verification and scope checks switched off:
/// every request runs as client `bench-client`. For the auth-overhead benchmark only;
/// it exists only with the non-default `bench` feature, which no deployment enables.
#[cfg(feature = "bench")]
pub fn router_without_auth_for_benchmarks(state: AppState) -> Router {
    build_router(state, Auth::Off)
}

fn build_router(state: AppState, auth: Auth) -> Router {
    use axum::routing::MethodRouter;
    use axum::routing::{post, put};
    // Scope checks per method: reads and writes share a path but not a scope.
    let (read_scope, update_scope) = (state.read_scope(), state.update_scope());
    let reads = |route: MethodRouter<AppState>| match auth {
        Auth::Verify => route.route_layer(RequireScopeLayer::all_of([read_scope.clone()])),
        Auth::Off => route,
    };
    let writes = |route: MethodRouter<AppState>| match auth {
        Auth::Verify => route.route_layer(RequireScopeLayer::all_of([update_scope.clone()])),
        Auth::Off => route,
    };
    let api: Router<AppState> = Router::new()
        .route(
            "/users/{user_id}/schedule",
            reads(get(schedule::list_schedule)),
        )
        .route(
            "/users/{user_id}/schedule/events",
            writes(post(schedule::create_event)),
        )
        .route(
            "/users/{user_id}/schedule/events/{event_id}",
            reads(get(schedule::get_event)).merge(writes(
                put(schedule::replace_event).delete(schedule::delete_event),
            )),
        );
    // `route_layer`: the verification layer wraps the scope layers (it runs first) and
    // only matched routes, so an unknown path is still a plain 404.
    let api = match auth {
        Auth::Verify => api.route_layer(JwtAuthLayer::new(state.verifier().clone())),
        Auth::Off => api.route_layer(middleware::from_fn(bench_caller)),
    };

    let ops = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi_json));

    let x_request_id = HeaderName::from_static("x-request-id");
    let body_limit = state.config().body_limit;
    api.merge(ops)
        .route_layer(middleware::from_fn(track_metrics))
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(
                    x_request_id.clone(),
                    MakeRequestUuid,
                ))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(x_request_id)),
        )
}

/// The span of one request: method, path and request id. Never headers (tokens) and never
/// the query string.
fn make_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

#[cfg_attr(not(feature = "bench"), allow(dead_code))]
async fn bench_caller(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(auth::Caller {
        client_id: "bench-client".to_owned(),
    });
    next.run(request).await
}

/// The `service` label of the HTTP metrics: `s2s up` runs every service behind one recorder.
const SERVICE: &str = "user-schedule-service";

/// Counts requests by route, method and status, times them by route, and counts RFC 6750
/// refusals by their `error` code.
async fn track_metrics(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status();
    if let Some(challenge) = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
    {
        let reason = challenge_error(challenge)
            .unwrap_or("missing_token")
            .to_owned();
        metrics::counter!("http_auth_refusals_total", "service" => SERVICE, "route" => route.clone(), "reason" => reason)
            .increment(1);
    }
    metrics::counter!(
        "http_requests_total",
        "service" => SERVICE,
        "route" => route.clone(),
        "method" => method,
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!("http_request_duration_seconds", "service" => SERVICE, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}

/// The `error` parameter of a `Bearer` challenge, if any.
fn challenge_error(challenge: &str) -> Option<&str> {
    let start = challenge.find("error=\"")? + "error=\"".len();
    let rest = &challenge[start..];
    Some(&rest[..rest.find('"')?])
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting
/// connections and waits for the requests in flight to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "user-schedule-service listening");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
