//! Integration tests of token-provider: one binary, one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorization_server;
mod cache;
mod failures;
mod helpers;
mod metrics;
#[cfg(feature = "middleware")]
mod middleware;
mod rotation;
mod secrecy;
mod wire;
