# shellcheck shell=bash
# Sourced by up.sh: kube-apiserver, and what it must hold before the other components start.

start_apiserver() {
  # LOCAL_CLUSTER_AUDIT=1: an audit log of every request (logs/audit.log), for the benchmark's counts.
  local audit=()
  if [[ ${LOCAL_CLUSTER_AUDIT:-} == 1 ]]; then
    audit=(--audit-policy-file "$HERE/up/audit-policy.yaml" --audit-log-path "$LOGS/audit.log"
      --audit-log-format json --audit-log-mode batch --audit-log-maxsize 0)
  fi
  # --endpoint-reconciler-type=none: the "kubernetes" Endpoints may not hold a loopback IP.
  start kube-apiserver "$BIN/kube-apiserver" "${audit[@]}" \
    --etcd-servers "http://127.0.0.1:${PORT[etcd]}" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${PORT[apiserver]}" \
    --endpoint-reconciler-type none \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
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
}

# The webhook puts every EKS-token user in the group ecommerce:deployers. cluster-admin is
# broader than a deploy needs, but this is a throwaway stand-in; see README.
bind_deployers_to_cluster_admin() {
  jq -n '{
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: {name: "ecommerce-deployers"},
    roleRef: {apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin"},
    subjects: [{apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "ecommerce:deployers"}]
  }' | api /apis/rbac.authorization.k8s.io/v1/clusterrolebindings -X POST -H 'Content-Type: application/json' \
    -o /dev/null -d @-
}

# kwok's Logs kind, which pod-logs.py creates per crash-looping pod (see logs/), and its
# ResourceUsage kind (a pod's simulated CPU/memory use, see metrics/).
install_kwok_crds() {
  local f
  for f in "$HERE/logs/logs-crd.yaml" "$HERE/metrics/resourceusages-crd.yaml"; do
    api /apis/apiextensions.k8s.io/v1/customresourcedefinitions -X POST -H 'Content-Type: application/yaml' \
      -o /dev/null --data-binary @"$f"
  done
}

kwok_crds_served() {
  api /apis/kwok.x-k8s.io/v1alpha1/logs && api /apis/kwok.x-k8s.io/v1alpha1/resourceusages
}
