#!/usr/bin/env bash
# The published libraries as a user gets them: `cargo package` for each (the .crate files
# crates.io would receive), then scripts/library-quickstart built from a directory outside
# the workspace, depending on the crates by path with only their documented features and
# without naming `oauth-proto`. Run from anywhere: bash scripts/check-libraries.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# --no-verify: verifying rebuilds every dependency in a fresh target dir (minutes) and
# needs the unpublished `oauth-proto` on crates.io; the quickstart below compiles them.
cargo package --locked --no-verify --allow-dirty -p oauth-proto -p jwt-verifier -p token-provider

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r scripts/library-quickstart/src "$work/src"
cat >"$work/Cargo.toml" <<TOML
[package]
name = "library-quickstart"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
jwt-verifier = { path = "$root/crates/jwt-verifier", features = ["axum"] }
token-provider = { path = "$root/crates/token-provider", features = ["middleware"] }
axum = "0.8"
reqwest = { version = "0.13", default-features = false, features = ["rustls"] }
reqwest-middleware = "0.5"
tokio = { version = "1", features = ["macros", "rt", "net"] }
TOML
# The workspace's lock file pins the same versions CI tested (and works offline).
cp Cargo.lock "$work/Cargo.lock"
# Share the workspace's target dir so the dependencies compile once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$work" && cargo build --quiet)
echo "check-libraries: packaged 3 crates; the quickstart builds outside the workspace"
