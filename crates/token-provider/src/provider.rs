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

use base64::Engine as _;
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use oauth_proto::time::{Clock, SystemClock, unix_seconds};
use oauth_proto::{ClientId, ClientSecret, ErrorResponse, Scopes};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::error::{BuildError, HttpErrorKind, TokenError};
use crate::http::{HttpClient, HttpRequest, HttpResponse};
use crate::jitter::Jitter;
use crate::stats::{Counters, Stats};
use crate::token::{AccessToken, unverified_scope_claim};

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: `Authorization: Basic base64(client_id ":" client_secret)`.
    ///
    /// The id and secret are joined as they are, exactly as Cognito's documentation shows
    /// (`djc98u3jiedmi283eu928` / `abcdef01234567890` →
    /// `Basic ZGpjOTh1M2ppZWRtaTI4M2V1OTI4OmFiY2RlZjAxMjM0NTY3ODkw`). RFC 6749 §2.3.1
    /// asks to form-encode both first; for Cognito's alphabet (`[\w+]`) that differs only
    /// when a custom secret holds `+`, and Cognito documents the raw form, so raw it is.
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Post,
}

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
}

struct Config {
    token_uri: http::Uri,
    client_id: ClientId,
    auth: ClientAuth,
    scopes: Option<Scopes>,
    /// `Basic …`, marked sensitive, for [`ClientAuth::Basic`].
    basic_header: Option<HeaderValue>,
    /// The form body, built once. Holds the secret for [`ClientAuth::Post`].
    form: Vec<u8>,
    refresh_share: f64,
    refresh_jitter: f64,
    refresh_margin: Duration,
    request_timeout: Duration,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
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

