//! [`TokenProvider`]: the cache, the single-flight refresh and the retry policy.
//!
//! # How it works
//!
//! All state sits behind one short-lived `std::sync::Mutex` that is never held across an
//! `.await`. It holds the current token with the time it should be replaced, and at most
//! one refresh in flight as a [`Shared`] future: every caller that needs the result
//! awaits a clone of that one future, so any number of callers cause one request.
//!
//! A refresh is spawned on the Tokio runtime, so it keeps going when the caller that
//! started it is cancelled, and so a refresh can run with no caller waiting at all. It
//! starts:
//!
//! - when a caller finds no valid token (cold start, or expired): the caller waits;
//! - from a timer set when a token is stored, at a share of its lifetime minus jitter
//!   (and at least the refresh margin before expiry): nobody waits, callers keep getting
//!   the current token;
//! - as a fallback, from `token()` itself once the refresh time has passed, in case the
//!   timer was late (the wall clock jumped, the host was suspended);
//! - from [`TokenProvider::refresh`].
//!
//! A refresh retries transient failures (transport errors, timeouts, 5xx, 429) with
//! exponential backoff and jitter while the provider has failed fewer than
//! `max_attempts` requests in a row: a fresh outage gets a few quick retries (with the
//! defaults after about 0.5–1, 1–2 and 2–4 s), a long one gets one request per refresh.
//! So no caller ever waits through a long pause. Whatever makes a refresh give up, the
//! provider then stays in a failure backoff: until it ends, callers without a valid token
//! get the last error at once and no request is made, so a wrong secret or a dead
//! endpoint cannot turn traffic into a request storm. While a token is cached, a timer
//! starts the next refresh when the backoff ends, so the provider keeps trying in the
//! background with ever longer pauses (doubling up to `max_backoff`).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use oauth_proto::time::{Clock, unix_seconds};
use oauth_proto::{ClientId, Scopes};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::builder::TokenProviderBuilder;
use crate::error::{HttpErrorKind, TokenError};
use crate::http::HttpClient;
use crate::jitter::Jitter;
use crate::stats::{Counters, Stats};
use crate::token::AccessToken;
use crate::wire::{ClientAuth, TokenEndpoint};

/// A source of client-credentials access tokens for one client: cached, refreshed
/// before expiry in the background, one request in flight at a time.
///
/// Cheap to clone; clones share the cache. Needs a Tokio runtime with time enabled.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    jitter: Jitter,
    counters: Counters,
    /// Never held across an `.await`; every critical section is a few field updates.
    state: Mutex<State>,
    /// The request built for the secret last read from the source: rebuilt only when the
    /// source returns a different secret.
    endpoint: Mutex<Option<(oauth_proto::ClientSecret, Arc<TokenEndpoint>)>>,
}

/// The checked settings a [`TokenProviderBuilder`] hands over.
pub(crate) struct Config {
    pub(crate) token_uri: http::Uri,
    /// Read before each request (see [`crate::SecretSource`]).
    pub(crate) secret_source: Arc<dyn crate::SecretSource>,
    pub(crate) client_id: ClientId,
    pub(crate) auth: ClientAuth,
    pub(crate) scopes: Option<Scopes>,
    pub(crate) refresh_share: f64,
    pub(crate) refresh_jitter: f64,
    pub(crate) refresh_margin: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

type SharedRefresh = Shared<BoxFuture<'static, Result<AccessToken, TokenError>>>;

#[derive(Default)]
struct State {
    /// The latest token and when to replace it. Kept after expiry, so errors can say
    /// when it expired and the timer knows the provider has been in use.
    current: Option<Current>,
    /// The refresh in flight. Cleared by the refresh itself, under this lock, in the
    /// same critical section that stores its outcome.
    refresh: Option<SharedRefresh>,
    /// Failed requests since the last token: the exponent of the backoff.
    failures: u32,
    /// No request is started before this instant (set when a refresh gives up).
    retry_not_before: Option<Instant>,
    /// Why the last refresh gave up, and after how many requests.
    last_failure: Option<(TokenError, u32)>,
    /// The timer that will start the next background refresh.
    timer: Option<AbortHandle>,
}

struct Current {
    token: AccessToken,
    refresh_at: SystemTime,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(timer) = lock(&self.state).timer.take() {
            timer.abort();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves consistent fields (each update is a plain
    // assignment), so a poisoned lock is still usable.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

// === impl TokenProvider ===

impl TokenProvider {
    /// Starts a configuration; see [`TokenProviderBuilder`] for the settings and defaults.
    pub fn builder() -> TokenProviderBuilder {
        TokenProviderBuilder::default()
    }

    /// A provider with checked settings; the builder's last step.
    pub(crate) fn new(
        config: Config,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        jitter: Jitter,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                http,
                clock,
                jitter,
                counters: Counters::default(),
                state: Mutex::new(State::default()),
                endpoint: Mutex::new(None),
            }),
        }
    }

