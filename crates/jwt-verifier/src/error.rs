//! The one error type of this crate: one variant per failed check.

use std::sync::Arc;

/// Why a token was refused. One variant per failed check, in the order the checks run
/// (after aws-jwt-verify `src/error.ts`).
///
/// Messages never contain the token. Values that come from the token (an issuer, a
/// `kid`) are truncated to 64 characters.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is longer than the configured limit (default 8 KiB).
    #[error("token too large: {len} bytes, limit {limit}")]
    TooLarge {
        /// Length of the presented token in bytes.
        len: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// Not three base64url parts, a part that is not JSON, or a JSON value of the wrong
    /// shape. The text says which.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not `RS256` (this includes `none` and every HMAC algorithm).
    #[error("unsupported algorithm {0:?}: only RS256 is accepted")]
    UnsupportedAlgorithm(String),
    /// The header carries a member that is never honoured: a header-supplied key or key
    /// URL (`jwk`, `jku`, `x5u`, `x5c`) or `crit`.
    #[error("unsupported header member {0:?}")]
    UnsupportedHeader(&'static str),
    /// The header has no `kid`.
    #[error("missing kid in token header")]
    MissingKid,
    /// The unverified `iss` is not one of the configured issuers. Refused before any
    /// network call.
    #[error("unknown issuer {0:?}")]
    UnknownIssuer(String),
    /// No key with this `kid` in the issuer's JWKS, even after a refetch (or a refetch was
    /// not allowed yet because of the cooldown).
    #[error("unknown kid {0:?}")]
    UnknownKid(String),
    /// The RS256 signature does not verify with the issuer's key.
    #[error("invalid signature")]
    InvalidSignature,
    /// A claim that must be present is absent (`exp`, `iat`).
    #[error("missing claim {0:?}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or an impossible value (e.g. `exp` as a string).
    #[error("invalid claim {0:?}: wrong type or value")]
    InvalidClaim(&'static str),
    /// `exp` (plus leeway) has passed.
    #[error("token expired at {exp} (now {now}, leeway {leeway} s)")]
    Expired {
        /// The token's `exp`, Unix seconds.
        exp: u64,
        /// The verifier's clock, Unix seconds.
        now: u64,
        /// The configured leeway in seconds.
        leeway: u64,
    },
    /// `nbf` (minus leeway) is still in the future.
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`, Unix seconds.
        nbf: u64,
        /// The verifier's clock, Unix seconds.
        now: u64,
    },
    /// `iat` (minus leeway) is in the future.
    #[error("token issued in the future at {iat} (now {now})")]
    IssuedInFuture {
        /// The token's `iat`, Unix seconds.
        iat: u64,
        /// The verifier's clock, Unix seconds.
        now: u64,
    },
    /// The `iss` claim is missing, not a string, or differs from the issuer whose key
    /// verified the signature.
    #[error("invalid issuer")]
    InvalidIssuer,
    /// `token_use` is not `access` (an ID token, or no `token_use` at all).
    #[error("invalid token_use {0:?}: expected \"access\"")]
    InvalidTokenUse(String),
    /// `client_id` is missing or not one of the allowed client ids.
    #[error("invalid client_id {0:?}")]
    InvalidClientId(String),
    /// The token lacks the scopes the policy requires. Scopes are compared whole.
    #[error("insufficient scope: {policy} required")]
    InsufficientScope {
        /// The policy as text, e.g. `all of "a/read b/write"`.
        policy: String,
        /// The required scopes, space-separated (the RFC 6750 `scope` attribute).
        required: String,
    },
    /// A claim read with [`Claims::get`](crate::Claims::get) or
    /// [`Claims::deserialize`](crate::Claims::deserialize) does not have the type asked for.
    #[error("claim {claim:?} does not have the expected type: {reason}")]
    ClaimType {
        /// The claim (`*` for the whole claim set).
        claim: String,
        /// What serde said.
        reason: String,
    },
    /// A claim lacks the value a [`ClaimPolicy`](crate::ClaimPolicy) requires (with the
    /// `axum` feature: 403 `insufficient_scope`, as a lack of privilege).
    #[error("claim {claim:?} does not have a required value")]
    ClaimMismatch {
        /// The claim.
        claim: String,
    },
    /// The issuer's JWKS could not be fetched and no usable key is cached for this token.
    #[error("jwks unavailable")]
    JwksUnavailable(#[source] JwksError),
}

impl VerifyError {
    /// A short snake_case code for metrics and logs, e.g. `"expired"`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::UnsupportedHeader(_) => "unsupported_header",
            Self::MissingKid => "missing_kid",
            Self::UnknownIssuer(_) => "unknown_issuer",
            Self::UnknownKid(_) => "unknown_kid",
            Self::InvalidSignature => "invalid_signature",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::IssuedInFuture { .. } => "issued_in_future",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidTokenUse(_) => "invalid_token_use",
            Self::InvalidClientId(_) => "invalid_client_id",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::ClaimType { .. } => "claim_type",
            Self::ClaimMismatch { .. } => "claim_mismatch",
            Self::JwksUnavailable(_) => "jwks_unavailable",
        }
    }

    /// A fixed, human-readable description for an HTTP `error_description`. It contains
    /// no value taken from the token, so it is safe to send back and to log.
    pub fn description(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "the token is too large",
            Self::Malformed(_) => "the token is malformed",
            Self::UnsupportedAlgorithm(_) => "the token algorithm is not accepted",
            Self::UnsupportedHeader(_) => "the token header has an unsupported member",
            Self::MissingKid => "the token header has no key id",
            Self::UnknownIssuer(_) => "the token issuer is not trusted",
            Self::UnknownKid(_) => "the token key id is unknown",
            Self::InvalidSignature => "the token signature is invalid",
            Self::MissingClaim(_) => "the token lacks a required claim",
            Self::InvalidClaim(_) => "the token has an invalid claim",
            Self::Expired { .. } => "the token expired",
            Self::NotYetValid { .. } => "the token is not valid yet",
            Self::IssuedInFuture { .. } => "the token was issued in the future",
            Self::InvalidIssuer => "the token issuer is invalid",
            Self::InvalidTokenUse(_) => "the token is not an access token",
            Self::InvalidClientId(_) => "the token client is not allowed",
            Self::InsufficientScope { .. } => "the token lacks a required scope",
            Self::ClaimType { .. } => "the token has a claim of an unexpected type",
            Self::ClaimMismatch { .. } => "the token lacks a required claim value",
            Self::JwksUnavailable(_) => "the signing keys are unavailable",
        }
    }

    /// Truncates a value taken from the token before it goes into an error.
    pub(crate) fn clip(value: &str) -> String {
        value.chars().take(64).collect()
    }
}

/// Why an issuer's JWKS could not be fetched or used.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The request failed: connection, TLS, or the fetch timeout.
    #[error("fetching {url} failed")]
    Http {
        /// The JWKS URL.
        url: String,
        /// The transport error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The response status was not 200 (redirects are never followed).
    #[error("fetching {url} answered status {status}")]
    Status {
        /// The JWKS URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The response ended up at another URL (the HTTP client followed a redirect).
    #[error("fetching {url} was redirected; redirects are not followed")]
    Redirected {
        /// The JWKS URL.
        url: String,
    },
    /// The response body is larger than the configured cap.
    #[error("jwks at {url} exceeds {limit} bytes")]
    TooLarge {
        /// The JWKS URL.
        url: String,
        /// The configured cap in bytes.
        limit: usize,
    },
    /// The body is not a JWK Set.
    #[error("jwks at {url} is not a valid JWK set: {reason}")]
    Invalid {
        /// The JWKS URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The JWK Set holds no RSA signing key usable with RS256 (2048 to 8192 bits).
    #[error("jwks at {url} has no usable RS256 key")]
    NoUsableKeys {
        /// The JWKS URL.
        url: String,
    },
}

/// Why [`VerifierBuilder::build`](crate::VerifierBuilder::build) refused the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No issuer was configured.
    #[error("no issuer configured: call issuer(url) at least once")]
    NoIssuer,
    /// An issuer is not an absolute http(s) URL.
    #[error("invalid issuer url {0:?}")]
    InvalidIssuer(String),
    /// An issuer is a plain `http` URL on a host that is not loopback: its keys would be
    /// fetched unauthenticated, so anyone on the network path could substitute their own
    /// and sign any token. Use `https`, a loopback host, or
    /// [`VerifierBuilder::allow_insecure_http`](crate::VerifierBuilder::allow_insecure_http)
    /// for a private test network.
    #[error(
        "insecure issuer {issuer:?}: its keys would be fetched over plain http, where anyone on the network path can replace them; use https, a loopback host, or allow_insecure_http(true)"
    )]
    InsecureIssuer {
        /// The issuer as configured (without a trailing `/`).
        issuer: String,
    },
    /// Neither client ids nor `allow_any_client_id()` were configured.
    #[error("no client id configured: call client_id(..) or allow_any_client_id()")]
    NoClientId,
    /// A client id does not have Cognito's form.
    #[error("invalid client id {0:?}")]
    InvalidClientId(String),
    /// A scope given to [`VerifierBuilder::scope`](crate::VerifierBuilder::scope) is not
    /// a scope (1 to 512 printable ASCII characters other than space, `"` and `\`).
    #[error("invalid scope {0:?}")]
    InvalidScope(String),
    /// The default HTTP client could not be built.
    #[error("building the http client failed")]
    HttpClient(#[source] reqwest::Error),
}