    /// The cached token while it is valid, else a new one.
    ///
    /// Returns at once, without network, while the cached token has not expired, even
    /// when a refresh is due or running. Without a valid token, it waits for the one
    /// refresh in flight (starting it if needed); during the failure backoff after a
    /// failed refresh it returns that failure at once.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let pending = {
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
                inner.update_gauge(now, &token, false);
                return Ok(token);
            }
            match inner.join_or_start(&mut state, now) {
                Ok(pending) => pending,
                Err(error) => return Err(error),
            }
        };
        pending.await
    }

    /// Forces a new token, joining the refresh in flight if there is one.
    ///
    /// During the failure backoff after a failed refresh, returns that failure at once
    /// rather than making a request.
    pub async fn refresh(&self) -> Result<AccessToken, TokenError> {
        let now = self.inner.clock.now();
        let pending = {
            let mut state = lock(&self.inner.state);
            match self.inner.join_or_start(&mut state, now) {
                Ok(pending) => pending,
                Err(error) => return Err(error),
            }
        };
        pending.await
    }

    /// Replaces `rejected`, a token a resource server refused, unless it was already
    /// replaced: then the current token is returned without a request. Many requests
    /// refused with the same token thus cause one refresh.
    pub async fn refresh_rejected(
        &self,
        rejected: &AccessToken,
    ) -> Result<AccessToken, TokenError> {
        let now = self.inner.clock.now();
        let pending = {
            let mut state = lock(&self.inner.state);
            if let Some(current) = &state.current
                && !current.token.same_as(rejected)
                && now < current.token.expires_at()
            {
                return Ok(current.token.clone());
            }
            match self.inner.join_or_start(&mut state, now) {
                Ok(pending) => pending,
                Err(error) => return Err(error),
            }
        };
        pending.await
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
    /// The refresh in flight, a new one, or the last failure during the backoff.
    fn join_or_start(
        self: &Arc<Self>,
        state: &mut State,
        now: SystemTime,
    ) -> Result<SharedRefresh, TokenError> {
        if let Some(pending) = &state.refresh {
            return Ok(pending.clone());
        }
        if !state.may_request()
            && let Some((error, attempts)) = &state.last_failure
        {
            return Err(state.give_up_error(error, *attempts, now));
        }
        Ok(self.start_refresh(state))
    }

    /// Starts a refresh and spawns a task that drives it to completion whoever waits.
    fn start_refresh(self: &Arc<Self>, state: &mut State) -> SharedRefresh {
        let inner = Arc::clone(self);
        let pending = async move { inner.run_refresh().await }.boxed().shared();
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
            let sent_at = self.clock.now();
            tracing::debug!(client_id, attempt = attempts, "requesting an access token");
            let error = match self.request_once(sent_at).await {
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

    fn request(&self) -> HttpRequest {
        let config = &self.config;
        let mut request = http::Request::new(config.form.clone());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = config.token_uri.clone();
        let headers = request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(basic) = &config.basic_header {
            headers.insert(AUTHORIZATION, basic.clone());
        }
        request
    }

    async fn request_once(&self, sent_at: SystemTime) -> Result<AccessToken, TokenError> {
        self.counters.request(self.config.client_id.as_str());
        let timeout = self.config.request_timeout;
        let response = match tokio::time::timeout(timeout, self.http.execute(self.request())).await
        {
            Err(_elapsed) => return Err(TokenError::Timeout(timeout)),
            Ok(Err(error)) if error.kind() == HttpErrorKind::Timeout => {
                return Err(TokenError::Timeout(timeout));
            }
            Ok(Err(error)) => return Err(TokenError::Transport(error)),
            Ok(Ok(response)) => response,
        };
        parse_response(&response, sent_at)
    }
}

/// Reads a token endpoint answer. The body is never copied into an error: it may hold
/// a token.
pub(crate) fn parse_response(
    response: &HttpResponse,
    sent_at: SystemTime,
) -> Result<AccessToken, TokenError> {
    let status = response.status();
    if !status.is_success() {
        return Err(parse_error(response));
    }
    #[derive(serde::Deserialize)]
    struct Body {
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
        token_type: Option<String>,
        scope: Option<String>,
    }
    let body: Body = serde_json::from_slice(response.body()).map_err(|e| {
        TokenError::InvalidResponse(format!(
            "http {} body is not a json token response (line {}, column {})",
            status.as_u16(),
            e.line(),
            e.column()
        ))
    })?;
    let access_token = body
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::InvalidResponse("no access_token".to_owned()))?;
    let expires_in = match body.expires_in {
        None => return Err(TokenError::InvalidResponse("no expires_in".to_owned())),
        Some(serde_json::Value::Number(n)) => match n.as_i64() {
            Some(seconds) if seconds > 0 => seconds.unsigned_abs(),
            _ => {
                return Err(TokenError::InvalidResponse(format!(
                    "expires_in {n} is not a positive whole number of seconds"
                )));
            }
        },
        Some(_) => {
            return Err(TokenError::InvalidResponse(
                "expires_in is not a number".to_owned(),
            ));
        }
    };
    match body.token_type.as_deref() {
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => {}
        // The value is not echoed: a confused server may put anything there.
        Some(_) => {
            return Err(TokenError::InvalidResponse(
                "token_type is not Bearer".to_owned(),
            ));
        }
        None => return Err(TokenError::InvalidResponse("no token_type".to_owned())),
    }
    let expires_at = sent_at
        .checked_add(Duration::from_secs(expires_in))
        .filter(|_| expires_in <= 10 * 365 * 24 * 3600)
        .ok_or_else(|| {
            TokenError::InvalidResponse(format!("expires_in {expires_in} is beyond ten years"))
        })?;
    let scopes = body
        .scope
        .and_then(|s| s.parse::<Scopes>().ok())
        .or_else(|| unverified_scope_claim(&access_token));
    Ok(AccessToken::new(access_token, expires_at, scopes))
}

fn parse_error(response: &HttpResponse) -> TokenError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // RFC 6749 §5.2 errors come with 400 (or 401 after Basic authentication). 429 and
    // 5xx are transient whatever their body says.
    if (400..=499).contains(&status)
        && status != 429
        && let Ok(oauth) = serde_json::from_slice::<ErrorResponse>(response.body())
    {
        let description = oauth.error_description.map(|d| {
            d.chars()
                .filter(|c| !c.is_control())
                .take(256)
                .collect::<String>()
        });
        return TokenError::Oauth {
            code: oauth.error,
            description,
            status,
        };
    }
    TokenError::Status {
        status,
        retry_after,
    }
}

