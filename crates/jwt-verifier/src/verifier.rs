//! [`Verifier`] and its builder.

use std::sync::Arc;
use std::time::Duration;

use oauth_proto::time::{Clock, SystemClock};
use oauth_proto::{ClientId, Scope};
use tracing::Instrument as _;

use crate::cache::{TokenCache, TokenKey};
use crate::claims::{self, ClaimRules};
use crate::jwks::{FetchConfig, IssuerKeys};
use crate::{BuildError, Claims, ScopePolicy, VerifyError, token};

/// Verifies Cognito access tokens against one or more issuers.
///
/// Cheap to clone (an `Arc` inside) and `Send + Sync`: build one at start-up and share it.
/// See the [crate docs](crate) for an example.
#[derive(Clone, Debug)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuers: Vec<IssuerKeys>,
    rules: ClaimRules,
    fetch: FetchConfig,
    max_token_bytes: usize,
    cache: Option<TokenCache>,
    /// Scopes every token must carry ([`VerifierBuilder::scope`]), checked before the
    /// per-call policy.
    required: ScopePolicy,
}

impl Verifier {
    /// Starts a configuration. At least one issuer and either client ids or
    /// [`VerifierBuilder::allow_any_client_id`] are required.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// Verifies `token`: shape, `alg`, `kid`, issuer, key, signature, then the claims
    /// (`exp`, `nbf`, `iat`, `iss`, `token_use`, `client_id`). No scope is required;
    /// use [`Verifier::verify_with`] for that.
    ///
    /// # Errors
    ///
    /// The first failed check, as a [`VerifyError`].
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_with(token, &ScopePolicy::none()).await
    }

    /// Verifies `token` like [`Verifier::verify`], then checks `policy`.
    ///
    /// # Errors
    ///
    /// The first failed check, as a [`VerifyError`]; a missing scope is
    /// [`VerifyError::InsufficientScope`].
    pub async fn verify_with(
        &self,
        token: &str,
        policy: &ScopePolicy,
    ) -> Result<Claims, VerifyError> {
        // A debug span: with no subscriber that wants it (the default `info` logs, no
        // trace exporter) it is disabled and records nothing. Never the token itself.
        let span = tracing::debug_span!(
            "jwt.verify",
            cache_hit = tracing::field::Empty,
            refusal = tracing::field::Empty,
        );
        let result = self
            .verify_inner(token, policy, &span)
            .instrument(span.clone())
            .await;
        if let Err(e) = &result {
            span.record("refusal", e.reason());
            metrics::counter!("jwt_verifier_rejections_total", "reason" => e.reason()).increment(1);
            tracing::debug!(reason = e.reason(), error = %e, "token rejected");
        }
        result
    }

    async fn verify_inner(
        &self,
        token: &str,
        policy: &ScopePolicy,
        span: &tracing::Span,
    ) -> Result<Claims, VerifyError> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(VerifyError::TooLarge {
                len: token.len(),
                limit: inner.max_token_bytes,
            });
        }

        let cache_key = match &inner.cache {
            Some(cache) => {
                let generation = cache.generation();
                let key = TokenKey::of(token);
                let now = inner.fetch.clock.now();
                if let Some((claims, issuer)) = cache.get(&key, oauth_proto::time::unix_seconds(now))
                    // A stale key set must be refreshed first: it may have dropped the key.
                    && !inner.issuers[issuer].is_stale(now, &inner.fetch)
                {
                    span.record("cache_hit", true);
                    inner.required.check(&claims)?;
                    policy.check(&claims)?;
                    return Ok(claims);
                }
                span.record("cache_hit", false);
                Some((key, generation))
            }
            None => None,
        };

        let parsed = token::parse(token)?;
        let issuer_index = match &parsed.claims.iss {
            Some(serde_json::Value::String(iss)) => inner
                .issuers
                .iter()
                .position(|i| i.issuer == *iss)
                .ok_or_else(|| VerifyError::UnknownIssuer(VerifyError::clip(iss)))?,
            _ => return Err(VerifyError::InvalidIssuer),
        };
        let issuer = &inner.issuers[issuer_index];
        let clear_cache = || {
            if let Some(cache) = &inner.cache {
                cache.clear();
            }
        };
        let key = issuer.key(&parsed.kid, &inner.fetch, &clear_cache).await?;
        key.verify_sig(parsed.signing_input, &parsed.signature)
            .map_err(|_| VerifyError::InvalidSignature)?;

        let now = inner.fetch.clock.unix_seconds();
        let claims: Claims = claims::validate(parsed.claims, &issuer.issuer, &inner.rules, now)?;
        if let (Some(cache), Some((key, generation))) = (&inner.cache, cache_key) {
            cache.insert(key, claims.clone(), issuer_index, now, generation);
        }
        inner.required.check(&claims)?;
        policy.check(&claims)?;
        Ok(claims)
    }

    /// Fetches every issuer's JWKS now (ignoring the cooldown), e.g. at start-up.
    ///
    /// # Errors
    ///
    /// [`VerifyError::JwksUnavailable`] with the first failure; every issuer is tried.
    pub async fn hydrate(&self) -> Result<(), VerifyError> {
        let inner = &*self.inner;
        let clear_cache = || {
            if let Some(cache) = &inner.cache {
                cache.clear();
            }
        };
        let mut first_error = None;
        for issuer in &inner.issuers {
            if let Err(e) = issuer.fetch_now(&inner.fetch, &clear_cache).await {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(VerifyError::JwksUnavailable(e)),
        }
    }

    /// Whether every issuer has a key set (for readiness probes).
    pub fn has_keys(&self) -> bool {
        self.inner.issuers.iter().all(IssuerKeys::has_keys)
    }

    /// The configured issuers.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.issuers.iter().map(|i| i.issuer.as_str())
    }
}

