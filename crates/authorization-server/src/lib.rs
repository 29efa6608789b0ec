//! A local authorization server compatible with Amazon Cognito user pools for the OAuth 2.0
//! client-credentials flow.
//!
//! One host serves what Cognito spreads over two:
//!
//! - `POST /` — the admin API (AWS JSON 1.1, `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`)
//!   that the real AWS SDKs and the `aws` CLI talk to with an endpoint override: user pools,
//!   app clients, resource servers and domains;
//! - `POST /oauth2/token` — the client-credentials grant (`client_secret_basic` and
//!   `client_secret_post`), RS256 access tokens with Cognito's header and ten claims;
//! - `POST /oauth2/revoke` — answers as Cognito does for client-credentials access tokens
//!   (they cannot be revoked: `unsupported_token_type`);
//! - `GET /{userPoolId}/.well-known/jwks.json` and `.../openid-configuration`;
//! - `GET /healthz` and `GET /metrics`;
//! - `/console` — an operator console in HTML (pools, keys, scopes, clients, secrets,
//!   recent token activity), open on loopback without admin credentials, behind a sign-in
//!   with them; its changes run through the admin operations.
//!
//! The issuer of a pool's tokens is `{public_url}/{userPoolId}`.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use authorization_server::{AppState, Config, router, serve, store};
//! use oauth_proto::time::SystemClock;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new("http://127.0.0.1:9229");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9229").await?;
//! let store = store::connect("sqlite::memory:").await?;
//! let state = AppState::new(config, store, Arc::new(SystemClock));
//! // Refuses a non-loopback listener unless admin credentials are configured.
//! serve(listener, state.clone(), router(state), std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `sqlite` (default): the SQLite store (`sqlite://PATH`, `sqlite::memory:`).
//! - `postgres` (default): the PostgreSQL store (`postgres://...`).
//! - `test-util`: [`test_util`], a server on `127.0.0.1:0` over in-memory SQLite for
//!   other crates' tests.
//!
//! # Security notes
//!
//! - With [`Config::admin_credentials`] set, every admin request must carry a valid AWS
//!   SigV4 signature made with that key (checked in constant time, date within 5
//!   minutes, `host`, `x-amz-date`, `x-amz-target`, `content-type` and every `x-amz-*`
//!   header signed, `Host` one of the server's names; with
//!   [`Config::refuse_replayed_signatures`], each write's signature usable once).
//! - Without credentials the admin API accepts any request from a local process, so
//!   [`serve`] (through [`Config::check_listen_addr`]) refuses non-loopback addresses
//!   unless [`Config::allow_unauthenticated_admin`] is set, and the admin API answers only
//!   requests whose `Host` is a loopback name or the public URL's host and whose `Origin`,
//!   if any, is the server's own (no DNS rebinding, no cross-site calls from a browser).
//! - Client secrets are compared in constant time and never logged; a request for an
//!   unknown client costs the same comparison as a wrong secret.
//! - RSA keys are generated, stored (PKCS#8) and used with aws-lc-rs only. Keys are
//!   stored unencrypted in the database: protect the database like a key file.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use oauth_proto::time::Clock;

mod admin;
pub mod audit;
mod certificate;
mod console;
mod discovery;
mod error;
mod grants;
mod ids;
mod jwks;
mod keys;
mod pretoken;
mod rate_limit;
mod revocation;
mod signer;
pub mod store;
#[cfg(feature = "test-util")]
pub mod test_util;
mod token;
pub mod validity;

pub use admin::{AdminOperation, OPERATIONS as ADMIN_OPERATIONS};
pub use error::{ConfigError, StoreError};
pub use pretoken::DEFAULT_TIMEOUT as DEFAULT_LAMBDA_TIMEOUT;
pub use rate_limit::RateLimit;
pub use signer::{
    DEFAULT_QUEUE as DEFAULT_SIGNING_QUEUE, default_turns as default_concurrent_signatures,
};
pub use validity::TimeUnit;

