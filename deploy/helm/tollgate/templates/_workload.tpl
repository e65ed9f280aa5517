{{/*
The one generic workload of every Tollgate service: a Deployment per track (stable, canary) and
a Service per track. Tracks have their own Services so that the gateway can weigh calls between
them exactly; the Services are headless so that each gRPC client sees every pod and balances
calls over them with round_robin (a ClusterIP would pin a long-lived connection to one pod).
*/}}

{{/* Args: dict "root" $ "svc" <tollgate.service> "track" "stable"|"canary" */}}
{{- define "tollgate.workloadName" -}}
{{- if eq .track "canary" -}}{{ printf "%s-canary" .svc.name }}{{- else -}}{{ .svc.name }}{{- end -}}
{{- end -}}

{{/*
Args: dict "root" $ "svc" <tollgate.workload> "track" "stable"|"canary"
In single-process mode the gateway's workload runs every service (`tollgate.members`): its pods
get each one's settings, stores, secrets and files, and the gateway's ports and probes.
*/}}
{{- define "tollgate.deployment" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $members := include "tollgate.members" (dict "root" $root "key" $svc.key) | fromJsonArray -}}
{{- $backends := rest $members -}}
{{- $memberSvcs := dict -}}
{{- range $key := $members -}}
{{- $_ := set $memberSvcs $key (include "tollgate.service" (dict "root" $root "key" $key) | fromYaml) -}}
{{- end -}}
{{- $ledger := get $memberSvcs "budgetLedger" -}}
{{- $track := .track -}}
{{- $canary := eq $track "canary" -}}
{{- $name := include "tollgate.workloadName" . -}}
{{- $user := include "tollgate.appUser" . | fromYaml -}}
{{- $image := $svc.image -}}
{{- $resources := $svc.resources -}}
{{- $replicas := $svc.replicas -}}
{{- if $canary -}}
{{- if not $svc.canary.image.tag -}}
{{- fail (printf "services.%s.canary.enabled is true: set services.%s.canary.image.tag to the image the canary runs" $svc.key $svc.key) -}}
{{- end -}}
{{- $image = merge (dict "tag" $svc.canary.image.tag "repository" ($svc.canary.image.repository | default $svc.image.repository)) $svc.image -}}
{{- $resources = $svc.canary.resources | default $svc.resources -}}
{{- $replicas = $svc.canary.replicas -}}
{{- end -}}
{{- $imageRef := include "tollgate.imageRef" (dict "root" $root "image" $image) -}}
{{- $grace := add (int (ceil $svc.shutdownGraceSeconds)) (int $svc.preStopSleepSeconds) 5 -}}
{{- range $setting := list "shutdownGraceSeconds" "connectionAgeGraceSeconds" -}}
{{- if lt (float64 (index $svc $setting)) (float64 $svc.callDeadlineSeconds) -}}
{{- fail (printf "services.%s.%s (%v) is shorter than callDeadlineSeconds (%v): rollouts would cut the longest calls" $svc.key $setting (index $svc $setting) $svc.callDeadlineSeconds) -}}
{{- end -}}
{{- end -}}
{{- $autoscaled := and $svc.autoscaling.enabled (not $canary) -}}
{{- include "tollgate.tlsValidate" $root -}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "tollgate.labels" (dict "root" $root "component" $svc.component) | nindent 4 }}
    track: {{ $track }}
