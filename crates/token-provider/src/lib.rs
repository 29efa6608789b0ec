//! Client-credentials access tokens: cached, refreshed early, one request in flight.
//!
//! A [`TokenProvider`] gets access tokens from an OAuth 2.0 token endpoint with the
//! client-credentials grant (RFC 6749 §4.4), as Amazon Cognito and the `authorization-server`
//! crate of this workspace serve it, and hands them to any number of callers:
//!
//! - [`TokenProvider::token`] returns the cached token while it is valid, without
//!   touching the network;
//! - the token is replaced in the background at a share of its lifetime minus random
//!   jitter (by default 70–80 %), so callers never wait while a token is valid and
//!   instances started together do not refresh together;
//! - one request is in flight at a time for any number of concurrent callers, cold start
//!   included;
//! - transient failures (connection errors, timeouts, 5xx, 429) are retried with
//!   exponential backoff and jitter while the cached token stays in use; OAuth errors
//!   (`invalid_client`, `invalid_scope`, …) come back typed in [`TokenError::Oauth`] and
//!   are not retried in a loop; after any failed refresh a backoff keeps callers from
//!   turning into a request storm;
//! - with the `middleware` feature, [`BearerMiddleware`] attaches the token to requests
//!   for chosen hosts and replaces a token a server refuses with `invalid_token`;
//! - every call runs in a `tracing` debug span `token.acquire` (its `outcome`: `cached`,
//!   `joined`, `refreshed` or `backoff`), every refresh in `token.refresh` and every
//!   request in `token.request`; with the `opentelemetry` feature the request carries the
//!   span's W3C `traceparent`, so an OpenTelemetry trace crosses to the token endpoint.
//!   Spans never hold the secret or the token.
//!
//! It deliberately does not verify tokens (that is the resource server's job, see the
//! `jwt-verifier` crate), read configuration from the environment, or support other
//! grants.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use token_provider::http::{HttpRequest, HttpResponse};
//! use token_provider::{ClientAuth, ClientSecret, HttpError, TokenProvider};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = TokenProvider::builder()
//!     .token_url("https://example.auth.us-east-1.amazoncognito.com/oauth2/token")
//!     .client_id("26cb2c60kq7nbmas7rbme9b6pp") // strings are checked in build()
//!     .client_secret(ClientSecret::new("a-secret-from-your-secret-store"))
//!     .scope("user-schedule-service/schedule.read") // repeatable
//!     .auth(ClientAuth::Basic)
//!     // The default HTTP client is reqwest; this stub answers like Cognito does.
//!     .http_client(|_request: HttpRequest| async move {
//!         let body = br#"{"access_token":"eyJ...","expires_in":3600,"token_type":"Bearer"}"#;
//!         Ok::<_, HttpError>(HttpResponse::new(body.to_vec()))
//!     })
//!     .build()?;
//!
//! let token = provider.token().await?; // one request
//! let again = provider.token().await?; // from the cache
//! assert_eq!(token.secret(), again.secret());
//! assert_eq!(provider.stats().requests, 1);
//! println!("{token}"); // "access token [redacted] expiring at …"
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `reqwest` (default): [`http::ReqwestClient`], the default HTTP client, built with
//!   redirects disabled.
//! - `middleware`: [`BearerMiddleware`] for `reqwest-middleware`.
//! - `test-util`: [`ManualClock`], a clock tests move by hand.
//!
//! # Metrics
//!
//! Through the `metrics` facade, each labelled with `client_id`:
//! `token_provider_requests_total`, `token_provider_failures_total{kind}` and the gauge
//! `token_provider_token_expires_in_seconds`. [`TokenProvider::stats`] returns the same
//! counters without a recorder.
//!
//! # Security notes
//!
//! - The client secret is a [`ClientSecret`] and the token an [`AccessToken`]: their
//!   `Debug` and `Display` are redacted, the `Authorization` headers built here are marked
//!   sensitive, errors never copy the token endpoint's body, and nothing logs either.
//! - The secret comes from a [`SecretSource`] read before each token request: a fixed
//!   [`ClientSecret`], or a file or secret store that can change. On `invalid_client` the
//!   source is read again and, if the secret changed (a rotation), the request is retried
//!   once at once, so a rotation costs no failed call.
//! - Redirects are never followed (the request carries the secret); a 3xx is an error.
//! - A plain `http` token URL is refused unless the host is loopback or
//!   [`TokenProviderBuilder::allow_insecure_http`] is set.
//! - [`AccessToken::scopes`] reads the token's claims *without verifying them*: it is for
//!   logs and diagnostics, never for access decisions.
//! - `client_secret_basic` sends `base64(client_id ":" client_secret)` without
//!   form-encoding the two first, as Cognito documents (see [`ClientAuth::Basic`]).

mod builder;
mod error;
pub mod http;
mod jitter;
#[cfg(feature = "middleware")]
mod middleware;
mod provider;
mod secret;
mod stats;
mod token;
#[cfg(feature = "opentelemetry")]
mod trace_context;
mod wire;

pub use self::http::HttpClient;
pub use builder::TokenProviderBuilder;
pub use error::{BuildError, HttpError, HttpErrorKind, TokenError};
#[cfg(feature = "middleware")]
pub use middleware::BearerMiddleware;
// The `oauth-proto` types that appear in this crate's public API, so a user never has to
// depend on `oauth-proto` by name and rustdoc links them.
#[cfg(feature = "test-util")]
pub use oauth_proto::time::ManualClock;
pub use oauth_proto::time::{Clock, SystemClock};
pub use oauth_proto::{ClientId, ClientSecret, ErrorCode, InvalidValue, Scope, Scopes};
pub use provider::TokenProvider;
pub use secret::{SecretSource, SecretSourceError};
pub use stats::{Failures, Stats};
pub use token::AccessToken;
pub use wire::ClientAuth;
