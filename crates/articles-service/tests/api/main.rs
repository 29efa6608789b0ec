//! articles-service against a real user-schedule-service and a real authorization-server,
//! all in this process over loopback HTTP. One test binary (see HOUSE-STYLE §2.6).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod db_loss;
mod failures;
mod helpers;
mod publication;
mod write_auth;
