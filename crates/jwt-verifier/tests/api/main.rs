//! The integration tests of jwt-verifier: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod axum;
mod cache;
mod helpers;
mod issuers;
mod jwks;
mod metrics;
mod verify;
