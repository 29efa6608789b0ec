#!/usr/bin/env bash
# Measures jwt-verifier against this machine's OpenSSL RSA-2048 verify ceiling, in one
# run: build the benchmark, `openssl speed` (single core), `cargo bench -p jwt-verifier`,
# `openssl speed` again, then the ratios.
# Targets (issue 3): verify() >= 65% of OpenSSL verify/s; a token-cache hit < 2 us.
# Usage: crates/jwt-verifier/bench.sh   (from anywhere inside the repository)
set -euo pipefail

root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host:    $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "openssl: $(openssl version)"
echo "rustc:   $(rustc --version)"
echo

echo "== building the benchmark"
cargo bench -p jwt-verifier --features test-util --bench verify --no-run 2>&1 | tail -1
echo

# The machine may be shared: OpenSSL is measured before and after the Rust benchmark and
# the mean of the two is the reference, so both sides see similar load.
openssl_speed() {
    echo "== openssl speed -seconds 3 rsa2048 ($1)" >&2
    local out
    out="$(openssl speed -seconds 3 rsa2048 2>/dev/null)"
    echo "$out" | tail -2 >&2
    # The line reads: rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>
    echo "$out" | awk '/^rsa 2048 bits/ {print $NF}'
}
openssl_before="$(openssl_speed before)"
echo

echo "== cargo bench -p jwt-verifier --bench verify"
cargo bench -p jwt-verifier --features test-util --bench verify -- --noplot 2>&1 |
    grep -E '^(verify/|Benchmarking|\s+time:)' | grep -v '^Benchmarking' || true
echo

openssl_after="$(openssl_speed after)"
echo

estimate_ns() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mean"]["point_estimate"])' \
        "$target_dir/criterion/verify/$1/new/estimates.json"
}
warm_ns="$(estimate_ns warm_jwks)"
cache_ns="$(estimate_ns token_cache_hit)"
raw_ns="$(estimate_ns aws_lc_rs_rsa2048_only)"

python3 - "$openssl_before" "$openssl_after" "$warm_ns" "$cache_ns" "$raw_ns" <<'PY'
import sys
before, after, warm, cache, raw = (float(x) for x in sys.argv[1:])
openssl = (before + after) / 2
ours = 1e9 / warm
ratio = ours / openssl
print("== summary")
print(f"openssl rsa2048 verify:        {openssl:10.0f} /s  ({1e6/openssl:.2f} us; before {before:.0f}, after {after:.0f})")
print(f"aws-lc-rs RSA-2048 verify only: {1e9/raw:10.0f} /s  ({raw/1000:.2f} us)")
print(f"jwt-verifier verify(), warm:    {ours:10.0f} /s  ({warm/1000:.2f} us)")
print(f"ratio verify() / openssl:       {ratio:10.1%}  (target >= 65%: {'met' if ratio >= 0.65 else 'NOT met'})")
print(f"ratio verify() / aws-lc-rs only: {raw / warm:10.1%}  (the JWT work on top of the RSA operation)")
print(f"token-cache hit:                {cache:10.0f} ns  (target < 2000 ns: {'met' if cache < 2000 else 'NOT met'})")
PY
