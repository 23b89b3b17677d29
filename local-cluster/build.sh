#!/usr/bin/env bash
# Builds (once) and caches the pinned binaries for the local cluster:
#   kube-apiserver, kube-controller-manager, kube-scheduler  (k8s.io/kubernetes v1.35.4)
#   etcd                                                     (go.etcd.io/etcd/server/v3 v3.6.16)
#   kwok                                                     (sigs.k8s.io/kwok v0.8.0)
#   ecr-registry                                             (ours, on go-containerregistry v0.22.1)
#   metrics-server                                           (sigs.k8s.io/metrics-server v0.8.0)
# Versions are pinned by the wrapper modules in ./go/*/go.mod + go.sum. The cache
# directory name is a hash of those files (and the Go version + flags below), so
# changing a version builds into a new directory and a fresh clone reuses the old one.
# Prints the bin directory on stdout (last line); progress goes to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"

# The wrapper modules pin exact versions; never let `go` download another toolchain.
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

BIN="$(lc_bin_dir)"
mkdir -p "$BIN"

K8S_VERSION=v1.35.4
K8S_BUILD_DATE=2026-04-15T18:01:22Z # publish time of k8s.io/kubernetes@v1.35.4 on the module proxy
k8s_ldflags="-s -w"
# What hack/lib/version.sh would set; helm's kubeVersion checks read /version.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=35"
  k8s_ldflags+=" -X $pkg.gitCommit=unknown -X $pkg.gitTreeState=clean -X $pkg.buildDate=$K8S_BUILD_DATE"
done

# build <module dir> <ldflags> <binary names...> -- <packages...>
build() {
  local dir=$1 ldflags=$2; shift 2
  local names=() pkgs=()
  while [[ $1 != -- ]]; do names+=("$1"); shift; done; shift; pkgs=("$@")
  local missing=0 n
  for n in "${names[@]}"; do [[ -x $BIN/$n ]] || missing=1; done
  if (( missing == 0 )); then echo "cached: ${names[*]}" >&2; return; fi
  echo "building: ${names[*]} (first build takes many minutes on 2 cores)" >&2
  local start=$SECONDS tmp="$BIN/.tmp-$$"
  mkdir -p "$tmp"
  # Build into a temp dir and move into place so an interrupted build never
  # leaves a half-written binary that later looks "cached".
  # One package: -o names the file; several: -o dir/ names them after their packages.
  local out="$tmp/"; (( ${#names[@]} == 1 )) && out="$tmp/${names[0]}"
  (cd "$HERE/go/$dir" && go build -trimpath -ldflags "$ldflags" -o "$out" "${pkgs[@]}")
  for n in "${names[@]}"; do mv -f "$tmp/$n" "$BIN/$n"; done
  rmdir "$tmp"
  echo "built: ${names[*]} in $((SECONDS - start))s" >&2
}

build etcd "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v3.6.16" \
  etcd -- go.etcd.io/etcd/server/v3
build kwok "-s -w" kwok -- sigs.k8s.io/kwok/cmd/kwok
build kube "$k8s_ldflags" kube-apiserver kube-controller-manager kube-scheduler -- \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler

# The stand-in's ECR registry for OCI charts: our main package around go-containerregistry's
# registry (go/registry/main.go). Cached under a key of its own (lib.sh).
KUBE_BIN=$BIN
BIN="$(lc_registry_bin_dir)"
mkdir -p "$BIN"
build registry "-s -w" ecr-registry -- .
# metrics-server (the metrics.k8s.io API, behind the aggregation layer): its own key as well.
BIN="$(lc_metrics_bin_dir)"
mkdir -p "$BIN"
build metrics-server "-s -w -X k8s.io/client-go/pkg/version.gitVersion=v0.8.0" \
  metrics-server -- sigs.k8s.io/metrics-server/cmd/metrics-server
BIN=$KUBE_BIN

"$BIN/kube-apiserver" --version >&2
"$BIN/etcd" --version | sed -n 1p >&2 # sed, not head: head exiting early would SIGPIPE etcd and fail under pipefail
echo "$BIN"
