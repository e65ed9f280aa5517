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
