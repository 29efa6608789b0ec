//! axum/tower integration (feature `axum`): a layer that verifies the bearer token, the
//! [`Claims`] extractor, and per-route scope requirements, answering per RFC 6750 §3.
//!
//! | Situation | Status | `WWW-Authenticate` |
//! | --- | --- | --- |
//! | no `Authorization` header, or another scheme | 401 | `Bearer` (no error code) |
//! | malformed `Authorization` header | 400 | `Bearer error="invalid_request", …` |
//! | the token fails a check | 401 | `Bearer error="invalid_token", error_description="…"` |
//! | a required scope is missing | 403 | `Bearer error="insufficient_scope", scope="…"` |
//! | a required claim value is missing ([`RequireClaimLayer`]) | 403 | `Bearer error="insufficient_scope"` (no `scope`) |
//! | the JWKS cannot be fetched and no key is cached | 503 | none |
//!
//! Bodies are RFC 9457 `application/problem+json`. The `error_description` is a fixed
//! text per failed check: it never contains the token or a value taken from it.
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_verifier::Claims;
//! use jwt_verifier::axum::{JwtAuthLayer, RequireScopeLayer};
//!
//! async fn read_schedule(claims: Claims) -> String {
//!     format!("hello {}", claims.client_id())
//! }
//!
//! fn router(verifier: jwt_verifier::Verifier) -> Router {
//!     Router::new()
//!         .route("/schedule", get(read_schedule))
//!         // Per route: runs after JwtAuthLayer, which is the outer layer.
//!         .route_layer(RequireScopeLayer::all_of(["user-schedule-service/schedule.read"]))
//!         .layer(JwtAuthLayer::new(verifier))
//! }
//! ```
//!
//! # Different scopes per method on one path
//!
//! The common REST case — `GET /schedule` needs a read scope, `POST /schedule` a write
//! scope — must put each requirement on its *handler*, not on the path.
//! [`require_scope`] does that: it wraps one handler in a [`RequireScopeLayer`].
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_verifier::Claims;
//! use jwt_verifier::axum::{JwtAuthLayer, require_scope};
//!
//! const READ: &str = "user-schedule-service/schedule.read";
//! const WRITE: &str = "user-schedule-service/schedule.update";
//!
//! async fn list(claims: Claims) -> String { format!("for {}", claims.client_id()) }
//! async fn create(claims: Claims) -> String { format!("by {}", claims.client_id()) }
//!
//! fn router(verifier: jwt_verifier::Verifier) -> Router {
//!     Router::new()
//!         .route(
//!             "/schedule",
//!             get(require_scope([READ], list)).post(require_scope([WRITE], create)),
//!         )
//!         .layer(JwtAuthLayer::new(verifier))
//! }
//! ```
//!
//! # Requiring a claim value
//!
//! A token customised by a pre token generation trigger can carry claims such as a
//! `tenant`; [`RequireClaimLayer`] lets a route require a value, and handlers read the
//! claims with [`Claims::get`] or [`Claims::deserialize`]. A token without the value is
//! refused with 403 `insufficient_scope` — RFC 6750's code for a valid token that lacks
//! the privileges the request needs — without a `scope` attribute (no scope would help)
//! and without echoing the claim.
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_verifier::{Claims, VerifyError};
//! use jwt_verifier::axum::{JwtAuthLayer, RequireClaimLayer};
//!
//! async fn acme_report(claims: Claims) -> Result<String, jwt_verifier::axum::AuthRejection> {
//!     let environment: Option<String> = claims.get("environment")?;
//!     Ok(format!("report for acme ({})", environment.as_deref().unwrap_or("prod")))
//! }
//!
//! fn router(verifier: jwt_verifier::Verifier) -> Router {
//!     Router::new()
//!         .route("/acme/report", get(acme_report))
//!         .route_layer(RequireClaimLayer::equals("tenant", "acme"))
//!         .layer(JwtAuthLayer::new(verifier))
//! }
//! ```
//!
//! The pitfall: `get(list).post(create).route_layer(RequireScopeLayer::all_of([WRITE]))`
//! applies the layer to *every* method of the `MethodRouter`, so `GET` then needs the
//! write scope too. `MethodRouter::route_layer` has no per-method form; wrap handlers
//! instead (or give each method its own `Router` and `merge` them).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::handler::{Handler, Layered};
use axum::http::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::{ClaimPolicy, Claims, ScopePolicy, Verifier};

