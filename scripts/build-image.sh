#!/usr/bin/env bash
# Builds the `s2s` OCI image from ./Containerfile without a Docker daemon (podman, from
# Debian's `podman` package; S2S_CONTAINER_ENGINE=docker uses Docker instead).
#
#   scripts/build-image.sh [TAG]          TAG defaults to localhost/s2s:latest
#
# The image is `FROM scratch`, so its context is prepared here from this machine's files:
# the `dist` build of `s2s` (`cargo build --profile dist -p s2s --locked`: the release
# profile with fat LTO, one codegen unit and no symbols, see Cargo.toml; skipped when
# S2S_BINARY names a binary), stripped; the shared libraries it links, exactly as `ldd`
# lists them, and the dynamic loader; the CA bundle; and a passwd entry for the non-root
# user 65532. Nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/podman.sh
. scripts/podman.sh

tag="${1:-localhost/s2s:latest}"
ca_bundle=/etc/ssl/certs/ca-certificates.crt

if [ -z "${S2S_BINARY:-}" ]; then
  cargo build --profile dist -p s2s --locked
  S2S_BINARY="${CARGO_TARGET_DIR:-target}/dist/s2s"
fi
[ -x "$S2S_BINARY" ] || { echo "no s2s binary at $S2S_BINARY" >&2; exit 1; }
[ -r "$ca_bundle" ] || { echo "no CA bundle at $ca_bundle: apt-get install ca-certificates" >&2; exit 1; }

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
rootfs="$context/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$context/data"

# Symbols are not needed to run, and are most of an unstripped binary's size (the dist
# profile already strips them; a binary given in S2S_BINARY may not).
strip --strip-all -o "$rootfs/usr/local/bin/s2s" "$S2S_BINARY"

# The libraries, at the paths the binary and the loader look them up (`ldd` prints
# "name => /path (address)" and, for the loader, "/path (address)").
libs="$(ldd "$rootfs/usr/local/bin/s2s")"
if grep -q 'not found' <<<"$libs"; then
  echo "s2s links a library this machine does not have:" >&2
  echo "$libs" >&2
  exit 1
fi
while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done < <(grep -o '/[^ ]*' <<<"$libs")

cp "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 's2s:x:65532:65532:s2s:/data:/nonexistent\n' >"$rootfs/etc/passwd"
printf 's2s:x:65532:\n' >"$rootfs/etc/group"

if [ "$S2S_CONTAINER_ENGINE" = podman ]; then
  container_engine build --format oci -t "$tag" -f Containerfile "$context"
else
  container_engine build -t "$tag" -f Containerfile "$context"
fi
echo "built $tag: $(container_engine image inspect --format '{{.Size}}' "$tag") bytes"
