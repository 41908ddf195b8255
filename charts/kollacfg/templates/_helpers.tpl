{{/*
The chart name, for the app.kubernetes.io/name label.
*/}}
{{- define "kollacfg.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The base name of every object: the release name when it contains the chart name (release
"kollacfg" gives ClusterRole, ServiceAccount and Deployment "kollacfg"), else "RELEASE-kollacfg".
*/}}
{{- define "kollacfg.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The helm.sh/chart label value.
*/}}
{{- define "kollacfg.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "kollacfg.labels" -}}
helm.sh/chart: {{ include "kollacfg.chart" . }}
{{ include "kollacfg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kollacfg
{{- end }}

{{/*
The labels that select the controller's pods.
*/}}
{{- define "kollacfg.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kollacfg.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The controller's rules: exactly the requests it sends, nothing more. The same list serves the
ClusterRole (rbac.scope=cluster) and the Role in each of watchNamespaces (rbac.scope=namespace).
*/}}
{{- define "kollacfg.rules" -}}
# Reads the target and the seven fragment kinds: list+watch fill the caches the controller
# renders from; get is a single read of one object.
- apiGroups: ["kollacfg.dev"]
  resources:
    - kollaconfigs
    - rabbitpolicies
    - erlangvmargs
    - novavifpolicies
    - novacomputepolicies
    - rabbitlistenerpolicies
    - oslomessagingpolicies
    - configoverrides
  verbs: ["get", "list", "watch"]
# Writes their status (observedGeneration, conditions, files, contributors) by server-side
# apply, which is a PATCH of the status subresource.
- apiGroups: ["kollacfg.dev"]
  resources:
    - kollaconfigs/status
    - rabbitpolicies/status
    - erlangvmargs/status
    - novavifpolicies/status
    - novacomputepolicies/status
    - rabbitlistenerpolicies/status
    - oslomessagingpolicies/status
    - configoverrides/status
  verbs: ["patch"]
# Secrets and ConfigMaps: get reads a base object and the stored output before deciding to
# write; list+watch notice base changes and outputs edited or deleted by hand; patch is the
# server-side apply of an output, and create is also checked when that apply creates it;
# delete removes old versions of a versioned output (spec.output.versioned) that nothing
# refers to any more.
- apiGroups: [""]
  resources: ["secrets", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Pods of the rollout workloads, listed by their selector: a version a running pod mounts is
# kept (versioned outputs).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
# Rollout workloads: get reads the pod template's config-hash annotation (and, versioned, the
# volume's object name) and the rollout's progress; patch applies the new one (kollacfg owns
# only those fields); list and watch (metadata only) start a reconcile when one named by a
# KollaConfig appears or changes.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "list", "watch", "patch"]
# Their revision history, listed by their selector: a version an old ReplicaSet or
# ControllerRevision names is kept, so that `kubectl rollout undo` finds its files.
- apiGroups: ["apps"]
  resources: ["replicasets", "controllerrevisions"]
  verbs: ["list"]
# Events on transitions (Rendered, OutputWritten, RolloutStarted, RolloutStuck, InvalidSpec, ...):
# create a new one, patch a repeated one (its series count).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
Stops the render when the values contradict each other.
*/}}
{{- define "kollacfg.validate" -}}
{{- if and (eq .Values.rbac.scope "namespace") (not .Values.watchNamespaces) }}
{{- fail "rbac.scope=namespace needs watchNamespaces: a Role grants rights in its own namespace only, so the controller must be told which namespaces to watch. Set watchNamespaces, or use rbac.scope=cluster" }}
{{- end }}
{{- end }}
