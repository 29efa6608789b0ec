//! The claims of a Cognito access token issued by the client-credentials grant.

use serde::{Deserialize, Serialize};

use crate::{ClientId, Scopes};

/// What a Cognito token is for (`token_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenUse {
    /// An access token: the only kind the client-credentials grant issues and the only
    /// kind a resource server may accept.
    Access,
    /// An ID token (user sign-in only). Never accepted by a resource server.
    Id,
}

/// The ten claims of a Cognito client-credentials access token, in Cognito's order.
///
/// There is no `aud`: `client_id` is the audience-like claim, and `sub` equals it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The client id (for machine-to-machine tokens the subject is the client itself).
    pub sub: String,
    /// Always [`TokenUse::Access`] for this grant.
    pub token_use: TokenUse,
    /// Space-separated custom scopes `<resource-server>/<scope>`.
    pub scope: Scopes,
    /// Unix seconds of authentication (equal to `iat` for this grant).
    pub auth_time: u64,
    /// Issuer: `https://cognito-idp.<region>.amazonaws.com/<userPoolId>` in AWS,
    /// `<public-url>/<userPoolId>` on the local server.
    pub iss: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Token format version: `2`.
    pub version: u32,
    /// Unique token id, a UUID v4.
    pub jti: String,
    /// The app client the token was issued to.
    pub client_id: ClientId,
}