    /// The cached token while it is valid, else a new one.
    ///
    /// Returns at once, without network, while the cached token has not expired, even
    /// when a refresh is due or running. Without a valid token, it waits for the one
    /// refresh in flight (starting it if needed); during the failure backoff after a
    /// failed refresh it returns that failure at once.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let inner = &self.inner;
        let span = acquire_span(&inner.config);
        let now = inner.clock.now();
        let pending = {
            // Entered only for this block (never across an `.await`): a refresh started
            // here is this span's child.
            let _entered = span.enter();
            let mut state = lock(&inner.state);
            if let Some(current) = &state.current
                && now < current.token.expires_at()
            {
                let token = current.token.clone();
                if now >= current.refresh_at && state.refresh.is_none() && state.may_request() {
                    // The timer was late: refresh now, in the background.
                    drop(inner.start_refresh(&mut state));
                }
                drop(state);
                span.record("outcome", "cached");
                inner.update_gauge(now, &token, false);
                return Ok(token);
            }
            inner.join_or_start(&mut state, now, &span)?
        };
        pending.instrument(span).await
    }

    /// Forces a new token, joining the refresh in flight if there is one.
    ///
    /// During the failure backoff after a failed refresh, returns that failure at once
    /// rather than making a request.
    pub async fn refresh(&self) -> Result<AccessToken, TokenError> {
        let span = acquire_span(&self.inner.config);
        let now = self.inner.clock.now();
        let pending = {
            let _entered = span.enter();
            let mut state = lock(&self.inner.state);
            self.inner.join_or_start(&mut state, now, &span)?
        };
        pending.instrument(span).await
    }

    /// Replaces `rejected`, a token a resource server refused, unless it was already
    /// replaced: then the current token is returned without a request. Many requests
    /// refused with the same token thus cause one refresh.
    pub async fn refresh_rejected(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenError> {
        let span = acquire_span(&self.inner.config);
        let now = self.inner.clock.now();
        let pending = {
            let _entered = span.enter();
            let mut state = lock(&self.inner.state);
            if let Some(current) = &state.current
                && !current.token.same_as(rejected)
                && now < current.token.expires_at()
            {
                span.record("outcome", "cached");
                return Ok(current.token.clone());
            }
            self.inner.join_or_start(&mut state, now, &span)?
        };
        pending.instrument(span).await
    }

    /// The cached token if it has not expired; never touches the network. Meant for
    /// readiness probes.
    pub fn cached(&self) -> Option<AccessToken> {
        let now = self.inner.clock.now();
        let state = lock(&self.inner.state);
        state
            .current
            .as_ref()
            .filter(|current| now < current.token.expires_at())
            .map(|current| current.token.clone())
    }

    /// Counters of requests made and failures by kind since the provider was built.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }
}

/// The span of one call for a token: `outcome` says how it was served — `cached`,
/// `joined` (a refresh was already in flight), `refreshed` (this call started one) or
/// `backoff` (the last failure, returned at once). A debug span: disabled, and nearly
/// free, unless a subscriber (a trace exporter) wants it. Never the token.
fn acquire_span(config: &Config) -> tracing::Span {
    tracing::debug_span!(
        "token.acquire",
        client_id = config.client_id.as_str(),
        outcome = tracing::field::Empty,
    )
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner.config;
        let cached = self.cached();
        f.debug_struct("TokenProvider")
            .field("token_url", &config.token_uri.to_string())
            .field("client_id", &config.client_id)
            .field("client_secret", &"[redacted]")
            .field("auth", &config.auth)
            .field("scopes", &config.scopes)
            .field("cached", &cached)
            .finish_non_exhaustive()
    }
}

// === impl State ===

impl State {
    fn may_request(&self) -> bool {
        self.retry_not_before
            .is_none_or(|not_before| Instant::now() >= not_before)
    }

