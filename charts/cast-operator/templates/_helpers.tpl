{{/*
The prefix of every object's name: the release name, or
"<release>-cast-operator" when the release name does not contain the
chart's name. The default release name "cast-operator" gives the same names
as config/default (cast-operator-controller-manager, ...).
*/}}
{{- define "cast-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Labels of every object, as config/ sets them, plus commonLabels: part-of
on all; app.kubernetes.io/name on the workloads, their Services and the
optional objects (those with a component, or named: true).
Call with (dict "ctx" $ "component" "controller"), (dict "ctx" $ "named" true)
or (dict "ctx" $).
*/}}
{{- define "cast-operator.labels" -}}
{{- $l := dict "app.kubernetes.io/part-of" "cast-operator" -}}
{{- if or .component .named -}}
{{- $_ := set $l "app.kubernetes.io/name" "cast-operator" -}}
{{- end -}}
{{- with .component -}}
{{- $_ := set $l "app.kubernetes.io/component" . -}}
{{- end -}}
{{- toYaml (merge $l (.ctx.Values.commonLabels | default dict)) -}}
{{- end -}}

{{/*
The labels selecting one component's pods: (dict "component" "streamer").
*/}}
{{- define "cast-operator.selectorLabels" -}}
app.kubernetes.io/name: cast-operator
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
The image: repository, then @digest if set, else :tag (default appVersion).
*/}}
{{- define "cast-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Pod-level scheduling and pull settings shared by both Deployments.
*/}}
{{- define "cast-operator.podExtras" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The container security context both containers run with (Pod Security
"restricted").
*/}}
{{- define "cast-operator.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
{{- end -}}

{{- define "cast-operator.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/*
The Secret with the streamer's certificate (tls.crt, tls.key): the
cert-manager Certificate's, or streamer.tls.secretName; empty: plain HTTP.
*/}}
{{- define "cast-operator.streamerTLSSecret" -}}
{{- if .Values.streamer.tls.certManager.enabled -}}
{{- default (printf "%s-streamer-tls" (include "cast-operator.fullname" .)) .Values.streamer.tls.secretName -}}
{{- else -}}
{{- .Values.streamer.tls.secretName -}}
{{- end -}}
{{- end -}}

{{/*
NetworkPolicy cannot name the API server: most network plugins apply
egress rules after the `kubernetes` Service's address has been translated
to the API server's own address and port (443 or 6443). So the API-server
rule allows networkPolicy.apiServer.ports to networkPolicy.apiServer.cidrs,
or to any address when that list is empty.
*/}}
{{- define "cast-operator.apiServerEgress" -}}
- ports:
  {{- range .Values.networkPolicy.apiServer.ports }}
  - {protocol: TCP, port: {{ . }}}
  {{- end }}
  {{- with .Values.networkPolicy.apiServer.cidrs }}
  to:
  {{- range . }}
  - ipBlock: {cidr: {{ . }}}
  {{- end }}
  {{- end }}
- ports:
  - {protocol: UDP, port: 53}
  - {protocol: TCP, port: 53}
{{- end }}

{{/*
The data of the streamer's single sign-on ConfigMap, one key per flag; it
fails when streamer.oidc is enabled without what the streamer needs.
*/}}
{{- define "cast-operator.oidcData" -}}
{{- $o := .Values.streamer.oidc -}}
{{- $dir := "/etc/cast-operator/oidc/" -}}
{{- $keys := $o.secretKeys -}}
issuer-url: {{ required "streamer.oidc.issuerURL is required when streamer.oidc.enabled is true: the OpenID Connect provider, e.g. https://dex.example.com" $o.issuerURL | quote }}
client-id: {{ required "streamer.oidc.clientID is required when streamer.oidc.enabled is true: the client registered with the provider, e.g. cast-dashboard" $o.clientID | quote }}
redirect-url: {{ required "streamer.oidc.redirectURL is required when streamer.oidc.enabled is true: the dashboard's public URL followed by /api/v1/oidc/callback" $o.redirectURL | quote }}
scopes: {{ join "," $o.scopes | quote }}
session-key-file: {{ printf "%s%s" $dir (required "streamer.oidc.secretKeys.sessionKey is required when streamer.oidc.enabled is true" $keys.sessionKey) | quote }}
client-secret-file: {{ ternary (printf "%s%s" $dir $keys.clientSecret) "" (ne $keys.clientSecret "") | quote }}
ca-file: {{ ternary (printf "%s%s" $dir $keys.caCert) "" (ne $keys.caCert "") | quote }}
{{- end -}}

{{/*
The port the streamer reaches the OpenID Connect provider on: the issuer
URL's, or 443.
*/}}
{{- define "cast-operator.oidcPort" -}}
{{- $port := regexFind ":[0-9]+$" (urlParse .Values.streamer.oidc.issuerURL).host | trimPrefix ":" -}}
{{- default "443" $port -}}
{{- end -}}
