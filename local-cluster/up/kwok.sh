# shellcheck shell=bash
# Sourced by up.sh: kwok (the fake nodes' kubelets, and their kubelet endpoint for container
# logs), pod-logs.py, and the nodes themselves.

# "2s", "500ms" or plain milliseconds -> milliseconds.
to_ms() {
  case $1 in
    *ms) echo "${1%ms}" ;;
    *s) awk -v s="${1%s}" 'BEGIN { printf "%d", s * 1000 }' ;;
    *) echo "$1" ;;
  esac
}

# kwok's --config ($LC_RUN/stages.yaml): our stages, with the delays filled in, a
# ClusterLogs giving every container the healthy log, and the resource metrics (a Metric
# serving /metrics/resource, a ClusterResourceUsage giving every container a modest use). Container logs: the shipped texts as
# CRI log files (time stream tag text, what a kubelet reads), dated now.
write_kwok_config() {
  local ready_ms crash_ms f
  ready_ms="$(to_ms "$POD_READY_DELAY")"
  crash_ms="$(to_ms "$CRASHLOOP_DELAY")"
  local delays=(-e "s/@POD_READY_DELAY_MS@/$ready_ms/g" -e "s/@CRASHLOOP_DELAY_MS@/$crash_ms/g")
  mkdir -p "$CLOGS"
  for f in "$HERE"/logs/*.log; do
    awk -v t="$(date -u +%Y-%m-%dT%H:%M:%S)" 'BEGIN { s = "stdout" } /^Error/ { s = "stderr" }
      { printf "%s.%09dZ %s F %s\n", t, NR * 1000000, s, $0 }' "$f" >"$CLOGS/$(basename "$f")"
  done
  {
    sed "${delays[@]}" "$HERE/stages/node.yaml"
    echo '---'
    sed "${delays[@]}" "$HERE/stages/pod.yaml"
    echo '---'
    sed -e "s|@LOGS@|$CLOGS|g" "$HERE/logs/cluster-logs.yaml"
    echo '---'
    cat "$HERE/metrics/metrics-resource.yaml"
    echo '---'
    cat "$HERE/metrics/usage.yaml"
  } >"$LC_RUN/stages.yaml"
}

# kwok only manages nodes annotated kwok.x-k8s.io/node=fake, with our stage files.
# --node-port: the kubelet port kwok writes into each node's status.daemonEndpoints; the
# API server dials the node's ExternalIP (127.0.0.1, see create_nodes) on it.
# --enable-crds: Logs (pod-logs.py) and ResourceUsage (a pod's own simulated use) are
# read from the API, so they can change at run time.
start_kwok() {
  start kwok "$BIN/kwok" --kubeconfig "$LC_RUN/kwok.kubeconfig" --config "$LC_RUN/stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr 10.244.0.0/16 --node-lease-duration-seconds 40 \
    --server-address "127.0.0.1:${PORT[kwok]}" --node-port "${PORT[kwok]}" \
    --tls-cert-file "$PKI/kubelet-serving.crt" --tls-private-key-file "$PKI/kubelet-serving.key" \
    --enable-crds Logs,ResourceUsage
}

# Gives crash-looping pods their crash log (a kwok Logs object each); see logs/.
start_pod_logs() {
  start pod-logs "$PYTHON" "$HERE/logs/pod-logs.py" --server "$SERVER" --ca-file "$PKI/ca.crt" \
    --cert-file "$PKI/pod-logs.crt" --key-file "$PKI/pod-logs.key" \
    --crash-log "$CLOGS/crashloop.log" --app-log "$CLOGS/app.log" --no-previous "$CLOGS/no-previous-container"
}

# NODES nodes kwok-node-<i>, round-robin over the zones. metrics-server (>= v0.7) scrapes a
# node's resource metrics at the path its annotation names: kwok's Metric (metrics/).
create_nodes() {
  local i
  for ((i = 0; i < NODES; i++)); do
    jq -n --arg name "kwok-node-$i" --arg region "$REGION" --arg zone "$REGION${ZONES[i % ${#ZONES[@]}]}" \
      --arg internal_ip "10.0.0.$((10 + i))" '
      {cpu: "64", memory: "256Gi", pods: "250", "ephemeral-storage": "500Gi"} as $resources | {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: $name,
          annotations: {
            "kwok.x-k8s.io/node": "fake",
            "node.alpha.kubernetes.io/ttl": "0",
            "metrics.k8s.io/resource-metrics-path": "/metrics/nodes/\($name)/metrics/resource"
          },
          labels: {
            type: "kwok",
            "kubernetes.io/hostname": $name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "m5.16xlarge",
            "topology.kubernetes.io/region": $region,
            "topology.kubernetes.io/zone": $zone
          }
        },
        spec: {},
        status: {
          allocatable: $resources,
          capacity: $resources,
          addresses: [
            {type: "InternalIP", address: $internal_ip},
            {type: "ExternalIP", address: "127.0.0.1"},
            {type: "Hostname", address: $name}
          ],
          nodeInfo: {kubeletVersion: "v1.35.4", architecture: "amd64", operatingSystem: "linux"}
        }
      }' | api /api/v1/nodes -X POST -H 'Content-Type: application/json' -o /dev/null -d @-
  done
}

# At least NODES nodes Ready and without node.kubernetes.io/* taints.
ready_nodes() {
  api /api/v1/nodes | jq -e --argjson want "$NODES" '[.items[] | select(
      any(.status.conditions[]?; .type == "Ready" and .status == "True") and
      (any(.spec.taints[]?; .key | startswith("node.kubernetes.io/")) | not)
    )] | length >= $want'
}
