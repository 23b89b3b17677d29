#!/usr/bin/env bash
# Starts a local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) plus kwok, which simulates the kubelets of a few fake nodes, and the
# AWS harness (aws/harness.py: moto with a seeded ECR/IAM/EKS, and the apiserver's
# TokenReview webhook that verifies EKS tokens), so the stand-in is reached the way EKS is.
# kwok's server is also every node's kubelet endpoint, so `kubectl logs` works (logs/),
# and serves simulated resource metrics, which metrics-server (behind the aggregation
# layer) turns into the metrics.k8s.io API: kubectl top, HPAs (metrics/, up/metrics.sh).
# Everything listens on 127.0.0.1; state (certs, etcd data, logs, pids, kubeconfig)
# lives in $LC_RUN. Prints the admin kubeconfig path as the last line of stdout.
#
# The steps are in main() below; how each component starts is in up/<component>.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"
source "$HERE/up/processes.sh" # log, start, wait_for, alive, api, healthz
source "$HERE/up/pki.sh"
source "$HERE/up/harness.sh"
source "$HERE/up/etcd.sh"
source "$HERE/up/registry.sh"
source "$HERE/up/apiserver.sh"
source "$HERE/up/controllers.sh"
source "$HERE/up/kwok.sh"
source "$HERE/up/metrics.sh"

REGION="${LOCAL_CLUSTER_REGION:-us-east-1}"
read -r -a ZONES <<<"${LOCAL_CLUSTER_ZONES:-a b c}" # zone suffixes, appended to the region
NODES="${LOCAL_CLUSTER_NODES:-${#ZONES[@]}}"        # nodes are spread round-robin over ZONES
TIMEOUT="${LOCAL_CLUSTER_TIMEOUT:-120}"             # seconds to wait for each readiness step
EKS_CLUSTER="${LOCAL_CLUSTER_EKS_NAME:-ecommerce-local}" # the EKS cluster moto describes
read -r -a ECR_TAGS <<<"${LOCAL_CLUSTER_ECR_TAGS:-v1 v2}" # image tags seeded in every ECR repository
read -r -a ECR_REPOSITORIES <<<"${LOCAL_CLUSTER_ECR_REPOSITORIES:-}" # extra repositories besides the six services
POD_READY_DELAY="${POD_READY_DELAY:-2s}" # "2s", "500ms" or plain milliseconds
CRASHLOOP_DELAY="${CRASHLOOP_DELAY:-3s}"
METRIC_RESOLUTION="${LOCAL_CLUSTER_METRIC_RESOLUTION:-10s}" # metrics-server's scrape interval (min 10s)
# The first of the test credentials the harness's webhook knows (aws/credentials.json).
AWS_TEST_KEY_ID="$(jq -r '.credentials[0].accessKeyId' "$LC_DIR/aws/credentials.json")"
AWS_TEST_SECRET="$(jq -r '.credentials[0].secretAccessKey' "$LC_DIR/aws/credentials.json")"
# ECR's registry for OCI charts: moto's account, and the password moto's
# GetAuthorizationToken hands out for it (user AWS).
ECR_ACCOUNT=123456789012
ECR_HOST="$ECR_ACCOUNT.dkr.ecr.$REGION.amazonaws.com"
ECR_PASSWORD="$ECR_ACCOUNT-auth-token"

PKI="$LC_RUN/pki" LOGS="$LC_RUN/logs" PIDS="$LC_RUN/pids" CLOGS="$LC_RUN/container-logs"
KUBECONFIG_ADMIN="$LC_RUN/kubeconfig"
declare -A PORT # component -> port, see pick_ports

main() {
  if already_running; then
    echo "$KUBECONFIG_ADMIN"
    return
  fi
  clean_up_stale_state
  get_binaries
  mkdir -p "$PKI" "$LOGS" "$PIDS"
  START=$SECONDS
  trap on_exit EXIT

  pick_ports
  make_pki
  write_kubeconfigs
  start_harness
  start_etcd
  wait_for "etcd healthy" etcd curl -sS --fail "http://127.0.0.1:${PORT[etcd]}/health"
  wait_for "AWS harness seeded" harness curl -sS --fail "$HARNESS/_harness/ready"
  start_registry
  start_apiserver
  bind_deployers_to_cluster_admin
  install_kwok_crds
  register_metrics_api
  start_controller_manager
  start_scheduler
  write_kwok_config
  wait_for "kwok CRDs served" kube-apiserver kwok_crds_served
  start_kwok
  start_pod_logs
  create_nodes
  start_metrics_server

  wait_for "kube-controller-manager healthy" kube-controller-manager healthz "${PORT[controller_manager]}"
  wait_for "kube-scheduler healthy" kube-scheduler healthz "${PORT[scheduler]}"
  wait_for "$NODES nodes Ready and untainted" kwok ready_nodes
  wait_for "kubelet endpoint (kwok) serving TLS" kwok curl -sS --fail --cacert "$PKI/ca.crt" "https://127.0.0.1:${PORT[kwok]}/healthz"
  wait_for "default ServiceAccount" kube-controller-manager api /api/v1/namespaces/default/serviceaccounts/default
  wait_for "metrics.k8s.io available (metrics-server)" metrics-server metrics_api_available
  write_env_file
  report
  echo "$KUBECONFIG_ADMIN"
}

