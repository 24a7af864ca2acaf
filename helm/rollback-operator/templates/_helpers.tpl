{{/* Chart name, overridable. */}}
{{- define "rollback-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: the release name, plus the chart name unless the release name contains it. */}}
{{- define "rollback-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "rollback-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rollback-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rollback-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rollback-operator.labels" -}}
helm.sh/chart: {{ include "rollback-operator.chart" . }}
{{ include "rollback-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: rollback-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "rollback-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rollback-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rollback-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when leader election runs: asked for, or more than one replica. */}}
{{- define "rollback-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{- define "rollback-operator.leaseName" -}}
{{- default (printf "%s-leader" (include "rollback-operator.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}

{{/* The operator's subject in every binding. */}}
{{- define "rollback-operator.subjects" -}}
- kind: ServiceAccount
  name: {{ include "rollback-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
What the operator calls, in every namespace it watches: its own resources (the status is its audit
record, the finalizer holds a rollback past the recover; the autopilot creates the ReplicaSetRollbacks
of its RollbackPolicies and writes each policy's impact report to its status), the database Leases and
Pods it observes, and the core/v1 Events it writes.
*/}}
{{- define "rollback-operator.operatorRules" -}}
- apiGroups: ["dbrollback.io"]
  resources: ["replicasetrollbacks"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
- apiGroups: ["dbrollback.io"]
  resources: ["replicasetrollbacks/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["dbrollback.io"]
  resources: ["replicasetrollbacks/finalizers"]
  verbs: ["update"]
- apiGroups: ["dbrollback.io"]
  resources: ["rollbackpolicies"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["dbrollback.io"]
  resources: ["rollbackpolicies/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["dbrollback.io"]
  resources: ["rollbackpolicies/finalizers"]
  verbs: ["update"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["configmaps", "endpoints"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "get", "patch", "update"]
{{- end }}

{{/* "true" when the agent writes the rollback file (rollbackFile.writer agent): no pod exec then. */}}
{{- define "rollback-operator.agentWriter" -}}
{{- if eq (toString .Values.rollbackFile.writer) "agent" }}true{{ end }}
{{- end }}

{{/*
Only where database clusters live: exec into the data container to write and verify the rollback
file (not when the agent writes it), and read the agent TLS Secret a rollback names.
*/}}
{{- define "rollback-operator.dataAccessRules" -}}
{{- if not (include "rollback-operator.agentWriter" .) -}}
- apiGroups: [""]
  resources: ["pods/exec"]
  verbs: ["create", "get"]
{{ end -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}

{{/* Refuse values that would give a surprising RBAC scope. */}}
{{- define "rollback-operator.validate" -}}
{{- if and .Values.watchNamespaces .Values.rbac.dataAccessNamespaces }}
{{- fail "rbac.dataAccessNamespaces applies only when watchNamespaces is empty (all namespaces); with watchNamespaces set, each watched namespace gets data access" }}
{{- end }}
{{- end }}
