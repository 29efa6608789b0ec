//! Whole flows across crates, over real loopback HTTP (test-only).
