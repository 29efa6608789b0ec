//! [`BearerMiddleware`]: attaches the provider's token to requests for chosen hosts
//! (feature `middleware`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::Extensions;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use oauth_proto::{BearerChallenge, BearerErrorCode};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};
use tokio::time::Instant;

use crate::error::TokenError;
use crate::provider::TokenProvider;
use crate::token::AccessToken;

/// A reqwest-middleware [`Middleware`] that sets `Authorization: Bearer <token>` on
/// requests to the configured hosts only.
///
/// - A request that already has an `Authorization` header is left alone.
/// - When the answer is 401 with a `WWW-Authenticate` challenge carrying
///   `error="invalid_token"` (RFC 6750 §3.1), the token is replaced once
///   ([`TokenProvider::refresh_rejected`]: many requests refused with the same token make
///   one request) and the request is sent again, if it can be cloned (a streaming body
///   cannot). If no new token can be had, the original 401 is returned.
/// - When the answer is 403 with a challenge carrying `error="insufficient_scope"` and a
///   `scope="…"` naming a scope the token does not carry ([`AccessToken::scopes`]; unknown
///   scopes count as not carried), the token is replaced the same way and the request sent
///   again once, if it can be cloned: so a scope an operator just granted to the client
///   (Cognito `UpdateUserPoolClient`) is picked up on the next refused call instead of at
///   the next scheduled refresh. Such refreshes back off while they do not help: after
///   one whose token still lacks the scope, the next waits 5 s, then twice as long after
///   each further one, up to 60 s ([`scope_refresh_backoff`](Self::scope_refresh_backoff),
///   shared by clones of the middleware); a refresh that brings the scope starts over. So
///   a grant made a few seconds after a refusal is picked up by the next call, and a
///   client that really lacks the scope makes at most one token request a minute for it.
///   While waiting, the 403 is returned as is. If the new token still lacks the scope,
///   its answer is returned. A 403 naming only scopes the token carries (the resource
///   server's policy refuses, not the token) is returned as is.
/// - If no token can be had at all, the request is not sent and the [`TokenError`] is
///   returned as a middleware error.
///
/// ```no_run
/// # async fn example(provider: token_provider::TokenProvider) -> Result<(), Box<dyn std::error::Error>> {
/// use token_provider::BearerMiddleware;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(BearerMiddleware::new(provider, ["schedule.internal:8443".to_owned()]))
///     .build();
/// // Gets `Authorization: Bearer …`; a request to any other host gets nothing.
/// let response = client.get("https://schedule.internal:8443/schedule").send().await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BearerMiddleware {
    provider: TokenProvider,
    hosts: Vec<Host>,
    /// Refreshes caused by `insufficient_scope`; shared by clones.
    scope_refresh: Arc<Mutex<ScopeRefreshBackoff>>,
}

/// Defaults of [`BearerMiddleware::scope_refresh_backoff`].
const DEFAULT_SCOPE_REFRESH_FIRST_WAIT: Duration = Duration::from_secs(5);
const DEFAULT_SCOPE_REFRESH_MAX_WAIT: Duration = Duration::from_secs(60);

/// When a token may be replaced because a resource server said a scope is missing.
#[derive(Debug)]
struct ScopeRefreshBackoff {
    first_wait: Duration,
    max_wait: Duration,
    /// When the last such refresh started.
    last: Option<Instant>,
    /// How long after `last` the next may start: zero until a refresh does not help.
    wait: Duration,
}

impl ScopeRefreshBackoff {
    fn new(first_wait: Duration, max_wait: Duration) -> Self {
        Self {
            first_wait,
            max_wait: max_wait.max(first_wait),
            last: None,
            wait: Duration::ZERO,
        }
    }

