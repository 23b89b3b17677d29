# shellcheck shell=bash
# Sourced by up.sh: the AWS harness (aws/harness.py: moto with a seeded ECR/IAM/EKS, and the
# TokenReview webhook that verifies EKS tokens), and the webhook kubeconfig the apiserver uses.
# It starts first: the apiserver's token webhook points at it, and it needs only the
# apiserver's port and CA (for the EKS cluster it seeds), both known by now.

start_harness() {
  # No AWS_PROFILE: the harness seeds moto with explicit test keys, a profile must not interfere.
  start harness env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE "$PYTHON" "$HERE/aws/harness.py" \
    --port "${PORT[harness]}" --apiserver-port "${PORT[apiserver]}" --ca-file "$PKI/ca.crt" \
    --region "$REGION" --cluster-name "$EKS_CLUSTER" --tags "${ECR_TAGS[@]}" --repositories "${ECR_REPOSITORIES[@]}"
  # kube-apiserver -> harness TokenReview webhook (plain http on loopback: the apiserver accepts it).
  jq -n --arg server "$HARNESS/authenticate" '{
    apiVersion: "v1",
    kind: "Config",
    clusters: [{name: "aws-harness", cluster: {server: $server}}],
    users: [{name: "kube-apiserver", user: {}}],
    contexts: [{name: "webhook", context: {cluster: "aws-harness", user: "kube-apiserver"}}],
    "current-context": "webhook"
  }' >"$LC_RUN/token-webhook.kubeconfig"
}