// === impl TokenProviderBuilder ===

/// Configuration of a [`TokenProvider`]. Token URL, client id and client secret are
/// required; every other setting has the default its setter documents.
pub struct TokenProviderBuilder {
    token_url: Option<String>,
    client_id: Option<ClientId>,
    client_secret: Option<ClientSecret>,
    scopes: Option<Scopes>,
    auth: ClientAuth,
    refresh_share: f64,
    refresh_jitter: f64,
    refresh_margin: Duration,
    request_timeout: Duration,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    clock: Option<Arc<dyn Clock>>,
    http: Option<Arc<dyn HttpClient>>,
    jitter_seed: Option<u64>,
    allow_insecure_http: bool,
}

impl Default for TokenProviderBuilder {
    fn default() -> Self {
        Self {
            token_url: None,
            client_id: None,
            client_secret: None,
            scopes: None,
            auth: ClientAuth::Basic,
            refresh_share: 0.8,
            refresh_jitter: 0.1,
            refresh_margin: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            clock: None,
            http: None,
            jitter_seed: None,
            allow_insecure_http: false,
        }
    }
}

impl fmt::Debug for TokenProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProviderBuilder")
            .field("token_url", &self.token_url.as_deref().map(strip_query))
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("scopes", &self.scopes)
            .field("auth", &self.auth)
            .field("refresh_share", &self.refresh_share)
            .field("refresh_jitter", &self.refresh_jitter)
            .field("refresh_margin", &self.refresh_margin)
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("clock", &self.clock)
            .field("http_client", &self.http.as_ref().map(|_| "custom"))
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish_non_exhaustive()
    }
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

impl TokenProviderBuilder {
    /// The token endpoint, e.g. `https://<domain>.auth.<region>.amazoncognito.com/oauth2/token`.
    /// Required. Must be `https`, except on a loopback host (`localhost`, `127.0.0.0/8`,
    /// `[::1]`) or with [`allow_insecure_http`](Self::allow_insecure_http).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// The app client id. Required.
    pub fn client_id(mut self, client_id: ClientId) -> Self {
        self.client_id = Some(client_id);
        self
    }

