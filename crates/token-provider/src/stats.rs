//! Plain counters of what the provider did, mirrored to the `metrics` facade.
//!
//! Exported metrics (each with a `client_id` label, so several providers in one process
//! stay apart):
//!
//! - `token_provider_requests_total`: requests sent to the token endpoint;
//! - `token_provider_failures_total{kind}`: failed requests, `kind` as in
//!   [`TokenError::kind`](crate::TokenError::kind);
//! - `token_provider_token_expires_in_seconds` (gauge): seconds until the cached token
//!   expires, updated when a token is stored and at most once a second by `token()`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::TokenError;

/// What a [`TokenProvider`](crate::TokenProvider) has done since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests sent to the token endpoint (each retry counts).
    pub requests: u64,
    /// Requests that returned a usable token.
    pub tokens: u64,
    /// Requests that failed, by kind (including a request refused with `invalid_client`
    /// and then retried with a rotated secret).
    pub failures: Failures,
}

/// Failed token requests by kind (see [`TokenError`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failures {
    /// OAuth error bodies (`invalid_client`, `invalid_scope`, …).
    pub oauth: u64,
    /// Connection and other transport failures.
    pub transport: u64,
    /// Requests that hit the request timeout.
    pub timeout: u64,
    /// Error statuses without an OAuth body (5xx, 429, redirects, …).
    pub status: u64,
    /// Success statuses with an unusable body.
    pub invalid_response: u64,
}

impl Failures {
    /// All failed requests.
    pub fn total(&self) -> u64 {
        self.oauth + self.transport + self.timeout + self.status + self.invalid_response
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    tokens: AtomicU64,
    oauth: AtomicU64,
    transport: AtomicU64,
    timeout: AtomicU64,
    status: AtomicU64,
    invalid_response: AtomicU64,
    /// The Unix second at which the expiry gauge was last set, so the hot path touches
    /// the metrics recorder at most once a second.
    gauge_second: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self, client_id: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("token_provider_requests_total", "client_id" => client_id.to_owned())
            .increment(1);
    }

    pub(crate) fn token(&self) {
        self.tokens.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failure(&self, client_id: &str, error: &TokenError) {
        let counter = match error {
            TokenError::Oauth { .. } => &self.oauth,
            TokenError::Transport(_) => &self.transport,
            TokenError::Timeout(_) => &self.timeout,
            TokenError::Status { .. } => &self.status,
            _ => &self.invalid_response,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(
            "token_provider_failures_total",
            "client_id" => client_id.to_owned(),
            "kind" => error.kind(),
        )
        .increment(1);
    }

    /// Sets the expiry gauge unless it was already set during `now_second`.
    pub(crate) fn expires_in(&self, client_id: &str, now_second: u64, seconds: f64, force: bool) {
        if !force && self.gauge_second.load(Ordering::Relaxed) == now_second {
            return;
        }
        self.gauge_second.store(now_second, Ordering::Relaxed);
        metrics::gauge!(
            "token_provider_token_expires_in_seconds",
            "client_id" => client_id.to_owned(),
        )
        .set(seconds);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            requests: load(&self.requests),
            tokens: load(&self.tokens),
            failures: Failures {
                oauth: load(&self.oauth),
                transport: load(&self.transport),
                timeout: load(&self.timeout),
                status: load(&self.status),
                invalid_response: load(&self.invalid_response),
            },
        }
    }
}