mod rejection;

pub use rejection::AuthRejection;
use rejection::{Rejection, bearer_token, quoted_safe};

// === impl JwtAuthLayer ===

/// Verifies the `Authorization: Bearer` token of every request and puts the [`Claims`]
/// in the request extensions; refuses the request otherwise (see the module docs).
#[derive(Clone, Debug)]
pub struct JwtAuthLayer {
    verifier: Verifier,
    realm: Option<Arc<str>>,
}

impl JwtAuthLayer {
    /// A layer that verifies with `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            realm: None,
        }
    }

    /// Adds `realm="…"` to every challenge. Default: no realm.
    #[must_use]
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        self.realm = Some(quoted_safe(realm.as_ref()).into());
        self
    }
}

impl<S> Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;
    fn layer(&self, inner: S) -> JwtAuth<S> {
        JwtAuth {
            inner,
            verifier: self.verifier.clone(),
            realm: self.realm.clone(),
        }
    }
}

/// The service made by [`JwtAuthLayer`].
#[derive(Clone, Debug)]
pub struct JwtAuth<S> {
    inner: S,
    verifier: Verifier,
    realm: Option<Arc<str>>,
}

impl<S> JwtAuth<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for JwtAuth<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone is not ready; the ready one (`self.inner`) serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let realm = self.realm.clone();
        ResponseFuture::new(async move {
            let verified = match bearer_token(request.headers()) {
                // Boxed: inline, the verification's state (1.7 KB by massif) would stay
                // part of this future for as long as the inner service takes, a request
                // waiting for the database included.
                Ok(token) => Box::pin(verifier.verify(token))
                    .await
                    .map_err(Rejection::Verify),
                Err(e) => Err(e),
            };
            match verified {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    if let Some(realm) = realm {
                        // For RequireScope's 403 challenge.
                        request.extensions_mut().insert(Realm(realm));
                    }
                    inner.call(request).await
                }
                Err(kind) => Ok(AuthRejection { kind, realm }.into_response()),
            }
        })
    }
}

/// The realm of the enclosing [`JwtAuthLayer`], passed on in the request extensions.
#[derive(Clone)]
struct Realm(Arc<str>);

// === impl RequireScopeLayer ===

/// Requires scopes on a route (use with `Router::route_layer`, inside [`JwtAuthLayer`]).
/// A request without verified claims gets 401; one without the scopes gets 403
/// `insufficient_scope` with `scope="…"`.
#[derive(Clone, Debug)]
pub struct RequireScopeLayer {
    policy: Arc<ScopePolicy>,
}

