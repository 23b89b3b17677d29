#!/usr/bin/env bash
# Fault knobs for the stand-in's kube-apiserver (the one up.sh started, from its pid file):
#   apiserver.sh pause     SIGSTOP: it keeps its port, connections hang (TCP accepts, nothing answers)
#   apiserver.sh resume    SIGCONT
#   apiserver.sh restart   stop it and start it again with the same command line, environment and
#                          working directory (read from /proc before stopping), in a process group of
#                          its own (as up.sh starts it, so down.sh stops it), appending to its log,
#                          writing the new pid to the pid file; returns once /readyz answers ok
#   apiserver.sh status    running | paused | stopped, and the pid
# APISERVER_STOP_GRACE (seconds, default 5): how long restart waits after SIGTERM before
# SIGKILL; 0 kills at once (a crash). The apiserver stops listening at once on SIGTERM but
# can take longer than that to exit while clients (kwok, controllers) hold watches.
# Run dir: $ECOMMERCE_DEPLOY_RUN, else <repo>/.cache/local-cluster (as up.sh).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${ECOMMERCE_DEPLOY_RUN:-$(cd "$HERE/../.." && pwd)/.cache/local-cluster}"
PIDFILE="$RUN/pids/kube-apiserver.pid"
LOGFILE="$RUN/logs/kube-apiserver.log"
PKI="$RUN/pki"
TIMEOUT="${LOCAL_CLUSTER_TIMEOUT:-120}"
GRACE="${APISERVER_STOP_GRACE:-5}"

log() { echo "[apiserver.sh] $*" >&2; }
die() { log "$*"; exit 1; }

# State letter from /proc/<pid>/stat (R, S, T, Z, ...); empty when there is no such process.
state_of() { awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null || true; }

apiserver_pid() {
  [[ -f $PIDFILE ]] || die "no $PIDFILE: is the stand-in in $RUN up?"
  local pid
  pid="$(cat "$PIDFILE")"
  local state
  state="$(state_of "$pid")"
  [[ -n $state && $state != Z && $state != X ]] || die "kube-apiserver (pid $pid) is not running"
  grep -q kube-apiserver "/proc/$pid/cmdline" 2>/dev/null || die "pid $pid is not a kube-apiserver"
  echo "$pid"
}

server_url() { sed -n 's/^LOCAL_CLUSTER_SERVER="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$RUN/env"; }

readyz() {
  curl -sS --fail --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "$(server_url)/readyz" >/dev/null 2>&1
}

restart() {
  local pid cwd i
  pid="$(apiserver_pid)"
  local -a cmd env
  mapfile -d '' -t cmd <"/proc/$pid/cmdline"
  mapfile -d '' -t env <"/proc/$pid/environ"
  cwd="$(readlink "/proc/$pid/cwd")"
  (( ${#cmd[@]} > 0 )) || die "could not read the command line of pid $pid"

  local sig=TERM
  (( GRACE > 0 )) || sig=KILL
  log "stopping kube-apiserver (pid $pid, SIG$sig)"
  kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid"
  kill -CONT "$pid" 2>/dev/null || true # a paused one handles SIGTERM only once continued
  for (( i = 0; i < GRACE * 10; i++ )); do
    case "$(state_of "$pid")" in '' | Z | X) break ;; esac
    sleep 0.1
  done
  case "$(state_of "$pid")" in
    '' | Z | X) ;;
    *)
      log "pid $pid did not exit in ${GRACE}s; SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
      for (( i = 0; i < 50; i++ )); do
        case "$(state_of "$pid")" in '' | Z | X) break ;; esac
        sleep 0.1
      done
      ;;
  esac

  echo "---- $(date -u +%Y-%m-%dT%H:%M:%SZ) restarted by local-cluster/faults/apiserver.sh" >>"$LOGFILE"
  # setsid without forking (a background job of a script is no group leader): the new
  # process leads a group of its own whose id is its pid, which is what down.sh kills.
  (cd "$cwd" && exec setsid env -i "${env[@]}" "${cmd[@]}" >>"$LOGFILE" 2>&1 </dev/null) &
  local new=$!
  echo "$new" >"$PIDFILE"
  local deadline=$((SECONDS + TIMEOUT))
  until readyz; do
    case "$(state_of "$new")" in '' | Z | X) die "the restarted kube-apiserver exited; see $LOGFILE" ;; esac
    (( SECONDS < deadline )) || die "the restarted kube-apiserver is not ready after ${TIMEOUT}s; see $LOGFILE"
    sleep 0.2
  done
  [[ "$(ps -o pgid= -p "$new" | tr -d ' ')" == "$new" ]] || log "WARNING: pid $new does not lead its process group"
  log "kube-apiserver restarted (pid $new) and ready"
}

case "${1:-}" in
  pause)
    pid="$(apiserver_pid)"
    kill -STOP "$pid"
    log "kube-apiserver (pid $pid) paused"
    ;;
  resume)
    pid="$(apiserver_pid)"
    kill -CONT "$pid"
    log "kube-apiserver (pid $pid) resumed"
    ;;
  restart) restart ;;
  status)
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    case "$(state_of "${pid:-0}")" in
      '' | Z | X) echo "stopped ${pid:-}" ;;
      T | t) echo "paused $pid" ;;
      *) echo "running $pid" ;;
    esac
    ;;
  *)
    echo "usage: $0 pause|resume|restart|status" >&2
    exit 2
    ;;
esac