    /// Takes the refresh slot at `now`, unless the wait since the last refresh is not over.
    fn claim(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|at| now.saturating_duration_since(at) < self.wait)
        {
            return false;
        }
        self.last = Some(now);
        true
    }

    /// What the refresh brought: the scope (start over) or not (wait longer next time).
    fn record(&mut self, helped: bool) {
        self.wait = if helped {
            Duration::ZERO
        } else {
            (self.wait * 2).clamp(self.first_wait, self.max_wait)
        };
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Host {
    /// Lowercase, IPv6 without brackets.
    name: String,
    /// `None`: any port.
    port: Option<u16>,
}

impl BearerMiddleware {
    /// Attaches tokens from `provider` to requests whose host is one of `hosts`.
    ///
    /// Each entry is `host` (any port) or `host:port` (that port only; the scheme's
    /// default port counts when the URL has none), e.g. `"schedule.internal"`,
    /// `"127.0.0.1:8080"`, `"[::1]:8080"`. Host names compare case-insensitively. An entry
    /// whose port does not parse matches nothing.
    pub fn new(provider: TokenProvider, hosts: impl IntoIterator<Item = String>) -> Self {
        let hosts = hosts.into_iter().filter_map(|h| parse_host(&h)).collect();
        Self {
            provider,
            hosts,
            scope_refresh: Arc::new(Mutex::new(ScopeRefreshBackoff::new(
                DEFAULT_SCOPE_REFRESH_FIRST_WAIT,
                DEFAULT_SCOPE_REFRESH_MAX_WAIT,
            ))),
        }
    }

    /// How token replacements caused by a 403 `error="insufficient_scope"` answer back off
    /// while they do not bring the scope: the first wait after an unhelpful one, doubled
    /// each time up to `max_wait`. Defaults 5 s and 60 s; `Duration::ZERO` for both
    /// replaces the token on every such answer.
    pub fn scope_refresh_backoff(mut self, first_wait: Duration, max_wait: Duration) -> Self {
        self.scope_refresh = Arc::new(Mutex::new(ScopeRefreshBackoff::new(first_wait, max_wait)));
        self
    }

    fn scope_refresh(&self) -> std::sync::MutexGuard<'_, ScopeRefreshBackoff> {
        self.scope_refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The provider tokens come from.
    pub fn provider(&self) -> &TokenProvider {
        &self.provider
    }

    fn matches(&self, url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = unbracket(host).to_ascii_lowercase();
        let port = url.port_or_known_default();
        self.hosts
            .iter()
            .any(|h| h.name == host && (h.port.is_none() || h.port == port))
    }
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn parse_host(raw: &str) -> Option<Host> {
    let raw = raw.trim();
    let (name, port) = if let Some(rest) = raw.strip_prefix('[') {
        // [v6] or [v6]:port
        let (name, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => (name, Some(port)),
            None if after.is_empty() => (name, None),
            None => return None,
        }
    } else if raw.matches(':').count() == 1 {
        let (name, port) = raw.split_once(':')?;
        (name, Some(port))
    } else {
        // A bare host, or a bare IPv6 address (several colons, no port).
        (raw, None)
    };
    if name.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    Some(Host {
        name: name.to_ascii_lowercase(),
        port,
    })
}

fn set_bearer(request: &mut Request, token: &AccessToken) -> Result<(), TokenError> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.secret())).map_err(|_| {
        TokenError::InvalidResponse("the access token is not a valid header value".to_owned())
    })?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}

/// Whether a `WWW-Authenticate` challenge says `error="invalid_token"` (RFC 6750 §3).
fn invalid_token_challenge(headers: &HeaderMap) -> bool {
    challenge_values(headers).any(has_invalid_token)
}

fn challenge_values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
}

fn has_invalid_token(value: &str) -> bool {
    BearerChallenge::from_header_values([value])
        .iter()
        .any(|challenge| challenge.error == Some(BearerErrorCode::InvalidToken))
}

/// The scopes named by `error="insufficient_scope"` challenges (RFC 6750 §3.1), in order.
fn insufficient_scopes(headers: &HeaderMap) -> Vec<String> {
    challenge_values(headers)
        .flat_map(scopes_of_insufficient_scope)
        .collect()
}

fn scopes_of_insufficient_scope(value: &str) -> Vec<String> {
    BearerChallenge::from_header_values([value])
        .iter()
        .filter(|challenge| challenge.error == Some(BearerErrorCode::InsufficientScope))
        .flat_map(BearerChallenge::scopes)
        .map(str::to_owned)
        .collect()
}

/// Whether `token` is not known to carry `scope`.
fn lacks_scope(token: &AccessToken, scope: &str) -> bool {
    !token
        .scopes()
        .is_some_and(|scopes| scopes.iter().any(|s| s.as_str() == scope))
}

impl BearerMiddleware {
    /// A 403: replaces the token and resends once if the answer names a scope `token`
    /// lacks and no scope-triggered refresh happened within the interval.
    async fn retry_insufficient_scope(
        &self,
        response: Response,
        token: AccessToken,
        retry: Option<Request>,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let needed = insufficient_scopes(response.headers());
        if !needed.iter().any(|scope| lacks_scope(&token, scope)) {
            return Ok(response);
        }
        if !self.scope_refresh().claim(Instant::now()) {
            tracing::debug!(
                "scope missing from the token, but it was replaced for a missing scope too recently"
            );
            return Ok(response);
        }
        // Replaced even if the request cannot be resent: the next call gets the new token.
        let fresh = match self.provider.refresh_rejected(&token).await {
            Ok(fresh) => fresh,
            Err(error) => {
                self.scope_refresh().record(false);
                tracing::warn!(error = %error, "scope missing and no new token could be had");
                return Ok(response);
            }
        };
        let helped = !needed.iter().any(|scope| lacks_scope(&fresh, scope));
        self.scope_refresh().record(helped);
        if !helped {
            tracing::info!(
                scopes = %needed.join(" "),
                "the new token still lacks the scope the resource server asked for: grant it to the client"
            );
        }
        let Some(mut retry) = retry else {
            tracing::debug!("scope missing, but the request cannot be cloned to retry it");
            return Ok(response);
        };
        set_bearer(&mut retry, &fresh).map_err(reqwest_middleware::Error::middleware)?;
        next.run(retry, extensions).await
    }
}

