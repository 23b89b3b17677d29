# shellcheck shell=bash
# Sourced by up.sh: the stand-in's PKI in $PKI (openssl) and the kubeconfigs made from it.
# One CA signs the serving certs and every client cert, except the aggregation layer's
# front-proxy client cert: a CA of its own (front-proxy-ca), as in kubeadm's clusters.

# cert <name> <subject> [<subjectAltName>] [<signing CA name>]  -> $PKI/<name>.{key,crt}
cert() {
  local name=$1 subj=$2 san=${3:-} ca=${4:-ca}
  local ext="$PKI/$name.ext"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  if [[ -n $san ]]; then
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 365 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

# ca <name> <CN>  -> $PKI/<name>.{key,crt}
ca() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$1.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -out "$PKI/$1.crt" 2>/dev/null
}

make_pki() {
  ca ca local-cluster-ca
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
  # The aggregation layer: the API server proxies metrics.k8s.io to metrics-server with this
  # client cert (--proxy-client-cert-file); metrics-server trusts front-proxy-ca for it.
  ca front-proxy-ca local-cluster-front-proxy-ca
  cert front-proxy-client "/CN=front-proxy-client" "" front-proxy-ca
  # metrics-server: serving (the aggregator checks the Service's name) and its client cert.
  cert metrics-server "/CN=system:metrics-server" "DNS:metrics-server.kube-system.svc,IP:127.0.0.1"
  cert ecr-registry "/CN=$ECR_HOST" "DNS:$ECR_HOST"            # helm reaches it by this name, through the proxy
  # Service account tokens are signed with this key (RSA: what the apiserver expects).
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

# kubeconfig <cert name> <file>: the apiserver as that client, certs embedded so the file
# can be copied. Written as JSON, which kubectl and client libraries read as YAML.
kubeconfig() {
  jq -n --arg server "$SERVER" --arg user "$1" --arg ca "$(base64 -w0 <"$PKI/ca.crt")" \
    --arg cert "$(base64 -w0 <"$PKI/$1.crt")" --arg key "$(base64 -w0 <"$PKI/$1.key")" '{
      apiVersion: "v1",
      kind: "Config",
      clusters: [{name: "local-cluster", cluster: {server: $server, "certificate-authority-data": $ca}}],
      users: [{name: $user, user: {"client-certificate-data": $cert, "client-key-data": $key}}],
      contexts: [{name: "local-cluster", context: {cluster: "local-cluster", user: $user, namespace: "default"}}],
      "current-context": "local-cluster"
    }' >"$2"
}

# The admin's (the one up.sh prints) and the components' own.
write_kubeconfigs() {
  kubeconfig admin "$KUBECONFIG_ADMIN"
  local c
  for c in controller-manager scheduler kwok metrics-server; do kubeconfig "$c" "$LC_RUN/$c.kubeconfig"; done
}
