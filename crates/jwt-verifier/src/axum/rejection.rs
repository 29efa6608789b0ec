//! The refusals of the layers in [`crate::axum`]: RFC 6750 challenges with a problem+json
//! body, and reading the bearer token out of `Authorization`.

use std::fmt;
use std::sync::Arc;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth_proto::{BearerChallenge, BearerErrorCode};

use crate::VerifyError;

/// An RFC 6750 refusal: status, `WWW-Authenticate` challenge and a problem+json body.
#[derive(Debug)]
pub struct AuthRejection {
    pub(super) kind: Rejection,
    pub(super) realm: Option<Arc<str>>,
}

/// Why a request was refused.
#[derive(Debug)]
pub(super) enum Rejection {
    MissingToken,
    InvalidRequest(&'static str),
    Verify(VerifyError),
}

impl AuthRejection {
    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            Rejection::MissingToken => StatusCode::UNAUTHORIZED,
            Rejection::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Rejection::Verify(
                VerifyError::InsufficientScope { .. }
                | VerifyError::ClaimMismatch { .. }
                | VerifyError::ClaimType { .. },
            ) => StatusCode::FORBIDDEN,
            Rejection::Verify(VerifyError::JwksUnavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::Verify(_) => StatusCode::UNAUTHORIZED,
        }
    }

    /// The verification error behind this rejection, if a token was checked.
    pub fn verify_error(&self) -> Option<&VerifyError> {
        match &self.kind {
            Rejection::Verify(e) => Some(e),
            _ => None,
        }
    }

    fn challenge(&self) -> Option<String> {
        let (error, description, scope) = match &self.kind {
            Rejection::MissingToken => (None, None, None),
            Rejection::InvalidRequest(d) => (Some(BearerErrorCode::InvalidRequest), Some(*d), None),
            Rejection::Verify(VerifyError::JwksUnavailable(_)) => return None,
            Rejection::Verify(e @ VerifyError::InsufficientScope { required, .. }) => (
                Some(BearerErrorCode::InsufficientScope),
                Some(e.description()),
                Some(quoted_safe(required.as_str())),
            ),
            Rejection::Verify(
                e @ (VerifyError::ClaimMismatch { .. } | VerifyError::ClaimType { .. }),
            ) => (
                Some(BearerErrorCode::InsufficientScope),
                Some(e.description()),
                None,
            ),
            Rejection::Verify(e) => (
                Some(BearerErrorCode::InvalidToken),
                Some(e.description()),
                None,
            ),
        };
        let challenge = BearerChallenge {
            realm: self.realm.as_deref().map(str::to_owned),
            error,
            error_description: description.map(str::to_owned),
            error_uri: None,
            scope,
        };
        Some(challenge.to_string())
    }

    fn detail(&self) -> &'static str {
        match &self.kind {
            Rejection::MissingToken => "a bearer token is required",
            Rejection::InvalidRequest(d) => d,
            Rejection::Verify(e) => e.description(),
        }
    }
}

impl From<VerifyError> for AuthRejection {
    fn from(e: VerifyError) -> Self {
        Self {
            kind: Rejection::Verify(e),
            realm: None,
        }
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail())
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match &self.kind {
            Rejection::MissingToken => {
                metrics::counter!("jwt_verifier_rejections_total", "reason" => "missing_token")
                    .increment(1);
            }
            Rejection::InvalidRequest(_) => {
                metrics::counter!("jwt_verifier_rejections_total", "reason" => "invalid_request")
                    .increment(1);
            }
            // Counted where the token was verified.
            Rejection::Verify(_) => {}
        }
        let status = self.status();
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": self.detail(),
        });
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = self.challenge()
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The bearer token of `Authorization: Bearer <token>` (RFC 6750 §2.1).
pub(super) fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(Rejection::MissingToken);
    };
    if values.next().is_some() {
        return Err(Rejection::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| Rejection::InvalidRequest("the Authorization header is not visible ASCII"))?;
    let (scheme, token) = match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, rest.trim_matches(' ')),
        None => (value, ""),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Credentials for another scheme are no bearer token at all (RFC 6750 §3.1).
        return Err(Rejection::MissingToken);
    }
    if token.is_empty() {
        return Err(Rejection::InvalidRequest("the bearer token is empty"));
    }
    let body = token.trim_end_matches('=');
    if !body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
        || body.is_empty()
    {
        return Err(Rejection::InvalidRequest(
            "the bearer token has characters outside b64token",
        ));
    }
    Ok(token)
}

/// Replaces with `?` what a header value cannot carry (controls, non-ASCII), and quotes
/// and backslashes too, so the scope in a challenge reads the same escaped or not.
pub(super) fn quoted_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_bearer_headers() {
        assert_eq!(bearer_token(&headers(&["Bearer a.b.c"])).unwrap(), "a.b.c");
        assert_eq!(
            bearer_token(&headers(&["bearer  a.b.c "])).unwrap(),
            "a.b.c"
        );
        assert!(matches!(
            bearer_token(&headers(&[])),
            Err(Rejection::MissingToken)
        ));
        assert!(matches!(
            bearer_token(&headers(&["Basic dXNlcjpwYXNz"])),
            Err(Rejection::MissingToken)
        ));
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\"b",
            "Bearer ===",
        ] {
            assert!(
                matches!(
                    bearer_token(&headers(&[bad])),
                    Err(Rejection::InvalidRequest(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(Rejection::InvalidRequest(_))
        ));
    }

    #[test]
    fn quoted_safe_drops_quotes_and_backslashes() {
        assert_eq!(quoted_safe("a\"b\\c d/e"), "a?b?c d/e");
    }
}