#[async_trait::async_trait]
impl Middleware for BearerMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if !self.matches(request.url()) || request.headers().contains_key(AUTHORIZATION) {
            return next.run(request, extensions).await;
        }
        let token = self
            .provider
            .token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let retry = request.try_clone();
        set_bearer(&mut request, &token).map_err(reqwest_middleware::Error::middleware)?;
        let response = next.clone().run(request, extensions).await?;
        if response.status() == StatusCode::FORBIDDEN {
            return self
                .retry_insufficient_scope(response, token, retry, extensions, next)
                .await;
        }
        if response.status() != StatusCode::UNAUTHORIZED
            || !invalid_token_challenge(response.headers())
        {
            return Ok(response);
        }
        let Some(mut retry) = retry else {
            tracing::debug!("token refused, but the request cannot be cloned to retry it");
            return Ok(response);
        };
        let fresh = match self.provider.refresh_rejected(&token).await {
            Ok(fresh) => fresh,
            Err(error) => {
                tracing::warn!(error = %error, "token refused and no new token could be had");
                return Ok(response);
            }
        };
        set_bearer(&mut retry, &fresh).map_err(reqwest_middleware::Error::middleware)?;
        next.run(retry, extensions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_refreshes_back_off_until_one_helps() {
        let secs = Duration::from_secs;
        let start = Instant::now();
        let mut backoff = ScopeRefreshBackoff::new(secs(5), secs(60));
        assert!(backoff.claim(start));
        // Each unhelpful refresh doubles the wait: 5, 10, 20, 40, then 60 s at most.
        let mut at = start;
        for wait in [5, 10, 20, 40, 60, 60] {
            backoff.record(false);
            assert!(!backoff.claim(at + secs(wait - 1)), "wait {wait}");
            at += secs(wait);
            assert!(backoff.claim(at), "wait {wait}");
        }
        // A refresh that brings the scope starts over: the next refusal refreshes at once.
        backoff.record(true);
        assert!(backoff.claim(at));
        backoff.record(false);
        assert!(!backoff.claim(at + secs(4)));
        assert!(backoff.claim(at + secs(5)));
    }

    #[test]
    fn zero_waits_refresh_every_time() {
        let now = Instant::now();
        let mut backoff = ScopeRefreshBackoff::new(Duration::ZERO, Duration::ZERO);
        for _ in 0..3 {
            assert!(backoff.claim(now));
            backoff.record(false);
        }
    }

    #[test]
    fn parses_host_entries() {
        let host = |name: &str, port| {
            Some(Host {
                name: name.to_owned(),
                port,
            })
        };
        assert_eq!(
            parse_host("Schedule.Internal"),
            host("schedule.internal", None)
        );
        assert_eq!(parse_host("127.0.0.1:8080"), host("127.0.0.1", Some(8080)));
        assert_eq!(parse_host("[::1]:8080"), host("::1", Some(8080)));
        assert_eq!(parse_host("[::1]"), host("::1", None));
        assert_eq!(parse_host("::1"), host("::1", None));
        assert_eq!(parse_host("example.com:http"), None);
        assert_eq!(parse_host(""), None);
    }

    #[test]
    fn recognises_invalid_token_challenges() {
        assert!(has_invalid_token(r#"Bearer error="invalid_token""#));
        assert!(has_invalid_token(
            r#"Bearer realm="api", error="invalid_token", error_description="expired, sorry""#
        ));
        assert!(has_invalid_token("bearer error=invalid_token"));
        assert!(!has_invalid_token(r#"Bearer error="insufficient_scope""#));
        assert!(!has_invalid_token(r#"Bearer realm="api""#));
        assert!(!has_invalid_token(
            r#"Bearer error_description="error=\"invalid_token\", no""#
        ));
    }

    #[test]
    fn reads_insufficient_scope_challenges() {
        assert_eq!(
            scopes_of_insufficient_scope(
                r#"Bearer error="insufficient_scope", scope="svc/a svc/b""#
            ),
            ["svc/a", "svc/b"]
        );
        assert_eq!(
            scopes_of_insufficient_scope(
                r#"Bearer realm="api", error_description="needs, more", scope=svc/a, error=insufficient_scope"#
            ),
            ["svc/a"]
        );
        // The scope of another challenge, or of another error, is not read.
        assert!(
            scopes_of_insufficient_scope(
                r#"Bearer error="insufficient_scope", Basic realm="x", scope="svc/a""#
            )
            .is_empty()
        );
        assert!(
            scopes_of_insufficient_scope(r#"Bearer error="invalid_token", scope="svc/a""#)
                .is_empty()
        );
        assert!(scopes_of_insufficient_scope(r#"Bearer error="insufficient_scope""#).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(raw in ".{0,64}") {
            let _ = has_invalid_token(&raw);
            let _ = scopes_of_insufficient_scope(&raw);
            let _ = parse_host(&raw);
        }
    }
}
