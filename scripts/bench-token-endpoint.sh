#!/usr/bin/env bash
# Load the token endpoint of the local authorization server on loopback and report
# tokens/s, tokens per server CPU-second, p50/p99 latency and the server's peak RSS, next to
# this machine's single-core RSA-2048 signing ceiling (`openssl speed rsa2048`) measured in
# the same run. A benchmark, not a test: it asserts nothing and prints figures.
#
#   bash scripts/bench-token-endpoint.sh [DURATION_SECONDS=10] [CONNECTIONS=4]
#   S2S_BIN=/path/to/s2s bash scripts/bench-token-endpoint.sh ...   (measure another build)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-4}

command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
# S2S_BIN: an s2s binary to measure instead of this checkout's release build (to compare
# two builds in one sitting).
bin=${S2S_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -q -p s2s
  bin=target/release/s2s
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
RUST_LOG=warn "$bin" serve authorization-server --listen "127.0.0.1:$port" --database "sqlite://$work/auth.db" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fs "$url/healthz" >/dev/null && break; sleep 0.1; done

admin() { # admin OPERATION JSON -> response JSON (the local server accepts unsigned calls on loopback)
  curl -fsS "$url/" -H 'Content-Type: application/x-amz-json-1.1' \
    -H "X-Amz-Target: AWSCognitoIdentityProviderService.$1" -d "$2"
}
pool=$(admin CreateUserPool '{"PoolName":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["UserPool"]["Id"])')
admin CreateUserPoolDomain "{\"UserPoolId\":\"$pool\",\"Domain\":\"bench-$port\"}" >/dev/null
admin CreateResourceServer "{\"UserPoolId\":\"$pool\",\"Identifier\":\"user-schedule-service\",\"Name\":\"user-schedule-service\",\"Scopes\":[{\"ScopeName\":\"schedule.read\",\"ScopeDescription\":\"read\"}]}" >/dev/null
client=$(admin CreateUserPoolClient "{\"UserPoolId\":\"$pool\",\"ClientName\":\"bench\",\"GenerateSecret\":true,\"AllowedOAuthFlowsUserPoolClient\":true,\"AllowedOAuthFlows\":[\"client_credentials\"],\"AllowedOAuthScopes\":[\"user-schedule-service/schedule.read\"]}")
client_id=$(echo "$client" | python3 -c 'import json,sys; print(json.load(sys.stdin)["UserPoolClient"]["ClientId"])')
secret=$(echo "$client" | python3 -c 'import json,sys; print(json.load(sys.stdin)["UserPoolClient"]["ClientSecret"])')
basic=$(printf '%s:%s' "$client_id" "$secret" | base64 -w0)
curl -fs "$url/oauth2/token" -H "Authorization: Basic $basic" -d grant_type=client_credentials >/dev/null \
  || { echo "token request failed"; exit 1; }

cat >"$work/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=user-schedule-service%2Fschedule.read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
LUA

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz=$(getconf CLK_TCK)
before=$(cpu_ticks)
result=$(wrk -t1 -c"$connections" -d"${duration}s" -s "$work/token.lua" "$url/oauth2/token" | grep '^RESULT')
after=$(cpu_ticks)
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
sign_per_s=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')

python3 - "$result" "$before" "$after" "$hz" "$rss_kb" "$sign_per_s" "$connections" <<'PY'
import sys
fields = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
before, after, hz, rss_kb, sign, conns = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
requests, seconds = int(fields["requests"]), float(fields["seconds"])
cpu = (after - before) / hz
ok = requests - int(fields["non2xx"])
print(f"connections            {conns}")
print(f"tokens issued          {ok} in {seconds:.1f} s ({int(fields['non2xx'])} non-2xx, {fields['errors']} socket errors)")
print(f"tokens/s               {ok / seconds:.0f}")
print(f"server CPU-seconds     {cpu:.2f}")
print(f"tokens per CPU-second  {ok / cpu:.0f}" if cpu > 0 else "tokens per CPU-second  n/a")
print(f"openssl rsa2048 sign/s {sign:.0f} (one core)")
if cpu > 0:
    print(f"ratio                  {ok / cpu / sign * 100:.0f}% of the signing ceiling (target >= 80%)")
print(f"latency p50 / p99      {float(fields['p50_ms']):.2f} ms / {float(fields['p99_ms']):.2f} ms")
print(f"server peak RSS        {rss_kb / 1024:.1f} MiB (target <= 30 MB)")
PY
