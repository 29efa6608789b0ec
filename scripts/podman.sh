# Sourced by the image scripts: `container_engine ARGS…` runs podman (or Docker, with
# S2S_CONTAINER_ENGINE=docker) with what this kind of machine needs.
#
# Podman runs as root here with runc and cgroupfs (crun refuses the machine's cgroup
# setup), and the default ulimits of containers.conf cleared (runc may not raise
# RLIMIT_NOFILE in this sandbox): S2S_PODMAN_FLAGS and CONTAINERS_CONF override both.
S2S_CONTAINER_ENGINE="${S2S_CONTAINER_ENGINE:-podman}"
if [ "$S2S_CONTAINER_ENGINE" = podman ]; then
  if [ -z "${S2S_PODMAN_FLAGS+set}" ]; then
    S2S_PODMAN_FLAGS="--cgroup-manager cgroupfs"
    if command -v runc >/dev/null; then S2S_PODMAN_FLAGS="--runtime runc $S2S_PODMAN_FLAGS"; fi
  fi
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    CONTAINERS_CONF="${TMPDIR:-/tmp}/s2s-containers.conf"
    printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"
    export CONTAINERS_CONF
  fi
fi

container_engine() {
  if [ "$S2S_CONTAINER_ENGINE" = podman ]; then
    # shellcheck disable=SC2086 # the flags are words
    podman $S2S_PODMAN_FLAGS "$@"
  else
    "$S2S_CONTAINER_ENGINE" "$@"
  fi
}
