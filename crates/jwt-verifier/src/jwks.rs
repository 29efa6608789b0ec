//! The JWKS cache of one issuer: lock-free reads, one fetch in flight, a cooldown on
//! refetches, and a periodic refresh.
//!
//! # How it fits together
//!
//! - `current` is an [`ArcSwap`] of the parsed key set. Every verification reads it with
//!   one atomic load; nothing on the hot path takes a lock.
//! - `fetch` is an async mutex that is held only while a fetch runs. It makes fetches
//!   single-flight: a request that needs a fetch waits on the mutex; when it gets the
//!   mutex it first looks at `current` again, so the 99 requests that queued behind the
//!   one that fetched a new `kid` find the key and never fetch themselves.
//! - `FetchState::last_kid_fetch` is the cooldown: an unknown `kid` triggers a fetch only
//!   if no fetch for an unknown `kid` came back without it within the cooldown. A flood of random
//!   `kid`s therefore costs at most one fetch per cooldown per issuer. Times are recorded
//!   when a fetch *completes*, so a fetch cancelled midway (its request was dropped) does
//!   not start a cooldown.
//! - A key set older than the refresh interval is stale. The next verification that
//!   sees it refreshes it inline if no other fetch is running (a `try_lock`; others keep
//!   using the current keys meanwhile). A key removed from the JWKS is no longer trusted
//!   after that refresh. There is no background task.
//! - A failed fetch keeps the last good keys and stores the error; it is retried after
//!   the cooldown. The error is what requests see when no usable key is cached.
//!
//! All times come from the injected [`Clock`], so tests move them by hand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use oauth_proto::Jwk;
use oauth_proto::time::Clock;
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument as _;

use crate::{JwksError, VerifyError};

/// base64url for `n` and `e`, tolerating padding (some JWKS producers add it).
const LENIENT_B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How fetches behave; shared by every issuer of a verifier.
#[derive(Debug)]
pub(crate) struct FetchConfig {
    pub(crate) http: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_bytes: usize,
    pub(crate) cooldown: Duration,
    pub(crate) refresh_interval: Duration,
    pub(crate) clock: Arc<dyn Clock>,
}

/// One parsed JWK Set. Keys are parsed once, at fetch time.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, Arc<ParsedPublicKey>>,
    /// `(kid, n, e)` of every key, sorted: tells whether a fetch changed anything.
    fingerprint: Vec<(String, String, String)>,
    /// When this set was fetched; `None` before the first successful fetch.
    fetched_at: Option<SystemTime>,
}

impl KeySet {
    fn is_stale(&self, now: SystemTime, interval: Duration) -> bool {
        match self.fetched_at {
            None => true,
            Some(at) => elapsed(now, at) >= interval,
        }
    }
}

/// Time since `since`; a clock that went backwards counts as "long ago", so a jump
/// back cannot freeze the cache.
fn elapsed(now: SystemTime, since: SystemTime) -> Duration {
    now.duration_since(since).unwrap_or(Duration::MAX)
}

#[derive(Debug, Default)]
struct FetchState {
    /// When the last fetch completed, successfully or not.
    last_attempt: Option<SystemTime>,
    /// The error of the last fetch, if it failed.
    last_error: Option<JwksError>,
    /// When the last fetch for an unknown `kid` completed without finding it (the
    /// cooldown of the flood rule). Fetches that found their `kid`, refreshes and
    /// `hydrate` do not count, so a key rotated right after one of them is still
    /// fetched at once.
    last_kid_fetch: Option<SystemTime>,
}

impl FetchState {
    /// A failed fetch is retried only after the cooldown.
    fn may_retry(&self, now: SystemTime, cooldown: Duration) -> bool {
        self.last_error.is_none()
            || self
                .last_attempt
                .is_none_or(|at| elapsed(now, at) >= cooldown)
    }

    /// An unknown `kid` triggers a fetch at most once per cooldown.
    fn may_fetch_for_kid(&self, now: SystemTime, cooldown: Duration) -> bool {
        self.may_retry(now, cooldown)
            && self
                .last_kid_fetch
                .is_none_or(|at| elapsed(now, at) >= cooldown)
    }
}

