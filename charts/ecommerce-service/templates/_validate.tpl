{{/*
Checks that need more than one value, or give a better message than the schema.
values.schema.json already rejects unknown keys and wrong types before any template runs.
Included once, from deployment.yaml.
*/}}
{{- define "ecommerce-service.validate" -}}
{{- $errors := list }}
{{- $errors = append $errors (include "ecommerce-service.validate.pdb" . | trim) }}
{{- $errors = append $errors (include "ecommerce-service.validate.roleArn" . | trim) }}
{{- $errors = append $errors (include "ecommerce-service.validate.autoscaling" . | trim) }}
{{- $errors = append $errors (include "ecommerce-service.validate.routing" . | trim) }}
{{- $errors = without $errors "" }}
{{- if $errors }}
{{- fail (printf "\n\nVALUES VALIDATION:\n%s" (join "\n" $errors)) }}
{{- end }}
{{- end }}

{{/*
A PDB whose minAvailable reaches the smallest pod count lets no pod be evicted: node drains and
cluster upgrades hang. Only integers are compared; a percentage is checked only for 100%.
*/}}
{{- define "ecommerce-service.validate.pdb" -}}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if $pdb.enabled }}
{{- $hasMin := not (kindIs "invalid" $pdb.minAvailable) }}
{{- $hasMax := not (kindIs "invalid" $pdb.maxUnavailable) }}
{{- if and $hasMin $hasMax }}
podDisruptionBudget: set minAvailable ({{ $pdb.minAvailable }}) or maxUnavailable ({{ $pdb.maxUnavailable }}), not both (set the other to null).
{{- else if not (or $hasMin $hasMax) }}
podDisruptionBudget: set minAvailable or maxUnavailable.
{{- else if $hasMin }}
{{- if kindIs "string" $pdb.minAvailable }}
{{- if eq $pdb.minAvailable "100%" }}
podDisruptionBudget.minAvailable (100%) lets no pod ever be evicted, so node drains block; use a lower value.
{{- end }}
{{- else }}
{{- $min := int $pdb.minAvailable }}
{{- if .Values.autoscaling.enabled }}
{{- if ge $min (int .Values.autoscaling.minReplicas) }}
podDisruptionBudget.minAvailable ({{ $min }}) must be lower than autoscaling.minReplicas ({{ int .Values.autoscaling.minReplicas }}), otherwise no pod can ever be evicted and node drains block.
{{- end }}
{{- else if ge $min (int .Values.replicaCount) }}
podDisruptionBudget.minAvailable ({{ $min }}) must be lower than replicaCount ({{ int .Values.replicaCount }}), otherwise no pod can ever be evicted and node drains block.
{{- end }}
{{- end }}
{{- else }}
{{- if or (eq (toString $pdb.maxUnavailable) "0") (eq (toString $pdb.maxUnavailable) "0%") }}
podDisruptionBudget.maxUnavailable ({{ $pdb.maxUnavailable }}) lets no pod ever be evicted, so node drains block; use 1 or more.
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
IRSA only works with an IAM role; a user ARN or a typo is accepted by the API server and fails at run time.
*/}}
{{- define "ecommerce-service.validate.roleArn" -}}
{{- $key := "eks.amazonaws.com/role-arn" }}
{{- if hasKey .Values.serviceAccount.annotations $key }}
{{- $arn := index .Values.serviceAccount.annotations $key | toString }}
{{- if not (regexMatch "^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$" $arn) }}
serviceAccount.annotations.eks.amazonaws.com/role-arn ({{ $arn }}) is not an IAM role ARN: expected arn:aws:iam::<12-digit account>:role/<role name>.
{{- end }}
{{- end }}
{{- end }}

{{- define "ecommerce-service.validate.autoscaling" -}}
{{- $hpa := .Values.autoscaling }}
{{- if $hpa.enabled }}
{{- if gt (int $hpa.minReplicas) (int $hpa.maxReplicas) }}
autoscaling.minReplicas ({{ int $hpa.minReplicas }}) must not be greater than autoscaling.maxReplicas ({{ int $hpa.maxReplicas }}).
{{- end }}
{{- if not (or $hpa.targetCPUUtilization $hpa.targetMemoryUtilization) }}
autoscaling: set targetCPUUtilization or targetMemoryUtilization (or both).
{{- end }}
{{- $requests := (.Values.resources).requests | default dict }}
{{- if and $hpa.targetCPUUtilization (not $requests.cpu) }}
autoscaling.targetCPUUtilization needs resources.requests.cpu: utilization is a percentage of the request.
{{- end }}
{{- if and $hpa.targetMemoryUtilization (not $requests.memory) }}
autoscaling.targetMemoryUtilization needs resources.requests.memory: utilization is a percentage of the request.
{{- end }}
{{- end }}
{{- end }}

{{/*
The Ingress (class istio) and the VirtualService would both program the same Istio gateway for the
same host and path, with no defined winner: choose one.
*/}}
{{- define "ecommerce-service.validate.routing" -}}
{{- if and .Values.ingress.enabled .Values.istio.virtualService.enabled }}
ingress.enabled and istio.virtualService.enabled are both true: route the service through one of them (set ingress.enabled=false to use the VirtualService).
{{- end }}
{{- if and .Values.istio.virtualService.enabled (not (include "ecommerce-service.virtualServiceHosts" .)) }}
istio.virtualService.hosts (or ingress.host) must name at least one host when istio.virtualService.enabled is true.
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) }}
ingress.host must be set when ingress.enabled is true.
{{- end }}
{{- end }}
