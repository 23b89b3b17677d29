{{/*
Chart name, used in the app.kubernetes.io/name label.
*/}}
{{- define "ecommerce-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of every object. Each service is its own release (user-service, order-service, ...),
so the release name is the service name: no "<release>-<chart>" suffix as `helm create` does.
*/}}
{{- define "ecommerce-service.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "ecommerce-service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Image tag, defaulting to the chart appVersion.
*/}}
{{- define "ecommerce-service.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString }}
{{- end }}

{{/*
Image reference: a digest, when given, wins over the tag (deploy exactly what was checked).
*/}}
{{- define "ecommerce-service.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "ecommerce-service.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "ecommerce-service.labels" -}}
helm.sh/chart: {{ include "ecommerce-service.chart" . }}
{{ include "ecommerce-service.selectorLabels" . }}
app.kubernetes.io/version: {{ include "ecommerce-service.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ecommerce
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels. Immutable once a Deployment exists: never add to or change them.
`app` is what `kubectl get pods -l app=<service>` and the anti-affinity rely on.
*/}}
{{- define "ecommerce-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecommerce-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app: {{ include "ecommerce-service.fullname" . }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "ecommerce-service.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ecommerce-service.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
One HTTP probe on the named port. Call with (dict "probe" .Values.probes.x).
*/}}
{{- define "ecommerce-service.httpProbe" -}}
httpGet:
  path: {{ .probe.path }}
  port: http
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}

{{/*
Affinity: a full `affinity` value wins; otherwise anti-affinity between the service's own pods,
generated from the service name so no service file has to repeat it.
*/}}
{{- define "ecommerce-service.affinity" -}}
{{- if .Values.affinity }}
{{- toYaml .Values.affinity }}
{{- else if ne .Values.podAntiAffinity.type "none" }}
{{- $term := dict "labelSelector" (dict "matchExpressions" (list (dict "key" "app" "operator" "In" "values" (list (include "ecommerce-service.fullname" .))))) "topologyKey" .Values.podAntiAffinity.topologyKey }}
podAntiAffinity:
{{- if eq .Values.podAntiAffinity.type "hard" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    {{- toYaml (list $term) | nindent 4 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: {{ .Values.podAntiAffinity.weight }}
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Checksum of the rendered config, on the pod template: a config change rolls the pods.
*/}}
{{- define "ecommerce-service.configChecksum" -}}
{{- toJson .Values.config | sha256sum }}
{{- end }}

{{/*
Routing: the Ingress path defaults to /<service>; the VirtualService reuses the Ingress host and path
unless given its own, so switching a service to Istio routing is a two-flag change.
*/}}
{{- define "ecommerce-service.ingressPath" -}}
{{- .Values.ingress.path | default (printf "/%s" (include "ecommerce-service.fullname" .)) }}
{{- end }}

{{- define "ecommerce-service.virtualServiceHosts" -}}
{{- if .Values.istio.virtualService.hosts }}
{{- toYaml .Values.istio.virtualService.hosts }}
{{- else if .Values.ingress.host }}
{{- toYaml (list .Values.ingress.host) }}
{{- end }}
{{- end }}

{{- define "ecommerce-service.virtualServicePrefix" -}}
{{- .Values.istio.virtualService.pathPrefix | default (include "ecommerce-service.ingressPath" .) }}
{{- end }}

{{/*
Deployment annotations: deploymentAnnotations, plus a kube-score ignore for the pull policy when the image is
pinned by digest. kube-score wants `imagePullPolicy: Always` so that a moved tag is never served from a node's
cache; a digest cannot move, so a cached copy is exactly the image that was checked. With a tag the check stays on.
*/}}
{{- define "ecommerce-service.deploymentAnnotations" -}}
{{- $annotations := deepCopy .Values.deploymentAnnotations }}
{{- if and .Values.image.digest (ne .Values.image.pullPolicy "Always") }}
{{- $ignored := without (splitList "," (get $annotations "kube-score/ignore")) "" }}
{{- $_ := set $annotations "kube-score/ignore" (append $ignored "container-image-pull-policy" | uniq | join ",") }}
{{- $_ := set $annotations "ecommerce-deploy/kube-score-ignore-reason" "container-image-pull-policy: the image is pinned by digest, so a node's cached copy is the exact image the release checked; pulling on every start would only add latency and a dependency on ECR" }}
{{- end }}
{{- with $annotations }}
{{- toYaml . }}
{{- end }}
{{- end }}