impl RequireScopeLayer {
    /// Requires every scope of `scopes`, compared whole.
    pub fn all_of<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(ScopePolicy::all_of(scopes))
    }

    /// Requires at least one scope of `scopes`, compared whole.
    pub fn any_of<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(ScopePolicy::any_of(scopes))
    }

    /// Requires `policy`.
    pub fn new(policy: ScopePolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;
    fn layer(&self, inner: S) -> RequireScope<S> {
        RequireScope {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// Wraps one handler so that it requires every scope of `scopes` (compared whole): the
/// per-method form of [`RequireScopeLayer`], e.g.
/// `get(require_scope([READ], list)).post(require_scope([WRITE], create))`.
/// See [the module docs](self#different-scopes-per-method-on-one-path) for why
/// `MethodRouter::route_layer` is the wrong tool here. Runs inside [`JwtAuthLayer`]; for
/// "any of" use `handler.layer(RequireScopeLayer::any_of(..))`.
pub fn require_scope<I, Sc, H, T, St>(scopes: I, handler: H) -> Layered<RequireScopeLayer, H, T, St>
where
    I: IntoIterator<Item = Sc>,
    Sc: Into<String>,
    H: Handler<T, St>,
    T: 'static,
    St: Clone + Send + Sync + 'static,
{
    handler.layer(RequireScopeLayer::all_of(scopes))
}

/// The service made by [`RequireScopeLayer`].
#[derive(Clone, Debug)]
pub struct RequireScope<S> {
    inner: S,
    policy: Arc<ScopePolicy>,
}

impl<S> RequireScope<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for RequireScope<S>
where
    S: Service<Request<B>, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let realm = request
            .extensions()
            .get::<Realm>()
            .map(|r| Arc::clone(&r.0));
        let checked = match request.extensions().get::<Claims>() {
            None => Err(Rejection::MissingToken),
            Some(claims) => self.policy.check(claims).map_err(|e| {
                metrics::counter!("jwt_verifier_rejections_total", "reason" => e.reason())
                    .increment(1);
                Rejection::Verify(e)
            }),
        };
        match checked {
            Ok(()) => ResponseFuture::new(self.inner.call(request)),
            Err(kind) => {
                let response = AuthRejection { kind, realm }.into_response();
                ResponseFuture::new(async move { Ok(response) })
            }
        }
    }
}

// === impl RequireClaimLayer ===

/// Requires a claim value on a route (use with `Router::route_layer`, inside
/// [`JwtAuthLayer`]), e.g. `RequireClaimLayer::equals("tenant", "acme")`. A request without
/// verified claims gets 401; one whose token lacks the value gets 403 (see the module docs).
#[derive(Clone, Debug)]
pub struct RequireClaimLayer {
    policy: Arc<ClaimPolicy>,
}

impl RequireClaimLayer {
    /// The claim must equal `value` (compared as JSON).
    pub fn equals(claim: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        Self::new(ClaimPolicy::equals(claim, value))
    }

    /// The claim must equal one of `values` (compared as JSON).
    pub fn one_of<I, V>(claim: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<serde_json::Value>,
    {
        Self::new(ClaimPolicy::one_of(claim, values))
    }

    /// Requires `policy`.
    pub fn new(policy: ClaimPolicy) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for RequireClaimLayer {
    type Service = RequireClaim<S>;
    fn layer(&self, inner: S) -> RequireClaim<S> {
        RequireClaim {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service made by [`RequireClaimLayer`].
#[derive(Clone, Debug)]
pub struct RequireClaim<S> {
    inner: S,
    policy: Arc<ClaimPolicy>,
}

impl<S> RequireClaim<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for RequireClaim<S>
where
    S: Service<Request<B>, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let realm = request
            .extensions()
            .get::<Realm>()
            .map(|r| Arc::clone(&r.0));
        let checked = match request.extensions().get::<Claims>() {
            None => Err(Rejection::MissingToken),
            Some(claims) => self.policy.check(claims).map_err(|e| {
                metrics::counter!("jwt_verifier_rejections_total", "reason" => e.reason())
                    .increment(1);
                Rejection::Verify(e)
            }),
        };
        match checked {
            Ok(()) => ResponseFuture::new(self.inner.call(request)),
            Err(kind) => {
                let response = AuthRejection { kind, realm }.into_response();
                ResponseFuture::new(async move { Ok(response) })
            }
        }
    }
}

// === impl ResponseFuture ===

/// The response future of [`JwtAuth`], [`RequireScope`] and [`RequireClaim`].
pub struct ResponseFuture<E> {
    inner: Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>,
}

impl<E> ResponseFuture<E> {
    fn new(future: impl Future<Output = Result<Response, E>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl<E> Future for ResponseFuture<E> {
    type Output = Result<Response, E>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<E> fmt::Debug for ResponseFuture<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

// === impl Claims extractor ===

impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = AuthRejection;

    /// Takes the claims [`JwtAuthLayer`] verified. Without the layer every request is
    /// refused with 401 (fail closed).
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AuthRejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or(AuthRejection {
                kind: Rejection::MissingToken,
                realm: None,
            })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Claims>().cloned())
    }
}
