//! JSON Web Keys (RFC 7517) as Cognito publishes them.

use serde::{Deserialize, Serialize};

/// One RSA public key of a JWKS.
///
/// Cognito publishes exactly these six members, in this (alphabetical) order, with no
/// `x5c`/`x5t`. Unknown members sent by other servers are ignored on input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Algorithm: `RS256`. Optional in RFC 7517; Cognito always sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Public exponent, base64url without padding (`AQAB`).
    pub e: String,
    /// Key id: base64 of the SHA-256 of the public key.
    pub kid: String,
    /// Key type: `RSA`.
    pub kty: String,
    /// Modulus, base64url without padding (2048 bits).
    pub n: String,
    /// Public key use: `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// A JWK Set: `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The key with this `kid`, if any.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}
