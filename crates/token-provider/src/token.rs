//! The access token handed to callers.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use oauth_proto::Scopes;
use oauth_proto::time::unix_seconds;

/// An access token and what is known about it.
///
/// Cheap to clone (one reference count). `Debug` and `Display` never show the token:
/// call [`secret`](Self::secret) in the one place that sends it.
#[derive(Clone)]
pub struct AccessToken(Arc<Inner>);

struct Inner {
    secret: String,
    expires_at: SystemTime,
    scopes: Option<Scopes>,
}

impl AccessToken {
    /// A token that expires at `expires_at`, with the scopes known for it.
    ///
    /// The provider builds these; the constructor is public for tests of code that
    /// consumes tokens.
    pub fn new(secret: impl Into<String>, expires_at: SystemTime, scopes: Option<Scopes>) -> Self {
        Self(Arc::new(Inner {
            secret: secret.into(),
            expires_at,
            scopes,
        }))
    }

    /// The token itself, for the `Authorization: Bearer` header. Never log it.
    pub fn secret(&self) -> &str {
        &self.0.secret
    }

    /// When the token expires: the time the request was sent plus `expires_in`, so a
    /// little before the server's `exp`.
    pub fn expires_at(&self) -> SystemTime {
        self.0.expires_at
    }

    /// The scopes granted, if known: the response's `scope` field when the server sent
    /// one (RFC 6749 §5.1), else the `scope` claim read from the token's payload without
    /// verifying it (Cognito sends no `scope` field). Informational only: the resource
    /// server decides what the token allows.
    pub fn scopes(&self) -> Option<&Scopes> {
        self.0.scopes.as_ref()
    }

    /// Whether `self` and `other` are the same issued token (not merely equal strings).
    pub(crate) fn same_as(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("expires_at_unix", &unix_seconds(self.0.expires_at))
            .field("scopes", &self.0.scopes)
            .finish()
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "access token [redacted] expiring at unix time {}",
            unix_seconds(self.0.expires_at)
        )
    }
}

/// Reads the `scope` claim from a JWT's payload without verifying the signature.
///
/// Returns `None` for anything that is not a JWT with a string `scope` claim: an opaque
/// token is legal and simply has no known scopes.
pub(crate) fn unverified_scope_claim(token: &str) -> Option<Scopes> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 64 * 1024 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Payload {
        scope: Option<String>,
    }
    let payload: Payload = serde_json::from_slice(&bytes).ok()?;
    payload.scope?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn debug_and_display_hide_the_token() {
        let token = AccessToken::new(
            "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.sig",
            UNIX_EPOCH + Duration::from_secs(100),
            None,
        );
        assert!(!format!("{token:?}").contains("eyJ"));
        assert!(!format!("{token}").contains("eyJ"));
        assert!(format!("{token}").contains("100"));
    }

    #[test]
    fn reads_scope_claim_of_a_jwt() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"scope":"svc/read svc/write","token_use":"access"}"#);
        let scopes = unverified_scope_claim(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(scopes.to_string(), "svc/read svc/write");
        assert!(unverified_scope_claim("opaque-token").is_none());
        assert!(unverified_scope_claim("a.!!!.c").is_none());
        let no_scope = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#);
        assert!(unverified_scope_claim(&format!("e30.{no_scope}.sig")).is_none());
    }
}
