//! The token endpoint's request and success response (RFC 6749 §4.4, §5.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A token request, tagged by `grant_type` as sent in the form body.
///
/// Only the client-credentials grant (RFC 6749 §4.4.2) is modelled: it is the only grant a
/// machine-to-machine client uses. Client authentication may come in the body
/// (`client_secret_post`) or in an `Authorization: Basic` header (`client_secret_basic`),
/// so both credential fields are optional here.
#[derive(Clone, Deserialize, Serialize)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    /// `grant_type=client_credentials`.
    ClientCredentials {
        /// Space-separated scopes; omitted means every scope the client is allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// The client id, for `client_secret_post` (Cognito's examples also send it
        /// alongside Basic authentication).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The client secret, for `client_secret_post`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<String>,
    },
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientCredentials {
                scope,
                client_id,
                client_secret,
            } => f
                .debug_struct("ClientCredentials")
                .field("scope", scope)
                .field("client_id", client_id)
                .field(
                    "client_secret",
                    &client_secret.as_ref().map(|_| "[redacted]"),
                )
                .finish(),
        }
    }
}

/// The token type of an access token. Cognito issues only `Bearer` tokens (RFC 6750).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    /// `Bearer`; accepted case-insensitively on input as RFC 6749 §7.1 requires.
    #[serde(alias = "bearer", alias = "BEARER")]
    Bearer,
}

/// A successful token response (RFC 6749 §5.1) in Cognito's shape: no `refresh_token`,
/// no `scope`, no `id_token` for the client-credentials grant.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token, a JWT signed with RS256.
    pub access_token: String,
    /// Seconds until the token expires. Signed so that a server sending a negative value
    /// is detected rather than wrapped around.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: TokenType,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_form_with_post_credentials() {
        let request: TokenRequest = serde_urlencoded::from_str(
            "grant_type=client_credentials&client_id=abc&client_secret=s3cret&scope=a%2Fb+c%2Fd",
        )
        .unwrap();
        let TokenRequest::ClientCredentials {
            scope,
            client_id,
            client_secret,
        } = &request;
        assert_eq!(scope.as_deref(), Some("a/b c/d"));
        assert_eq!(client_id.as_deref(), Some("abc"));
        assert_eq!(client_secret.as_deref(), Some("s3cret"));
        assert!(!format!("{request:?}").contains("s3cret"));
    }

    #[test]
    fn refuses_other_grants() {
        assert!(serde_urlencoded::from_str::<TokenRequest>("grant_type=password").is_err());
    }

    #[test]
    fn response_debug_hides_the_token() {
        let response: TokenResponse = serde_json::from_str(
            r#"{"access_token":"eyJ.secret.x","expires_in":3600,"token_type":"Bearer"}"#,
        )
        .unwrap();
        assert!(!format!("{response:?}").contains("eyJ"));
        assert_eq!(response.expires_in, 3600);
    }
}
