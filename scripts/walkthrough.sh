#!/usr/bin/env bash
# Runs the README's walkthrough from its first step to its last, in a scratch copy of this
# repository's stack and examples, and prints every command with what it printed: the
# material to re-capture the README from one real run (one pool id, one timeline). It uses
# the default ports (9229, 8082, 8081), so nothing else may hold them.
#
#   cargo build --release -p s2s --locked && bash scripts/walkthrough.sh > /tmp/walkthrough.txt
#
# S2S names another binary. The scratch directory is removed at the end (KEEP=1 keeps it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
s2s="$(realpath "${S2S:-$root/target/release/s2s}")"
[ -x "$s2s" ] || { echo "no s2s binary at $s2s: cargo build --release -p s2s --locked" >&2; exit 1; }
for port in 9229 8082 8081; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken: the walkthrough needs the default ports" >&2
    exit 1
  fi
done

work="$(mktemp -d)"
up_pid=
cleanup() {
  [ -n "$up_pid" ] && kill -INT "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
cp "$root/stack.toml" "$work/"
cp -r "$root/examples" "$work/"
mkdir -p "$work/target/release"
ln -s "$s2s" "$work/target/release/s2s"
cd "$work"

# `$ command` then its output (stdout and stderr, as a terminal shows them) and, when it
# fails, its exit code.
run() {
  printf '$ %s\n' "$1"
  local code=0
  bash -c "$1" 2>&1 || code=$?
  [ "$code" = 0 ] || printf '(exit code %s)\n' "$code"
  echo
}
section() { printf '\n===== %s\n\n' "$*"; }

# Starts `s2s up` in the background and waits until it has written its outputs (it writes
# them once all three servers answer).
start_up() {
  rm -f up.out
  ./target/release/s2s up >up.out 2>up.err &
  up_pid=$!
  for _ in $(seq 1 600); do
    grep -q 'Ctrl-C stops' up.out 2>/dev/null && break
    kill -0 "$up_pid" 2>/dev/null || { cat up.out up.err >&2; echo "s2s up exited" >&2; exit 1; }
    sleep 0.1
  done
  printf '$ cargo run --release -p s2s -- up\n'
  cat up.out
}
stop_up() {
  kill -INT "$up_pid"
  wait "$up_pid" || true
  up_pid=
  printf '^C\n'
  sed -n '/Ctrl-C stops/,$p' up.out | tail -n +2 | grep -v '^$' | tail -n 3 || true
}

section "1. s2s up"
start_up
section "outputs.json"
cat .s2s/outputs.json; echo
run 'ls -l .s2s/client-secret | cut -c1-10'
run 'curl -s http://127.0.0.1:9229/'

section "provision again"
run './target/release/s2s provision --stack stack.toml --endpoint-url http://127.0.0.1:9229'
run './target/release/s2s provision --stack examples/stack-typo.toml --endpoint-url http://127.0.0.1:9229'
run './target/release/s2s provision --stack examples/stack-bad-scope.toml --endpoint-url http://127.0.0.1:9229'

CLIENT_ID="$(sed -n 's/.*"client_id": "\(.*\)".*/\1/p' .s2s/outputs.json)"
POOL_ID="$(sed -n 's/.*"user_pool_id": "\(.*\)".*/\1/p' .s2s/outputs.json)"
ISSUER="http://127.0.0.1:9229/$POOL_ID"
export CLIENT_ID POOL_ID ISSUER

section "2. testing the configuration"
run "curl -s -X POST http://127.0.0.1:9229/oauth2/token -H 'Content-Type: application/x-www-form-urlencoded' -u \"\$CLIENT_ID:\$(cat .s2s/client-secret)\" -d 'grant_type=client_credentials&scope=user-schedule-service%2Fschedule.read'"
run './target/release/s2s token --token-url http://127.0.0.1:9229/oauth2/token --client-id $CLIENT_ID --client-secret-file .s2s/client-secret --decode'
run './target/release/s2s token --token-url http://127.0.0.1:9229/oauth2/token --client-id $CLIENT_ID --client-secret-file .s2s/client-secret --scope user-schedule-service/schedule.update'
TOKEN="$(./target/release/s2s token --token-url http://127.0.0.1:9229/oauth2/token \
  --client-id "$CLIENT_ID" --client-secret-file .s2s/client-secret \
  | sed -n 's/.*"access_token": "\(.*\)".*/\1/p')"
export TOKEN
run './target/release/s2s inspect "$TOKEN" --issuer $ISSUER'
run 'SIG=${TOKEN##*.}; C=${SIG:100:1}; [ "$C" = A ] && C=B || C=A; ./target/release/s2s inspect "${TOKEN%.*}.${SIG:0:100}$C${SIG:101}" --issuer $ISSUER'
run './target/release/s2s inspect "$TOKEN" --issuer http://127.0.0.1:9229/us-east-1_Nobody'

section "5. testing the flow"
ARTICLE="$(curl -s -X POST http://127.0.0.1:8081/articles -H 'Content-Type: application/json' \
  -d '{"title":"Tokens without users","body":"Client credentials in practice.","author_id":"alice","publish_at":"2030-01-07T09:00:00Z"}' \
  | sed 's/.*"id":"\([^"]*\)".*/\1/')"
export ARTICLE
echo "ARTICLE=$ARTICLE"
run 'curl -s -i http://127.0.0.1:8081/articles/$ARTICLE/author-schedule'
run 'curl -s -i -X POST http://127.0.0.1:8081/articles/$ARTICLE/publication'

section "grant: edit stack.toml, restart s2s up"
sed -i 's|^allowed_oauth_scopes = \["user-schedule-service/schedule.read"\]|allowed_oauth_scopes = ["user-schedule-service/schedule.read", "user-schedule-service/schedule.update"]|' stack.toml
grep -q 'schedule.update"]$' stack.toml || { echo "the grant edit did not apply to stack.toml" >&2; exit 1; }
stop_up
start_up
run 'curl -s -i -X POST http://127.0.0.1:8081/articles/$ARTICLE/publication'
run 'curl -s http://127.0.0.1:8081/articles/$ARTICLE/author-schedule'
run './target/release/s2s inspect "$TOKEN" --issuer $ISSUER | tail -n 2'

section "rotating the signing key"
run './target/release/s2s keys rotate --pool-id $POOL_ID'
run './target/release/s2s keys list --pool-id $POOL_ID'

section "rotating the client secret"
run './target/release/s2s secrets list --endpoint-url http://127.0.0.1:9229 --pool-id $POOL_ID --client-id $CLIENT_ID'
run './target/release/s2s secrets rotate --endpoint-url http://127.0.0.1:9229 --pool-id $POOL_ID --client-id $CLIENT_ID --secret-file .s2s/client-secret'
run 'curl -s -o /dev/null -w "%{http_code}\n" http://127.0.0.1:8081/articles/$ARTICLE/author-schedule'

section "stop"
stop_up
