{{- define "dia.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dia.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dia.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dia.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dia.labels" -}}
{{ include "dia.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Service port name of a cluster view: grpc- so that Istio treats it as gRPC. */}}
{{- define "dia.xdsPortName" -}}
{{- printf "grpc-xds-%s" . | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The daemon's config file (docs/configuration.md), built from the values. */}}
{{- define "dia.config" -}}
{{- $clusters := list -}}
{{- range .Values.clusters -}}
{{- $listener := dict "address" "0.0.0.0" "port" (int .port) -}}
{{- if $.Values.tls.enabled -}}
{{- $_ := set $listener "tls" (dict "certFile" "/etc/dubbo-istio-adapter/tls/tls.crt" "keyFile" "/etc/dubbo-istio-adapter/tls/tls.key") -}}
{{- end -}}
{{- $c := dict "name" .name "listener" $listener -}}
{{- with .revision }}{{ $_ := set $c "revision" . }}{{ end -}}
{{- with .filter }}{{ $_ := set $c "filter" . }}{{ end -}}
{{- with .overrides }}{{ $_ := set $c "overrides" . }}{{ end -}}
{{- with .shard }}{{ $_ := set $c "shard" . }}{{ end -}}
{{- $clusters = append $clusters $c -}}
{{- end -}}
{{- $admin := dict "address" "0.0.0.0" "port" (int .Values.admin.port) -}}
{{- if .Values.admin.tokenSecret.name }}{{ $_ := set $admin "tokenEnv" "DIA_ADMIN_TOKEN" }}{{ end -}}
{{- $cfg := dict "logLevel" .Values.logLevel "admin" $admin "sources" .Values.sources "clusters" $clusters -}}
{{- with .Values.mapping }}{{ $_ := set $cfg "mapping" . }}{{ end -}}
{{- with .Values.render }}{{ $_ := set $cfg "render" . }}{{ end -}}
{{- with .Values.xds }}{{ $_ := set $cfg "xds" . }}{{ end -}}
{{- with .Values.protection }}{{ $_ := set $cfg "protection" . }}{{ end -}}
{{- with .Values.rules }}{{ $_ := set $cfg "rules" . }}{{ end -}}
{{- with .Values.metadataService }}{{ $_ := set $cfg "metadataService" . }}{{ end -}}
{{- toYaml $cfg -}}
{{- end -}}