# Already up (e.g. a second call from a test runner)? Then it is reused. If part of it has
# died, it is stopped and started afresh.
already_running() {
  if ! { [[ -f $LC_RUN/env ]] && alive kube-apiserver; }; then return 1; fi
  if alive harness && alive pod-logs && alive registry && alive metrics-server; then
    log "already running (state in $LC_RUN); use down.sh to stop"
    log "AWS endpoint: $(sed -n 's/^export AWS_ENDPOINT_URL=//p' "$LC_RUN/env")"
    return 0
  fi
  log "the AWS harness, pod-logs, the ECR registry or metrics-server has died (see $LOGS/); restarting the stand-in"
  return 1
}

clean_up_stale_state() {
  if [[ -d $PIDS ]]; then
    log "stale state in $LC_RUN; cleaning it up first"
    "$HERE/down.sh" >&2
  fi
}

# The binaries (build.sh: cached after the first build) and the harness's venv (quick when
# already installed).
get_binaries() {
  BIN="$("$HERE/build.sh" | tail -n1)"
  REGISTRY_BIN="$(lc_registry_bin_dir)"
  METRICS_BIN="$(lc_metrics_bin_dir)"
  bash "$LC_REPO/scripts/moto-env.sh" >&2
  PYTHON="$LC_REPO/.cache/venv/bin/python"
}

# On any failure: show the logs and stop what was started, so nothing is left behind.
on_exit() {
  local rc=$? f
  ((rc == 0)) && return
  log "FAILED (exit $rc); last log lines:"
  for f in "$LOGS"/*.log; do
    if [[ -f $f ]]; then
      echo "--- $f" >&2
      tail -n 8 "$f" >&2
    fi
  done
  if [[ -z ${LOCAL_CLUSTER_KEEP_ON_FAILURE:-} ]]; then "$HERE/down.sh" >&2 || true; fi
}

# Each component's port: LOCAL_CLUSTER_<COMPONENT>_PORT if given, else any free port.
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
pick_ports() {
  local c var p used=" "
  for c in etcd etcd_peer apiserver controller_manager scheduler kwok harness registry registry_proxy metrics_server; do
    var="LOCAL_CLUSTER_${c^^}_PORT"
    p="${!var:-}"
    while [[ -z $p || $used == *" $p "* ]]; do p="$(free_port)"; done
    PORT[$c]=$p used+="$p "
  done
  SERVER="https://127.0.0.1:${PORT[apiserver]}"
  HARNESS="http://127.0.0.1:${PORT[harness]}"
}

write_env_file() {
  cat >"$LC_RUN/env" <<EOF
# Written by local-cluster/up.sh; source it to talk to the cluster.
export KUBECONFIG="$KUBECONFIG_ADMIN"
LOCAL_CLUSTER_SERVER="$SERVER"
LOCAL_CLUSTER_ETCD_PORT=${PORT[etcd]}
LOCAL_CLUSTER_APISERVER_PORT=${PORT[apiserver]}
LOCAL_CLUSTER_CONTROLLER_MANAGER_PORT=${PORT[controller_manager]}
LOCAL_CLUSTER_SCHEDULER_PORT=${PORT[scheduler]}
LOCAL_CLUSTER_KWOK_PORT=${PORT[kwok]}
LOCAL_CLUSTER_HARNESS_PORT=${PORT[harness]}
# AWS (moto, through the harness): the SDK and the aws CLI honour AWS_ENDPOINT_URL.
# The key pair is the one the token webhook knows; a session token or profile would
# take precedence over it (or be signed into the token), so they are cleared.
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_ENDPOINT_URL=$HARNESS
export AWS_ACCESS_KEY_ID=$AWS_TEST_KEY_ID
export AWS_SECRET_ACCESS_KEY=$AWS_TEST_SECRET
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
export AWS_EC2_METADATA_DISABLED=true
export EKS_CLUSTER_NAME=$EKS_CLUSTER
export LOCAL_HARNESS_URL=$HARNESS
# ECR's OCI registry for charts. helm reaches it by its ECR name through a proxy that
# routes only that host, trusting the stand-in's CA:
#   HTTPS_PROXY=\$LOCAL_ECR_PROXY SSL_CERT_FILE=\$LOCAL_CLUSTER_CA helm registry login \$LOCAL_ECR_REGISTRY ...
export LOCAL_ECR_REGISTRY=$ECR_HOST
export LOCAL_ECR_PROXY=http://127.0.0.1:${PORT[registry_proxy]}
export LOCAL_CLUSTER_CA=$PKI/ca.crt
LOCAL_CLUSTER_REGISTRY_PORT=${PORT[registry]}
LOCAL_CLUSTER_REGISTRY_PROXY_PORT=${PORT[registry_proxy]}
LOCAL_CLUSTER_METRICS_SERVER_PORT=${PORT[metrics_server]}
EOF
}

report() {
  log "up in $((SECONDS - START))s: apiserver $SERVER, logs in $LOGS"
  log "AWS endpoint: $HARNESS (moto: ECR, IAM, EKS cluster $EKS_CLUSTER in $REGION; calls: $HARNESS/_harness/calls)"
  log "kubeconfig:   $KUBECONFIG_ADMIN (admin, system:masters)"
  log "ECR charts:   oci://$ECR_HOST/... via HTTPS_PROXY=http://127.0.0.1:${PORT[registry_proxy]} (see the env file)"
  log "use: source $LC_RUN/env"
}

main "$@"