/// The keys of one configured issuer.
#[derive(Debug)]
pub(crate) struct IssuerKeys {
    /// The issuer exactly as tokens carry it in `iss`.
    pub(crate) issuer: String,
    jwks_url: reqwest::Url,
    current: ArcSwap<KeySet>,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl IssuerKeys {
    pub(crate) fn new(issuer: String, jwks_url: reqwest::Url) -> Self {
        Self {
            issuer,
            jwks_url,
            current: ArcSwap::from_pointee(KeySet::default()),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    pub(crate) fn has_keys(&self) -> bool {
        !self.current.load().keys.is_empty()
    }

    /// Whether the next verification would refresh the key set.
    pub(crate) fn is_stale(&self, now: SystemTime, cfg: &FetchConfig) -> bool {
        self.current.load().is_stale(now, cfg.refresh_interval)
    }

    /// The key for `kid`, fetching or refreshing the JWKS as the rules above allow.
    /// `on_change` runs after a fetch that changed the key set.
    pub(crate) async fn key(
        &self,
        kid: &str,
        cfg: &FetchConfig,
        on_change: &(dyn Fn() + Sync),
    ) -> Result<Arc<ParsedPublicKey>, VerifyError> {
        let now = cfg.clock.now();
        let refresh = {
            let set = self.current.load();
            let stale = set.fetched_at.is_some() && set.is_stale(now, cfg.refresh_interval);
            if !stale && let Some(key) = set.keys.get(kid) {
                return Ok(Arc::clone(key));
            }
            stale
        };
        if refresh {
            // Someone else already refreshing: go on with the current keys meanwhile.
            if let Ok(mut state) = self.fetch.try_lock()
                && state.may_retry(now, cfg.cooldown)
            {
                // A failure is recorded in `state` and the old keys stay in use.
                let refreshed = self.fetch_locked(&mut state, cfg, on_change).await.is_ok();
                if let Some(key) = self.current.load().keys.get(kid) {
                    return Ok(Arc::clone(key));
                }
                if refreshed {
                    // The key set is fresh this instant and lacks the kid (a removed
                    // key): that is a miss, and it starts the cooldown.
                    state.last_kid_fetch = state.last_attempt;
                    return Err(VerifyError::UnknownKid(VerifyError::clip(kid)));
                }
            } else if let Some(key) = self.current.load().keys.get(kid) {
                return Ok(Arc::clone(key));
            }
        }
        self.refetch_for(kid, cfg, on_change).await
    }

    /// Slow path for a `kid` not in the key set: wait for the fetch slot, look again
    /// (the fetch we waited for may have brought it), and fetch if the cooldown allows.
    async fn refetch_for(
        &self,
        kid: &str,
        cfg: &FetchConfig,
        on_change: &(dyn Fn() + Sync),
    ) -> Result<Arc<ParsedPublicKey>, VerifyError> {
        let mut state = self.fetch.lock().await;
        if let Some(key) = self.current.load().keys.get(kid) {
            return Ok(Arc::clone(key));
        }
        if !state.may_fetch_for_kid(cfg.clock.now(), cfg.cooldown) {
            return Err(match &state.last_error {
                Some(e) => VerifyError::JwksUnavailable(e.clone()),
                None => VerifyError::UnknownKid(VerifyError::clip(kid)),
            });
        }
        self.fetch_locked(&mut state, cfg, on_change)
            .await
            .map_err(VerifyError::JwksUnavailable)?;
        match self.current.load().keys.get(kid) {
            Some(key) => Ok(Arc::clone(key)),
            None => {
                // Only a miss starts the cooldown (a "penalty box", as in
                // aws-jwt-verify): a kid the JWKS does have is cached from now on and
                // never causes another fetch.
                state.last_kid_fetch = state.last_attempt;
                Err(VerifyError::UnknownKid(VerifyError::clip(kid)))
            }
        }
    }

    /// Fetches now, ignoring the cooldown but still single-flight (for `hydrate`).
    pub(crate) async fn fetch_now(
        &self,
        cfg: &FetchConfig,
        on_change: &(dyn Fn() + Sync),
    ) -> Result<(), JwksError> {
        let mut state = self.fetch.lock().await;
        self.fetch_locked(&mut state, cfg, on_change).await
    }

    async fn fetch_locked(
        &self,
        state: &mut FetchState,
        cfg: &FetchConfig,
        on_change: &(dyn Fn() + Sync),
    ) -> Result<(), JwksError> {
        let span = tracing::debug_span!(
            "jwt.jwks_fetch",
            issuer = %self.issuer,
            outcome = tracing::field::Empty,
        );
        let result = fetch_jwks(cfg, &self.jwks_url)
            .instrument(span.clone())
            .await;
        span.record("outcome", if result.is_ok() { "ok" } else { "error" });
        let now = cfg.clock.now();
        state.last_attempt = Some(now);
        match result {
            Ok(mut set) => {
                set.fetched_at = Some(now);
                let changed = set.fingerprint != self.current.load().fingerprint;
                self.current.store(Arc::new(set));
                state.last_error = None;
                metrics::counter!("jwt_verifier_jwks_fetches_total", "outcome" => "ok")
                    .increment(1);
                if changed {
                    tracing::info!(issuer = %self.issuer, "jwks key set changed");
                    on_change();
                }
                Ok(())
            }
            Err(e) => {
                metrics::counter!("jwt_verifier_jwks_fetches_total", "outcome" => "error")
                    .increment(1);
                tracing::warn!(issuer = %self.issuer, error = %e, "jwks fetch failed; keeping the last good keys");
                state.last_error = Some(e.clone());
                Err(e)
            }
        }
    }
}

async fn fetch_jwks(cfg: &FetchConfig, url: &reqwest::Url) -> Result<KeySet, JwksError> {
    let http_err = |e: reqwest::Error| JwksError::Http {
        url: url.to_string(),
        source: Arc::new(e),
    };
    let mut response = cfg
        .http
        .get(url.clone())
        .timeout(cfg.timeout)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(http_err)?;
    if response.url() != url {
        return Err(JwksError::Redirected {
            url: url.to_string(),
        });
    }
    if response.status() != reqwest::StatusCode::OK {
        return Err(JwksError::Status {
            url: url.to_string(),
            status: response.status().as_u16(),
        });
    }
    let too_large = || JwksError::TooLarge {
        url: url.to_string(),
        limit: cfg.max_bytes,
    };
    if response
        .content_length()
        .is_some_and(|len| len > cfg.max_bytes as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http_err)? {
        if body.len() + chunk.len() > cfg.max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    parse_jwks(&body).map_err(|reason| match reason {
        None => JwksError::NoUsableKeys {
            url: url.to_string(),
        },
        Some(reason) => JwksError::Invalid {
            url: url.to_string(),
            reason,
        },
    })
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<Value>,
}

/// Parses a JWK Set, keeping only RSA signing keys usable with RS256. Keys of other
/// types are skipped, not fatal: a JWKS may legitimately hold them. `Err(None)` means
/// the document was valid but had no usable key.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<KeySet, Option<String>> {
    let raw: RawJwks = serde_json::from_slice(body).map_err(|e| Some(e.to_string()))?;
    let mut set = KeySet::default();
    for value in raw.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if jwk.kty != "RSA"
            || jwk.alg.as_deref().is_some_and(|a| a != "RS256")
            || jwk.use_.as_deref().is_some_and(|u| u != "sig")
            || set.keys.contains_key(&jwk.kid)
        {
            continue;
        }
        let Some(key) = parse_rsa_key(&jwk) else {
            continue;
        };
        set.keys.insert(jwk.kid.clone(), Arc::new(key));
        set.fingerprint.push((jwk.kid, jwk.n, jwk.e));
    }
    if set.keys.is_empty() {
        return Err(None);
    }
    set.fingerprint.sort();
    Ok(set)
}

fn parse_rsa_key(jwk: &Jwk) -> Option<ParsedPublicKey> {
    let n = LENIENT_B64URL.decode(&jwk.n).ok()?;
    let e = LENIENT_B64URL.decode(&jwk.e).ok()?;
    // aws-lc wants big-endian without leading zeros; some encoders keep a sign byte.
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    // 2048 to 8192 bits, as RSA_PKCS1_2048_8192_SHA256 requires at verification.
    if !(256..=1024).contains(&n.len()) || e.is_empty() || e.len() > 8 {
        return None;
    }
    RsaPublicKeyComponents { n, e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .ok()
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_unusable_keys_and_keeps_the_first_of_a_kid() {
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xC3u8; 256]);
        let body = serde_json::json!({"keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ok", "alg": "RS256", "use": "sig", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "ok", "n": "garbage!", "e": "AQAB"},
            "not an object"
        ]});
        let set = parse_jwks(body.to_string().as_bytes()).unwrap();
        assert_eq!(set.keys.keys().collect::<Vec<_>>(), vec!["ok"]);
    }

    #[test]
    fn no_usable_key_and_garbage_are_errors() {
        assert_eq!(parse_jwks(br#"{"keys":[]}"#).err(), Some(None));
        assert!(matches!(parse_jwks(b"<html>"), Err(Some(_))));
        assert!(matches!(parse_jwks(br#"{"keys":{}}"#), Err(Some(_))));
    }

    #[test]
    fn a_backwards_clock_counts_as_elapsed() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        assert_eq!(elapsed(t, t + Duration::from_secs(1)), Duration::MAX);
        assert_eq!(
            elapsed(t + Duration::from_secs(3), t),
            Duration::from_secs(3)
        );
    }
}
