#!/usr/bin/env bash
# Auth overhead and memory of user-schedule-service, in one run on loopback.
#
# Builds the release examples, starts bench_server (one process serving the real router
# and the same router with verification switched off, SQLite, a local TestIssuer), runs
# loadgen against both with alternating rounds, and reports requests/s for both, their
# ratio and the server's peak RSS (VmHWM). Run from anywhere:
#   crates/user-schedule-service/bench.sh [--no-build] [--token-cache N] [loadgen options…]
# e.g. bench.sh --concurrency 32 --requests 20000 --rounds 5
set -euo pipefail
cd "$(dirname "$0")/../.."

build=1
server_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) build=0; shift ;;  # reuse the binaries of a previous run
    --token-cache) server_args=(--token-cache "$2"); shift 2 ;;
    *) break ;;
  esac
done

if [[ $build == 1 ]]; then
  cargo build --release --locked -p user-schedule-service --features bench \
    --example bench_server --example loadgen
fi
bin=target/release/examples

fifo_dir=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null || true; rm -rf "$fifo_dir"' EXIT
mkfifo "$fifo_dir/stdin"
"$bin/bench_server" "${server_args[@]}" <"$fifo_dir/stdin" >"$fifo_dir/out" &
server=$!
exec 3>"$fifo_dir/stdin" # keeps the server's stdin open until we close it

line=""
for _ in $(seq 1 100); do
  line=$(grep -m1 '^READY' "$fifo_dir/out" || true)
  [[ -n "$line" ]] && break
  if ! kill -0 "$server" 2>/dev/null; then echo "bench_server exited" >&2; exit 1; fi
  sleep 0.1
done
[[ -n "$line" ]] || { echo "bench_server did not start" >&2; exit 1; }
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$line"; }

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  cpus: $(nproc)  server args: ${server_args[*]:-(none)}"
echo "one token verification, in isolation: $(field verify_us) us"
echo "idle RSS: $(grep VmRSS /proc/$server/status | awk '{print $2, $3}')"
"$bin/loadgen" --auth "$(field auth)" --noauth "$(field noauth)" --token "$(field token)" \
  --server-pid "$server" "$@"
echo "peak RSS (VmHWM) of the server: $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"

exec 3>&-  # EOF on the server's stdin: graceful shutdown
wait "$server"
