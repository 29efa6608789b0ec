//! Wire types of the OAuth 2.0 client-credentials grant as Amazon Cognito speaks it.
//!
//! This crate is shared by the authorization server, the verifier on the resource server
//! and the token provider on the client, so the three agree on every field by
//! construction. It does no I/O: no network, no files, no async runtime. It holds:
//!
//! - [`TokenRequest`], [`TokenResponse`] and [`ErrorResponse`] of the token endpoint
//!   (RFC 6749 §4.4, §5.1, §5.2);
//! - [`Jwk`] and [`Jwks`], the key set a resource server verifies signatures with (RFC 7517);
//! - [`AccessTokenClaims`], the ten claims of a Cognito client-credentials access token;
//! - [`ProviderMetadata`], the discovery document;
//! - [`bearer`], the `WWW-Authenticate: Bearer` challenges of RFC 6750 §3, read and written;
//! - the protocol newtypes [`ClientId`], [`Scope`], [`Scopes`] and [`ClientSecret`];
//! - [`time::Clock`], the one source of "now" for every crate of the workspace.
//!
//! # Example
//!
//! ```
//! use oauth_proto::{Scope, Scopes, TokenRequest};
//!
//! let request: TokenRequest = serde_urlencoded::from_str(
//!     "grant_type=client_credentials&scope=user-schedule-service%2Fschedule.read",
//! )?;
//! let TokenRequest::ClientCredentials { scope, .. } = request;
//! let wanted: Scopes = scope.expect("a scope was sent").parse()?;
//! assert!(wanted.contains(&Scope::parse("user-schedule-service/schedule.read")?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `test-util`: [`time::ManualClock`], a clock that tests move by hand.
//!
//! # Security notes
//!
//! [`ClientSecret`] never prints its value: `Debug` and `Display` are redacted, and
//! [`ClientSecret::matches`] compares in constant time.

pub mod bearer;
mod claims;
mod discovery;
mod error;
mod ids;
mod jwk;
pub mod time;
mod token;

pub use bearer::{BearerChallenge, BearerErrorCode};
pub use claims::{AccessTokenClaims, TokenUse};
pub use discovery::ProviderMetadata;
pub use error::{ErrorCode, ErrorResponse};
pub use ids::{ClientId, ClientSecret, InvalidValue, Scope, Scopes};
pub use jwk::{Jwk, Jwks};
pub use token::{TokenRequest, TokenResponse, TokenType};