/// Largest request body accepted by the admin API and the token endpoint, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The URL clients reach the server at, without a trailing slash, e.g.
    /// `http://127.0.0.1:9229`. The issuer of a pool's tokens is `{public_url}/{userPoolId}`
    /// and the discovery document advertises `{public_url}/oauth2/token`. No default:
    /// see [`Config::new`].
    pub public_url: String,
    /// AWS region of the emulated service (default `us-east-1`): pool ids are
    /// `{region}_{9 alphanumerics}`, ARNs and the SigV4 credential scope use it.
    pub region: String,
    /// Admin API credentials. `Some` (default `None`): SigV4 signatures are verified and
    /// unsigned requests refused. `None`: any request is accepted, which
    /// [`Config::check_listen_addr`] allows on loopback addresses only.
    pub admin_credentials: Option<AdminCredentials>,
    /// The Prometheus recorder's handle, rendered at `GET /metrics` (default `None`: an
    /// empty body). The caller installs the recorder; the server only emits via `metrics`.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Serve the admin API without credentials on a non-loopback address (default
    /// `false`). Only for a private network such as a container's, where the port is not
    /// reachable by anyone else: anyone who can connect can create clients and mint tokens.
    pub allow_unauthenticated_admin: bool,
    /// Refuse a signed admin write whose signature was already used within the 5-minute
    /// window (a replayed request; default `false`). Off by default because AWS SDKs sign
    /// two identical writes made within the same second identically (the second one is
    /// then refused instead of answered).
    pub refuse_replayed_signatures: bool,
    /// RSA signatures of tokens made at once (default: one per core the process may use,
    /// [`default_concurrent_signatures`]); token requests wait for their turn in arrival
    /// order, and sign on the runtime's thread when it comes. Give the runtime at least one
    /// worker thread more, so that requests keep being read while every turn is taken.
    /// `0`: each request signs at once, with no queue and no admission control (the former
    /// behaviour, unfair when callers outnumber cores; kept for comparison).
    pub concurrent_signatures: usize,
    /// Token requests that may wait for a turn to sign (default [`DEFAULT_SIGNING_QUEUE`]);
    /// past it a token request is refused at once with `429` and `Retry-After: 1`
    /// (`GetClientToken`: `TooManyRequestsException`), so that neither the wait nor the
    /// memory of waiting requests grows without bound under overload.
    pub signing_queue: usize,
    /// Where each Lambda function runs locally: function ARN → URL that receives the
    /// trigger's event as a JSON POST and answers as the function would (default: none).
    /// A pool's `V3_0` pre token generation trigger runs for client-credentials tokens;
    /// its ARN must be here, or token requests are refused (`UnexpectedLambdaException`),
    /// as Cognito refuses when it cannot invoke the function.
    pub lambda_endpoints: std::collections::BTreeMap<String, String>,
    /// How long one invocation may take before it is tried again (three attempts, then the
    /// token is refused); default [`DEFAULT_LAMBDA_TIMEOUT`], Cognito's fixed 5 seconds.
    pub lambda_timeout: std::time::Duration,
    /// Token requests per second (with a burst) each app client may make, counted once
    /// it has authenticated, at the token endpoint and `GetClientToken` together (default
    /// `None`: no limit). Past it: `429 slow_down` with `Retry-After`, and
    /// `TooManyRequestsException`. See [`RateLimit`].
    pub client_rate_limit: Option<RateLimit>,
    /// Token-endpoint requests per second (with a burst) from one client address (an
    /// IPv6 /64), counted before anything else (default `None`: no limit). Needs the peer
    /// address, which [`serve`] provides. See [`RateLimit`].
    pub address_rate_limit: Option<RateLimit>,
    /// Where the audit trail goes: one CloudTrail-shaped JSON event per token request
    /// (issued or refused) and per admin write (default `None`: no trail). See [`audit`].
    pub audit: Option<audit::AuditLog>,
}

impl Config {
    /// A configuration with the given public URL (a trailing `/` is removed) and the
    /// defaults: region `us-east-1`, no admin credentials, no metrics handle.
    pub fn new(public_url: impl Into<String>) -> Self {
        let mut public_url = public_url.into();
        while public_url.ends_with('/') {
            public_url.pop();
        }
        Self {
            public_url,
            region: "us-east-1".to_owned(),
            admin_credentials: None,
            metrics: None,
            allow_unauthenticated_admin: false,
            refuse_replayed_signatures: false,
            concurrent_signatures: default_concurrent_signatures(),
            signing_queue: DEFAULT_SIGNING_QUEUE,
            lambda_endpoints: std::collections::BTreeMap::new(),
            lambda_timeout: DEFAULT_LAMBDA_TIMEOUT,
            client_rate_limit: None,
            address_rate_limit: None,
            audit: None,
        }
    }

