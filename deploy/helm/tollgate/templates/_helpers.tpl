{{/*
Names, labels and the per-service configuration every template builds on.
*/}}

{{- define "tollgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Cut to 32 characters: the longest object name is "<fullname>-conversation-optimizer-canary"
and Service names must stay within 63.
*/}}
{{- define "tollgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 32 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 32 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 32 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tollgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels. Args: dict "root" $ "component" "cache" */}}
{{- define "tollgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tollgate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every object's labels. Args: dict "root" $ "component" "cache" */}}
{{- define "tollgate.labels" -}}
helm.sh/chart: {{ include "tollgate.chart" .root }}
{{ include "tollgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: tollgate
{{- end -}}

{{/*
Deep merge of two maps as YAML: keys of .override win, maps are merged key by key, anything else
(lists, scalars, false, 0, "") replaces. Sprig's mergeOverwrite would drop false and 0 overrides.
Args: dict "base" map "override" map
*/}}
{{- define "tollgate.merge" -}}
{{- $out := deepCopy .base -}}
{{- range $key, $value := .override -}}
{{- $current := get $out $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- $_ := set $out $key (fromYaml (include "tollgate.merge" (dict "base" $current "override" $value))) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
One service's effective configuration: `default` merged with services.<key>, plus derived names.
Use as: $svc := include "tollgate.service" (dict "root" $ "key" "semanticCache") | fromYaml
  key        semanticCache                      (values key)
  component  semantic-cache                     (labels, object names)
  module     semantic_cache                     (python -m tollgate.<module>, flags file keys)
  envPrefix  TOLLGATE_SEMANTIC_CACHE_
  name       <fullname>-semantic-cache          (Deployment, Service, ServiceAccount)
  grpcName   tollgate.v1.SemanticCacheService   (health service name)
  imageRef   <registry/>repository:tag
*/}}
{{- define "tollgate.service" -}}
{{- $root := .root -}}
{{- $key := .key -}}
{{- $svc := fromYaml (include "tollgate.merge" (dict "base" $root.Values.default "override" (index $root.Values.services $key))) -}}
{{- $component := kebabcase $key -}}
{{- $_ := set $svc "key" $key -}}
{{- $_ := set $svc "component" $component -}}
{{- $_ := set $svc "module" (snakecase $key) -}}
{{- $_ := set $svc "envPrefix" (printf "TOLLGATE_%s_" (upper (snakecase $key))) -}}
{{- $_ := set $svc "name" (printf "%s-%s" (include "tollgate.fullname" $root) $component) -}}
{{- $_ := set $svc "grpcName" (printf "tollgate.v1.%sService" (title $key)) -}}
{{- $_ := set $svc "imageRef" (include "tollgate.imageRef" (dict "root" $root "image" $svc.image)) -}}
{{- toYaml $svc -}}
{{- end -}}

{{/*
Args: dict "root" $ "image" {registry, repository, tag, digest}. A digest (sha256:...) pins the
exact image: it wins over the tag, so what runs is what was tested whatever the tag points at.
*/}}
{{- define "tollgate.imageRef" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion -}}
{{- $repository := .image.repository -}}
{{- if .image.registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" .image.registry) .image.repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* In-cluster DNS name of a Service. Args: dict "root" $ "name" "tollgate-cache" */}}
{{- define "tollgate.serviceHost" -}}
{{- printf "%s.%s.svc.%s" .name .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* The ConfigMap holding lead scoring's trained model, or nothing for the shipped one. */}}
{{- define "tollgate.leadModelConfigMap" -}}
{{- $model := .Values.services.leadScoring.model -}}
{{- if and $model.json $model.existingConfigMap -}}
{{- fail "services.leadScoring.model: set json or existingConfigMap, not both" -}}
{{- end -}}
{{- if $model.json -}}
{{- printf "%s-lead-scoring-model" (include "tollgate.fullname" .) -}}
{{- else if $model.existingConfigMap -}}
{{- $model.existingConfigMap -}}
{{- end -}}
{{- end -}}

{{- define "tollgate.flagsConfigMapName" -}}
{{- printf "%s-flags" (include "tollgate.fullname" .) -}}
{{- end -}}

{{/*
The runtime overrides ConfigMap (kill switch, `tollgate rollout set-flag`). The chart never renders
it: only `tollgate rollout` creates and edits it, so Helm upgrades and rollbacks never touch it.
*/}}
{{- define "tollgate.flagOverridesConfigMapName" -}}
{{- printf "%s-flag-overrides" (include "tollgate.fullname" .) -}}
{{- end -}}

{{- define "tollgate.storesSecretName" -}}
{{- printf "%s-stores" (include "tollgate.fullname" .) -}}
{{- end -}}

{{- define "tollgate.apiKeysSecretName" -}}
{{- .Values.services.gateway.apiKeys.existingSecret | default (printf "%s-api-keys" (include "tollgate.fullname" .)) -}}
{{- end -}}

{{- define "tollgate.anthropicSecretName" -}}
{{- .Values.services.orchestrator.anthropic.existingSecret | default (printf "%s-anthropic" (include "tollgate.fullname" .)) -}}
{{- end -}}

{{/* The gateway watches its flags ConfigMap through the API only when it may. */}}
{{- define "tollgate.gatewayWatchesFlags" -}}
{{- if and .Values.services.gateway.enabled .Values.services.gateway.flagsWatch .Values.rbac.create -}}true{{- end -}}
{{- end -}}

{{/*
"true" when the orchestrator paces its replicas through the chart's Redis: pacing on, and a
Redis to pace through (bundled or external). Without one, each replica's AIMD paces alone.
*/}}
{{- define "tollgate.orchestratorPaces" -}}
{{- $orchestrator := .Values.services.orchestrator -}}
{{- $redis := .Values.redis -}}
{{- $hasRedis := or $redis.enabled $redis.external.url $redis.external.existingSecret -}}
{{- if and $orchestrator.enabled $orchestrator.pacing.enabled $hasRedis -}}true{{- end -}}
{{- end -}}

{{/*
"true" when the gateway keeps sessions (stored conversations, `session_id`): in the sessions'
own Redis (`sessionsRedis`: bundled, or external). Rendering fails clearly when sessions are on
and that Redis has no address.
*/}}
{{- define "tollgate.gatewayKeepsSessions" -}}
{{- $gateway := .Values.services.gateway -}}
{{- if and $gateway.enabled $gateway.sessions.enabled -}}true{{- end -}}
{{- end -}}

{{/*
Connection URL of a store for the service that uses it: the bundled StatefulSet's address, or
the external URL. Args: dict "root" $ "store" "redis"|"sessionsRedis"|"postgres"|"qdrant"
*/}}
{{- define "tollgate.storeUrl" -}}
{{- $root := .root -}}
{{- $values := index $root.Values .store -}}
{{- $host := include "tollgate.serviceHost" (dict "root" $root "name" (printf "%s-%s" (include "tollgate.fullname" $root) (kebabcase .store))) -}}
{{- if $values.enabled -}}
{{- if has .store (list "redis" "sessionsRedis") -}}
{{- if $values.auth.enabled -}}
{{- printf "redis://:%s@%s:6379/0" (urlquery $values.auth.password) $host -}}
{{- else -}}
{{- printf "redis://%s:6379/0" $host -}}
{{- end -}}
{{- else if eq .store "postgres" -}}
{{- $auth := $values.auth -}}
{{- printf "postgresql://%s:%s@%s:5432/%s" (urlquery $auth.username) (urlquery $auth.password) $host $auth.database -}}
{{- else -}}
{{- printf "http://%s:6333" $host -}}
{{- end -}}
{{- else -}}
{{- $values.external.url -}}
{{- end -}}
{{- end -}}

{{/*
A secretKeyRef for a store's URL: the user's Secret when external.existingSecret is set, else
the chart's stores Secret. Fails with a clear message when an external store has no address.
Args: dict "root" $ "store" "redis" "for" "the cache service"
*/}}
{{- define "tollgate.storeUrlRef" -}}
{{- $values := index .root.Values .store -}}
{{- if and (not $values.enabled) $values.external.existingSecret -}}
secretKeyRef:
  name: {{ $values.external.existingSecret }}
  key: {{ $values.external.existingSecretKey }}
{{- else -}}
{{- if and (not $values.enabled) (not $values.external.url) -}}
{{- fail (printf "%s.enabled is false, so %s needs an external %s: set %s.external.url or %s.external.existingSecret" .store .for .store .store .store) -}}
{{- end -}}
secretKeyRef:
  name: {{ include "tollgate.storesSecretName" .root }}
  key: {{ kebabcase .store }}-url
{{- end -}}
{{- end -}}

{{/* Pod-level security: non-root, default seccomp. Args: uid */}}
{{- define "tollgate.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid | default .uid }}
fsGroup: {{ .fsGroup | default .gid | default .uid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security: read-only root filesystem, no privilege escalation, no capabilities. */}}
{{- define "tollgate.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid | default .uid }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The uid and gid our images run as (see the services' Dockerfiles). */}}
{{- define "tollgate.appUser" -}}
uid: 10001
gid: 10001
{{- end -}}

{{/*
"true" in single-process mode (singleProcess.enabled): the gateway's pods run every service in
one process (`python -m tollgate.single_process`), and no backend has a workload of its own.
Fails on values the mode cannot honour: it builds every backend, so every service must be on,
and a canary needs a Deployment of its own, which no service has here.
*/}}
{{- define "tollgate.singleProcess" -}}
{{- if .Values.singleProcess.enabled -}}
{{- range $key, $values := .Values.services -}}
{{- if not $values.enabled -}}
{{- fail (printf "singleProcess.enabled is true: it runs every service in one process, so services.%s.enabled must be true too" $key) -}}
{{- end -}}
{{- if dig "canary" "enabled" false $values -}}
{{- fail (printf "singleProcess.enabled is true: services.%s.canary.enabled cannot be, since in single-process mode no service has a Deployment of its own to canary; set services.%s.canary.enabled to false, or run the seven Deployments (singleProcess.enabled: false)" $key $key) -}}
{{- end -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{/*
Keys of the services that have a workload of their own (Deployment, Service, ServiceAccount,
PDB, HPA, NetworkPolicy), as a JSON list: every enabled service, or in single-process mode the
gateway alone. Use as: include "tollgate.workloadKeys" $ | fromJsonArray
*/}}
{{- define "tollgate.workloadKeys" -}}
{{- $keys := list -}}
{{- if include "tollgate.singleProcess" . -}}
{{- $keys = list "gateway" -}}
{{- else -}}
{{- range $key, $values := .Values.services -}}
{{- if $values.enabled -}}
{{- $keys = append $keys $key -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $keys -}}
{{- end -}}

{{/*
Keys of the services that run in the pods of services.<key>, as a JSON list, the workload's own
first: [key], or in single-process mode every service for the gateway.
Args: dict "root" $ "key" <services key>
*/}}
{{- define "tollgate.members" -}}
{{- $members := list .key -}}
{{- if and (eq .key "gateway") (include "tollgate.singleProcess" .root) -}}
{{- range $key, $_ := .root.Values.services -}}
{{- if ne $key "gateway" -}}
{{- $members = append $members $key -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $members -}}
{{- end -}}

{{/*
The configuration of the workload of services.<key>: its `tollgate.service`, and in
single-process mode the gateway's with the image, resources and probes of `singleProcess`
(module single_process). Use as: include "tollgate.workload" (dict "root" $ "key" "gateway") | fromYaml
*/}}
{{- define "tollgate.workload" -}}
{{- $svc := include "tollgate.service" . | fromYaml -}}
{{- if and (eq .key "gateway") (include "tollgate.singleProcess" .root) -}}
{{- $suite := .root.Values.singleProcess -}}
{{- $svc = fromYaml (include "tollgate.merge" (dict "base" $svc "override" (pick $suite "resources" "probes"))) -}}
{{- /* The suite's image starts from `default.image`, not the gateway's (its tag or digest). */}}
{{- $_ := set $svc "image" (fromYaml (include "tollgate.merge" (dict "base" .root.Values.default.image "override" $suite.image))) -}}
{{- $_ := set $svc "module" "single_process" -}}
{{- $_ := set $svc "imageRef" (include "tollgate.imageRef" (dict "root" .root "image" $svc.image)) -}}
{{- end -}}
{{- toYaml $svc -}}
{{- end -}}
