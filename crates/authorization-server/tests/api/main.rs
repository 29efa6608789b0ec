//! Integration tests of the authorization server: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_sdk;
mod attacks;
mod audit;
mod bad_input;
mod client_secrets;
mod console;
mod db_loss;
mod helpers;
mod newer_operations;
mod pretoken;
mod rate_limit;
mod restart;
mod round_trip;
mod sigv4;
mod store;
mod terraform;
mod token;
