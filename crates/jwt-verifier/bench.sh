#!/usr/bin/env bash
# Measures jwt-verifier against this machine's OpenSSL RSA-2048 verify ceiling, in one
# run: `openssl speed` (single core), then `cargo bench -p jwt-verifier`, then the ratio.
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

echo "== openssl speed -seconds 3 rsa2048"
speed="$(openssl speed -seconds 3 rsa2048 2>/dev/null)"
echo "$speed" | tail -2
# The line reads: rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>
openssl_verify_per_s="$(echo "$speed" | awk '/^rsa 2048 bits/ {print $NF}')"
echo

echo "== cargo bench -p jwt-verifier --bench verify"
cargo bench -p jwt-verifier --features test-util --bench verify -- --noplot 2>&1 |
    grep -E '^(verify/|Benchmarking|\s+time:)' | grep -v '^Benchmarking' || true
echo

estimate_ns() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mean"]["point_estimate"])' \
        "$target_dir/criterion/verify/$1/new/estimates.json"
}
warm_ns="$(estimate_ns warm_jwks)"
cache_ns="$(estimate_ns token_cache_hit)"
raw_ns="$(estimate_ns aws_lc_rs_rsa2048_only)"

python3 - "$openssl_verify_per_s" "$warm_ns" "$cache_ns" "$raw_ns" <<'PY'
import sys
openssl, warm, cache, raw = (float(x) for x in sys.argv[1:])
ours = 1e9 / warm
ratio = ours / openssl
print("== summary")
print(f"openssl rsa2048 verify:        {openssl:10.0f} /s  ({1e6/openssl:.2f} us)")
print(f"aws-lc-rs RSA-2048 verify only: {1e9/raw:10.0f} /s  ({raw/1000:.2f} us)")
print(f"jwt-verifier verify(), warm:    {ours:10.0f} /s  ({warm/1000:.2f} us)")
print(f"ratio verify() / openssl:       {ratio:10.1%}  (target >= 65%: {'met' if ratio >= 0.65 else 'NOT met'})")
print(f"token-cache hit:                {cache:10.0f} ns  (target < 2000 ns: {'met' if cache < 2000 else 'NOT met'})")
PY