spec:
  {{- if not $autoscaled }}
  replicas: {{ int $replicas }}
  {{- end }}
  revisionHistoryLimit: 10
  # Never below the desired count during a rollout: a new pod must be ready before an old one goes.
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "tollgate.selectorLabels" (dict "root" $root "component" $svc.component) | nindent 6 }}
      track: {{ $track }}
  template:
    metadata:
      labels:
        {{- include "tollgate.labels" (dict "root" $root "component" $svc.component) | nindent 8 }}
        track: {{ $track }}
        {{- with $svc.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ int $svc.metricsPort | quote }}
        prometheus.io/path: /metrics
        {{- /* Settings read once at start from a chart-managed Secret: roll the pods when they
        change. (TLS certificates reload by themselves.) */}}
        {{- $storeOf := dict "cache" "redis" "budgetLedger" "postgres" "semanticCache" "qdrant" }}
        {{- if include "tollgate.orchestratorPaces" $root }}
        {{- $_ := set $storeOf "orchestrator" "redis" }}
        {{- end }}
        {{- if include "tollgate.gatewayKeepsSessions" $root }}
        {{- $_ := set $storeOf "gateway" "sessionsRedis" }}
        {{- end }}
        {{- $stores := list }}
        {{- range $key := $members }}
        {{- with index $storeOf $key }}
        {{- $stores = append $stores (include "tollgate.storeUrl" (dict "root" $root "store" .)) }}
        {{- end }}
        {{- end }}
        {{- with $stores }}
        checksum/store-url: {{ join "\n" . | sha256sum | trunc 16 }}
        {{- end }}
        {{- with get $memberSvcs "orchestrator" }}
        {{- if .anthropic.apiKey }}
        checksum/anthropic-key: {{ .anthropic.apiKey | sha256sum | trunc 16 }}
        {{- end }}
        {{- end }}
        {{- with get $memberSvcs "leadScoring" }}
        {{- if .model.json }}
        # Roll lead scoring when the chart-managed model changes (it is read at start).
        checksum/lead-model: {{ .model.json | sha256sum }}
        {{- end }}
        {{- end }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $svc.name }}
      automountServiceAccountToken: {{ and (eq $svc.key "gateway") (eq (include "tollgate.gatewayWatchesFlags" $root) "true") }}
      # Service links would inject variables like TOLLGATE_CACHE_PORT=tcp://... that clash with
      # the services' own settings.
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $grace }}
      securityContext:
        {{- include "tollgate.podSecurityContext" $user | nindent 8 }}
      {{- with $svc.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- if $svc.spreadAcrossNodes }}
      topologySpreadConstraints:
        {{- range $topologyKey := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
        - maxSkew: 1
          topologyKey: {{ $topologyKey }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "tollgate.selectorLabels" (dict "root" $root "component" $svc.component) | nindent 14 }}
              track: {{ $track }}
        {{- end }}
      {{- end }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if and $ledger $ledger.migration.enabled (not $ledger.migrateOnStart) }}
      # The migration Job runs beside the release; until it has built the schema the ledger waits
      # here (and is not ready) instead of crash-looping into back-off.
      initContainers:
        - name: wait-for-schema
          image: {{ $imageRef | quote }}
          imagePullPolicy: {{ $image.pullPolicy }}
          command: ["python", "-m", "tollgate.budget_ledger", "wait-for-schema", "--timeout", {{ int $ledger.migration.activeDeadlineSeconds | quote }}]
          env:
            - name: {{ $ledger.envPrefix }}DATABASE_URL
              valueFrom:
                {{- include "tollgate.storeUrlRef" (dict "root" $root "store" "postgres" "for" "the budget ledger") | nindent 16 }}
          resources:
            {{- toYaml $ledger.migration.resources | nindent 12 }}
          securityContext:
            {{- include "tollgate.containerSecurityContext" $user | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      {{- end }}
      containers:
        - name: {{ $svc.component }}
          image: {{ $imageRef | quote }}
          imagePullPolicy: {{ $image.pullPolicy }}
          command: ["python", "-m", "tollgate.{{ $svc.module }}"]
          ports:
            - name: grpc
              containerPort: {{ int $svc.port }}
              protocol: TCP
            - name: metrics
              containerPort: {{ int $svc.metricsPort }}
              protocol: TCP
            {{- if eq (include "tollgate.servesTls" (dict "root" $root "svc" $svc)) "true" }}
            - name: health
              containerPort: {{ int $svc.healthPort }}
              protocol: TCP
            {{- end }}
            {{- if and (eq $svc.key "gateway") $svc.http.enabled }}
            - name: http
              containerPort: {{ int $svc.http.port }}
              protocol: TCP
            {{- end }}
          env:
            - name: {{ $svc.envPrefix }}HOST
              value: "0.0.0.0"
            - name: {{ $svc.envPrefix }}PORT
              value: {{ int $svc.port | quote }}
            - name: {{ $svc.envPrefix }}METRICS_PORT
              value: {{ int $svc.metricsPort | quote }}
            {{- if eq (include "tollgate.servesTls" (dict "root" $root "svc" $svc)) "true" }}
            - name: {{ $svc.envPrefix }}HEALTH_PORT
              value: {{ int $svc.healthPort | quote }}
            {{- end }}
            - name: {{ $svc.envPrefix }}LOG_LEVEL
              value: {{ $svc.logLevel | quote }}
            - name: {{ $svc.envPrefix }}SHUTDOWN_GRACE_SECONDS
              value: {{ $svc.shutdownGraceSeconds | toString | quote }}
            - name: {{ $svc.envPrefix }}MAX_CONNECTION_AGE_SECONDS
              value: {{ int $svc.connectionAgeSeconds | quote }}
            - name: {{ $svc.envPrefix }}MAX_CONNECTION_AGE_GRACE_SECONDS
              value: {{ int $svc.connectionAgeGraceSeconds | quote }}
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            # Tells stable from canary apart: a label on the service's own metrics...
            - name: {{ $svc.envPrefix }}TRACK
              value: {{ $track | quote }}
            # ...and a resource attribute on traces and metrics exported over OTLP.
            - name: OTEL_RESOURCE_ATTRIBUTES
              value: "service.version={{ $image.tag | default $root.Chart.AppVersion }},deployment.track={{ $track }},k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)"
            {{- with $svc.otlpEndpoint }}
            - name: OTEL_EXPORTER_OTLP_ENDPOINT
              value: {{ . | quote }}
            {{- end }}
            {{- include "tollgate.serviceEnv" (dict "root" $root "svc" $svc) | nindent 12 }}
            {{- with include "tollgate.tlsEnv" (dict "root" $root "svc" $svc) | trim }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- range $key := $backends }}
            {{- with include "tollgate.serviceEnv" (dict "root" $root "svc" (get $memberSvcs $key)) | trim }}
            # {{ $key }}, in this process: its own settings, stores and secrets.
            {{- . | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- $env := dict }}
            {{- /* One service's `env` wins over the services after it (the gateway's first). */}}
            {{- range $key := $members }}
            {{- $env = merge $env (get $memberSvcs $key).env }}
            {{- end }}
            {{- range $envName, $envValue := $env }}
            - name: {{ $envName }}
              value: {{ $envValue | toString | quote }}
            {{- end }}
          startupProbe:
            {{- include "tollgate.probeHandler" (dict "root" $root "svc" $svc "track" $track "service" "") | trim | nindent 12 }}
            {{- toYaml $svc.probes.startup | nindent 12 }}
          # Readiness asks for the service's own name: a service reports NOT_SERVING under it
          # while it cannot serve (draining, dependency lost) and leaves the endpoints.
          readinessProbe:
            {{- include "tollgate.probeHandler" (dict "root" $root "svc" $svc "track" $track "service" $svc.grpcName) | trim | nindent 12 }}
            {{- toYaml $svc.probes.readiness | nindent 12 }}
          # Liveness asks for the overall status only: a lost dependency must not restart pods.
          livenessProbe:
            {{- include "tollgate.probeHandler" (dict "root" $root "svc" $svc "track" $track "service" "") | trim | nindent 12 }}
            {{- toYaml $svc.probes.liveness | nindent 12 }}
          {{- if $svc.preStopSleepSeconds }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", "{{ int $svc.preStopSleepSeconds }}"]
          {{- end }}
          resources:
            {{- toYaml $resources | nindent 12 }}
          securityContext:
            {{- include "tollgate.containerSecurityContext" $user | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if eq $svc.key "gateway" }}
            - name: flags
              mountPath: /etc/tollgate/flags
              readOnly: true
            - name: flag-overrides
              mountPath: /etc/tollgate/flag-overrides
              readOnly: true
            - name: api-keys
              mountPath: /etc/tollgate/api-keys
              readOnly: true
            {{- end }}
            {{- if and (has "leadScoring" $members) (include "tollgate.leadModelConfigMap" $root) }}
            - name: lead-model
              mountPath: /etc/tollgate/lead-model
              readOnly: true
            {{- end }}
            {{- with include "tollgate.tlsVolumeMounts" (dict "root" $root "svc" $svc) | trim }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        # The only writable place: the root filesystem is read-only.
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- if eq $svc.key "gateway" }}
        # Mounted as a directory (not subPath) so the kubelet updates the file in place.
        - name: flags
          configMap:
            name: {{ include "tollgate.flagsConfigMapName" $root }}
        # Runtime overrides: created by `tollgate rollout`, never by Helm, so optional.
        - name: flag-overrides
          configMap:
            name: {{ include "tollgate.flagOverridesConfigMapName" $root }}
            optional: true
        - name: api-keys
          secret:
            secretName: {{ include "tollgate.apiKeysSecretName" $root }}
        {{- end }}
        {{- if and (has "leadScoring" $members) (include "tollgate.leadModelConfigMap" $root) }}
        {{- $model := (get $memberSvcs "leadScoring").model }}
        - name: lead-model
          configMap:
            name: {{ include "tollgate.leadModelConfigMap" $root }}
            items:
              - key: {{ ternary "model.json" $model.existingConfigMapKey (ne $model.json "") }}
                path: model.json
        {{- end }}
        {{- with include "tollgate.tlsVolumes" (dict "root" $root "svc" $svc) | trim }}
        {{- . | nindent 8 }}
        {{- end }}
{{ end -}}

{{/* Args: dict "root" $ "svc" <tollgate.service> "track" "stable"|"canary" */}}
{{- define "tollgate.grpcService" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $serviceValues := $svc.service | default dict -}}
{{- $headless := ternary $serviceValues.headless true (hasKey $serviceValues "headless") -}}
{{- $type := $serviceValues.type | default "ClusterIP" -}}
{{- if and $headless (ne $type "ClusterIP") -}}
{{- fail (printf "services.%s.service: a headless Service must have type ClusterIP, not %s" $svc.key $type) -}}
{{- end -}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tollgate.workloadName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "tollgate.labels" (dict "root" $root "component" $svc.component) | nindent 4 }}
    track: {{ .track }}
  {{- with $serviceValues.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $type }}
  {{- if $headless }}
  clusterIP: None
  {{- end }}
  selector:
    {{- include "tollgate.selectorLabels" (dict "root" $root "component" $svc.component) | nindent 4 }}
    {{- /* The gateway's one public Service fronts both tracks: a gateway canary gets its share of
    connections by its share of ready pods. A backend's Service per track lets the gateway weigh
    calls between them exactly. */}}
    {{- if ne $svc.key "gateway" }}
    track: {{ .track }}
    {{- end }}
  ports:
    - name: grpc
      port: {{ int $svc.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    - name: metrics
      port: {{ int $svc.metricsPort }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
    {{- if and (eq $svc.key "gateway") $svc.http.enabled }}
    - name: http
      port: {{ int $svc.http.port }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    {{- end }}
{{ end -}}

{{/* Environment only one service needs. Args: dict "root" $ "svc" <tollgate.service> */}}
{{- define "tollgate.serviceEnv" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $p := $svc.envPrefix -}}
{{- if eq $svc.key "gateway" }}
- name: {{ $p }}ORCHESTRATOR_TIMEOUT_SECONDS
  value: {{ $svc.callDeadlineSeconds | toString | quote }}
- name: {{ $p }}BUDGET_LEDGER_MAX_HOLD_TTL_SECONDS
  value: {{ $root.Values.services.budgetLedger.maxHoldTtlSeconds | toString | quote }}
- name: {{ $p }}API_KEYS_FILE
  value: /etc/tollgate/api-keys/keys.yaml
- name: {{ $p }}MANAGED_KEYS_ENABLED
  value: {{ $svc.managedKeys.enabled | quote }}
- name: {{ $p }}MANAGED_KEYS_REFRESH_SECONDS
  value: {{ $svc.managedKeys.refreshSeconds | toString | quote }}
- name: {{ $p }}FLAGS_FILE
  value: /etc/tollgate/flags/flags.yaml
- name: {{ $p }}FLAGS_OVERRIDES_FILE
  value: /etc/tollgate/flag-overrides/overrides.yaml
- name: {{ $p }}HTTP_ENABLED
  value: {{ $svc.http.enabled | quote }}
- name: {{ $p }}HTTP_PORT
  value: {{ int $svc.http.port | quote }}
- name: {{ $p }}NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if include "tollgate.gatewayKeepsSessions" $root }}
- name: {{ $p }}SESSIONS_REDIS_URL
  valueFrom:
    {{- include "tollgate.storeUrlRef" (dict "root" $root "store" "sessionsRedis" "for" "the gateway's session store") | nindent 4 }}
- name: {{ $p }}SESSIONS_KEY_PREFIX
  value: {{ $svc.sessions.keyPrefix | quote }}
- name: {{ $p }}SESSION_TTL_SECONDS
  value: {{ $svc.sessions.ttlSeconds | toString | quote }}
- name: {{ $p }}SESSION_MAX_BYTES
  value: {{ int64 $svc.sessions.maxBytes | toString | quote }}
{{- end }}
{{- if eq (include "tollgate.gatewayWatchesFlags" $root) "true" }}
- name: {{ $p }}FLAGS_CONFIGMAP
  value: {{ include "tollgate.flagsConfigMapName" $root }}
- name: {{ $p }}FLAGS_OVERRIDES_CONFIGMAP
  value: {{ include "tollgate.flagOverridesConfigMapName" $root }}
{{- end }}
{{- /* In single-process mode the backends are in the gateway's process, which sets their
addresses itself. */}}
{{- range $key := include "tollgate.workloadKeys" $root | fromJsonArray }}
{{- if ne $key "gateway" }}
{{- $backend := include "tollgate.service" (dict "root" $root "key" $key) | fromYaml }}
- name: {{ $p }}{{ upper $backend.module }}_ADDR
  value: "dns:///{{ include "tollgate.serviceHost" (dict "root" $root "name" $backend.name) }}:{{ int $backend.port }}"
{{- /* Always rendered, canary or not, so that turning a canary on or off changes only the
flags ConfigMap (its weight) and never the gateway's pod template: no gateway restart. The
gateway sends a canary nothing until it has a weight and answers its health check. */}}
- name: {{ $p }}{{ upper $backend.module }}_CANARY_ADDR
  value: "dns:///{{ include "tollgate.serviceHost" (dict "root" $root "name" (printf "%s-canary" $backend.name)) }}:{{ int $backend.port }}"
{{- end }}
{{- end }}
{{- else if eq $svc.key "orchestrator" }}
{{- $anthropic := $svc.anthropic }}
{{- if or $anthropic.existingSecret $anthropic.apiKey }}
- name: ANTHROPIC_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "tollgate.anthropicSecretName" $root }}
      key: {{ ternary $anthropic.existingSecretKey "api-key" (ne $anthropic.existingSecret "") }}
{{- end }}
{{- with $anthropic.baseUrl }}
- name: {{ $p }}ANTHROPIC_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- if include "tollgate.orchestratorPaces" $root }}
- name: {{ $p }}PACING_REDIS_URL
  valueFrom:
    {{- include "tollgate.storeUrlRef" (dict "root" $root "store" "redis" "for" "the orchestrator's fleet pacing") | nindent 4 }}