/// Configures a [`Verifier`]. Every setter documents its default.
#[derive(Debug)]
pub struct VerifierBuilder {
    issuers: Vec<String>,
    client_ids: Vec<String>,
    allow_any_client_id: bool,
    leeway: Duration,
    clock: Arc<dyn Clock>,
    http: Option<reqwest::Client>,
    jwks_cooldown: Duration,
    jwks_refresh_interval: Duration,
    fetch_timeout: Duration,
    max_jwks_bytes: usize,
    max_token_bytes: usize,
    token_cache: Option<usize>,
    scopes: Vec<String>,
    allow_insecure_http: bool,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            client_ids: Vec::new(),
            allow_any_client_id: false,
            leeway: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            http: None,
            jwks_cooldown: Duration::from_secs(30),
            jwks_refresh_interval: Duration::from_secs(600),
            fetch_timeout: Duration::from_secs(5),
            max_jwks_bytes: 64 * 1024,
            max_token_bytes: 8 * 1024,
            token_cache: None,
            scopes: Vec::new(),
            allow_insecure_http: false,
        }
    }
}

impl VerifierBuilder {
    /// Adds a trusted issuer, exactly as tokens carry it in `iss` (a trailing `/` is
    /// dropped): `https://cognito-idp.<region>.amazonaws.com/<userPoolId>` for Cognito,
    /// `<public-url>/<userPoolId>` for the local server. Its JWKS is fetched from
    /// `<issuer>/.well-known/jwks.json`. Repeatable; at least one is required.
    ///
    /// Must be `https`, except on a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`)
    /// or with [`allow_insecure_http`](Self::allow_insecure_http): keys fetched over
    /// plain http can be replaced by anyone on the path, who could then sign any token.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Adds the issuer of an Amazon Cognito user pool:
    /// `https://cognito-idp.<region>.amazonaws.com/<pool_id>`, e.g.
    /// `cognito_user_pool("eu-west-1", "eu-west-1_Ab12Cd34E")`. Repeatable, like
    /// [`issuer`](Self::issuer); for the local `s2s` server use
    /// `issuer("http://127.0.0.1:9229/<poolId>")`.
    #[must_use]
    pub fn cognito_user_pool(self, region: impl AsRef<str>, pool_id: impl AsRef<str>) -> Self {
        let (region, pool_id) = (region.as_ref(), pool_id.as_ref());
        self.issuer(format!(
            "https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        ))
    }

    /// Allows tokens whose `client_id` is `id`. Repeatable. Required unless
    /// [`allow_any_client_id`](Self::allow_any_client_id) is called.
    #[must_use]
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_ids.push(id.into());
        self
    }

    /// Allows every client id of `ids`.
    #[must_use]
    pub fn client_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Accepts any `client_id` (still required to be present and well-formed). Skipping
    /// the client check must be explicit. Default: off.
    #[must_use]
    pub fn allow_any_client_id(mut self) -> Self {
        self.allow_any_client_id = true;
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`. Default: 60 s.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The source of "now" for claim checks, cooldowns and refreshes.
    /// Default: [`SystemClock`].
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The HTTP client for JWKS fetches. Build it with `redirect(Policy::none())`;
    /// a response that was redirected is refused anyway. Default: a client with
    /// redirects off and no proxy taken from the environment.
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Minimum time between two fetches of one issuer's JWKS triggered by unknown
    /// `kid`s or refreshes. Default: 30 s.
    #[must_use]
    pub fn jwks_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_cooldown = cooldown;
        self
    }

    /// Age after which a key set is refreshed by the next verification, so a key
    /// removed from the JWKS stops being trusted. Default: 10 min.
    #[must_use]
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh_interval = interval;
        self
    }

    /// Timeout of one JWKS fetch, body included. Default: 5 s.
    #[must_use]
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Largest JWKS response accepted. Default: 64 KiB.
    #[must_use]
    pub fn max_jwks_bytes(mut self, max: usize) -> Self {
        self.max_jwks_bytes = max;
        self
    }

    /// Largest token accepted. Default: 8 KiB (a Cognito access token is about 1 KiB).
    #[must_use]
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Enables the verified-token cache with room for `capacity` tokens. Default: off.
    #[must_use]
    pub fn token_cache(mut self, capacity: usize) -> Self {
        self.token_cache = Some(capacity);
        self
    }

    /// Requires `scope` on every token this verifier accepts, in [`Verifier::verify`] and
    /// [`Verifier::verify_with`] alike (before the per-call policy) and in the axum
    /// layer. Repeatable: every scope given is required. Checked for Cognito's scope
    /// syntax in [`build`](Self::build). Default: none. For scopes that differ per route
    /// or method, use [`ScopePolicy`] or the `axum` feature's `RequireScopeLayer`.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Allows a plain `http` issuer on a host that is not loopback (a private test
    /// network). The JWKS then crosses the network unauthenticated, so anyone on the path
    /// can substitute their own keys and sign any token. Default: `false` (an `http`
    /// issuer off loopback is refused by [`build`](Self::build) with
    /// [`BuildError::InsecureIssuer`]).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Builds the verifier. Fetches nothing; call [`Verifier::hydrate`] to warm up.
    ///
    /// # Errors
    ///
    /// No issuer, an issuer that is not an http(s) URL, a plain `http` issuer off
    /// loopback (without [`allow_insecure_http`](Self::allow_insecure_http)), no client id (and no
    /// `allow_any_client_id`), a malformed client id or scope, or an HTTP client that
    /// cannot be built. Each [`BuildError`] variant names the setting at fault.
    pub fn build(self) -> Result<Verifier, BuildError> {
        if self.issuers.is_empty() {
            return Err(BuildError::NoIssuer);
        }
        let mut issuers = Vec::with_capacity(self.issuers.len());
        for raw in self.issuers {
            let issuer = raw.trim_end_matches('/').to_owned();
            let url = reqwest::Url::parse(&format!("{issuer}/.well-known/jwks.json"))
                .map_err(|_| BuildError::InvalidIssuer(raw.clone()))?;
            let parsed = reqwest::Url::parse(&issuer).ok();
            let plain = parsed.as_ref().is_some_and(|u| {
                u.query().is_none() && u.fragment().is_none() && u.password().is_none()
            });
            if !matches!(url.scheme(), "http" | "https") || !plain {
                return Err(BuildError::InvalidIssuer(raw));
            }
            if url.scheme() == "http" && !self.allow_insecure_http && !is_loopback(&url) {
                return Err(BuildError::InsecureIssuer { issuer });
            }
            if issuers.iter().all(|i: &IssuerKeys| i.issuer != issuer) {
                issuers.push(IssuerKeys::new(issuer, url));
            }
        }
        let client_ids = if self.allow_any_client_id {
            None
        } else {
            if self.client_ids.is_empty() {
                return Err(BuildError::NoClientId);
            }
            for id in &self.client_ids {
                ClientId::parse(id).map_err(|_| BuildError::InvalidClientId(id.clone()))?;
            }
            Some(self.client_ids)
        };
        for scope in &self.scopes {
            Scope::parse(scope).map_err(|_| BuildError::InvalidScope(scope.clone()))?;
        }
        let required = ScopePolicy::all_of(self.scopes);
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(self.fetch_timeout)
                .build()
                .map_err(BuildError::HttpClient)?,
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers,
                rules: ClaimRules {
                    client_ids,
                    leeway: self.leeway.as_secs(),
                },
                fetch: FetchConfig {
                    http,
                    timeout: self.fetch_timeout,
                    max_bytes: self.max_jwks_bytes,
                    cooldown: self.jwks_cooldown,
                    refresh_interval: self.jwks_refresh_interval,
                    clock: self.clock,
                },
                max_token_bytes: self.max_token_bytes,
                cache: self.token_cache.map(TokenCache::new),
                required,
            }),
        })
    }
}

/// Whether `url`'s host is loopback: `localhost`, `127.0.0.0/8` or `[::1]` (the same rule
/// as token-provider's for the token URL). Only there may keys travel over plain http.
fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_requires_an_issuer_and_a_client_decision() {
        assert!(matches!(
            Verifier::builder().client_id("c").build(),
            Err(BuildError::NoIssuer)
        ));
        assert!(matches!(
            Verifier::builder().issuer("https://i/p").build(),
            Err(BuildError::NoClientId)
        ));
        assert!(matches!(
            Verifier::builder()
                .issuer("ftp://i/p")
                .client_id("c")
                .build(),
            Err(BuildError::InvalidIssuer(_))
        ));
        for bad in [
            "",
            "not a url",
            "https://i/p?x=1",
            "https://i/p#f",
            "https://u:pw@i/p",
        ] {
            assert!(
                matches!(
                    Verifier::builder().issuer(bad).client_id("c").build(),
                    Err(BuildError::InvalidIssuer(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Verifier::builder()
                .issuer("https://i/p")
                .client_id("a b")
                .build(),
            Err(BuildError::InvalidClientId(_))
        ));
        let v = Verifier::builder()
            .issuer("https://i/p/")
            .allow_any_client_id()
            .build()
            .unwrap();
        assert_eq!(v.issuers().collect::<Vec<_>>(), vec!["https://i/p"]);
        assert!(!v.has_keys());
        assert!(matches!(
            Verifier::builder()
                .issuer("https://i/p")
                .client_id("c")
                .scope("a/read")
                .scope("not a scope")
                .build(),
            Err(BuildError::InvalidScope(s)) if s == "not a scope"
        ));
    }

    #[test]
    fn cognito_user_pool_names_the_pool_issuer() {
        let v = Verifier::builder()
            .cognito_user_pool("eu-west-1", "eu-west-1_Ab12Cd34E")
            .allow_any_client_id()
            .build()
            .unwrap();
        assert_eq!(
            v.issuers().collect::<Vec<_>>(),
            vec!["https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E"]
        );
    }

    #[test]
    fn verifier_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Verifier>();
        check::<Claims>();
        check::<VerifyError>();
    }
}
