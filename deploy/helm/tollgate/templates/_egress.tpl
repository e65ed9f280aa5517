{{/*
Egress rules of one workload's NetworkPolicy (networkPolicy.egress.enabled): what each service
in its pods needs (`tollgate.members`: in single-process mode, every service's in the gateway's).
Args: dict "root" $ "key" <services key>
*/}}
{{- define "tollgate.serviceEgress" -}}
{{- $root := .root -}}
{{- $key := .key -}}
{{- $members := include "tollgate.members" . | fromJsonArray -}}
{{- $egress := $root.Values.networkPolicy.egress -}}
# Name resolution, wherever the cluster's DNS runs.
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- $callees := list -}}
{{- if eq $key "gateway" -}}
{{- range $other := include "tollgate.workloadKeys" $root | fromJsonArray -}}
{{- if ne $other "gateway" -}}
{{- $callees = append $callees $other -}}
{{- end -}}
{{- end -}}
{{- else if and (has $key (list "leadScoring" "conversationOptimizer")) $root.Values.services.orchestrator.enabled -}}
{{- $callees = list "orchestrator" -}}
{{- end }}
{{- range $callee := $callees }}
# Calls to {{ $callee }}, stable and canary.
- to:
    - podSelector:
        matchLabels:
          {{- include "tollgate.selectorLabels" (dict "root" $root "component" (include "tollgate.service" (dict "root" $root "key" $callee) | fromYaml).component) | nindent 10 }}
  ports:
    - port: grpc
      protocol: TCP
{{- end }}
{{- if and (eq $key "gateway") (eq (include "tollgate.gatewayWatchesFlags" $root) "true") }}
# The flags ConfigMap watch: the Kubernetes API server, whose address the cluster decides.
- ports:
    - port: 443
      protocol: TCP
    - port: 6443
      protocol: TCP
{{- end }}
{{- if has "orchestrator" $members }}
# The Anthropic API.
- ports:
    - port: 443
      protocol: TCP
  {{- with $egress.anthropicTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- $stores := dict "cache" (list "redis" 6379) "budgetLedger" (list "postgres" 5432) "semanticCache" (list "qdrant" 6333 6334) -}}
{{- if include "tollgate.orchestratorPaces" $root -}}
{{- $_ := set $stores "orchestrator" (list "redis" 6379) -}}
{{- end -}}
{{- if and (eq $key "gateway") (include "tollgate.gatewayKeepsSessions" $root) -}}
{{- $_ := set $stores "gateway" (list "sessionsRedis" 6379) -}}
{{- end -}}
{{- $reached := list }}
{{- range $member := $members }}
{{- with index $stores $member }}
{{- $store := first . }}
{{- /* The cache and the orchestrator's pacing share one Redis: one rule for both. */}}
{{- if not (has $store $reached) }}
{{- $reached = append $reached $store }}
# Its store, {{ kebabcase $store }}.
- ports:
    {{- range $port := rest . }}
    - port: {{ $port }}
      protocol: TCP
    {{- end }}
  {{- if (index $root.Values $store).enabled }}
  to:
    - podSelector:
        matchLabels:
          {{- include "tollgate.selectorLabels" (dict "root" $root "component" (kebabcase $store)) | nindent 10 }}
  {{- else if $egress.storesTo }}
  to:
    {{- toYaml $egress.storesTo | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $svc := include "tollgate.service" (dict "root" $root "key" $key) | fromYaml }}
{{- if $svc.otlpEndpoint }}
# The OTLP collector.
- ports:
    - port: 4317
      protocol: TCP
    - port: 4318
      protocol: TCP
  {{- with $egress.collectorTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- end -}}
