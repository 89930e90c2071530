{{/* Hand-written helpers; the generated templates call them. */}}

{{/* The collector image: repository@digest when a digest is set, else repository:tag. */}}
{{- define "otelcol-sre.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* GOMEMLIMIT: 80 % of the container's memory limit in MiB (the overlays' rule, checked by
deploy/manifests_test.go), so the Go runtime collects before the kernel kills. Takes
(dict "field" "<values path>" "resources" <resources>). */}}
{{- define "otelcol-sre.gomemlimit" -}}
{{- $limit := "" -}}
{{- with .resources }}{{ with .limits }}{{ $limit = .memory | default "" | toString }}{{ end }}{{ end -}}
{{- $mi := 0 -}}
{{- if hasSuffix "Gi" $limit -}}
{{- $mi = mul (trimSuffix "Gi" $limit | atoi) 1024 -}}
{{- else if hasSuffix "Mi" $limit -}}
{{- $mi = trimSuffix "Mi" $limit | atoi -}}
{{- end -}}
{{- if le $mi 0 -}}
{{- fail (printf "%s.limits.memory %q: set a whole number of Mi or Gi (GOMEMLIMIT is 80%% of it)" .field $limit) -}}
{{- end -}}
{{ div (mul $mi 8) 10 }}MiB
{{- end }}

{{/* The namespace of the sidecar's OpenTelemetryCollector, settings and Role: the application's. */}}
{{- define "otelcol-sre.sidecarNamespace" -}}
{{ .Values.sidecar.namespace | default .Release.Namespace }}
{{- end }}