    /// Refuses to serve on a non-loopback address without admin credentials (the admin API
    /// would then accept unsigned requests from the network) unless
    /// [`Config::allow_unauthenticated_admin`] is set, and refuses a public URL that is not
    /// `http(s)://host...` without a trailing slash. [`serve`] calls it.
    pub fn check_listen_addr(&self, addr: SocketAddr) -> Result<(), ConfigError> {
        let url = &self.public_url;
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        if rest.is_none_or(|host| host.is_empty() || host.starts_with('/')) || url.ends_with('/') {
            return Err(ConfigError::InvalidPublicUrl(url.clone()));
        }
        if self.admin_credentials.is_none()
            && !self.allow_unauthenticated_admin
            && !addr.ip().is_loopback()
        {
            return Err(ConfigError::UnauthenticatedAdminApi { addr });
        }
        Ok(())
    }
}

/// The admin API's access key: SigV4 signatures must be made with it.
#[derive(Debug, Clone)]
pub struct AdminCredentials {
    /// The access key id (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`); never logged.
    pub secret_access_key: oauth_proto::ClientSecret,
}

/// What every handler shares: configuration, store, clock, the parsed-key cache and the
/// token endpoint's per-client cache.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    store: Arc<dyn store::Store>,
    clock: Arc<dyn Clock>,
    keys: keys::KeyCache,
    grants: grants::GrantCache,
    replays: admin::sigv4::ReplayGuard,
    signer: signer::Signer,
    console: console::Console,
    hooks: pretoken::Invoker,
    rate_limits: rate_limit::RateLimits,
}

