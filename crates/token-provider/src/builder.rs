//! [`TokenProviderBuilder`]: the settings of a [`TokenProvider`], their defaults and
//! their checks. Building makes no request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth_proto::time::{Clock, SystemClock};
use oauth_proto::{ClientId, ClientSecret, Scope, Scopes};

use crate::error::BuildError;
use crate::http::HttpClient;
use crate::jitter::Jitter;
use crate::provider::{Config, TokenProvider};
use crate::secret::SecretSource;
use crate::wire::{ClientAuth, TokenEndpoint};

/// Configuration of a [`TokenProvider`]. Token URL, client id and client secret are
/// required; every other setting has the default its setter documents.
pub struct TokenProviderBuilder {
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Arc<dyn SecretSource>>,
    scopes: Vec<String>,
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
            scopes: Vec::new(),
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

    /// The app client id, e.g. `"26cb2c60kq7nbmas7rbme9b6pp"` (a [`ClientId`] works
    /// too). Required; checked in [`build`](Self::build).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The app client secret, fixed. Required (this or [`Self::client_secret_source`]).
    pub fn client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(Arc::new(secret));
        self
    }

    /// Where to read the app client secret before each token request, so that a rotated
    /// secret is picked up without a restart. Replaces [`Self::client_secret`].
    pub fn client_secret_source(mut self, source: impl SecretSource) -> Self {
        self.client_secret = Some(Arc::new(source));
        self
    }

    /// Adds a scope to ask for, e.g. `"user-schedule-service/schedule.read"`.
    /// Repeatable; checked in [`build`](Self::build). Default: none sent, which gives
    /// every scope the client is allowed (Cognito).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Replaces the scopes to ask for with `scopes`. An empty list is the same as none.
    /// [`scope`](Self::scope) takes strings one at a time.
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        // `Scopes` turns into its space-separated form; a scope never holds a space.
        self.scopes = String::from(scopes)
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
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
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the setting at fault: a missing token URL, client id or
    /// secret, a malformed one, a scope that is not a scope, or an out-of-range number.
    pub fn build(self) -> Result<TokenProvider, BuildError> {
        let raw_url = self.token_url.ok_or(BuildError::Missing("token_url"))?;
        let client_id = self.client_id.ok_or(BuildError::Missing("client_id"))?;
        let client_id = ClientId::parse(&client_id).map_err(|error| BuildError::InvalidValue {
            name: "client_id",
            error,
        })?;
        let scopes = self
            .scopes
            .iter()
            .map(|s| Scope::parse(s))
            .collect::<Result<Scopes, _>>()
            .map_err(|error| BuildError::InvalidValue {
                name: "scope",
                error,
            })?;
        let scopes = Some(scopes).filter(|s| !s.is_empty());
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

        // Checks the client id and scopes now; the request is built per secret later.
        TokenEndpoint::new(
            token_uri.clone(),
            &client_id,
            &ClientSecret::new(""),
            self.auth,
            scopes.as_ref(),
        )?;
        let config = Config {
            token_uri,
            secret_source: secret,
            client_id,
            auth: self.auth,
            scopes,
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
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        Ok(TokenProvider::new(config, http, clock, jitter))
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
    use crate::http::HttpRequest;

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
    fn builder_checks_settings() {
        let base = || {
            TokenProvider::builder()
                .token_url("https://auth.example.com/oauth2/token")
                .client_id("c")
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
        // Strings are checked in build(), and the error names the setting.
        let error = base().client_id("a b").build().unwrap_err();
        assert!(matches!(
            error,
            BuildError::InvalidValue {
                name: "client_id",
                ..
            }
        ));
        assert!(error.to_string().contains("client_id"), "{error}");
        let error = base()
            .scope("a/read")
            .scope("has space")
            .build()
            .unwrap_err();
        assert!(matches!(
            error,
            BuildError::InvalidValue { name: "scope", .. }
        ));
        assert!(base().scope("a/read").scope("a/write").build().is_ok());
        // The typed forms still work.
        assert!(
            base()
                .client_id(ClientId::parse("c").unwrap())
                .scopes("a/read a/write".parse().unwrap())
                .build()
                .is_ok()
        );
    }
}
