# shellcheck shell=bash
# Sourced by up.sh: how it starts a component and waits for it, and its two ways of asking
# a component whether it is up. Reads LC_RUN, PIDS, LOGS, TIMEOUT, START, PKI and SERVER.

log() { echo "[local-cluster] $*" >&2; }

# alive <component>: its recorded process is still running.
alive() { [[ -f $PIDS/$1.pid ]] && lc_pid_running "$(cat "$PIDS/$1.pid")"; }

# start <component> <cmd...>: in the background, output to $LOGS/<component>.log.
# setsid: each component gets its own process group, which down.sh kills as a whole.
start() {
  local name=$1
  shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

# wait_for <what> <component whose death aborts> <cmd...>: until cmd succeeds, at most TIMEOUT s.
wait_for() {
  local what=$1 comp=$2 deadline=$((SECONDS + TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    alive "$comp" || {
      log "$comp exited while waiting for $what"
      return 1
    }
    ((SECONDS < deadline)) || {
      log "timed out after ${TIMEOUT}s waiting for $what"
      return 1
    }
    sleep 0.3
  done
  log "$what ($((SECONDS - START))s)"
}

# api <path> [curl args...]: the apiserver, as the admin.
api() { curl -sS --fail --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$SERVER$1" "${@:2}"; }

# healthz <port>: controller-manager and scheduler serve /healthz with a self-signed cert of their own.
healthz() { curl -sS --fail --insecure "https://127.0.0.1:$1/healthz"; }
