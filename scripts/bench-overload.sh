#!/usr/bin/env bash
# Fairness and memory under overload, in one run on loopback with wrk (one thread):
#
# - the token endpoint at 4, 64 and 512 connections, each request signing at once in its
#   own task (--concurrent-signatures 0, the former behaviour) and in turns, in arrival
#   order (the default);
# - the turns at 2,048 connections with admission control (--signing-queue, the default
#   512; --max-connections raised so that the queue, not the connection cap, refuses);
# - user-schedule-service's protected GET at 4, 64 and 512 connections;
# - the memory of 1,000 idle keep-alive connections on each of the three servers;
# - user-schedule-service's heap under steady load on its GET (4 connections, 6 × DURATION,
#   nobody scraping /metrics), after the first DURATION and at the end: it must not grow.
#
# BENCH_SECTIONS picks what runs (default: all of "token schedules idle steady").
#
# Each load level runs against a fresh server process, so its peak RSS (VmHWM) is that
# level's. Reported per row: 2xx answers/s, p50/p99/max latency, the fair-queue bound
# (connections / throughput: the wait of a caller served in turn), non-2xx answers (and
# how many were 429 refusals), socket errors and timeouts, peak RSS, and for the token
# endpoint 2xx per server CPU-second as a share of this machine's one-core RSA-2048
# signing rate (`openssl speed rsa2048`, measured right before that row's run). A
# benchmark, not a test: it asserts nothing and prints figures.
#
#   bash scripts/bench-overload.sh [DURATION_SECONDS=10]
#   S2S_BIN=/path/to/s2s bash scripts/bench-overload.sh ...   (measure another build)
#   BENCH_SECTIONS=steady bash scripts/bench-overload.sh ...   (some of it only)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}

