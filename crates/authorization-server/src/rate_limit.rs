//! Token-endpoint rate limits: a token bucket per app client and one per client address,
//! both off by default ([`crate::Config::client_rate_limit`],
//! [`crate::Config::address_rate_limit`]).
//!
//! - **Per address** ([`address_layer`], on `POST /oauth2/token` only): checked before the
//!   body is read, so a flood from one address costs it nothing more than the refusal,
//!   whatever client id it claims. IPv6 addresses share a bucket per /64, the block one
//!   host usually gets.
//! - **Per client** ([`check_client`]): charged only once the client has authenticated,
//!   so nobody without a client's secret can spend its tokens (a bucket keyed by the
//!   claimed id would let anyone lock a client out); it bounds what one client with a
//!   token cache gone wrong can cost. It covers `GetClientToken` too.
//!
//! Past the limit the token endpoint answers `429 Too Many Requests` with `Retry-After`
//! and `{"error":"slow_down"}` (RFC 8628 §3.5's code for a client asking the token endpoint
//! too fast: RFC 6749 has none, and Cognito documents none; docs/cognito-notes.md), and
//! `GetClientToken` Cognito's `TooManyRequestsException`.
//!
//! Buckets live in memory, per replica. Their number is bounded: a bucket left alone until
//! it is full again is the same as no bucket, so such idle buckets are dropped when the
//! map reaches [`MAX_BUCKETS`]; if more than half are still busy (an address sweep), the
//! map is emptied, which only ever lets requests through early, never refuses one wrongly.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oauth_proto::{ErrorCode, ErrorResponse};

use crate::AppState;

/// Most buckets one limiter keeps.
pub(crate) const MAX_BUCKETS: usize = 10_000;

/// The OAuth error code of a rate-limited token request.
pub(crate) const SLOW_DOWN: &str = "slow_down";

/// Its `error_description`.
pub(crate) const DESCRIPTION: &str = "too many token requests: wait for the delay in Retry-After, and cache tokens until they expire";

/// A rate: `per_second` tokens a second, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// The bucket's size: requests that may come at once after a quiet period.
    pub burst: u32,
}

impl FromStr for RateLimit {
    type Err = String;

    /// `RATE` (per second, burst `RATE` rounded up) or `RATE:BURST`, e.g. `10` or `0.5:5`.
    fn from_str(raw: &str) -> Result<Self, String> {
        let (rate, burst) = match raw.split_once(':') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (raw, None),
        };
        let per_second: f64 = rate
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r > 0.0 && *r <= 1e6)
            .ok_or_else(|| {
                format!("invalid rate {rate:?}: expected requests per second, a number above 0")
            })?;
        let burst = match burst {
            Some(burst) => burst
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|b| *b >= 1)
                .ok_or_else(|| {
                    format!("invalid burst {burst:?}: expected a whole number above 0")
                })?,
            // Saturating float-to-int cast; at least 1 so the first request can pass.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            None => (per_second.ceil() as u32).max(1),
        };
        Ok(Self { per_second, burst })
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: SystemTime,
}

/// Token buckets of one rate, by key.
#[derive(Debug)]
pub(crate) struct Limiter<K> {
    rate: RateLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub(crate) fn new(rate: RateLimit) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `key`'s bucket at `now`, or says how long until one is there.
    pub(crate) fn check(&self, key: &K, now: SystemTime) -> Result<(), Duration> {
        let burst = f64::from(self.rate.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| self.refilled(bucket, now) < burst);
            if buckets.len() > MAX_BUCKETS / 2 {
                tracing::warn!(
                    buckets = buckets.len(),
                    "rate limiter full: forgetting every bucket"
                );
                buckets.clear();
            }
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.rate.per_second,
            ))
        }
    }

    /// The bucket's tokens at `now` (a clock that went back adds none).
    fn refilled(&self, bucket: &Bucket, now: SystemTime) -> f64 {
        let elapsed = now.duration_since(bucket.updated).unwrap_or_default();
        (bucket.tokens + elapsed.as_secs_f64() * self.rate.per_second)
            .min(f64::from(self.rate.burst))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The limiters of one server (each `None` when its limit is off).
#[derive(Debug)]
pub(crate) struct RateLimits {
    clients: Option<Limiter<String>>,
    addresses: Option<Limiter<IpAddr>>,
}

impl RateLimits {
    pub(crate) fn new(clients: Option<RateLimit>, addresses: Option<RateLimit>) -> Self {
        Self {
            clients: clients.map(Limiter::new),
            addresses: addresses.map(Limiter::new),
        }
    }

    /// Whether token requests are limited per client address ([`address_layer`]).
    pub(crate) fn limits_addresses(&self) -> bool {
        self.addresses.is_some()
    }
}

/// A refusal for going too fast: how long to wait, in whole seconds (at least 1), for
/// `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyRequests {
    pub(crate) retry_after_seconds: u64,
}

