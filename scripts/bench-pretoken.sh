#!/usr/bin/env bash
# The token endpoint with a pre token generation function (V3_0) against the same endpoint
# without one, in one run on loopback with wrk (one thread). One authorization server holds
# two pools: one whose trigger names the repository's example hook
# (crates/authorization-server/examples/pretoken_hook.rs, a separate process on loopback,
# reached over HTTP as `--lambda ARN=URL` says), and one without a trigger. The two are
# loaded in turn, ROUNDS times each, alternating, so that both see the same machine.
#
# CPU time comes from /proc/<pid>/stat (utime + stime) before and after each phase, for
# the server and for the hook apart: on a shared, noisy machine CPU-seconds per token hold
# up where wall-clock throughput does not. Reported per kind: tokens, tokens/s, tokens per
# server CPU-second, the hook's CPU per token, tokens per CPU-second of server and hook
# together, p50/p99 latency; then the ratios hook ÷ no hook. A benchmark, not a test: it
# asserts nothing and prints figures.
#
#   bash scripts/bench-pretoken.sh [DURATION_SECONDS=5] [CONNECTIONS=4] [ROUNDS=2]
#   S2S_BIN=/path/to/s2s HOOK_BIN=/path/to/pretoken_hook bash scripts/bench-pretoken.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5}
connections=${2:-4}
rounds=${3:-2}

command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
bin=${S2S_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -q -p s2s
  bin=target/release/s2s
fi
hook_bin=${HOOK_BIN:-}
if [ -z "$hook_bin" ]; then
  cargo build --release --locked -q -p authorization-server --example pretoken_hook
  hook_bin=target/release/examples/pretoken_hook
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # wait_up URL PID [METHOD]
  for _ in $(seq 1 200); do
    curl -fs -X "${3:-GET}" "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "exited: $1" >&2; exit 1; }
    sleep 0.05
  done
  echo "did not start: $1" >&2; exit 1
}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

arn="arn:aws:lambda:us-east-1:000000000000:function:pretoken"
hook_port=$(free_port)
"$hook_bin" "127.0.0.1:$hook_port" >"$work/hook.log" 2>&1 &
hook=$!
pids+=("$hook")
# The hook answers POSTs only; an empty POST is refused (4xx), which is enough to know it
# listens.
for _ in $(seq 1 200); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$hook_port/" || true)
  [ "$code" != "000" ] && break
  kill -0 "$hook" 2>/dev/null || { echo "the hook exited" >&2; exit 1; }
  sleep 0.05
done

port=$(free_port)
url="http://127.0.0.1:$port"
RUST_LOG=warn "$bin" serve authorization-server --listen "127.0.0.1:$port" \
  --database "sqlite://$work/auth.db" --lambda "$arn=http://127.0.0.1:$hook_port/" \
  >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
wait_up "$url/healthz" "$server"

admin() { # admin OPERATION JSON -> response JSON (unsigned calls are accepted on loopback)
  curl -fsS "$url/" -H 'Content-Type: application/x-amz-json-1.1' \
    -H "X-Amz-Target: AWSCognitoIdentityProviderService.$1" -d "$2"
}
# pool_client NAME LAMBDA_CONFIG_JSON -> "Basic ..." of a client-credentials client in a new
# pool with a domain and the user-schedule-service resource server.
pool_client() {
  local pool client
  pool=$(admin CreateUserPool "{\"PoolName\":\"$1\",\"LambdaConfig\":$2}" | json '["UserPool"]["Id"]')
  admin CreateUserPoolDomain "{\"UserPoolId\":\"$pool\",\"Domain\":\"$1-$port\"}" >/dev/null
  admin CreateResourceServer "{\"UserPoolId\":\"$pool\",\"Identifier\":\"user-schedule-service\",\"Name\":\"user-schedule-service\",\"Scopes\":[{\"ScopeName\":\"schedule.read\",\"ScopeDescription\":\"read\"}]}" >/dev/null
  client=$(admin CreateUserPoolClient "{\"UserPoolId\":\"$pool\",\"ClientName\":\"bench\",\"GenerateSecret\":true,\"AllowedOAuthFlowsUserPoolClient\":true,\"AllowedOAuthFlows\":[\"client_credentials\"],\"AllowedOAuthScopes\":[\"user-schedule-service/schedule.read\"]}")
  printf 'Basic %s' "$(printf '%s:%s' "$(echo "$client" | json '["UserPoolClient"]["ClientId"]')" \
    "$(echo "$client" | json '["UserPoolClient"]["ClientSecret"]')" | base64 -w0)"
}
plain_auth=$(pool_client plain '{}')
hook_auth=$(pool_client hooked "{\"PreTokenGenerationConfig\":{\"LambdaVersion\":\"V3_0\",\"LambdaArn\":\"$arn\"}}")

