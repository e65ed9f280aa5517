{{/*
Shared parts of the bundled development stores: a single-replica StatefulSet with a headless
Service. Production points the services at managed stores instead (see values `external`).
*/}}

{{/* Args: dict "root" $ "store" "redis" "port" 6379 "portName" "redis" */}}
{{- define "tollgate.storeService" -}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tollgate.fullname" .root }}-{{ .store }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "tollgate.labels" (dict "root" .root "component" .store) | nindent 4 }}
spec:
  clusterIP: None
  selector:
    {{- include "tollgate.selectorLabels" (dict "root" .root "component" .store) | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{ end -}}

{{/* The data volume: a claim template when persistent, else nothing (an emptyDir is used). */}}
{{- define "tollgate.storeClaimTemplate" -}}
{{- $persistence := .values.persistence -}}
{{- if $persistence.enabled }}
volumeClaimTemplates:
  - metadata:
      name: data
      labels:
        {{- include "tollgate.selectorLabels" (dict "root" .root "component" .store) | nindent 8 }}
    spec:
      accessModes: ["ReadWriteOnce"]
      {{- with $persistence.storageClass }}
      storageClassName: {{ . }}
      {{- end }}
      resources:
        requests:
          storage: {{ $persistence.size }}
{{- end }}
{{- end -}}

{{- define "tollgate.storeDataVolume" -}}
{{- if not .values.persistence.enabled }}
- name: data
  emptyDir: {}
{{- end }}
{{- end -}}

{{/*
A bundled Redis: the cache's (`redis`: a cache, so capped with LRU and kept only with
persistence on) or the sessions' (`sessionsRedis`: stored conversations, so never evicted and
always written to an append-only file, on a volume with persistence on, else in the pod's
emptyDir, which outlives a Redis crash but not the pod).
Args: dict "root" $ "store" "redis"|"sessionsRedis" "durable" bool
*/}}
{{- define "tollgate.redisStore" -}}
{{- $root := .root }}
{{- $values := index $root.Values .store }}
{{- $component := kebabcase .store }}
{{- $name := printf "%s-%s" (include "tollgate.fullname" $root) $component }}
{{- $passwordKey := printf "%s-password" $component }}
{{- $user := dict "uid" 999 "gid" 1000 }}
{{ include "tollgate.storeService" (dict "root" $root "store" $component "ports" (list (dict "name" "redis" "port" 6379))) }}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "tollgate.labels" (dict "root" $root "component" $component) | nindent 4 }}
spec:
  serviceName: {{ $name }}
  replicas: 1
  selector:
    matchLabels:
      {{- include "tollgate.selectorLabels" (dict "root" $root "component" $component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "tollgate.labels" (dict "root" $root "component" $component) | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "tollgate.podSecurityContext" $user | nindent 8 }}
      {{- with $root.Values.default.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: redis
          image: "{{ $values.image.repository }}:{{ $values.image.tag }}"
          imagePullPolicy: {{ $values.image.pullPolicy }}
          {{- if $values.auth.enabled }}
          env:
            - name: REDIS_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ include "tollgate.storesSecretName" $root }}
                  key: {{ $passwordKey }}
            # redis-cli (the probes) reads the password from here, not from its command line.
            - name: REDISCLI_AUTH
              valueFrom:
                secretKeyRef:
                  name: {{ include "tollgate.storesSecretName" $root }}
                  key: {{ $passwordKey }}
          {{- end }}
          args:
            - redis-server
            {{- if $values.auth.enabled }}
            # Every client authenticates; the URL in the stores Secret carries the password.
            - --requirepass
            - $(REDIS_PASSWORD)
            {{- end }}
            # NetworkPolicy and the password, not Redis' protected mode, decide who connects.
            - --protected-mode
            - "no"
            - --maxmemory
            - {{ $values.maxMemory | quote }}
            {{- if .durable }}
            # Full: a write is refused (the gateway says so), nothing stored is dropped. Sessions
            # still leave by their own TTL.
            - --maxmemory-policy
            - noeviction
            - --appendonly
            - "yes"
            - --appendfsync
            - everysec
            - --save
            - ""
            {{- else }}
            - --maxmemory-policy
            - allkeys-lru
            {{- if $values.persistence.enabled }}
            - --appendonly
            - "yes"
            {{- else }}
            - --save
            - ""
            - --appendonly
            - "no"
            {{- end }}
            {{- end }}
          ports:
            - name: redis
              containerPort: 6379
              protocol: TCP
          readinessProbe:
            exec:
              command: ["redis-cli", "ping"]
            periodSeconds: 5
            timeoutSeconds: 2
          livenessProbe:
            exec:
              command: ["redis-cli", "ping"]
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "tollgate.containerSecurityContext" $user | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: /data
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {}
        {{- include "tollgate.storeDataVolume" (dict "values" $values) | nindent 8 }}
  {{- include "tollgate.storeClaimTemplate" (dict "root" $root "store" $component "values" $values) | nindent 2 }}
{{- end -}}
