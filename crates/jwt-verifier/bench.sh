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
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cpus)"
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

estimates() {
    # "<mean ns> <median ns>" of one benchmark.
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(e["mean"]["point_estimate"], e["median"]["point_estimate"])' \
        "$target_dir/criterion/verify/$1/new/estimates.json"
}

python3 - "$openssl_before" "$openssl_after" $(estimates warm_jwks) $(estimates token_cache_hit) \
    $(estimates aws_lc_rs_rsa2048_only) <<'PY'
import sys
before, after, warm, warm_med, cache, cache_med, raw, raw_med = (float(x) for x in sys.argv[1:])
openssl = (before + after) / 2
print("== summary (criterion mean; median in brackets)")
print(f"openssl rsa2048 verify:          {openssl:8.0f} /s  ({1e6/openssl:.2f} us; before {before:.0f}/s, after {after:.0f}/s)")
print(f"aws-lc-rs RSA-2048 verify only:  {1e9/raw:8.0f} /s  ({raw/1000:.2f} us) [{1e9/raw_med:.0f} /s]")
print(f"jwt-verifier verify(), warm:     {1e9/warm:8.0f} /s  ({warm/1000:.2f} us) [{1e9/warm_med:.0f} /s]")
ratio, ratio_med = 1e9 / warm / openssl, 1e9 / warm_med / openssl
verdict = "met" if ratio >= 0.65 else "NOT met"
print(f"ratio verify() / openssl:        {ratio:8.1%}  [{ratio_med:.1%}]  (target >= 65%: {verdict})")
print(f"ratio verify() / aws-lc-rs only: {raw / warm:8.1%}  [{raw_med / warm_med:.1%}]  (JWT work on top of the RSA operation)")
verdict = "met" if cache < 2000 else "NOT met"
print(f"token-cache hit:                 {cache:8.0f} ns  [{cache_med:.0f} ns]  (target < 2000 ns: {verdict})")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