# 2,048 client and 2,048 server sockets in one run, plus idle connections.
ulimit -n "$(ulimit -Hn)"
command -v wrk >/dev/null || { echo "installing wrk (Debian package)"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
bin=${S2S_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -q -p s2s
  bin=target/release/s2s
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # wait_up URL PID
  for _ in $(seq 1 200); do
    curl -fs "$1" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "server exited: $1" >&2; exit 1; }
    sleep 0.05
  done
  echo "server did not start: $1" >&2; exit 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# start_auth NAME FLAGS...: a fresh authorization server, provisioned with a pool, a domain,
# the user-schedule-service resource server and a client-credentials client. Sets
# auth_pid, auth_url, pool, client_id, basic.
start_auth() {
  local name=$1 port; shift
  port=$(free_port)
  auth_url="http://127.0.0.1:$port"
  RUST_LOG=warn "$bin" serve authorization-server --listen "127.0.0.1:$port" \
    --database "sqlite://$work/$name.db" "$@" >"$work/$name.log" 2>&1 &
  auth_pid=$!; pids+=("$auth_pid")
  wait_up "$auth_url/healthz" "$auth_pid"
  admin() {
    curl -fsS "$auth_url/" -H 'Content-Type: application/x-amz-json-1.1' \
      -H "X-Amz-Target: AWSCognitoIdentityProviderService.$1" -d "$2"
  }
  pool=$(admin CreateUserPool '{"PoolName":"bench"}' | json '["UserPool"]["Id"]')
  admin CreateUserPoolDomain "{\"UserPoolId\":\"$pool\",\"Domain\":\"bench-$port\"}" >/dev/null
  admin CreateResourceServer "{\"UserPoolId\":\"$pool\",\"Identifier\":\"user-schedule-service\",\"Name\":\"user-schedule-service\",\"Scopes\":[{\"ScopeName\":\"schedule.read\",\"ScopeDescription\":\"read\"},{\"ScopeName\":\"schedule.update\",\"ScopeDescription\":\"write\"}]}" >/dev/null
  local client
  client=$(admin CreateUserPoolClient "{\"UserPoolId\":\"$pool\",\"ClientName\":\"bench\",\"GenerateSecret\":true,\"AllowedOAuthFlowsUserPoolClient\":true,\"AllowedOAuthFlows\":[\"client_credentials\"],\"AllowedOAuthScopes\":[\"user-schedule-service/schedule.read\",\"user-schedule-service/schedule.update\"]}")
  client_id=$(echo "$client" | json '["UserPoolClient"]["ClientId"]')
  client_secret=$(echo "$client" | json '["UserPoolClient"]["ClientSecret"]')
  basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
  curl -fs "$auth_url/oauth2/token" -H "Authorization: Basic $basic" -d grant_type=client_credentials >/dev/null \
    || { echo "token request failed" >&2; exit 1; }
}

# start_schedules NAME: a fresh user-schedule-service trusting the running authorization
# server, with 10 events for user bench-user. Sets uss_pid, uss_url, bearer.
start_schedules() {
  local name=$1 port
  port=$(free_port)
  uss_url="http://127.0.0.1:$port"
  RUST_LOG=warn "$bin" serve user-schedule-service --listen "127.0.0.1:$port" \
    --database "sqlite://$work/$name.db" --issuer "$auth_url/$pool" --client-id "$client_id" \
    "${@:2}" >"$work/$name.log" 2>&1 &
  uss_pid=$!; pids+=("$uss_pid")
  wait_up "$uss_url/healthz" "$uss_pid"
  bearer=$(curl -fsS "$auth_url/oauth2/token" -H "Authorization: Basic $basic" \
    -d grant_type=client_credentials | json '["access_token"]')
  for i in $(seq 0 9); do
    curl -fsS "$uss_url/users/bench-user/schedule/events" -H "Authorization: Bearer $bearer" \
      -H 'Content-Type: application/json' \
      -d "{\"title\":\"Event number $i\",\"starts_at\":\"2027-01-0$((i % 9 + 1))T10:00:00Z\",\"ends_at\":\"2027-01-0$((i % 9 + 1))T10:30:00Z\"}" >/dev/null
  done
}

cat >"$work/report.lua" <<'LUA'
-- Counts answers by status in each thread; `done` sums them and prints one RESULT line.
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function() statuses = {} end
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end
done = function(summary, latency, requests)
  local by = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do by[status] = (by[status] or 0) + n end
  end
  local ok, refused = 0, 0
  for status, n in pairs(by) do
    if status >= 200 and status < 300 then ok = ok + n end
    if status == 429 or status == 503 then refused = refused + n end
  end
  io.write(string.format("RESULT requests=%d ok=%d refused=%d non2xx=%d connect=%d read=%d write=%d timeout=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, ok, refused, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
LUA
{
  echo 'wrk.method = "POST"'
  echo 'wrk.body = "grant_type=client_credentials&scope=user-schedule-service%2Fschedule.read"'
  echo 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"'
  echo 'wrk.headers["Authorization"] = "Basic " .. os.getenv("BASIC")'
  cat "$work/report.lua"
} >"$work/token.lua"
{
  echo 'wrk.headers["Authorization"] = "Bearer " .. os.getenv("BEARER")'
  cat "$work/report.lua"
} >"$work/get.lua"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rows="$work/rows"
: >"$rows"
# measure LABEL PID CONNECTIONS SCRIPT URL: one wrk run; appends a row.
# The kernel keeps no peak of anonymous memory: a sampler reads RssAnon every 100 ms while
# wrk runs, so that peak RSS (VmHWM, which includes the executable's code pages) can be
# told from the heap's share of it.
measure() {
  local label=$1 pid=$2 conns=$3 script=$4 url=$5 before after result sampler ceiling=0
  # The signing ceiling right before each token run: this VM's speed drifts by several
  # per cent within minutes, which a single reading at the start would count as ours.
  [[ $label == token* ]] && ceiling=$(signing_ceiling)
  before=$(cpu_ticks "$pid")
  echo 0 >"$work/anon"
  ( peak=0; while kill -0 "$pid" 2>/dev/null; do
      anon=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${anon:-0}" -gt "$peak" ] && { peak=$anon; echo "$peak" >"$work/anon.new"; mv "$work/anon.new" "$work/anon"; }
      sleep 0.1
    done ) &
  sampler=$!
  result=$(BASIC=${basic:-} BEARER=${bearer:-} wrk -t1 -c"$conns" -d"${duration}s" -s "$script" "$url" | grep '^RESULT')
  after=$(cpu_ticks "$pid")
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  echo "$label conns=$conns sign=$ceiling cpu_ticks=$((after - before)) hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status") anon_kb=$(cat "$work/anon") ${result#RESULT }" >>"$rows"
  echo "  done: $label, $conns connections" >&2
}

# idle_memory LABEL PID URL PATH: RSS before and with 1,000 idle keep-alive connections,
# each having made one request.
idle_memory() {
  local label=$1 pid=$2 url=$3 path=$4
  python3 - "$pid" "${url#http://}" "$path" "$label" >>"$work/idle" <<'PY'
import socket, sys
pid, hostport, path, label = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
host, port = hostport.rsplit(":", 1)
def rss(field="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field):
            return int(line.split()[1])
before, anon_before = rss(), rss("RssAnon")
socks = []
for _ in range(1000):
    s = socket.create_connection((host, int(port)))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {hostport}\r\n\r\n".encode())
    s.recv(65536)
    socks.append(s)
during, anon_during = rss(), rss("RssAnon")
print(f"{label} idle_before_kb={before} idle_1000_kb={during} anon_before_kb={anon_before} anon_1000_kb={anon_during}")
for s in socks:
    s.close()
PY
}

# steady_memory LABEL PID CONNECTIONS SCRIPT URL: wrk for 6 x DURATION; RssAnon after the
# first DURATION and at the end. Nothing scrapes /metrics meanwhile: what the recorder keeps
# between scrapes must stay bounded (its upkeep).
steady_memory() {
  local label=$1 pid=$2 conns=$3 script=$4 url=$5 wrk_pid early late
  BASIC=${basic:-} BEARER=${bearer:-} wrk -t1 -c"$conns" -d"$((duration * 6))s" -s "$script" "$url" >/dev/null &
  wrk_pid=$!
  sleep "$duration"
  early=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
  wait "$wrk_pid"
  late=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status")
  echo "$label conns=$conns early_s=$duration late_s=$((duration * 6)) early_kb=$early late_kb=$late" >"$work/steady"
  echo "  done: $label, steady load" >&2
}

signing_ceiling() { openssl speed -seconds 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}'; }
sign_per_s=$(signing_ceiling)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

sections=" ${BENCH_SECTIONS:-token schedules idle steady} "
want() { [[ $sections == *" $1 "* ]]; }
: >"$work/idle"
: >"$work/steady"

if want token; then
echo "token endpoint" >&2
for mode in inline turns; do
  flags=()
  [ "$mode" = inline ] && flags=(--concurrent-signatures 0)
  for conns in 4 64 512; do
    start_auth "auth-$mode-$conns" "${flags[@]}"
    measure "token-$mode" "$auth_pid" "$conns" "$work/token.lua" "$auth_url/oauth2/token"
    stop "$auth_pid"
  done
done
start_auth auth-admission --max-connections 4096
measure "token-turns-admission" "$auth_pid" 2048 "$work/token.lua" "$auth_url/oauth2/token"
stop "$auth_pid"
fi

start_auth auth-for-schedules --idle-timeout 60
if want schedules; then
echo "user-schedule-service" >&2
for conns in 4 64 512; do
  start_schedules "schedules-$conns"
  measure "schedules-get" "$uss_pid" "$conns" "$work/get.lua" "$uss_url/users/bench-user/schedule"
  stop "$uss_pid"
done
fi

if want steady; then
  start_schedules schedules-steady
  steady_memory schedules-get "$uss_pid" 4 "$work/get.lua" "$uss_url/users/bench-user/schedule"
  stop "$uss_pid"
fi

if want idle; then
echo "idle connections" >&2
idle_memory authorization-server "$auth_pid" "$auth_url" /healthz
start_schedules schedules-idle --idle-timeout 60
idle_memory user-schedule-service "$uss_pid" "$uss_url" /healthz
port=$(free_port)
RUST_LOG=warn "$bin" serve articles-service --listen "127.0.0.1:$port" --database "sqlite://$work/articles.db" \
  --token-url "$auth_url/oauth2/token" --client-id "$client_id" --client-secret "$client_secret" \
  --schedules-url "$uss_url" --idle-timeout 60 >"$work/articles.log" 2>&1 &
articles_pid=$!; pids+=("$articles_pid")
wait_up "http://127.0.0.1:$port/healthz" "$articles_pid"
idle_memory articles-service "$articles_pid" "http://127.0.0.1:$port" /healthz
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$rows" "$work/idle" "$work/steady" "$(getconf CLK_TCK)" "$sign_per_s" "$duration" "$load_before" "$load_after" <<'PY'
import sys, datetime
rows_path, idle_path, steady_path, hz, sign, duration, load_before, load_after = sys.argv[1:9]
hz, sign = int(hz), float(sign)
print(f"date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}, {duration} s per run, "
      f"load average {load_before} before / {load_after} after, openssl rsa2048 {sign:.0f} sign/s (one core)")
print()
print("| run | conns | 2xx/s | p50 ms | p99 ms | max ms | fair bound ms | p99 / bound | non-2xx (429/503) | sock err / timeouts | peak RSS MiB | peak anon MiB | 2xx per CPU-s | % of signing ceiling |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for line in open(rows_path):
    label, *fields = line.split()
    f = dict(kv.split("=") for kv in fields)
    conns, seconds, ok = int(f["conns"]), float(f["seconds"]), int(f["ok"])
    rate = ok / seconds
    answers = int(f["requests"]) / seconds
    bound = conns / answers * 1000 if answers else float("inf")
    cpu = int(f["cpu_ticks"]) / hz
    per_cpu = ok / cpu if cpu else 0
    socket_errors = int(f["connect"]) + int(f["read"]) + int(f["write"])
    token = label.startswith("token")
    row_sign = float(f.get("sign", 0)) or sign
    ceiling = f"{per_cpu / row_sign * 100:.0f} % (of {row_sign:.0f})" if token else "n/a"
    print(f"| {label} | {conns} | {rate:.0f} | {float(f['p50_ms']):.1f} | {float(f['p99_ms']):.1f} | {float(f['max_ms']):.0f} "
          f"| {bound:.1f} | {float(f['p99_ms']) / bound:.2f} | {f['non2xx']} ({f['refused']}) | {socket_errors} / {f['timeout']} "
          f"| {int(f['hwm_kb']) / 1024:.1f} | {int(f['anon_kb'] or 0) / 1024:.1f} | {per_cpu:.0f} | {ceiling} |")
print()
print("fair bound: connections / answers per second (tokens and refusals), the wait of a caller served in turn; "
      "peak RSS is VmHWM (the executable's code pages included), peak anon the largest RssAnon sampled every 100 ms")
print()
print("| server | RSS (anon), no idle connection | RSS (anon), 1,000 idle keep-alive connections | per idle connection |")
print("| --- | ---: | ---: | ---: |")
for line in open(idle_path):
    label, *fields = line.split()
    f = dict(kv.split("=") for kv in fields)
    before, during = int(f["idle_before_kb"]), int(f["idle_1000_kb"])
    anon_before, anon_during = int(f["anon_before_kb"]), int(f["anon_1000_kb"])
    print(f"| {label} | {before / 1024:.1f} MiB ({anon_before / 1024:.1f}) | {during / 1024:.1f} MiB ({anon_during / 1024:.1f}) "
          f"| {(during - before) / 1000:.1f} KiB |")
print()
for line in open(steady_path):
    label, *fields = line.split()
    f = dict(kv.split("=") for kv in fields)
    early, late = int(f["early_kb"]), int(f["late_kb"])
    print(f"steady load ({label}, {f['conns']} connections, /metrics not scraped): heap (RssAnon) "
          f"{early / 1024:.1f} MiB after {f['early_s']} s, {late / 1024:.1f} MiB after {f['late_s']} s "
          f"({(late - early) / 1024:+.1f} MiB)")
PY