    /// The app client secret. Required.
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// The scopes to ask for. Default: none sent, which gives every scope the client is
    /// allowed (Cognito). An empty list is the same as none.
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = Some(scopes).filter(|s| !s.is_empty());
        self
    }

    /// How to authenticate. Default: [`ClientAuth::Basic`].
    pub fn auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The share of a token's lifetime after which it is replaced, in `(0, 1]`.
    /// Default: `0.8` (48 minutes into a one-hour token, before jitter).
    pub fn refresh_share(mut self, share: f64) -> Self {
        self.refresh_share = share;
        self
    }

    /// The largest share of the lifetime subtracted at random from the refresh time, so
    /// instances started together spread their requests, in `[0, refresh_share)`.
    /// Default: `0.1` (a one-hour token is replaced between 42 and 48 minutes).
    pub fn refresh_jitter(mut self, jitter: f64) -> Self {
        self.refresh_jitter = jitter;
        self
    }

    /// The least time before expiry at which a token is replaced, for short-lived tokens;
    /// it never moves the refresh before half the lifetime. Default: 60 seconds.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// The time limit of one token request, from sending to the whole answer.
    /// Default: 10 seconds.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many failed requests in a row (counted since the last token) a refresh may
    /// retry through before it gives up and returns the error to its waiters (at least 1).
    /// Once the provider has failed that many times, each further refresh makes a single
    /// request, spaced by the growing backoff, so nobody waits through a long pause.
    /// Default: 4.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The pause after the first failed request and the cap the doubling pauses reach.
    /// Each pause is drawn in `[d/2, d)`. Default: 1 second and 60 seconds.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// The wall clock that decides expiry. Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The HTTP client for the token endpoint. Default: [`ReqwestClient::new`] with the
    /// `reqwest` feature; required without it.
    ///
    /// [`ReqwestClient::new`]: crate::http::ReqwestClient::new
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.http = Some(Arc::new(client));
        self
    }

    /// Seeds the jitter, for repeatable tests. Default: a random seed per provider.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Allows a plain `http` token URL on a host that is not loopback (a private test
    /// network). The secret then crosses the network in clear text. Default: `false`.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Checks the configuration and builds the provider. Makes no request.
    pub fn build(self) -> Result<TokenProvider, BuildError> {
        let raw_url = self.token_url.ok_or(BuildError::Missing("token_url"))?;
        let client_id = self.client_id.ok_or(BuildError::Missing("client_id"))?;
        let secret = self
            .client_secret
            .ok_or(BuildError::Missing("client_secret"))?;
        let token_uri = parse_token_url(&raw_url, self.allow_insecure_http)?;
        if !(self.refresh_share > 0.0 && self.refresh_share <= 1.0) {
            return Err(BuildError::InvalidSetting {
                name: "refresh_share",
                problem: "must be in (0, 1]",
            });
        }
        if !(self.refresh_jitter >= 0.0 && self.refresh_jitter < self.refresh_share) {
            return Err(BuildError::InvalidSetting {
                name: "refresh_jitter",
                problem: "must be in [0, refresh_share)",
            });
        }
        if self.max_attempts == 0 {
            return Err(BuildError::InvalidSetting {
                name: "max_attempts",
                problem: "must be at least 1",
            });
        }
        if self.request_timeout.is_zero() {
            return Err(BuildError::InvalidSetting {
                name: "request_timeout",
                problem: "must be positive",
            });
        }
        if self.initial_backoff.is_zero() || self.max_backoff < self.initial_backoff {
            return Err(BuildError::InvalidSetting {
                name: "retry_backoff",
                problem: "initial must be positive and not above max",
            });
        }
        let http: Arc<dyn HttpClient> = match self.http {
            Some(http) => http,
            None => default_http_client()?,
        };

        let scope = self.scopes.as_ref().map(ToString::to_string);
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let basic_header = match self.auth {
            ClientAuth::Basic => {
                let credentials = format!("{}:{}", client_id.as_str(), secret.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                let mut value =
                    HeaderValue::try_from(format!("Basic {encoded}")).map_err(|_| {
                        BuildError::InvalidSetting {
                            name: "client_id",
                            problem: "must be usable in an http header",
                        }
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            ClientAuth::Post => {
                form.push(("client_id", client_id.as_str()));
                form.push(("client_secret", secret.expose()));
                None
            }
        };
        if let Some(scope) = &scope {
            form.push(("scope", scope));
        }
        let form = serde_urlencoded::to_string(&form)
            .map_err(|_| BuildError::InvalidSetting {
                name: "scopes",
                problem: "must be form-encodable",
            })?
            .into_bytes();

        let config = Config {
            token_uri,
            client_id,
            auth: self.auth,
            scopes: self.scopes,
            basic_header,
            form,
            refresh_share: self.refresh_share,
            refresh_jitter: self.refresh_jitter,
            refresh_margin: self.refresh_margin,
            request_timeout: self.request_timeout,
            max_attempts: self.max_attempts,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
        };
        let jitter = match self.jitter_seed {
            Some(seed) => Jitter::seeded(seed),
            None => Jitter::from_entropy(),
        };
        Ok(TokenProvider {
            inner: Arc::new(Inner {
                config,
                http,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                jitter,
                counters: Counters::default(),
                state: Mutex::new(State::default()),
            }),
        })
    }
}

#[cfg(feature = "reqwest")]
fn default_http_client() -> Result<Arc<dyn HttpClient>, BuildError> {
    Ok(Arc::new(crate::http::ReqwestClient::new()?))
}

#[cfg(not(feature = "reqwest"))]
fn default_http_client() -> Result<Arc<dyn HttpClient>, BuildError> {
    Err(BuildError::Missing(
        "http_client (the reqwest feature is off)",
    ))
}

fn parse_token_url(raw: &str, allow_insecure_http: bool) -> Result<http::Uri, BuildError> {
    let invalid = |problem| BuildError::InvalidTokenUrl {
        url: strip_query(raw).chars().take(200).collect(),
        problem,
    };
    let uri: http::Uri = raw.parse().map_err(|_| invalid("not a url"))?;
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback && !allow_insecure_http {
                return Err(invalid(
                    "plain http sends the secret in clear text; use https, a loopback host or allow_insecure_http",
                ));
            }
        }
        _ => return Err(invalid("scheme must be https or http")),
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn response(status: u16, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

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
    fn parses_a_cognito_response() {
        let token = parse_response(
            &response(
                200,
                r#"{"access_token":"abc","expires_in":3600,"token_type":"Bearer"}"#,
            ),
            at(1000),
        )
        .unwrap();
        assert_eq!(token.secret(), "abc");
        assert_eq!(token.expires_at(), at(4600));
        assert!(token.scopes().is_none());
    }

    #[test]
    fn refuses_unusable_responses_without_panicking() {
        let cases = [
            (
                r#"{"expires_in":3600,"token_type":"Bearer"}"#,
                "no access_token",
            ),
            (
                r#"{"access_token":"","expires_in":3600,"token_type":"Bearer"}"#,
                "no access_token",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":0,"token_type":"Bearer"}"#,
                "expires_in 0",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":-5,"token_type":"Bearer"}"#,
                "expires_in -5",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":1.5,"token_type":"Bearer"}"#,
                "expires_in 1.5",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":"3600","token_type":"Bearer"}"#,
                "not a number",
            ),
            (
                r#"{"access_token":"SECRET","token_type":"Bearer"}"#,
                "no expires_in",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":3600}"#,
                "no token_type",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":3600,"token_type":"mac"}"#,
                "not Bearer",
            ),
            (
                r#"{"access_token":"SECRET","expires_in":9223372036854775807,"token_type":"Bearer"}"#,
                "ten years",
            ),
            (r#"<html>SECRET</html>"#, "not a json"),
            (r#"["SECRET"]"#, "not a json"),
        ];
        for (body, expected) in cases {
            let error = parse_response(&response(200, body), at(0)).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, TokenError::InvalidResponse(_)),
                "{body}: {error:?}"
            );
            assert!(message.contains(expected), "{body}: {message}");
            assert!(!message.contains("SECRET"), "{message}");
        }
    }

    #[test]
    fn reads_oauth_errors_and_statuses() {
        let error = parse_response(
            &response(
                400,
                r#"{"error":"invalid_client","error_description":"bad secret"}"#,
            ),
            at(0),
        )
        .unwrap_err();
        assert!(matches!(
            &error,
            TokenError::Oauth { code: oauth_proto::ErrorCode::InvalidClient, description: Some(d), status: 400 } if d == "bad secret"
        ));
        assert!(!error.is_transient());

        let error =
            parse_response(&response(401, r#"{"error":"invalid_client"}"#), at(0)).unwrap_err();
        assert!(matches!(error, TokenError::Oauth { status: 401, .. }));

        for status in [500, 502, 503, 429] {
            let error = parse_response(
                &response(status, r#"{"error":"temporarily_unavailable"}"#),
                at(0),
            )
            .unwrap_err();
            assert!(matches!(error, TokenError::Status { .. }), "{status}");
            assert!(error.is_transient(), "{status}");
        }
        for status in [301, 302, 307, 400, 404] {
            let error = parse_response(&response(status, "nope"), at(0)).unwrap_err();
            assert!(matches!(error, TokenError::Status { .. }), "{status}");
            assert!(!error.is_transient(), "{status}");
        }
        let throttled = http::Response::builder()
            .status(429)
            .header(RETRY_AFTER, "7")
            .body(Vec::new())
            .unwrap();
        assert!(matches!(
            parse_response(&throttled, at(0)).unwrap_err(),
            TokenError::Status { status: 429, retry_after: Some(d) } if d == Duration::from_secs(7)
        ));
    }

    #[test]
    fn token_url_must_be_https_unless_loopback() {
        assert!(parse_token_url("https://auth.example.com/oauth2/token", false).is_ok());
        assert!(parse_token_url("http://127.0.0.1:9000/oauth2/token", false).is_ok());
        assert!(parse_token_url("http://localhost/oauth2/token", false).is_ok());
        assert!(parse_token_url("http://[::1]:80/oauth2/token", false).is_ok());
        assert!(parse_token_url("http://auth.internal/oauth2/token", false).is_err());
        assert!(parse_token_url("http://auth.internal/oauth2/token", true).is_ok());
        assert!(parse_token_url("ftp://auth.example.com/", true).is_err());
        assert!(parse_token_url("/oauth2/token", true).is_err());
        let error = parse_token_url("http://x.example/?secret=1", false).unwrap_err();
        assert!(!error.to_string().contains("secret=1"), "{error}");
    }

    #[test]
    fn basic_header_matches_cognito_docs() {
        let provider = TokenProvider::builder()
            .token_url("https://auth.example.com/oauth2/token")
            .client_id(ClientId::parse("djc98u3jiedmi283eu928").unwrap())
            .client_secret(ClientSecret::new("abcdef01234567890"))
            .http_client(|_: HttpRequest| async { Err(crate::HttpError::other("unused")) })
            .build()
            .unwrap();
        let request = provider.inner.request();
        assert_eq!(
            request.headers()[AUTHORIZATION],
            "Basic ZGpjOTh1M2ppZWRtaTI4M2V1OTI4OmFiY2RlZjAxMjM0NTY3ODkw"
        );
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
        assert_eq!(request.body(), b"grant_type=client_credentials");
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

    #[test]
    fn builder_checks_settings() {
        let base = || {
            TokenProvider::builder()
                .token_url("https://auth.example.com/oauth2/token")
                .client_id(ClientId::parse("c").unwrap())
                .client_secret(ClientSecret::new("s"))
                .http_client(|_: HttpRequest| async { Err(crate::HttpError::other("unused")) })
        };
        assert!(base().build().is_ok());
        assert!(base().refresh_share(0.0).build().is_err());
        assert!(base().refresh_share(1.5).build().is_err());
        assert!(base().refresh_jitter(0.9).build().is_err());
        assert!(base().max_attempts(0).build().is_err());
        assert!(base().request_timeout(Duration::ZERO).build().is_err());
        assert!(
            base()
                .retry_backoff(Duration::from_secs(5), Duration::from_secs(1))
                .build()
                .is_err()
        );
        assert!(matches!(
            TokenProvider::builder().build(),
            Err(BuildError::Missing("token_url"))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_answer_parses_without_panicking(
            status in 100_u16..600,
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let response = http::Response::builder().status(status).body(body).unwrap();
            let _ = parse_response(&response, at(0));
        }

        #[test]
        fn any_json_token_response_parses_without_panicking(
            token in proptest::option::of(".{0,20}"),
            expires_in in proptest::option::of(proptest::num::i64::ANY),
            kind in proptest::option::of("[a-zA-Z]{0,8}"),
        ) {
            let body = serde_json::json!({
                "access_token": token,
                "expires_in": expires_in,
                "token_type": kind,
            });
            let response = response(200, &body.to_string());
            match parse_response(&response, at(0)) {
                Ok(parsed) => {
                    proptest::prop_assert!(expires_in.unwrap_or(0) > 0);
                    proptest::prop_assert!(!parsed.secret().is_empty());
                }
                Err(error) => {
                    let is_invalid = matches!(error, TokenError::InvalidResponse(_));
                    proptest::prop_assert!(is_invalid);
                }
            }
        }
    }
}