    /// The error callers get for a refresh that gave up after `attempts` requests.
    fn give_up_error(&self, error: &TokenError, attempts: u32, now: SystemTime) -> TokenError {
        if !error.is_transient() {
            return error.clone();
        }
        let last = Box::new(error.clone());
        match &self.current {
            Some(current) if now >= current.token.expires_at() => TokenError::Expired {
                expired_at: current.token.expires_at(),
                attempts,
                last,
            },
            _ => TokenError::Unavailable { attempts, last },
        }
    }
}

// === impl Inner ===

impl Inner {
    /// The refresh in flight, a new one, or the last failure during the backoff; which
    /// one is recorded as `span`'s outcome.
    fn join_or_start(
        self: &Arc<Self>,
        state: &mut State,
        now: SystemTime,
        span: &tracing::Span,
    ) -> Result<SharedRefresh, TokenError> {
        if let Some(pending) = &state.refresh {
            span.record("outcome", "joined");
            return Ok(pending.clone());
        }
        if !state.may_request()
            && let Some((error, attempts)) = &state.last_failure
        {
            span.record("outcome", "backoff");
            return Err(state.give_up_error(error, *attempts, now));
        }
        span.record("outcome", "refreshed");
        Ok(self.start_refresh(state))
    }

    /// Starts a refresh and spawns a task that drives it to completion whoever waits.
    /// Its span, `token.refresh`, is a child of the current span: the call that needed
    /// the token, or none for a background refresh.
    fn start_refresh(self: &Arc<Self>, state: &mut State) -> SharedRefresh {
        let inner = Arc::clone(self);
        let span = tracing::debug_span!(
            "token.refresh",
            client_id = self.config.client_id.as_str(),
            attempts = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let pending = async move {
            let result = inner.run_refresh().await;
            let span = tracing::Span::current();
            span.record("outcome", if result.is_ok() { "token" } else { "failed" });
            result
        }
        .instrument(span)
        .boxed()
        .shared();
        state.refresh = Some(pending.clone());
        let driver = pending.clone();
        tokio::spawn(async move {
            // The outcome is stored by the refresh itself; waiters get their own copy.
            let _ = driver.await;
        });
        pending
    }

    async fn run_refresh(self: Arc<Self>) -> Result<AccessToken, TokenError> {
        let client_id = self.config.client_id.as_str();
        let mut attempts = 0;
        loop {
            attempts += 1;
            tracing::Span::current().record("attempts", attempts);
            let sent_at = self.clock.now();
            tracing::debug!(client_id, attempt = attempts, "requesting an access token");
            let error = match self.request_with_current_secret(sent_at).await {
                Ok(token) => return Ok(self.store(token, sent_at)),
                Err(error) => error,
            };
            self.counters.failure(client_id, &error);
            let (delay, budget_left) = {
                let mut state = lock(&self.state);
                state.failures = state.failures.saturating_add(1);
                (
                    self.backoff(state.failures, &error),
                    state.failures < self.config.max_attempts,
                )
            };
            if error.is_transient() && budget_left {
                tracing::warn!(
                    client_id,
                    attempt = attempts,
                    error = %error,
                    retry_in_ms = delay.as_millis() as u64,
                    "token request failed, retrying"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            tracing::warn!(
                client_id,
                attempts,
                error = %error,
                next_request_in_ms = delay.as_millis() as u64,
                "token refresh failed"
            );
            return Err(self.give_up(error, attempts, delay));
        }
    }

    fn give_up(self: &Arc<Self>, error: TokenError, attempts: u32, delay: Duration) -> TokenError {
        let now = self.clock.now();
        let mut state = lock(&self.state);
        state.refresh = None;
        state.retry_not_before = Some(Instant::now() + delay);
        let public = state.give_up_error(&error, attempts, now);
        state.last_failure = Some((error, attempts));
        if state.current.is_some() {
            // The provider is in use: keep trying in the background.
            self.schedule(&mut state, delay);
        }
        public
    }

    fn store(self: &Arc<Self>, token: AccessToken, sent_at: SystemTime) -> AccessToken {
        let lifetime = token
            .expires_at()
            .duration_since(sent_at)
            .unwrap_or_default();
        let refresh_in = self.refresh_after(lifetime);
        let refresh_at = sent_at + refresh_in;
        let now = self.clock.now();
        self.counters.token();
        tracing::info!(
            client_id = self.config.client_id.as_str(),
            expires_in_s = lifetime.as_secs(),
            refresh_in_s = refresh_in.as_secs(),
            scopes = token.scopes().map(ToString::to_string),
            "obtained an access token"
        );
        let mut state = lock(&self.state);
        state.current = Some(Current {
            token: token.clone(),
            refresh_at,
        });
        state.refresh = None;
        state.failures = 0;
        state.retry_not_before = None;
        state.last_failure = None;
        let delay = refresh_at.duration_since(now).unwrap_or_default();
        self.schedule(&mut state, delay);
        drop(state);
        self.update_gauge(now, &token, true);
        token
    }

    /// Replaces the timer: after `delay`, start a refresh unless one is running.
    fn schedule(self: &Arc<Self>, state: &mut State, delay: Duration) {
        if let Some(old) = state.timer.take() {
            old.abort();
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        let timer = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // The timer holds no strong reference: a dropped provider stops refreshing.
            if let Some(inner) = weak.upgrade() {
                let mut state = lock(&inner.state);
                state.timer = None;
                if state.refresh.is_none() {
                    // Nobody waits: the spawned driver runs it to completion.
                    drop(inner.start_refresh(&mut state));
                }
            }
        });
        state.timer = Some(timer.abort_handle());
    }

    /// When to replace a token of `lifetime`, counted from when it was requested:
    /// `share × lifetime − jitter × lifetime × U[0,1)`, and no later than `margin` before
    /// expiry, though the margin never pulls it before half the lifetime.
    fn refresh_after(&self, lifetime: Duration) -> Duration {
        let config = &self.config;
        let jitter = lifetime.mul_f64(config.refresh_jitter * self.jitter.next_f64());
        let planned = lifetime
            .mul_f64(config.refresh_share)
            .saturating_sub(jitter);
        let latest = lifetime
            .saturating_sub(config.refresh_margin)
            .max(lifetime / 2);
        planned.min(latest)
    }

    /// The pause after the `failures`-th failed request in a row: exponential from
    /// `initial_backoff`, capped at `max_backoff`, with "equal jitter" (uniform in
    /// `[d/2, d)`); a longer `Retry-After` wins, up to `max_backoff`.
    fn backoff(&self, failures: u32, error: &TokenError) -> Duration {
        let config = &self.config;
        let exponent = failures.saturating_sub(1).min(20);
        let full = config
            .initial_backoff
            .saturating_mul(1_u32 << exponent)
            .min(config.max_backoff);
        let half = full / 2;
        let delay = half + half.mul_f64(self.jitter.next_f64());
        match error {
            TokenError::Status {
                retry_after: Some(asked),
                ..
            } => delay.max((*asked).min(config.max_backoff)),
            _ => delay,
        }
    }

    fn update_gauge(&self, now: SystemTime, token: &AccessToken, force: bool) {
        let remaining = token
            .expires_at()
            .duration_since(now)
            .unwrap_or_default()
            .as_secs_f64();
        self.counters.expires_in(
            self.config.client_id.as_str(),
            unix_seconds(now),
            remaining,
            force,
        );
    }

    /// The secret the source gives now and the request for it.
    fn endpoint(&self) -> Result<(oauth_proto::ClientSecret, Arc<TokenEndpoint>), TokenError> {
        let secret = self
            .config
            .secret_source
            .current()
            .map_err(TokenError::SecretUnavailable)?;
        let mut cached = self.endpoint.lock().unwrap_or_else(PoisonError::into_inner);
        // Plain equality: this picks a cache entry, it authenticates nothing.
        if let Some((known, endpoint)) = cached.as_ref()
            && known.expose() == secret.expose()
        {
            return Ok((secret, Arc::clone(endpoint)));
        }
        let config = &self.config;
        let endpoint = Arc::new(
            TokenEndpoint::new(
                config.token_uri.clone(),
                &config.client_id,
                &secret,
                config.auth,
                config.scopes.as_ref(),
            )
            .map_err(|e| TokenError::InvalidResponse(format!("cannot build the request: {e}")))?,
        );
        *cached = Some((secret.clone(), Arc::clone(&endpoint)));
        Ok((secret, endpoint))
    }

    /// One request with the source's current secret. When the server answers
    /// `invalid_client`, the secret may have been rotated since it was read: the source is
    /// read again and, if it now gives another secret, the request is retried once at once.
    async fn request_with_current_secret(
        &self,
        sent_at: SystemTime,
    ) -> Result<AccessToken, TokenError> {
        let (secret, endpoint) = self.endpoint()?;
        let first = self.request_once(&endpoint, sent_at).await;
        if !matches!(
            &first,
            Err(TokenError::Oauth {
                code: oauth_proto::ErrorCode::InvalidClient,
                ..
            })
        ) {
            return first;
        }
        let (newer, endpoint) = self.endpoint()?;
        if newer.expose() == secret.expose() {
            return first;
        }
        // The refused request counts as a failure even when the retry succeeds: every
        // request sent ends as a token or a failure in the stats.
        if let Err(refused) = &first {
            self.counters
                .failure(self.config.client_id.as_str(), refused);
        }
        tracing::info!(
            client_id = self.config.client_id.as_str(),
            "the client secret was refused and has changed at its source: retrying once"
        );
        // The earlier send time stays: the token's lifetime is counted conservatively.
        self.request_once(&endpoint, sent_at).await
    }

    /// One request to the token endpoint, in a client span `token.request` whose
    /// context the request carries (`traceparent`) with the `opentelemetry` feature.
    async fn request_once(
        &self,
        endpoint: &TokenEndpoint,
        sent_at: SystemTime,
    ) -> Result<AccessToken, TokenError> {
        self.counters.request(self.config.client_id.as_str());
        let span = tracing::debug_span!(
            "token.request",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            status = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        #[allow(unused_mut)] // mutated only with the `opentelemetry` feature
        let mut request = endpoint.request();
        #[cfg(feature = "opentelemetry")]
        span.in_scope(|| crate::trace_context::inject_current(request.headers_mut()));
        let timeout = self.config.request_timeout;
        let exchange = tokio::time::timeout(timeout, self.http.execute(request));
        let result = match exchange.instrument(span.clone()).await {
            Err(_elapsed) => Err(TokenError::Timeout(timeout)),
            Ok(Err(error)) if error.kind() == HttpErrorKind::Timeout => {
                Err(TokenError::Timeout(timeout))
            }
            Ok(Err(error)) => Err(TokenError::Transport(error)),
            Ok(Ok(response)) => {
                span.record("status", response.status().as_u16());
                endpoint.parse_response(&response, sent_at)
            }
        };
        if let Err(error) = &result {
            span.record("otel.status_code", "error");
            // The kind of failure (`oauth`, `timeout`, …), never a body.
            span.record("error", error.kind());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BuildError;
    use crate::http::HttpRequest;
    use oauth_proto::ClientSecret;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<TokenProvider>();
        check::<TokenProviderBuilder>();
        check::<AccessToken>();
        check::<TokenError>();
        check::<BuildError>();
    }

    #[test]
    fn refresh_time_follows_share_jitter_and_margin() {
        let build = |share: f64, jitter: f64, margin: u64| {
            TokenProvider::builder()
                .token_url("https://auth.example.com/oauth2/token")
                .client_id(ClientId::parse("c").unwrap())
                .client_secret(ClientSecret::new("s"))
                .refresh_share(share)
                .refresh_jitter(jitter)
                .refresh_margin(Duration::from_secs(margin))
                .http_client(|_: HttpRequest| async { Err(crate::HttpError::other("unused")) })
                .build()
                .unwrap()
        };
        let hour = Duration::from_secs(3600);
        assert_eq!(
            build(0.8, 0.0, 60).inner.refresh_after(hour),
            Duration::from_secs(2880)
        );
        // A margin larger than the rest of the lifetime wins, but not before half of it.
        assert_eq!(
            build(1.0, 0.0, 600).inner.refresh_after(hour),
            Duration::from_secs(3000)
        );
        assert_eq!(
            build(1.0, 0.0, 3000).inner.refresh_after(hour),
            Duration::from_secs(1800)
        );
        let jittered = build(0.8, 0.1, 60);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let at = jittered.inner.refresh_after(hour);
            assert!(
                at > Duration::from_secs(2520) && at <= Duration::from_secs(2880),
                "{at:?}"
            );
            seen.insert(at.as_secs());
        }
        assert!(seen.len() > 100, "jitter does not spread: {}", seen.len());
    }
}
