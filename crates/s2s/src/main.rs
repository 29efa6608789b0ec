//! The `s2s` binary.

fn main() {}
