//! Verify Amazon Cognito access tokens on a resource server: JWKS cache, claim checks,
//! scope policy, and an axum/tower layer.
//!
//! A [`Verifier`] accepts a token only if every check passes, in this order, and the
//! signature is verified before any claim is trusted:
//!
//! 1. size (default 8 KiB), three base64url parts, JSON header and payload;
//! 2. header `alg` is `RS256` (never `none`, never HMAC) and there is no header-supplied
//!    key (`jwk`, `jku`, `x5u`, `x5c`) or `crit`;
//! 3. `kid` present;
//! 4. the unverified `iss` picks one of the configured issuers (an unknown issuer is
//!    refused before any network call);
//! 5. the key for `kid` from that issuer's JWKS (fetched and cached, see below);
//! 6. the RS256 signature (aws-lc-rs);
//! 7. `exp` (required, a number), `nbf`, `iat` with leeway, `iss`, `token_use` =
//!    `access`, `client_id` in the allowed list, and the [`ScopePolicy`].
//!
//! Each failed check has its own [`VerifyError`] variant.
//!
//! What it deliberately does not do: ID tokens, other algorithms, `aud` checks (Cognito
//! access tokens have no `aud`; `client_id` is checked instead), token introspection or
//! revocation lists, and reading any configuration from the environment.
//!
//! # Example
//!
//! ```
//! use jwt_verifier::{ScopePolicy, Verifier, VerifyError};
//! use jwt_verifier::test_util::TestIssuer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A stand-in for Cognito: serves a JWKS on 127.0.0.1 and mints tokens.
//! let issuer = TestIssuer::start().await;
//!
//! let verifier = Verifier::builder()
//!     .issuer(issuer.issuer()) // e.g. https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34E
//!     .client_id("articlesservice")
//!     .build()?;
//! verifier.hydrate().await?; // optional warm-up; also makes has_keys() true
//!
//! let token = issuer.access_token("articlesservice", ["user-schedule-service/schedule.read"]);
//! let claims = verifier.verify(&token).await?;
//! assert_eq!(claims.client_id().as_str(), "articlesservice");
//! assert!(claims.has_scope("user-schedule-service/schedule.read"));
//!
//! let write = ScopePolicy::all_of(["user-schedule-service/schedule.update"]);
//! assert!(matches!(
//!     verifier.verify_with(&token, &write).await,
//!     Err(VerifyError::InsufficientScope { .. })
//! ));
//! # Ok(())
//! # }
//! ```
//!
//! # JWKS cache
//!
//! Reads are lock-free (an `ArcSwap` per issuer). One fetch per issuer is in flight at a
//! time and every waiter shares its result. An unknown `kid` triggers a refetch at most
//! once per cooldown (default 30 s) per issuer, so a flood of random `kid`s cannot become
//! a flood of fetches. A key set older than the refresh interval (default 10 min) is
//! refreshed by the next verification, so a key removed from the JWKS stops being
//! trusted; there is no hidden background task. A failed fetch keeps the last good keys.
//! Fetches have a timeout (5 s) and a size cap (64 KiB), and never follow redirects.
//! [`Verifier::hydrate`] fetches every issuer's JWKS at start-up and
//! [`Verifier::has_keys`] serves readiness probes.
//!
//! An optional verified-token cache ([`VerifierBuilder::token_cache`]) makes repeat
//! verification of the same token cost a SHA-256 and a map lookup.
//!
//! # Features
//!
//! - `axum`: [`JwtAuthLayer`](crate::axum::JwtAuthLayer) (verifies the bearer token and
//!   puts [`Claims`] in the request extensions), the [`Claims`] extractor and
//!   [`RequireScopeLayer`](crate::axum::RequireScopeLayer) for per-route scopes, with
//!   RFC 6750 responses.
//! - `test-util`: [`TestIssuer`](crate::test_util::TestIssuer), a key pair whose JWKS is
//!   served on a local port, key rotation, and tokens with any claims.
//!
//! # Metrics
//!
//! Through the `metrics` facade: `jwt_verifier_rejections_total{reason}` for every
//! rejected token (reason = [`VerifyError::reason`], plus `missing_token` and
//! `invalid_request` in the axum layer), and `jwt_verifier_jwks_fetches_total{outcome}`.
//!
//! # Security notes
//!
//! - Tokens are never logged, not even at debug level, and never echoed in errors or
//!   HTTP responses; values taken from a token (`kid`, `iss`) are truncated in errors.
//! - The algorithm is fixed to RS256 by the verifier, never taken from the token; RSA
//!   keys must be 2048 to 8192 bits.
//! - Fails closed: no key, no JWKS, an unknown claim type — the token is refused. A
//!   JWKS outage with no usable key is reported as [`VerifyError::JwksUnavailable`]
//!   (503 in the axum layer), not as a bad token.
//! - Issuers must be `https`, or plain `http` on a loopback host (`localhost`,
//!   `127.0.0.0/8`, `[::1]`): a JWKS fetched over plain http from another host can be
//!   replaced on the way, and whoever replaces it can sign any token.
//!   [`VerifierBuilder::build`] refuses such an issuer with [`BuildError::InsecureIssuer`]
//!   unless [`VerifierBuilder::allow_insecure_http`] opts in.
//! - Time comes from an injected [`Clock`] ([`SystemClock`] by default).

mod cache;
mod claims;
mod error;
mod jwks;
mod policy;
mod token;
mod verifier;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "test-util")]
pub mod test_util;

pub use claims::Claims;
pub use error::{BuildError, JwksError, VerifyError};
pub use policy::{ClaimPolicy, ScopePolicy};
pub use verifier::{Verifier, VerifierBuilder};

// The `oauth-proto` types that appear in this crate's public API, so a user never has to
// depend on `oauth-proto` by name and rustdoc links them.
#[cfg(feature = "test-util")]
pub use oauth_proto::time::ManualClock;
pub use oauth_proto::time::{Clock, SystemClock};
pub use oauth_proto::{
    AccessTokenClaims, ClientId, InvalidValue, Jwk, Jwks, Scope, Scopes, TokenUse,
};
