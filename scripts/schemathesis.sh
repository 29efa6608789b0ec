#!/usr/bin/env bash
# The OpenAPI documents are the services' exact contracts: schemathesis (property-based
# testing from an OpenAPI document, from PyPI) runs all its phases against both services
# of a local `s2s up` and fails on any finding.
#
#   bash scripts/schemathesis.sh            # from anywhere in the repository
#
# Environment: S2S_SCHEMATHESIS_EXAMPLES (examples per operation and phase, default 100),
# S2S_SCHEMATHESIS_SEED (default 20261207), S2S_SCHEMATHESIS_VENV (where schemathesis is
# installed; default ~/.cache/s2s-schemathesis/<version>). A run's reports (JUnit, and a
# log of `s2s up`) are left in the directory printed at the end when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

SCHEMATHESIS_VERSION=4.32.5
examples="${S2S_SCHEMATHESIS_EXAMPLES:-100}"
seed="${S2S_SCHEMATHESIS_SEED:-20261207}"
venv="${S2S_SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/s2s-schemathesis/$SCHEMATHESIS_VERSION}"
python="$(command -v python3.11 || command -v python3)"
start=$SECONDS

# 1. schemathesis, pinned, in a virtual environment of its own.
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi

# 2. The binary (debug: the contract does not depend on optimisation).
cargo build -p s2s --locked --quiet
s2s="${CARGO_TARGET_DIR:-target}/debug/s2s"

# 3. The whole flow on free loopback ports, in a temporary data directory, with a stack
#    that grants both scopes (scripts/schemathesis-stack.toml).
work="$(mktemp -d)"
up_pid=""
cleanup() {
  status=$?
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  if [ "$status" -eq 0 ]; then
    rm -rf "$work"
  else
    echo "schemathesis.sh failed; reports and the s2s log are in $work" >&2
  fi
}
trap cleanup EXIT

"$s2s" up --stack scripts/schemathesis-stack.toml --data-dir "$work/data" \
  --auth-port 0 --schedules-port 0 --articles-port 0 >"$work/up.log" 2>&1 &
up_pid=$!
# `s2s up` prints its summary once all three servers are ready.
for _ in $(seq 1 600); do
  grep -q '^s2s is up' "$work/up.log" && break
  kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.log" >&2; echo "s2s up stopped" >&2; exit 1; }
  sleep 0.1
done
grep -q '^s2s is up' "$work/up.log" || { cat "$work/up.log" >&2; echo "s2s up did not start" >&2; exit 1; }
url_of() { sed -n "s|^  $1 *\(http://[0-9.:]*\).*|\1|p" "$work/up.log"; }
schedules="$(url_of user-schedule-service)"
articles="$(url_of articles-service)"
json_field() { "$python" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
token_url="$(json_field token_url <"$work/data/outputs.json")"
client_id="$(json_field client_id <"$work/data/outputs.json")"
token="$("$s2s" token --token-url "$token_url" --client-id "$client_id" \
  --client-secret-file "$work/data/client-secret" | json_field access_token)"
echo "s2s up: user-schedule-service $schedules, articles-service $articles ($((SECONDS - start))s)"

# 4. Every phase (examples, coverage, fuzzing, stateful through the documents' links),
#    every check, a fixed seed. The hooks file drops only the refusals of rules JSON Schema
#    cannot state (see it); the summary counts them.
run() { # name url [schemathesis options…]
  local name="$1" url="$2"
  shift 2
  echo
  echo "== schemathesis: $name ($url/openapi.json)"
  # From the temporary directory: schemathesis keeps state in ./.schemathesis.
  (cd "$work" && SCHEMATHESIS_HOOKS="$repo/scripts/schemathesis_hooks.py" \
    "$venv/bin/schemathesis" --no-color run \
    "$url/openapi.json" \
    --phases examples,coverage,fuzzing,stateful \
    --checks all \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 1 \
    --generation-database none \
    --request-timeout 10 \
    --suppress-health-check too_slow,filter_too_much \
    --report junit --report-junit-path "$work/$name.junit.xml" \
    "$@")
}
status=0
# The token is a bearer token of user-schedule-service's own issuer, granted both scopes.
run user-schedule-service "$schedules" -H "Authorization: Bearer $token" || status=1
# articles-service's writes need no token on loopback.
run articles-service "$articles" || status=1
echo
echo "schemathesis.sh: $([ "$status" -eq 0 ] && echo "no failures" || echo FAILED) ($((SECONDS - start))s)"
exit "$status"
