#!/usr/bin/env bash
# Starts a local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) plus kwok, which simulates the kubelets of a few fake nodes, and the
# AWS harness (aws/harness.py: moto with a seeded ECR/IAM/EKS, and the apiserver's
# TokenReview webhook that verifies EKS tokens), so the stand-in is reached the way EKS is.
# kwok's server is also every node's kubelet endpoint, so `kubectl logs` works (logs/).
# Everything listens on 127.0.0.1; state (certs, etcd data, logs, pids, kubeconfig)
# lives in $LC_RUN. Prints the admin kubeconfig path as the last line of stdout.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"

REGION="${LOCAL_CLUSTER_REGION:-us-east-1}"
ZONES=(${LOCAL_CLUSTER_ZONES:-a b c})        # zone suffixes, appended to the region
NODES="${LOCAL_CLUSTER_NODES:-${#ZONES[@]}}"  # nodes are spread round-robin over ZONES
TIMEOUT="${LOCAL_CLUSTER_TIMEOUT:-120}"       # seconds to wait for each readiness step
EKS_CLUSTER="${LOCAL_CLUSTER_EKS_NAME:-ecommerce-local}"  # the EKS cluster moto describes
ECR_TAGS="${LOCAL_CLUSTER_ECR_TAGS:-v1 v2}"    # image tags seeded in every ECR repository
ECR_REPOSITORIES="${LOCAL_CLUSTER_ECR_REPOSITORIES:-}"  # extra repositories besides the six services
# The test credentials the harness's webhook knows (AWS's documented example key pair).
AWS_TEST_KEY_ID=AKIAIOSFODNN7EXAMPLE
AWS_TEST_SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
# ECR's registry for OCI charts: moto's account, and the password moto's
# GetAuthorizationToken hands out for it (user AWS).
ECR_ACCOUNT=123456789012
ECR_HOST="$ECR_ACCOUNT.dkr.ecr.$REGION.amazonaws.com"
ECR_PASSWORD="$ECR_ACCOUNT-auth-token"

# "2s", "500ms" or plain milliseconds -> milliseconds.
to_ms() {
  case $1 in
    *ms) echo "${1%ms}" ;;
    *s) awk -v s="${1%s}" 'BEGIN { printf "%d", s * 1000 }' ;;
    *) echo "$1" ;;
  esac
}
POD_READY_DELAY_MS="$(to_ms "${POD_READY_DELAY:-2s}")"
CRASHLOOP_DELAY_MS="$(to_ms "${CRASHLOOP_DELAY:-3s}")"

log() { echo "[local-cluster] $*" >&2; }
PKI="$LC_RUN/pki" LOGS="$LC_RUN/logs" PIDS="$LC_RUN/pids"
KUBECONFIG_ADMIN="$LC_RUN/kubeconfig"

alive() { [[ -f $PIDS/$1.pid ]] && lc_pid_running "$(cat "$PIDS/$1.pid")"; }

# Already up (e.g. a second call from a test runner)? Reuse it.
if [[ -f $LC_RUN/env ]] && alive kube-apiserver; then
  if alive harness && { alive pod-logs || [[ ! -f $PIDS/pod-logs.pid ]]; } &&
    { alive registry || [[ ! -f $PIDS/registry.pid ]]; }; then
    log "already running (state in $LC_RUN); use down.sh to stop"
    [[ -f $PIDS/pod-logs.pid ]] ||
      log "(started by an older up.sh: no container logs; down.sh + up.sh give you kubectl logs)"
    [[ -f $PIDS/registry.pid ]] ||
      log "(started by an older up.sh: no ECR registry for OCI charts; down.sh + up.sh give you one)"
    log "AWS endpoint: $(sed -n 's/^export AWS_ENDPOINT_URL=//p' "$LC_RUN/env")"
    echo "$KUBECONFIG_ADMIN"
    exit 0
  elif [[ ! -f $PIDS/harness.pid ]]; then
    # Started by an up.sh from before the harness: leave it alone, someone may be using it.
    log "already running WITHOUT the AWS harness (started by an older up.sh; state in $LC_RUN);"
    log "run down.sh and up.sh again for ECR/EKS (moto) and EKS token authentication"
    echo "$KUBECONFIG_ADMIN"
    exit 0
  fi
  log "the AWS harness, pod-logs or the ECR registry has died (see $LOGS/); restarting the stand-in"
