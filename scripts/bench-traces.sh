#!/usr/bin/env bash
# What tracing costs, in one run on loopback with wrk (one thread, 8 connections): the
# call that crosses all three servers (articles-service GET /articles/{id}/author-schedule:
# a cached token, then user-schedule-service with its token check), against `s2s up`
#
#   before  a build from before tracing existed (S2S_BEFORE, optional);
#   off     this build, no OTLP endpoint: what every user pays;
#   on      this build exporting every span to a local collector that discards them.
#
# Reported per configuration: calls/s, p50/p99, and the CPU of the whole `s2s up` process
# (the three servers and, when on, the exporter's thread) per call, from /proc — a figure
# that holds on a busy machine where calls/s do not. The configurations alternate over
# ROUNDS rounds, so drift on a shared machine hits them alike. A benchmark, not a test.
#
#   bash scripts/bench-traces.sh [DURATION_SECONDS=10] [ROUNDS=3]
#   S2S_BIN=target/release/s2s S2S_BEFORE=/path/to/older/s2s bash scripts/bench-traces.sh
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
rounds=${2:-3}

command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
bin=${S2S_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -q -p s2s
  bin=target/release/s2s
fi
bin=$(realpath "$bin")
before=${S2S_BEFORE:+$(realpath "$S2S_BEFORE")}
# The same malloc setting for every build: newer ones set it themselves (malloc.rs), and
# only tracing should differ between the rows.
export MALLOC_ARENA_MAX=1

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A collector that answers every OTLP/HTTP export with 200 and keeps nothing.
collector_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$collector_port" <<'EOF' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
EOF
pids+=($!)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_hz=$(getconf CLK_TCK)

# run NAME BINARY [FLAGS...]: one `s2s up`, one wrk run; prints a result line.
run() {
  local name=$1 binary=$2; shift 2
  local dir="$work/$name-$RANDOM"
  mkdir -p "$dir"
  (cd "$dir" && RUST_LOG=warn exec "$binary" up --auth-port 0 --articles-port 0 --schedules-port 0 "$@" >summary.txt 2>log.txt) &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 600); do
    grep -q 'AccessToken=' "$dir/summary.txt" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "s2s up exited:" >&2; cat "$dir/log.txt" >&2; exit 1; }
    sleep 0.1
  done
  local articles
  articles=$(awk '$1 == "articles-service" {print $2; exit}' "$dir/summary.txt")
  local id
  id=$(curl -fs -X POST "$articles/articles" -H 'content-type: application/json' \
    -d '{"title":"Bench","body":"b","author_id":"alice","publish_at":"2030-01-07T09:00:00Z"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  local url="$articles/articles/$id/author-schedule"
  curl -fs "$url" >/dev/null
  wrk -t1 -c8 -d2s "$url" >/dev/null # warm-up: connections, caches
  local t0 t1 out
  t0=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c8 -d"${duration}s" --latency "$url")
  t1=$(cpu_ticks "$pid")
  kill -INT "$pid"
  wait "$pid" 2>/dev/null || true
  python3 - "$name" "$out" "$((t1 - t0))" "$tick_hz" <<'EOF'
import re, sys
name, out, ticks, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
requests = int(re.search(r"(\d+) requests in", out).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
def pct(p):
    m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
cpu_us = ticks / hz / requests * 1e6
print(f"{name:7} {rate:9.0f} calls/s  p50 {pct(50):6.2f} ms  p99 {pct(99):6.2f} ms  "
      f"CPU {cpu_us:6.1f} us/call  non-2xx {non2xx.group(1) if non2xx else 0}", flush=True)
EOF
}

echo "# $(date -u +%FT%TZ)  $(nproc) cores  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# wrk -t1 -c8 -d${duration}s GET /articles/{id}/author-schedule, ${rounds} rounds"
for round in $(seq 1 "$rounds"); do
  echo "# round $round"
  [ -n "$before" ] && run before "$before"
  run off "$bin"
  run on "$bin" --otlp-endpoint "http://127.0.0.1:$collector_port"
done
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