# claims AUTH -> the claims of one token (checks that the hook runs for one pool only).
claims() {
  curl -fsS "$url/oauth2/token" -H "Authorization: $1" -d grant_type=client_credentials \
    | json '["access_token"]' | cut -d. -f2 \
    | python3 -c 'import base64,json,sys; s=sys.stdin.read().strip(); print(json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))))'
}
claims "$hook_auth" | grep -q "'tenant': 'acme'" || { echo "the hook's claim is missing" >&2; exit 1; }
! claims "$plain_auth" | grep -q tenant || { echo "the plain pool has the hook's claim" >&2; exit 1; }

# phase KIND AUTH: one wrk run; appends "KIND requests non2xx errors seconds p50 p99
# server_ticks hook_ticks" to $work/rows.
phase() {
  cat >"$work/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=user-schedule-service%2Fschedule.read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "$2"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.3f %.3f %.3f\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
LUA
  local s0 h0 s1 h1 result
  s0=$(cpu_ticks "$server"); h0=$(cpu_ticks "$hook")
  result=$(wrk -t1 -c"$connections" -d"${duration}s" -s "$work/token.lua" "$url/oauth2/token" | grep '^RESULT')
  s1=$(cpu_ticks "$server"); h1=$(cpu_ticks "$hook")
  echo "$1 ${result#RESULT } $((s1 - s0)) $((h1 - h0))" >>"$work/rows"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq 1 "$rounds"); do
  phase plain "$plain_auth"
  phase hook "$hook_auth"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$work/rows" "$(getconf CLK_TCK)" "$connections" "$load_before" "$load_after" <<'PY'
import sys
rows_path, hz, conns, load_before, load_after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
totals = {}
for line in open(rows_path):
    kind, req, non2xx, errs, secs, p50, p99, sticks, hticks = line.split()
    t = totals.setdefault(kind, {"ok": 0, "bad": 0, "errs": 0, "secs": 0.0, "s": 0, "h": 0, "p50": [], "p99": []})
    t["ok"] += int(req) - int(non2xx); t["bad"] += int(non2xx); t["errs"] += int(errs)
    t["secs"] += float(secs); t["s"] += int(sticks); t["h"] += int(hticks)
    t["p50"].append(float(p50)); t["p99"].append(float(p99))
print(f"connections {conns}, load average {load_before} before / {load_after} after")
print(f"{'':28} {'no hook':>12} {'hook':>12}")
def row(name, f):
    print(f"{name:28} {f(totals['plain']):>12} {f(totals['hook']):>12}")
row("tokens issued", lambda t: f"{t['ok']}")
row("non-2xx / socket errors", lambda t: f"{t['bad']} / {t['errs']}")
row("tokens/s", lambda t: f"{t['ok'] / t['secs']:.0f}")
row("server CPU-seconds", lambda t: f"{t['s'] / hz:.2f}")
row("hook CPU-seconds", lambda t: f"{t['h'] / hz:.2f}")
row("tokens per server CPU-s", lambda t: f"{t['ok'] / (t['s'] / hz):.0f}")
row("server CPU µs per token", lambda t: f"{t['s'] / hz / t['ok'] * 1e6:.0f}")
row("hook CPU µs per token", lambda t: f"{t['h'] / hz / t['ok'] * 1e6:.0f}")
row("tokens per (server+hook) CPU-s", lambda t: f"{t['ok'] / ((t['s'] + t['h']) / hz):.0f}")
row("latency p50 (ms, per run)", lambda t: "/".join(f"{x:.2f}" for x in t["p50"]))
row("latency p99 (ms, per run)", lambda t: "/".join(f"{x:.2f}" for x in t["p99"]))
plain, hook = totals["plain"], totals["hook"]
per_cpu = lambda t, h: t["ok"] / ((t["s"] + (t["h"] if h else 0)) / hz)
print(f"ratio, tokens per server CPU-s, hook / no hook:          {per_cpu(hook, False) / per_cpu(plain, False) * 100:.0f}%")
print(f"ratio, tokens per (server+hook) CPU-s, hook / no hook:   {per_cpu(hook, True) / per_cpu(plain, False) * 100:.0f}%")
PY
