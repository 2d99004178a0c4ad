{{/* Names and labels shared by every object of the chart. */}}
{{- define "registry.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "registry.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "registry.labels" -}}
{{ include "registry.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "registry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "registry.secretName" -}}
{{ .Values.secrets.existingSecret | default (printf "%s-secrets" (include "registry.fullname" .)) }}
{{- end -}}

{{- define "registry.authSecretName" -}}
{{ .Values.secrets.auth.existingSecret | default (printf "%s-auth" (include "registry.fullname" .)) }}
{{- end -}}

{{- define "registry.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "registry.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* How git reaches the host: an SSH deploy key with checked host keys, or an HTTPS token read by a
     credential helper from the mounted secret file. Set in every container that runs git. */}}
{{- define "registry.gitEnv" -}}
- name: REGISTRY_REPO
  value: /var/lib/llm-registry/repo.git
- name: REGISTRY_GIT_URL
  value: {{ required "repository.url is required" .Values.repository.url | quote }}
- name: REGISTRY_BRANCH
  value: {{ .Values.repository.branch | quote }}
- name: HOME
  value: /tmp
{{- if or .Values.secrets.gitSshKey .Values.secrets.existingSecret }}
- name: GIT_SSH_COMMAND
  value: "ssh -i /etc/llm-registry/git/git-ssh-key -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/llm-registry/git/git-known-hosts"
{{- end }}
{{- if or .Values.secrets.gitToken .Values.secrets.existingSecret }}
- name: GIT_CONFIG_COUNT
  value: "1"
- name: GIT_CONFIG_KEY_0
  value: credential.helper
- name: GIT_CONFIG_VALUE_0
  value: {{ printf "!f() { test \"$1\" = get && echo username=%s && printf 'password=%%s\\n' \"$(cat /etc/llm-registry/git/git-token)\"; }; f" .Values.repository.username | quote }}
{{- end }}
{{- end -}}

{{- define "registry.gitVolumeMounts" -}}
- name: repo
  mountPath: /var/lib/llm-registry
- name: tmp
  mountPath: /tmp
- name: git-credentials
  mountPath: /etc/llm-registry/git
  readOnly: true
{{- end -}}

{{- define "registry.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
