//! Whole flows across crates, over real loopback HTTP (test-only).
//!
//! The library is empty on purpose: the scenarios live in `tests/flow.rs`, one test
//! binary, with the servers wired in `tests/helpers`.
