#!/usr/bin/env bash
# Stops every process up.sh started (each runs in its own process group, recorded in
# $LC_RUN/pids) and deletes the run dir's state. The binary cache is kept.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"
PIDS="$LC_RUN/pids"

# Stop in reverse start order: clients (metrics-server, pod-logs.py, kwok, ...) before the apiserver, then etcd and the AWS harness.
ORDER=(metrics-server pod-logs kwok kube-scheduler kube-controller-manager kube-apiserver etcd registry harness)
pgids=()
for name in "${ORDER[@]}"; do
  f="$PIDS/$name.pid"
  [[ -f $f ]] || continue
  pid="$(cat "$f")"
  # Only signal it if it is still the process we started (pid reuse after a reboot).
  if lc_pid_running "$pid" && grep -q "$name" "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    pgids+=("$pid")
  fi
done

# Give them 10s to exit cleanly, then SIGKILL the stragglers' process groups.
for _ in $(seq 1 50); do
  left=()
  for g in "${pgids[@]}"; do lc_group_running "$g" && left+=("$g"); done
  (( ${#left[@]} == 0 )) && break
  sleep 0.2
done
for g in "${left[@]}"; do
  echo "[local-cluster] process group $g did not exit on SIGTERM; sending SIGKILL" >&2
  kill -KILL -- "-$g" 2>/dev/null || true
done
sleep 0.2
for g in "${pgids[@]}"; do
  if lc_group_running "$g"; then echo "[local-cluster] ERROR: process group $g still running" >&2; exit 1; fi
done

# Keep nothing but the directory itself (it may be a mount or symlink someone chose).
if [[ -d $LC_RUN ]]; then
  find "$LC_RUN" -mindepth 1 -delete
fi
echo "[local-cluster] stopped ${#pgids[@]} process group(s); removed state in $LC_RUN" >&2
