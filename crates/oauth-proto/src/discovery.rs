//! The OpenID Provider configuration document Cognito serves per user pool.

use serde::{Deserialize, Serialize};

/// `/<userPoolId>/.well-known/openid-configuration`, with Cognito's members in its
/// (alphabetical) order. Custom scopes are not advertised and there is no
/// `grant_types_supported`, as in Cognito.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// The hosted UI's authorize endpoint (unused by machine clients).
    pub authorization_endpoint: String,
    /// The logout endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// `["RS256"]`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// The issuer, equal to the `iss` claim of the pool's tokens.
    pub issuer: String,
    /// Where the pool's signing keys are published.
    pub jwks_uri: String,
    /// `["code", "token"]`.
    pub response_types_supported: Vec<String>,
    /// The revocation endpoint (refresh tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// The standard OIDC scopes only.
    pub scopes_supported: Vec<String>,
    /// `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// The token endpoint.
    pub token_endpoint: String,
    /// `["client_secret_basic", "client_secret_post"]`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// The userInfo endpoint (unused by machine clients).
    pub userinfo_endpoint: String,
}
