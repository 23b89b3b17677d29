# shellcheck shell=bash
# Sourced by up.sh: kube-controller-manager (the default controllers) and kube-scheduler.

start_controller_manager() {
  local kubeconfig="$LC_RUN/controller-manager.kubeconfig"
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${PORT[controller_manager]}" --leader-elect=false \
    --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" --use-service-account-credentials \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --controllers '*' --profiling=false
}

start_scheduler() {
  local kubeconfig="$LC_RUN/scheduler.kubeconfig"
  start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$kubeconfig" --authentication-kubeconfig "$kubeconfig" --authorization-kubeconfig "$kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${PORT[scheduler]}" --leader-elect=false --profiling=false
}
