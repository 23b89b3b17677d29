# shellcheck shell=bash
# Sourced by up.sh: metrics-server, the metrics.k8s.io API behind the API server's
# aggregation layer (kubectl top, HPAs). It scrapes each node's kubelet resource metrics,
# which kwok's server simulates (the Metric and ClusterResourceUsage in metrics/, the node
# annotation metrics.k8s.io/resource-metrics-path set in create_nodes).
#
# The API server reaches it as the upstream manifests do, through an APIService that names
# a Service, kube-system/metrics-server; with no kube-proxy, that Service is an ExternalName
# for 127.0.0.1 (the aggregator dials an ExternalName directly, on the APIService's port).
# The aggregator checks metrics-server's serving cert (caBundle: our CA, server name
# metrics-server.kube-system.svc) and presents its front-proxy client cert; metrics-server
# trusts the front-proxy CA (read from kube-system/extension-apiserver-authentication) and
# asks the API server (TokenReview, SubjectAccessReview) about everything else.

# METRIC_RESOLUTION: how often metrics-server scrapes (its minimum is 10s; upstream default 15s).
start_metrics_server() {
  local kubeconfig="$LC_RUN/metrics-server.kubeconfig"
  start metrics-server "$METRICS_BIN/metrics-server" \
    --bind-address 127.0.0.1 --secure-port "${PORT[metrics_server]}" \
    --tls-cert-file "$PKI/metrics-server.crt" --tls-private-key-file "$PKI/metrics-server.key" \
    --kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --kubelet-preferred-address-types ExternalIP --kubelet-use-node-status-port \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --metric-resolution "$METRIC_RESOLUTION" --kubelet-request-timeout 5s --profiling=false
}

# RBAC as in metrics-server v0.8.0's manifests/base/rbac.yaml, for the user of its client
# cert (system:metrics-server) instead of a ServiceAccount; the Service and the APIService.
register_metrics_api() {
  local user='{apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "system:metrics-server"}'
  post /apis/rbac.authorization.k8s.io/v1/clusterroles '{
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole",
    metadata: {name: "system:aggregated-metrics-reader", labels: {
      "rbac.authorization.k8s.io/aggregate-to-view": "true",
      "rbac.authorization.k8s.io/aggregate-to-edit": "true",
      "rbac.authorization.k8s.io/aggregate-to-admin": "true"}},
    rules: [{apiGroups: ["metrics.k8s.io"], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"]}]}'
  post /apis/rbac.authorization.k8s.io/v1/clusterroles '{
    apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: {name: "system:metrics-server"},
    rules: [{apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"]},
            {apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"]}]}'
  post /apis/rbac.authorization.k8s.io/v1/clusterrolebindings "{
    apiVersion: \"rbac.authorization.k8s.io/v1\", kind: \"ClusterRoleBinding\", metadata: {name: \"system:metrics-server\"},
    roleRef: {apiGroup: \"rbac.authorization.k8s.io\", kind: \"ClusterRole\", name: \"system:metrics-server\"},
    subjects: [$user]}"
  post /apis/rbac.authorization.k8s.io/v1/clusterrolebindings "{
    apiVersion: \"rbac.authorization.k8s.io/v1\", kind: \"ClusterRoleBinding\",
    metadata: {name: \"metrics-server:system:auth-delegator\"},
    roleRef: {apiGroup: \"rbac.authorization.k8s.io\", kind: \"ClusterRole\", name: \"system:auth-delegator\"},
    subjects: [$user]}"
  post /apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings "{
    apiVersion: \"rbac.authorization.k8s.io/v1\", kind: \"RoleBinding\",
    metadata: {name: \"metrics-server-auth-reader\", namespace: \"kube-system\"},
    roleRef: {apiGroup: \"rbac.authorization.k8s.io\", kind: \"Role\", name: \"extension-apiserver-authentication-reader\"},
    subjects: [$user]}"
  post /api/v1/namespaces/kube-system/services '{
    apiVersion: "v1", kind: "Service",
    metadata: {name: "metrics-server", namespace: "kube-system", labels: {"k8s-app": "metrics-server"}},
    spec: {type: "ExternalName", externalName: "127.0.0.1"}}'
  post /apis/apiregistration.k8s.io/v1/apiservices "{
    apiVersion: \"apiregistration.k8s.io/v1\", kind: \"APIService\",
    metadata: {name: \"v1beta1.metrics.k8s.io\", labels: {\"k8s-app\": \"metrics-server\"}},
    spec: {group: \"metrics.k8s.io\", version: \"v1beta1\", groupPriorityMinimum: 100, versionPriority: 100,
           service: {name: \"metrics-server\", namespace: \"kube-system\", port: ${PORT[metrics_server]}},
           caBundle: \"$(base64 -w0 <"$PKI/ca.crt")\"}}"
}

# post <path> <jq program>: create the object the jq program builds, as the admin.
post() { jq -n "$2" | api "$1" -X POST -H 'Content-Type: application/json' -o /dev/null -d @-; }

# The aggregator has found metrics-server healthy (APIService condition Available).
metrics_api_available() {
  api /apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io |
    jq -e 'any(.status.conditions[]?; .type == "Available" and .status == "True")'
}