fi
if [[ -d $PIDS ]]; then
  log "stale state in $LC_RUN; cleaning it up first"
  "$HERE/down.sh" >&2
fi

BIN="$("$HERE/build.sh" | tail -n1)"
REGISTRY_BIN="$(lc_registry_bin_dir)"
bash "$LC_REPO/scripts/moto-env.sh" >&2   # the harness's venv; quick when already installed
PYTHON="$LC_REPO/.cache/venv/bin/python"
mkdir -p "$PKI" "$LOGS" "$PIDS"
START=$SECONDS

# On any failure: show the logs and stop what was started, so nothing is left behind.
on_exit() {
  local rc=$?
  (( rc == 0 )) && return
  log "FAILED (exit $rc); last log lines:"
  for f in "$LOGS"/*.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -n 8 "$f" >&2; }; done
  if [[ -z ${LOCAL_CLUSTER_KEEP_ON_FAILURE:-} ]]; then "$HERE/down.sh" >&2 || true; fi
}
trap on_exit EXIT

# ---- ports: use the env var if given, else any free port --------------------------
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
declare -A PORT
used=" "
for c in etcd etcd_peer apiserver controller_manager scheduler kwok harness registry registry_proxy; do
  var="LOCAL_CLUSTER_${c^^}_PORT"
  p="${!var:-}"
  while [[ -z $p || $used == *" $p "* ]]; do p="$(free_port)"; done
  PORT[$c]=$p used+="$p "
done

# ---- PKI: one CA signs the serving cert and every client cert -----------------------
cert() { # cert <name> <subject> [<subjectAltName>]  -> $PKI/<name>.{key,crt}
  local name=$1 subj=$2 san=${3:-}
  local ext="$PKI/$name.ext"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  if [[ -n $san ]]; then
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/ca.key" 2>/dev/null
openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=local-cluster-ca" -days 3650 -out "$PKI/ca.crt" 2>/dev/null
cert apiserver "/CN=kube-apiserver" \
  "IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=kubernetes-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kwok "/O=system:masters/CN=kwok" # kwok writes node/pod status, leases, events
# kwok's server plays every node's kubelet (container logs); the API server checks its
# serving cert against our CA and presents a client cert of its own, as with real kubelets.
cert kubelet-serving "/CN=kwok-kubelet" "IP:127.0.0.1,DNS:localhost"
cert apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client"
cert pod-logs "/O=system:masters/CN=local-cluster-pod-logs" # creates kwok Logs objects
cert ecr-registry "/CN=$ECR_HOST" "DNS:$ECR_HOST" # helm reaches it by this name, through the proxy
# Service account tokens are signed with this key (RSA: what the apiserver expects).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null

SERVER="https://127.0.0.1:${PORT[apiserver]}"
kubeconfig() { # kubeconfig <cert name> <file>; certs embedded so the file can be copied
  cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local-cluster
  cluster:
    server: $SERVER
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$1.crt")
    client-key-data: $(base64 -w0 <"$PKI/$1.key")
contexts:
- name: local-cluster
  context: {cluster: local-cluster, user: $1, namespace: default}
current-context: local-cluster
EOF
}
kubeconfig admin "$KUBECONFIG_ADMIN"
for c in controller-manager scheduler kwok; do kubeconfig "$c" "$LC_RUN/$c.kubeconfig"; done

# ---- processes -----------------------------------------------------------------------
# setsid: each component gets its own process group, which down.sh kills as a whole.
start() { # start <name> <cmd...>
  local name=$1; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}
wait_for() { # wait_for <what> <component whose death aborts> <cmd...>
  local what=$1 comp=$2 deadline=$((SECONDS + TIMEOUT)); shift 2
  until "$@" >/dev/null 2>&1; do
    alive "$comp" || { log "$comp exited while waiting for $what"; return 1; }
    (( SECONDS < deadline )) || { log "timed out after ${TIMEOUT}s waiting for $what"; return 1; }
    sleep 0.3
  done
  log "$what ($((SECONDS - START))s)"
}
api() { curl -sS --fail --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$SERVER$1" "${@:2}"; }
# Controller-manager and scheduler serve /healthz with a self-signed cert of their own.
healthz() { curl -sS --fail --insecure "https://127.0.0.1:$1/healthz"; }

# The AWS harness first: the apiserver's token webhook points at it, and it needs only
# the apiserver's port and CA (for the EKS cluster it seeds), both known by now.
HARNESS="http://127.0.0.1:${PORT[harness]}"
# No AWS_PROFILE: the harness seeds moto with explicit test keys, a profile must not interfere.
start harness env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE "$PYTHON" "$HERE/aws/harness.py" \
  --port "${PORT[harness]}" --apiserver-port "${PORT[apiserver]}" --ca-file "$PKI/ca.crt" \
  --region "$REGION" --cluster-name "$EKS_CLUSTER" --tags $ECR_TAGS --repositories $ECR_REPOSITORIES
cat >"$LC_RUN/token-webhook.kubeconfig" <<EOF
# kube-apiserver -> harness TokenReview webhook (plain http on loopback: the apiserver accepts it).
apiVersion: v1
kind: Config
clusters:
- name: aws-harness
  cluster: {server: "$HARNESS/authenticate"}
users:
- name: kube-apiserver
  user: {}
contexts:
- name: webhook
  context: {cluster: aws-harness, user: kube-apiserver}
current-context: webhook
EOF

start etcd "$BIN/etcd" --name local --data-dir "$LC_RUN/etcd" \
  --listen-client-urls "http://127.0.0.1:${PORT[etcd]}" --advertise-client-urls "http://127.0.0.1:${PORT[etcd]}" \
  --listen-peer-urls "http://127.0.0.1:${PORT[etcd_peer]}" --initial-advertise-peer-urls "http://127.0.0.1:${PORT[etcd_peer]}" \
  --initial-cluster "local=http://127.0.0.1:${PORT[etcd_peer]}" \
  --unsafe-no-fsync --quota-backend-bytes 2147483648 # throwaway data: speed over durability
wait_for "etcd healthy" etcd curl -sS --fail "http://127.0.0.1:${PORT[etcd]}/health"
wait_for "AWS harness seeded" harness curl -sS --fail "$HARNESS/_harness/ready"

# ECR's OCI registry (charts), by its ECR name through a CONNECT proxy; see go/registry/main.go.
start registry "$REGISTRY_BIN/ecr-registry" -host "$ECR_HOST" \
  -registry-listen "127.0.0.1:${PORT[registry]}" -proxy-listen "127.0.0.1:${PORT[registry_proxy]}" \
  -tls-cert-file "$PKI/ecr-registry.crt" -tls-private-key-file "$PKI/ecr-registry.key" -password "$ECR_PASSWORD"
registry_asks_credentials() {
  [[ "$(curl -sS --cacert "$PKI/ca.crt" --proxy "http://127.0.0.1:${PORT[registry_proxy]}" \
    -o /dev/null -w '%{http_code}' "https://$ECR_HOST/v2/")" == 401 ]]
}
wait_for "ECR registry serving, by its ECR name (asks for credentials)" registry registry_asks_credentials

# --endpoint-reconciler-type=none: the "kubernetes" Endpoints may not hold a loopback IP.
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:${PORT[etcd]}" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${PORT[apiserver]}" \
  --endpoint-reconciler-type none \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --requestheader-client-ca-file "$PKI/ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --service-cluster-ip-range 10.96.0.0/16 \
  --authentication-token-webhook-config-file "$LC_RUN/token-webhook.kubeconfig" \
  --authentication-token-webhook-version v1 --authentication-token-webhook-cache-ttl 5s \
  --authorization-mode Node,RBAC --allow-privileged=true --profiling=false \
  --kubelet-preferred-address-types ExternalIP,InternalIP,Hostname \
  --kubelet-certificate-authority "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key"
wait_for "kube-apiserver ready" kube-apiserver api /readyz

# The webhook puts every EKS-token user in this group. cluster-admin is broader than a
# deploy needs, but this is a throwaway stand-in; see README.
api /apis/rbac.authorization.k8s.io/v1/clusterrolebindings -X POST -H 'Content-Type: application/json' -o /dev/null -d @- <<EOF
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
 "metadata":{"name":"ecommerce-deployers"},
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
 "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"ecommerce:deployers"}]}
EOF

# kwok's Logs kind, which pod-logs.py creates per crash-looping pod (see logs/).
api /apis/apiextensions.k8s.io/v1/customresourcedefinitions -X POST -H 'Content-Type: application/yaml' \
  -o /dev/null --data-binary @"$HERE/logs/logs-crd.yaml"

KCM_KUBECONFIG="$LC_RUN/controller-manager.kubeconfig"
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$KCM_KUBECONFIG" --authentication-kubeconfig "$KCM_KUBECONFIG" --authorization-kubeconfig "$KCM_KUBECONFIG" \
  --bind-address 127.0.0.1 --secure-port "${PORT[controller_manager]}" --leader-elect=false \
  --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" --use-service-account-credentials \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --controllers '*' --profiling=false
SCHED_KUBECONFIG="$LC_RUN/scheduler.kubeconfig"
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig "$SCHED_KUBECONFIG" --authentication-kubeconfig "$SCHED_KUBECONFIG" --authorization-kubeconfig "$SCHED_KUBECONFIG" \
  --bind-address 127.0.0.1 --secure-port "${PORT[scheduler]}" --leader-elect=false --profiling=false

# kwok only manages nodes annotated kwok.x-k8s.io/node=fake, with our stage files.
sed -e "s/@POD_READY_DELAY_MS@/$POD_READY_DELAY_MS/g" -e "s/@CRASHLOOP_DELAY_MS@/$CRASHLOOP_DELAY_MS/g" \
  "$HERE/stages/node.yaml" >"$LC_RUN/stages.yaml"
{ echo '---'; sed -e "s/@POD_READY_DELAY_MS@/$POD_READY_DELAY_MS/g" -e "s/@CRASHLOOP_DELAY_MS@/$CRASHLOOP_DELAY_MS/g" \
  "$HERE/stages/pod.yaml"; } >>"$LC_RUN/stages.yaml"
# Container logs: the shipped texts as CRI log files (time stream tag text, what a kubelet
# reads), dated now; ClusterLogs gives every container the healthy one.
CLOGS="$LC_RUN/container-logs"
mkdir -p "$CLOGS"
for f in "$HERE"/logs/*.log; do
  awk -v t="$(date -u +%Y-%m-%dT%H:%M:%S)" 'BEGIN { s = "stdout" } /^Error/ { s = "stderr" }
    { printf "%s.%09dZ %s F %s\n", t, NR * 1000000, s, $0 }' "$f" >"$CLOGS/$(basename "$f")"
done
{ echo '---'; sed -e "s|@LOGS@|$CLOGS|g" "$HERE/logs/cluster-logs.yaml"; } >>"$LC_RUN/stages.yaml"
wait_for "Logs CRD served" kube-apiserver api /apis/kwok.x-k8s.io/v1alpha1/logs
# --node-port: the kubelet port kwok writes into each node's status.daemonEndpoints; the
# API server dials the node's ExternalIP (127.0.0.1, see the nodes below) on it.
start kwok "$BIN/kwok" --kubeconfig "$LC_RUN/kwok.kubeconfig" --config "$LC_RUN/stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --cidr 10.244.0.0/16 --node-lease-duration-seconds 40 \
  --server-address "127.0.0.1:${PORT[kwok]}" --node-port "${PORT[kwok]}" \
  --tls-cert-file "$PKI/kubelet-serving.crt" --tls-private-key-file "$PKI/kubelet-serving.key" \
  --enable-crds Logs
start pod-logs "$PYTHON" "$HERE/logs/pod-logs.py" --server "$SERVER" --ca-file "$PKI/ca.crt" \
  --cert-file "$PKI/pod-logs.crt" --key-file "$PKI/pod-logs.key" \
  --crash-log "$CLOGS/crashloop.log" --app-log "$CLOGS/app.log" --no-previous "$CLOGS/no-previous-container"

for i in $(seq 0 $((NODES - 1))); do
  zone="$REGION${ZONES[i % ${#ZONES[@]}]}" name="kwok-node-$i"
  res='{"cpu":"64","memory":"256Gi","pods":"250","ephemeral-storage":"500Gi"}'
  api /api/v1/nodes -X POST -H 'Content-Type: application/json' -o /dev/null -d @- <<EOF
{"apiVersion":"v1","kind":"Node",
 "metadata":{"name":"$name",
  "annotations":{"kwok.x-k8s.io/node":"fake","node.alpha.kubernetes.io/ttl":"0"},
  "labels":{"type":"kwok","kubernetes.io/hostname":"$name","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64",
   "node.kubernetes.io/instance-type":"m5.16xlarge","topology.kubernetes.io/region":"$REGION","topology.kubernetes.io/zone":"$zone"}},
 "spec":{},
 "status":{"allocatable":$res,"capacity":$res,
  "addresses":[{"type":"InternalIP","address":"10.0.0.$((10 + i))"},{"type":"ExternalIP","address":"127.0.0.1"},{"type":"Hostname","address":"$name"}],
  "nodeInfo":{"kubeletVersion":"v1.35.4","architecture":"amd64","operatingSystem":"linux"}}}
EOF
done

ready_nodes() {
  api /api/v1/nodes | node -e '
    let n = 0; const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const x of d.items) if ((x.status.conditions || []).some(c => c.type === "Ready" && c.status === "True") &&
      !(x.spec.taints || []).some(t => t.key.startsWith("node.kubernetes.io/"))) n++;
    process.exit(n >= Number(process.argv[1]) ? 0 : 1)' "$NODES"
}
wait_for "kube-controller-manager healthy" kube-controller-manager healthz "${PORT[controller_manager]}"
wait_for "kube-scheduler healthy" kube-scheduler healthz "${PORT[scheduler]}"
wait_for "$NODES nodes Ready and untainted" kwok ready_nodes
wait_for "kubelet endpoint (kwok) serving TLS" kwok curl -sS --fail --cacert "$PKI/ca.crt" "https://127.0.0.1:${PORT[kwok]}/healthz"
wait_for "default ServiceAccount" kube-controller-manager api /api/v1/namespaces/default/serviceaccounts/default

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
EOF
log "up in $((SECONDS - START))s: apiserver $SERVER, logs in $LOGS"
log "AWS endpoint: $HARNESS (moto: ECR, IAM, EKS cluster $EKS_CLUSTER in $REGION; calls: $HARNESS/_harness/calls)"
log "kubeconfig:   $KUBECONFIG_ADMIN (admin, system:masters)"
log "ECR charts:   oci://$ECR_HOST/... via HTTPS_PROXY=http://127.0.0.1:${PORT[registry_proxy]} (see the env file)"
log "use: source $LC_RUN/env"
echo "$KUBECONFIG_ADMIN"