- name: {{ $p }}PACING_KEY_PREFIX
  value: {{ $svc.pacing.keyPrefix | quote }}
{{- else }}
- name: {{ $p }}PACING_ENABLED
  value: "false"
{{- end }}
{{- else if eq $svc.key "cache" }}
- name: {{ $p }}REDIS_URL
  valueFrom:
    {{- include "tollgate.storeUrlRef" (dict "root" $root "store" "redis" "for" "the cache service") | nindent 4 }}
{{- else if eq $svc.key "semanticCache" }}
- name: {{ $p }}QDRANT_URL
  valueFrom:
    {{- include "tollgate.storeUrlRef" (dict "root" $root "store" "qdrant" "for" "the semantic cache service") | nindent 4 }}
{{- with $svc.modelPath }}
- name: {{ $p }}MODEL_PATH
  value: {{ . | quote }}
{{- end }}
{{- $qdrant := $root.Values.qdrant }}
{{- if and (not $qdrant.enabled) $qdrant.external.apiKeySecret.name }}
- name: {{ $p }}QDRANT_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $qdrant.external.apiKeySecret.name }}
      key: {{ $qdrant.external.apiKeySecret.key }}
{{- end }}
{{- else if eq $svc.key "budgetLedger" }}
- name: {{ $p }}DATABASE_URL
  valueFrom:
    {{- include "tollgate.storeUrlRef" (dict "root" $root "store" "postgres" "for" "the budget ledger") | nindent 4 }}
