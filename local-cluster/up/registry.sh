# shellcheck shell=bash
# Sourced by up.sh: ECR's OCI registry (charts), reached by its ECR name through a CONNECT
# proxy; see go/registry/main.go.

start_registry() {
  start registry "$REGISTRY_BIN/ecr-registry" -host "$ECR_HOST" \
    -registry-listen "127.0.0.1:${PORT[registry]}" -proxy-listen "127.0.0.1:${PORT[registry_proxy]}" \
    -tls-cert-file "$PKI/ecr-registry.crt" -tls-private-key-file "$PKI/ecr-registry.key" -password "$ECR_PASSWORD"
  wait_for "ECR registry serving, by its ECR name (asks for credentials)" registry registry_asks_credentials
}

registry_asks_credentials() {
  [[ "$(curl -sS --cacert "$PKI/ca.crt" --proxy "http://127.0.0.1:${PORT[registry_proxy]}" \
    -o /dev/null -w '%{http_code}' "https://$ECR_HOST/v2/")" == 401 ]]
}
