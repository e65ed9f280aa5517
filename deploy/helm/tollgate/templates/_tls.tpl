{{/*
TLS from values `tls.gateway` (the gateway serves TLS to applications) and `tls.internal` (mutual
TLS between the services). Certificates come from Secrets mounted read-only; the services read
them through their TLS_* settings (tollgate.common.tls). Kubernetes' native gRPC probes cannot
speak TLS, so a service that serves TLS also serves the health service alone on a plaintext
`healthPort`, and its probes ask that port.
*/}}

{{- define "tollgate.tlsGatewayDir" -}}/etc/tollgate/tls/gateway{{- end -}}
{{- define "tollgate.tlsInternalDir" -}}/etc/tollgate/tls/internal{{- end -}}

{{/* Fails on an enabled gateway TLS block without its Secret. Args: $ */}}
{{- define "tollgate.tlsValidate" -}}
{{- $tls := $.Values.tls.gateway -}}
{{- if and $tls.enabled (not $tls.secretName) -}}
{{- fail "tls.gateway.enabled is true: set tls.gateway.secretName to the Secret holding the certificate" -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the services call each other over mutual TLS (tls.internal). Never in single-process
mode: its services call each other inside one process, and no call between them crosses the
network. Args: $
*/}}
{{- define "tollgate.internalTls" -}}
{{- if and .Values.tls.internal.enabled (not (include "tollgate.singleProcess" .)) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the chart makes the internal certificates itself (one per service). Args: $ */}}
{{- define "tollgate.internalCertsGenerated" -}}
{{- if and (include "tollgate.internalTls" .) (not .Values.tls.internal.secretName) -}}true{{- end -}}
{{- end -}}

{{/* The Secret a service's internal certificate is in. Args: dict "root" $ "svc" <service> */}}
{{- define "tollgate.internalSecretName" -}}
{{- if eq (include "tollgate.internalCertsGenerated" .root) "true" -}}
{{- printf "%s-mtls" .svc.name -}}
{{- else -}}
{{- .root.Values.tls.internal.secretName -}}
{{- end -}}
{{- end -}}

{{/* Who may call each service, by the name in their certificate. Args: <services key> */}}
{{- define "tollgate.allowedCallers" -}}
{{- if eq . "orchestrator" -}}["gateway","lead-scoring","conversation-optimizer"]
{{- else if ne . "gateway" -}}["gateway"]
{{- end -}}
{{- end -}}

{{/* "true" when the service's gRPC port serves TLS. Args: dict "root" $ "svc" <tollgate.service> */}}
{{- define "tollgate.servesTls" -}}
{{- $tls := .root.Values.tls -}}
{{- if eq .svc.key "gateway" -}}
{{- ternary "true" "" (and $tls.gateway.enabled true) -}}
{{- else -}}
{{- ternary "true" "" (eq (include "tollgate.internalTls" .root) "true") -}}
{{- end -}}
{{- end -}}

{{/* TLS settings of one service's container. Args: dict "root" $ "svc" <tollgate.service> */}}
{{- define "tollgate.tlsEnv" -}}
{{- $tls := .root.Values.tls -}}
{{- $p := .svc.envPrefix -}}
{{- $internal := include "tollgate.tlsInternalDir" . -}}
{{- if eq .svc.key "gateway" }}
{{- if $tls.gateway.enabled }}
{{- $gateway := include "tollgate.tlsGatewayDir" . }}
# Serves TLS to applications; they authenticate with API keys, so no client CA.
- name: {{ $p }}TLS_CERT_FILE
  value: {{ $gateway }}/tls.crt
- name: {{ $p }}TLS_KEY_FILE
  value: {{ $gateway }}/tls.key
{{- end }}
{{- else if include "tollgate.internalTls" .root }}
# Serves mutual TLS: only callers with a certificate from the internal CA get an answer.
- name: {{ $p }}TLS_CERT_FILE
  value: {{ $internal }}/tls.crt
- name: {{ $p }}TLS_KEY_FILE
  value: {{ $internal }}/tls.key
- name: {{ $p }}TLS_CLIENT_CA_FILE
  value: {{ $internal }}/ca.crt
{{- if eq (include "tollgate.internalCertsGenerated" .root) "true" }}
# Each service has a certificate of its own: serve only the services that call this one.
- name: {{ $p }}ALLOWED_CALLERS
  value: {{ include "tollgate.allowedCallers" .svc.key | quote }}
{{- end }}
{{- end }}
{{- if include "tollgate.internalTls" .root }}
# Calls the other services over mutual TLS with the internal certificate.
- name: {{ $p }}TLS_CA_FILE
  value: {{ $internal }}/ca.crt
- name: {{ $p }}TLS_CLIENT_CERT_FILE
  value: {{ $internal }}/tls.crt
- name: {{ $p }}TLS_CLIENT_KEY_FILE
  value: {{ $internal }}/tls.key
{{- end }}
{{- end -}}

{{/* Args: dict "root" $ "svc" <tollgate.service> */}}
{{- define "tollgate.tlsVolumeMounts" -}}
{{- $tls := .root.Values.tls -}}
{{- if and (eq .svc.key "gateway") $tls.gateway.enabled }}
- name: tls-gateway
  mountPath: {{ include "tollgate.tlsGatewayDir" . }}
  readOnly: true
{{- end }}
{{- if include "tollgate.internalTls" .root }}
- name: tls-internal
  mountPath: {{ include "tollgate.tlsInternalDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Mounted as directories (not subPath) so that renewed certificates reach the pods.
Args: dict "root" $ "svc" <tollgate.service> */}}
{{- define "tollgate.tlsVolumes" -}}
{{- $tls := .root.Values.tls -}}
{{- if and (eq .svc.key "gateway") $tls.gateway.enabled }}
- name: tls-gateway
  secret:
    secretName: {{ $tls.gateway.secretName }}
    defaultMode: 0440
{{- end }}
{{- if include "tollgate.internalTls" .root }}
- name: tls-internal
  secret:
    secretName: {{ include "tollgate.internalSecretName" . }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{/*
One probe's handler: native gRPC for a plaintext port, else the exec health check over TLS.
Args: dict "root" $ "svc" <tollgate.service> "track" "stable"|"canary" "service" <health name>
*/}}
{{- define "tollgate.probeHandler" -}}
{{- $svc := .svc -}}
grpc:
  {{- if eq (include "tollgate.servesTls" .) "true" }}
  # The service serves TLS, which native gRPC probes cannot speak: they ask its plaintext
  # health-only port, which reports the same status.
  port: {{ int $svc.healthPort }}
  {{- else }}
  port: {{ int $svc.port }}
  {{- end }}
  service: {{ .service | quote }}
{{- end -}}