impl AppState {
    /// The state of one server.
    pub fn new(config: Config, store: Arc<dyn store::Store>, clock: Arc<dyn Clock>) -> Self {
        let signer = signer::Signer::new(config.concurrent_signatures, config.signing_queue);
        let hooks = pretoken::Invoker::new(config.lambda_endpoints.clone(), config.lambda_timeout);
        let rate_limits =
            rate_limit::RateLimits::new(config.client_rate_limit, config.address_rate_limit);
        Self {
            inner: Arc::new(Inner {
                signer,
                hooks,
                rate_limits,
                config,
                store,
                clock,
                keys: keys::KeyCache::default(),
                grants: grants::GrantCache::default(),
                replays: admin::sigv4::ReplayGuard::default(),
                console: console::Console::default(),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn store::Store> {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub(crate) fn keys(&self) -> &keys::KeyCache {
        &self.inner.keys
    }

    pub(crate) fn grants(&self) -> &grants::GrantCache {
        &self.inner.grants
    }

    pub(crate) fn replays(&self) -> &admin::sigv4::ReplayGuard {
        &self.inner.replays
    }

    pub(crate) fn signer(&self) -> &signer::Signer {
        &self.inner.signer
    }

    pub(crate) fn console(&self) -> &console::Console {
        &self.inner.console
    }

    pub(crate) fn hooks(&self) -> &pretoken::Invoker {
        &self.inner.hooks
    }

    pub(crate) fn rate_limits(&self) -> &rate_limit::RateLimits {
        &self.inner.rate_limits
    }

    /// Now, in Unix milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        let now = self.clock().now();
        now.duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    /// Adds a new RSA-2048 access-token key to a pool and returns its `kid`, like
    /// [`rotate_signing_key`]; this server signs with it from the next token on.
    pub async fn rotate_signing_key(&self, pool_id: &str) -> Result<Option<String>, StoreError> {
        let kid = rotate_signing_key(self.store().as_ref(), pool_id, self.now_ms()).await?;
        self.grants().invalidate();
        Ok(kid)
    }
}

/// Adds a new RSA-2048 access-token key to a pool in `store` and returns its `kid`; `now_ms`
/// is its creation time (Unix milliseconds). New tokens are signed with it; older keys stay
/// in the JWKS so tokens they signed still verify. A server running over the same database
/// signs with it within a second. `Ok(None)` when the pool does not exist.
pub async fn rotate_signing_key(
    store: &dyn store::Store,
    pool_id: &str,
    now_ms: i64,
) -> Result<Option<String>, StoreError> {
    if store.user_pool(pool_id).await?.is_none() {
        return Ok(None);
    }
    let key = keys::generate_blocking(pool_id.to_owned(), now_ms, store::KeyUse::Access).await?;
    store.add_signing_key(&key).await?;
    Ok(Some(key.kid))
}

/// All routes of the server, with request ids (`x-request-id`), tracing and panic capture.
pub fn router(state: AppState) -> Router {
    let token = post(token::handle).fallback(token::method_not_allowed);
    // The per-address limit's middleware only when that limit is on: it would be on every
    // token's path for nothing.
    let token = if state.rate_limits().limits_addresses() {
        token.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::address_layer,
        ))
    } else {
        token
    };
    let routes = Router::new()
        .route("/", get(index).post(admin::handle))
        .route("/oauth2/token", token)
        .route(
            "/oauth2/revoke",
            post(revocation::handle).fallback(token::method_not_allowed),
        )
        .route("/{pool_id}/.well-known/jwks.json", get(jwks::handle))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(discovery::handle),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .merge(console::router())
        .with_state(state);
    server_kit::layers::instrument(routes, SERVER)
}

/// The server's name in its logs and trace spans.
const SERVER: &str = "authorization-server";

/// `GET /`: what a person opening the server's URL in a browser needs, the endpoints.
async fn index() -> &'static str {
    "s2s authorization server: a local Amazon Cognito user pool for the client-credentials flow

POST /                                              admin API (AWS JSON 1.1, X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>)
POST /oauth2/token                                  token endpoint (grant_type=client_credentials)
GET  /<userPoolId>/.well-known/jwks.json            the pool's signing keys
GET  /<userPoolId>/.well-known/openid-configuration the pool's discovery document
GET  /healthz                                       liveness
GET  /metrics                                       Prometheus metrics
GET  /console                                       operator console (HTML)
"
}

async fn healthz() -> &'static str {
    "ok"
}

async fn render_metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl IntoResponse {
    let body = state
        .config()
        .metrics
        .as_ref()
        .map(metrics_exporter_prometheus::PrometheusHandle::render)
        .unwrap_or_default();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// Serves `router` — the [`router`] of `state`, possibly wrapped in more layers — on
/// `listener` until `shutdown` completes, then finishes in-flight requests (graceful
/// shutdown).
///
/// Refuses to start (an [`std::io::ErrorKind::InvalidInput`] error wrapping a
/// [`ConfigError`]) when [`Config::check_listen_addr`] refuses the listener's address: a
/// non-loopback address without admin credentials and without
/// [`Config::allow_unauthenticated_admin`].
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
/// defaults. The same loopback rule applies.
pub async fn serve_with(
    config: server_kit::ServeConfig,
    listener: tokio::net::TcpListener,
    state: AppState,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state
        .config()
        .check_listen_addr(listener.local_addr()?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    server_kit::serve_with(SERVER, config, listener, router, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_network_addresses_without_credentials() {
        let config = Config::new("http://127.0.0.1:9229/");
        assert_eq!(config.public_url, "http://127.0.0.1:9229");
        assert!(
            config
                .check_listen_addr("127.0.0.1:9229".parse().unwrap())
                .is_ok()
        );
        assert!(
            config
                .check_listen_addr("[::1]:9229".parse().unwrap())
                .is_ok()
        );
        let err = config
            .check_listen_addr("0.0.0.0:9229".parse().unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("0.0.0.0:9229"));
        assert!(err.to_string().contains("admin credentials"));

        let mut with_credentials = config.clone();
        with_credentials.admin_credentials = Some(AdminCredentials {
            access_key_id: "AKID".to_owned(),
            secret_access_key: oauth_proto::ClientSecret::new("secret"),
        });
        assert!(
            with_credentials
                .check_listen_addr("0.0.0.0:9229".parse().unwrap())
                .is_ok()
        );

        let bad_url = Config::new("127.0.0.1:9229");
        assert!(matches!(
            bad_url.check_listen_addr("127.0.0.1:9229".parse().unwrap()),
            Err(ConfigError::InvalidPublicUrl(_))
        ));
    }
}
