//! [`BearerMiddleware`]: attaches the provider's token to requests for chosen hosts
//! (feature `middleware`).

use http::Extensions;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

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
        Self { provider, hosts }
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
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(has_invalid_token)
}

fn has_invalid_token(challenge: &str) -> bool {
    split_outside_quotes(challenge).into_iter().any(|item| {
        let item = item.trim();
        // An item may start with the auth scheme: `Bearer error="invalid_token"`.
        let param = match item.split_once([' ', '\t']) {
            Some((first, rest)) if !first.contains('=') => rest.trim(),
            _ => item,
        };
        param.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("error")
                && value.trim().trim_matches('"') == "invalid_token"
        })
    })
}

fn split_outside_quotes(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
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

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(raw in ".{0,64}") {
            let _ = has_invalid_token(&raw);
            let _ = parse_host(&raw);
        }
    }
}
