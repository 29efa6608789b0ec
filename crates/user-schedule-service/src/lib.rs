//! The resource server of s2s: users' schedules behind Cognito scope checks.
//!
//! Reads (`GET /users/{user_id}/schedule`, `GET …/events/{event_id}`) need the scope
//! `<resource-server>/schedule.read`; writes (`POST …/events`, `PUT` and `DELETE
//! …/events/{event_id}`) need `<resource-server>/schedule.update`. Tokens are verified by
//! `jwt-verifier`; refusals are its RFC 6750 responses. Everything else fails as an
//! RFC 9457 problem document. A user with no events has an empty schedule (200, no
//! events), not a missing one.
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

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use jwt_verifier::Verifier;
use jwt_verifier::axum::{JwtAuthLayer, RequireScopeLayer};
use metrics_exporter_prometheus::PrometheusHandle;
use oauth_proto::time::Clock;
use server_kit::admission::{Admission, AdmissionLimits};

mod auth;
pub mod domain;
mod error;
mod openapi;
mod routes;
pub mod store;

pub use error::{ApiError, Problem, ProblemField};

use domain::{EventId, Timestamp};

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
    /// Bounded admission for the API routes (the ones that use the database): requests
    /// that run at once and that may wait their turn; past them a request is answered at
    /// once with `503`, `Retry-After` and a `database-busy` problem document. Default:
    /// [`store::POOL_SIZE`] running (one connection each), [`DEFAULT_ADMISSION_QUEUE`]
    /// waiting.
    pub admission: AdmissionLimits,
}

/// Requests that may wait for the database by default: at a few thousand reads a second, a
/// full queue is a wait of a fraction of a second, and a waiting request costs a few
/// kilobytes.
pub const DEFAULT_ADMISSION_QUEUE: usize = 512;

impl Default for Config {
    fn default() -> Self {
        Self {
            resource_server: DEFAULT_RESOURCE_SERVER.to_owned(),
            metrics: None,
            body_limit: 64 * 1024,
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
            .field("resource_server", &self.resource_server)
            .field(
                "metrics",
                &self.metrics.as_ref().map(|_| "PrometheusHandle"),
            )
            .field("body_limit", &self.body_limit)
            .field("admission", &self.admission)
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
    /// The admission control every API route shares.
    admission: Admission,
    /// The OpenAPI document, serialised once with this deployment's scopes.
    openapi: Bytes,
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
        let openapi = openapi::document(&config.resource_server);
        let admission = Admission::new(config.admission, error::database_busy);
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                verifier,
                clock,
                admission,
                openapi,
            }),
        }
    }

    /// The admission control of the API routes: its counters say how many requests run
    /// and how many wait for the database now.
    pub fn admission(&self) -> &Admission {
        &self.inner.admission
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

    /// The OpenAPI document (JSON), built when the state was.
    pub(crate) fn openapi(&self) -> Bytes {
        self.inner.openapi.clone()
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
    let resource_server = &state.config().resource_server;
    let admission = state.admission().layer();
    let body_limit = DefaultBodyLimit::max(state.config().body_limit);
    let api = routes::API
        .iter()
        .fold(Router::new(), |api: Router<AppState>, route| {
            let scope = match auth {
                Auth::Verify => Some(RequireScopeLayer::all_of([route
                    .access
                    .scope(resource_server)])),
                Auth::Off => None,
            };
            // One `route_layer` for the three, because axum boxes every layer level of a
            // route and clones it for each request. Innermost: a request takes its place
            // in the database's queue only once its token and scope are accepted, so that
            // no anonymous caller can fill it. (Only these routes read a body.)
            let handler = (route.handler)().route_layer(
                tower::ServiceBuilder::new()
                    .option_layer(scope)
                    .layer(body_limit)
                    .layer(admission.clone()),
            );
            api.route(route.path, handler)
        });
    // `route_layer`: the verification layer wraps the scope layers (it runs first) and
    // only matched routes, so an unknown path is still a plain 404.
    let api = match auth {
        Auth::Verify => api.route_layer(JwtAuthLayer::new(state.verifier().clone())),
        Auth::Off => api.route_layer(middleware::from_fn(bench_caller)),
    };
    let routes =
        server_kit::metrics::track(api.merge(routes::ops::router()), SERVICE).with_state(state);
    server_kit::layers::instrument(routes, SERVICE)
}

#[cfg_attr(not(feature = "bench"), allow(dead_code))]
async fn bench_caller(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(auth::Caller {
        client_id: "bench-client".to_owned(),
    });
    next.run(request).await
}

/// The `service` label of the HTTP metrics and the name in the logs: `s2s up` runs every
/// service behind one recorder.
const SERVICE: &str = "user-schedule-service";

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting
/// connections and waits for the requests in flight to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server_kit::serve(SERVICE, listener, router, shutdown).await
}

/// [`serve`] with the given connection limits (timeouts, connection cap) instead of the
/// defaults.
pub async fn serve_with(
    config: server_kit::ServeConfig,
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server_kit::serve_with(SERVICE, config, listener, router, shutdown).await
}
