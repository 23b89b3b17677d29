#!/usr/bin/env bash
# Builds (once) and caches kube-score (github.com/zegl/kube-score, pinned by ./go.mod + go.sum).
# Same scheme as local-cluster/build.sh: the binary lives outside the repo under
#   ${ECOMMERCE_DEPLOY_CACHE:-~/.cache/ecommerce-deploy}/kube-score-<hash>/
# where <hash> covers go.mod, go.sum and the Go version, so a version bump builds into a
# new directory and every clone on the machine shares the old one.
# Prints the binary's path on stdout; progress goes to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The wrapper module pins exact versions; never let `go` download another toolchain.
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

if ! command -v go >/dev/null; then
  echo "kube-score: go is not on PATH (needed once, to build kube-score from $HERE/go.mod)" >&2
  exit 2
fi

hash="$( { go version; cat "$HERE/go.mod" "$HERE/go.sum"; } | sha256sum | cut -c1-16)"
BIN="${ECOMMERCE_DEPLOY_CACHE:-$HOME/.cache/ecommerce-deploy}/kube-score-$hash"

if [[ ! -x $BIN/kube-score ]]; then
  echo "kube-score: building $(awk '$1 == "github.com/zegl/kube-score" { print $2 }' "$HERE/go.mod") into $BIN" >&2
  start=$SECONDS tmp="$BIN/.tmp-$$"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  # Into a temp dir, then moved into place: an interrupted build never looks cached.
  (cd "$HERE" && go build -trimpath -ldflags "-s -w" -o "$tmp/kube-score" github.com/zegl/kube-score/cmd/kube-score)
  mv -f "$tmp/kube-score" "$BIN/kube-score"
  echo "kube-score: built in $((SECONDS - start))s" >&2
fi
echo "$BIN/kube-score"
