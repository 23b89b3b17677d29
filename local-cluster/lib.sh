# shellcheck shell=bash
# Shared settings for build.sh / up.sh / down.sh (sourced, not executed).

LC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LC_REPO="$(cd "$LC_DIR/.." && pwd)"

# Binaries live outside the repo so every clone on this machine shares them.
LC_CACHE="${ECOMMERCE_DEPLOY_CACHE:-$HOME/.cache/ecommerce-deploy}/local-cluster"
# Per-checkout cluster state (certs, etcd data, logs, pids); .cache/ is gitignored.
# shellcheck disable=SC2034 # read by up.sh and down.sh, which source this file
LC_RUN="${ECOMMERCE_DEPLOY_RUN:-$LC_REPO/.cache/local-cluster}"

# Bump when build.sh's flags change, so old cached binaries are not reused.
LC_BUILD_REV=1

# bin-<hash>: hash of what determines the binaries (versions pinned by the
# wrapper modules, Go version, build flags revision).
lc_bin_dir() {
  local h m
  h="$( { echo "rev $LC_BUILD_REV"; go version;
          for m in go.mod go.sum; do cat "$LC_DIR"/go/{etcd,kube,kwok}/$m; done; } | sha256sum | cut -c1-16)"
  echo "$LC_CACHE/bin-$h"
}
# The stand-in's own helper (go/registry, our source): a key of its own, so changing it
# never rebuilds the Kubernetes binaries.
lc_registry_bin_dir() {
  local h
  h="$( { go version; cat "$LC_DIR"/go/registry/go.mod "$LC_DIR"/go/registry/go.sum "$LC_DIR"/go/registry/*.go; } |
        sha256sum | cut -c1-16)"
  echo "$LC_CACHE/registry-$h"
}
# metrics-server (go/metrics-server): a key of its own too, so adding or bumping it never
# rebuilds the Kubernetes binaries.
lc_metrics_bin_dir() {
  local h
  h="$( { go version; cat "$LC_DIR"/go/metrics-server/go.mod "$LC_DIR"/go/metrics-server/go.sum; } |
        sha256sum | cut -c1-16)"
  echo "$LC_CACHE/metrics-server-$h"
}

# A process that has exited but is not yet reaped (a zombie, state Z) is not running.
# Under a container init or CI runner that does not reap orphans, the stand-in's
# processes stay zombies after they exit, and kill -0 / pgrep still see them.
lc_pid_running() {
  local state
  state="$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n $state && $state != Z && $state != X ]]
}
# Does process group $1 still have a running (non-zombie) member?
lc_group_running() {
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^[ZX]/ { found = 1 } END { exit !found }'
}