- name: {{ $p }}MIGRATE_ON_START
  value: {{ $svc.migrateOnStart | toString | quote }}
- name: {{ $p }}MAX_HOLD_TTL_SECONDS
  value: {{ $svc.maxHoldTtlSeconds | toString | quote }}
{{- else if eq $svc.key "leadScoring" }}
{{- if not (include "tollgate.singleProcess" $root) }}
- name: {{ $p }}ORCHESTRATOR_ADDR
  value: {{ include "tollgate.orchestratorTarget" $root | quote }}
{{- end }}
{{- if include "tollgate.leadModelConfigMap" $root }}
- name: {{ $p }}MODEL_FILE
  value: /etc/tollgate/lead-model/model.json
{{- end }}
{{- with $svc.pii.fields }}
- name: {{ $p }}PII_FIELDS
  value: {{ toJson . | quote }}
{{- end }}
{{- with $svc.pii.allowFields }}
- name: {{ $p }}PII_ALLOW_FIELDS
  value: {{ toJson . | quote }}
{{- end }}
{{- else if and (eq $svc.key "conversationOptimizer") (not (include "tollgate.singleProcess" $root)) }}
- name: {{ $p }}ORCHESTRATOR_ADDRESS
  value: {{ include "tollgate.orchestratorTarget" $root | quote }}
{{- end }}
{{- end -}}

{{/* The orchestrator's headless Service, for the services that call Claude through it. */}}
{{- define "tollgate.orchestratorTarget" -}}
{{- $orchestrator := include "tollgate.service" (dict "root" . "key" "orchestrator") | fromYaml -}}
dns:///{{ include "tollgate.serviceHost" (dict "root" . "name" $orchestrator.name) }}:{{ int $orchestrator.port }}
{{- end -}}