impl TooManyRequests {
    fn after(wait: Duration) -> Self {
        let mut seconds = wait.as_secs();
        if wait.subsec_nanos() > 0 || seconds == 0 {
            seconds += 1;
        }
        Self {
            retry_after_seconds: seconds,
        }
    }
}

/// Charges an authenticated client's bucket.
pub(crate) fn check_client(state: &AppState, client_id: &str) -> Result<(), TooManyRequests> {
    match &state.rate_limits().clients {
        Some(limiter) => limiter
            .check(&client_id.to_owned(), state.clock().now())
            .map_err(TooManyRequests::after),
        None => Ok(()),
    }
}

/// The bucket key of an address: the address itself, or its /64 for IPv6 (an IPv4 address
/// mapped into IPv6 counts as IPv4).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// Middleware of the token endpoint: charges the client address's bucket, before the body
/// is read. Requests without a peer address (served in memory, in tests) pass.
pub(crate) async fn address_layer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let (Some(limiter), Some(ConnectInfo(peer))) = (
        &state.rate_limits().addresses,
        request.extensions().get::<ConnectInfo<SocketAddr>>(),
    ) && let Err(wait) = limiter.check(&address_key(peer.ip()), state.clock().now())
    {
        return too_many_requests(TooManyRequests::after(wait));
    }
    next.run(request).await
}

/// The token endpoint's 429, with the headers its other answers have.
fn too_many_requests(refusal: TooManyRequests) -> Response {
    metrics::counter!(
        "authorization_server_token_requests_refused_total",
        "error" => SLOW_DOWN,
    )
    .increment(1);
    let body = serde_json::to_string(&ErrorResponse::new(
        ErrorCode::Other(SLOW_DOWN.to_owned()),
        DESCRIPTION,
    ))
    .unwrap_or_default();
    let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(refusal.retry_after_seconds),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(1_000.0 + seconds)
    }

    #[test]
    fn parses_rate_and_burst() {
        assert_eq!(
            "10".parse(),
            Ok(RateLimit {
                per_second: 10.0,
                burst: 10
            })
        );
        assert_eq!(
            "0.5:5".parse(),
            Ok(RateLimit {
                per_second: 0.5,
                burst: 5
            })
        );
        assert_eq!("0.2".parse::<RateLimit>().unwrap().burst, 1);
        for bad in ["", "0", "-1", "x", "NaN", "inf", "1:0", "1:x", "1:-2"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        for _ in 0..3 {
            assert_eq!(limiter.check(&"a", at(0.0)), Ok(()));
        }
        // Empty: the next token comes in half a second.
        assert_eq!(
            limiter.check(&"a", at(0.0)),
            Err(Duration::from_millis(500))
        );
        // Another key has its own bucket.
        assert_eq!(limiter.check(&"b", at(0.0)), Ok(()));
        assert_eq!(limiter.check(&"a", at(0.5)), Ok(()));
        assert!(limiter.check(&"a", at(0.5)).is_err());
        // Never more than the burst, however long the pause.
        for _ in 0..3 {
            assert_eq!(limiter.check(&"a", at(100.0)), Ok(()));
        }
        assert!(limiter.check(&"a", at(100.0)).is_err());
    }

    #[test]
    fn idle_buckets_are_evicted_and_the_map_stays_bounded() {
        let limiter = Limiter::new(RateLimit {
            per_second: 1.0,
            burst: 1,
        });
        for key in 0..MAX_BUCKETS {
            assert_eq!(limiter.check(&key, at(0.0)), Ok(()));
        }
        assert_eq!(limiter.len(), MAX_BUCKETS);
        // A second later every bucket is full again, so idle: one new key evicts them all.
        assert_eq!(limiter.check(&MAX_BUCKETS, at(1.0)), Ok(()));
        assert_eq!(limiter.len(), 1);
        // All busy: the map is emptied rather than grown.
        for key in 0..MAX_BUCKETS {
            let _ = limiter.check(&key, at(1.5));
        }
        assert!(limiter.len() <= MAX_BUCKETS);
        let _ = limiter.check(&(MAX_BUCKETS + 1), at(1.5));
        assert!(limiter.len() <= MAX_BUCKETS / 2 + 1);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(
            TooManyRequests::after(Duration::from_millis(1)).retry_after_seconds,
            1
        );
        assert_eq!(
            TooManyRequests::after(Duration::from_secs(2)).retry_after_seconds,
            2
        );
        assert_eq!(
            TooManyRequests::after(Duration::from_millis(2001)).retry_after_seconds,
            3
        );
        assert_eq!(
            TooManyRequests::after(Duration::ZERO).retry_after_seconds,
            1
        );
    }

    #[test]
    fn ipv6_addresses_share_a_bucket_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
