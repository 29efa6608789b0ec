//! The one integration test binary of user-schedule-service.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    unreachable_pub
)]

mod helpers;

mod admission;
mod auth;
mod crud;
mod db_loss;
mod ops;
mod store;
