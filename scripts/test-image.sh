#!/usr/bin/env bash
# The image as another project's CI uses it: build it (scripts/build-image.sh), run it on a
# port published on the host's loopback with admin credentials and the reference stack
# mounted (provisioned at start, outputs written to its volume), then from the host:
# check that the AWS SDK (`s2s provision`) finds the stack in place with the admin
# credentials and is refused without them, get a token and verify it with `s2s inspect`.
# Also: the image's size (under 30 MB), its non-root user, its refusal to serve an
# unsigned admin API, and a clean stop on SIGTERM. The containers and the volume are
# removed even on failure.
#
# Run from anywhere, as root on CI (podman and runc are installed when missing):
#   bash scripts/test-image.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "podman and runc are needed: apt-get install podman runc" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc >/dev/null
fi
# shellcheck source=scripts/podman.sh
. scripts/podman.sh

# The issue's budget: under 30 MB (the size measured is in the README).
max_size="${S2S_IMAGE_MAX_BYTES:-30000000}"
tag="localhost/s2s:test-$$"
name="s2s-image-test-$$"
volume="s2s-image-test-$$"
work="$(mktemp -d)"
# The host's admin and token client: the binary the image was built from (build-image.sh
# builds it with the dist profile unless S2S_BINARY names one).
s2s="${S2S_BINARY:-${CARGO_TARGET_DIR:-$PWD/target}/dist/s2s}"
admin_key=ci-admin
admin_secret="ci-admin-secret-$$-$RANDOM"

cleanup() {
  container_engine rm -f -v -t 0 "$name" "$name-refused" >/dev/null 2>&1 || true
  container_engine volume rm -f "$volume" >/dev/null 2>&1 || true
  container_engine rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "image test failed: $*" >&2
  container_engine logs "$name" >&2 2>&1 || true
  exit 1
}
check() { echo "ok: $*"; }

scripts/build-image.sh "$tag"

size="$(container_engine image inspect --format '{{.Size}}' "$tag")"
[ "$size" -lt "$max_size" ] || fail "the image is $size bytes, over the $max_size-byte budget"
[ -x "$s2s" ] || fail "no s2s binary at $s2s"
check "image size $size bytes ($(awk "BEGIN { printf \"%.1f\", $size / 1000000 }") MB)"
user="$(container_engine image inspect --format '{{.Config.User}}' "$tag")"
[ "$user" = 65532:65532 ] || fail "the image runs as '$user', not the non-root 65532:65532"
check "runs as $user"

# Without admin credentials, listening on 0.0.0.0 is refused, with the way out named.
if container_engine run --rm --name "$name-refused" "$tag" >"$work/refused.log" 2>&1; then
  fail "the image served an unsigned admin API on 0.0.0.0"
fi
grep -q -- '--allow-unauthenticated-admin' "$work/refused.log" \
  || fail "the refusal does not name --allow-unauthenticated-admin: $(cat "$work/refused.log")"
check "refuses to start without admin credentials"

# A free port on the host's loopback; the public URL (the issuer) must be the one the
# host's clients use.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 19229)"
url="http://127.0.0.1:$port"
container_engine volume create "$volume" >/dev/null
container_engine run -d --name "$name" \
  -p "127.0.0.1:$port:9229" \
  -e S2S_PUBLIC_URL="$url" \
  -e S2S_ADMIN_ACCESS_KEY_ID="$admin_key" \
  -e S2S_ADMIN_SECRET_ACCESS_KEY="$admin_secret" \
  -e S2S_STACK=/stack.toml \
  -v "$PWD/stack.toml:/stack.toml:ro" \
  -v "$volume:/data" \
  "$tag" >/dev/null

# /healthz answers once the stack is provisioned (the public port accepts nothing before).
for _ in $(seq 1 120); do
  curl -fsS -o /dev/null --max-time 2 "$url/healthz" 2>/dev/null && break
  [ "$(container_engine inspect --format '{{.State.Running}}' "$name")" = true ] \
    || fail "the container stopped"
  sleep 0.5
done
curl -fsS -o /dev/null --max-time 2 "$url/healthz" || fail "no answer at $url/healthz"
container_engine logs "$name" >"$work/start.log" 2>&1
grep -q 'user pool s2s-demo (.*): created' "$work/start.log" || fail "the stack was not provisioned at start"
! grep -qF -- "$admin_secret" "$work/start.log" || fail "the admin secret is in the logs"
check "serves at $url with the stack provisioned at start"

# The outputs and the secret, from the volume (the image has no shell: `cp` reads them).
container_engine cp "$name:/data/outputs.json" "$work/outputs.json"
container_engine cp "$name:/data/client-secret" "$work/client-secret"
field() { sed -n "s/.*\"$1\": \"\(.*\)\".*/\1/p" "$work/outputs.json"; }
issuer="$(field issuer)"
client_id="$(field client_id)"
[ "$issuer" = "$url/$(field user_pool_id)" ] || fail "issuer $issuer is not under $url"
! grep -qF -- "$(cat "$work/client-secret")" "$work/start.log" || fail "the client secret is in the logs"
check "outputs and client secret written to the volume"

# The AWS SDK, as a CI job's admin client: refused with other credentials…
if AWS_ACCESS_KEY_ID="$admin_key" AWS_SECRET_ACCESS_KEY=not-the-secret \
  "$s2s" provision --stack stack.toml --endpoint-url "$url" --out "$work/host/outputs.json" \
  >"$work/refused-admin.log" 2>&1; then
  fail "the admin API accepted a request signed with the wrong secret"
fi
grep -q InvalidSignatureException "$work/refused-admin.log" \
  || fail "no InvalidSignatureException for a wrong secret: $(cat "$work/refused-admin.log")"
check "admin API refuses a wrong signature"
# …and, with the admin credentials, finds the same stack in place.
AWS_ACCESS_KEY_ID="$admin_key" AWS_SECRET_ACCESS_KEY="$admin_secret" \
  "$s2s" provision --stack stack.toml --endpoint-url "$url" --out "$work/host/outputs.json" \
  >"$work/provision.log" 2>&1 || fail "s2s provision: $(cat "$work/provision.log")"
grep -q 'nothing changed' "$work/provision.log" || fail "provisioning again changed something: $(cat "$work/provision.log")"
grep -q "\"client_id\": \"$client_id\"" "$work/host/outputs.json" || fail "another client id from the host"
check "s2s provision (AWS SDK) with the admin credentials: nothing changed"

# A token from the published port, verified against the issuer's JWKS.
token="$("$s2s" token --token-url "$(field token_url)" --client-id "$client_id" \
  --client-secret-file "$work/client-secret" | sed -n 's/.*"access_token": "\(.*\)".*/\1/p')"
[ -n "$token" ] || fail "no access token"
"$s2s" inspect "$token" --issuer "$issuer" >"$work/inspect.log" 2>&1 \
  || fail "s2s inspect: $(cat "$work/inspect.log")"
grep -q '^  ok: RS256 signature' "$work/inspect.log" || fail "inspect did not verify: $(cat "$work/inspect.log")"
check "token issued and verified by s2s inspect against $issuer"

# SIGTERM (podman stop) stops it cleanly: PID 1 handles the signal.
container_engine stop -t 20 "$name" >/dev/null
code="$(container_engine inspect --format '{{.State.ExitCode}}' "$name")"
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
check "stops with exit code 0 on SIGTERM"

echo "image test passed"
