//! `KollaConfig`: the target resource, one kolla service's config directory rendered into one
//! Secret or ConfigMap. Types and schema only; rendering and writing live elsewhere.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::LocalObjectRef;
use crate::schema::{
    list_map, with_rules, CelRule, MANAGEMENT_URL_PATTERN, OBJECT_NAME_PATTERN,
    RABBITMQ_VERSION_PATTERN, SECRET_KEY_PATTERN, SERVICE_PATTERN,
};

/// How many contributors a KollaConfig status lists at most (the first ones by `Kind/name`);
/// `contributorCount` holds the total.
pub const MAX_STATUS_CONTRIBUTORS: usize = 100;

/// CEL rule on `spec.base`: one source, not zero or two.
pub const BASE_EXACTLY_ONE: CelRule = CelRule {
    rule: "has(self.secretRef) != has(self.configMapRef)",
    message: "base must set exactly one of secretRef or configMapRef",
    field_path: None,
};

/// Desired state of a KollaConfig.
// Printer columns repeat `type_ = "string"`, which is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kollacfg.dev",
    version = "v1alpha1",
    kind = "KollaConfig",
    plural = "kollaconfigs",
    namespaced,
    status = "KollaConfigStatus",
    derive = "PartialEq",
    shortname = "kcfg",
    category = "kollacfg",
    doc = "KollaConfig is one kolla service's configuration directory (the files under \
           /etc/kolla/<service>/). The controller starts from the base files, merges every \
           fragment (RabbitPolicy, ErlangVmArgs, NovaVifPolicy, NovaComputePolicy, \
           RabbitListenerPolicy, OsloMessagingPolicy, ConfigOverride) that names this \
           KollaConfig, writes the result into one Secret or ConfigMap and restarts the \
           rollout workloads when a file they read changed.",
    printcolumn(
        name = "Service",
        type_ = "string",
        json_path = ".spec.service",
        description = "Kolla service directory"
    ),
    printcolumn(
        name = "Output",
        type_ = "string",
        json_path = ".spec.output.kind",
        description = "Kind of the output object"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KollaConfigSpec {
    /// The kolla service directory name, as under /etc/kolla: rabbitmq, nova-compute,
    /// nova-api, ... It decides which files the service has (rabbitmq: definitions.json,
    /// rabbitmq-env.conf, rabbitmq.conf; nova-*: nova.conf) and, offline, which directory of
    /// --base is the base.
    #[schemars(length(min = 1, max = 63), regex(pattern = SERVICE_PATTERN))]
    pub service: String,

    /// The files kolla generated for this service, to start from: one Secret or ConfigMap in
    /// this namespace whose keys are file names. Files no fragment touches are passed through
    /// unchanged. Without a base, only the files fragments write are produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseSource>,

    /// Where the rendered files go. Default: a Secret named <metadata.name>-config.
    #[serde(default)]
    pub output: Output,

    /// Workloads that read these files and must restart when they change. After the output
    /// changes, each one's pod template gets the annotation kollacfg.dev/config-hash, and its
    /// own rolling update paces the restart. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = list_map(&["kind", "name"]))]
    pub rollout: Vec<RolloutRef>,

    /// RabbitMQ settings for the rabbitmq service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rabbitmq: Option<RabbitmqSettings>,

    /// Values that differ per pod, such as nova.conf's my_ip or RabbitMQ's node name: items
    /// addressed as a ConfigOverride addresses them (file, and one of ini, conf or env), whose
    /// values are templates over the reading pod's facts: {nodeName}, {hostIP}, {podIP},
    /// {podName}, {podNamespace} (any other {...} is refused), e.g. my_ip: "{hostIP}",
    /// RABBITMQ_NODENAME: "rabbit@{podName}". A per-pod item wins over every fragment. The
    /// output's files keep what the base and the fragments give; the output gains
    /// kollacfg-perpod.json, the list of these edits, which `kollacfg materialize` (an init
    /// container, facts from the downward API) applies in each pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_pod: Vec<crate::per_pod::PerPodItem>,

    /// How the workloads of spec.rollout are moved to a new output: held (paused) and how long
    /// a rollout may go without progress before it is reported stuck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_policy: Option<RolloutPolicy>,
}

/// How the workloads of `spec.rollout` are moved to a new output.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutPolicy {
    /// Write new outputs but leave the workloads' pod templates as they are (state Paused).
    /// With spec.output.versioned a pod restarted meanwhile keeps the files of its template's
    /// version; without it, a restarted pod reads the newest files. Setting it back to false
    /// rolls the newest output out once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Seconds a rollout may go without progress (no more pods updated or ready) before it is
    /// reported as RolloutStuck. Default 600. A pod of the new revision crash-looping or
    /// failing its init containers is reported at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub progress_deadline_seconds: Option<u32>,
}

/// The default of `spec.rolloutPolicy.progressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: u32 = 600;

impl KollaConfigSpec {
    /// Whether `spec.rolloutPolicy.paused` is set.
    pub fn paused(&self) -> bool {
        self.rollout_policy.as_ref().is_some_and(|p| p.paused)
    }

    /// `spec.rolloutPolicy.progressDeadlineSeconds`, or its default.
    pub fn progress_deadline_seconds(&self) -> u32 {
        self.rollout_policy
            .as_ref()
            .and_then(|p| p.progress_deadline_seconds)
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)
    }
}

/// The source of a KollaConfig's base files: exactly one of secretRef or configMapRef.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(transform = with_rules(&[BASE_EXACTLY_ONE]))]
pub struct BaseSource {
    /// A Secret in this namespace holding the base files (keys are file names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectRef>,
    /// A ConfigMap in this namespace holding the base files (keys are file names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalObjectRef>,
}

/// Which object holds the base files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseRef<'a> {
    /// A Secret of that name.
    Secret(&'a str),
    /// A ConfigMap of that name.
    ConfigMap(&'a str),
}

impl BaseSource {
    /// The one object named, or `None` when neither or both are set (the schema refuses both).
    pub fn source(&self) -> Option<BaseRef<'_>> {
        match (&self.secret_ref, &self.config_map_ref) {
            (Some(secret), None) => Some(BaseRef::Secret(&secret.name)),
            (None, Some(map)) => Some(BaseRef::ConfigMap(&map.name)),
            _ => None,
        }
    }
}

/// Where the rendered files are written.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Output {
    /// Secret (default; kolla files carry credentials such as the RabbitMQ password hashes in
    /// definitions.json) or ConfigMap. Keys are the file names.
    #[serde(default)]
    pub kind: OutputKind,
    /// Name of the output object in this namespace. Default: <metadata.name>-config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: Option<String>,
    /// Write each distinct output as its own immutable object, named
    /// <name>-<first 10 hex digits of its content hash> and labelled
    /// kollacfg.dev/target=<metadata.name>, and point the volume named in each spec.rollout
    /// entry at the new version when the workloads must restart. A pod then keeps the files of
    /// its template's version whatever restarts it, a rollout can be undone with `kubectl
    /// rollout undo`, and kubelets do not watch immutable objects. The stable-named object is
    /// not written in this mode. Default false (one mutable object, rewritten in place).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub versioned: bool,
    /// With versioned: how many of the newest versions are kept at least. Older ones are
    /// deleted once no workload template, revision (ReplicaSet, ControllerRevision) or pod
    /// refers to them. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub keep_versions: Option<u32>,
}

/// The default of `spec.output.keepVersions`.
pub const DEFAULT_KEEP_VERSIONS: u32 = 3;

/// The label every versioned output carries: the KollaConfig's name.
pub const LABEL_TARGET: &str = "kollacfg.dev/target";

/// How many hex digits of the content hash a version's name carries.
pub const VERSION_HASH_DIGITS: usize = 10;

impl Output {
    /// `keepVersions`, or its default.
    pub fn keep_versions(&self) -> u32 {
        self.keep_versions.unwrap_or(DEFAULT_KEEP_VERSIONS).max(1)
    }
}

/// The kind of the output object.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum OutputKind {
    /// A Secret (the default).
    #[default]
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

impl OutputKind {
    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "Secret",
            Self::ConfigMap => "ConfigMap",
        }
    }
}

/// A workload that reads the rendered files.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutRef {
    /// StatefulSet, Deployment or DaemonSet.
    pub kind: WorkloadKind,
    /// The workload's name, in this namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
    /// With spec.output.versioned: the volume of the pod template that mounts the output (a
    /// secret or configMap volume). A rollout points it at the new version; kollacfg owns only
    /// that field (secret.secretName or configMap.name) of the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = SERVICE_PATTERN))]
    pub volume: Option<String>,
}

/// The kinds of workload kollacfg can restart.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum WorkloadKind {
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 DaemonSet.
    DaemonSet,
}

impl WorkloadKind {
    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatefulSet => "StatefulSet",
            Self::Deployment => "Deployment",
            Self::DaemonSet => "DaemonSet",
        }
    }
}

/// RabbitMQ settings of a KollaConfig.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RabbitmqSettings {
    /// The RabbitMQ version the service runs, MAJOR.MINOR such as "3.13" (quote it in YAML, or
    /// 3.10 reads as the number 3.1). Turns on version-aware checks of RabbitPolicy
    /// definitions: from "4.0" on, classic queue mirroring is gone and ha-* keys are refused.
    /// Without it those checks are off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 32), regex(pattern = RABBITMQ_VERSION_PATTERN))]
    pub version: Option<String>,

    /// The broker's management HTTP API. When set, the controller keeps the running broker's
    /// policies equal to the rendered definitions.json: it compares first, PUTs what differs,
    /// DELETEs what it published and no longer wants, and leaves every other policy alone. A
    /// change of policies alone then no longer restarts the rollout workloads. Without it,
    /// policies reach the broker only when it restarts and imports the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<Management>,
}

impl RabbitmqSettings {
    /// `spec.rabbitmq.version`, if set.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
}

/// CEL rule on `spec.rabbitmq.management`: a private CA only means something over TLS.
pub const CA_NEEDS_HTTPS: CelRule = CelRule {
    rule: "!has(self.caSecretRef) || self.url.startsWith('https://')",
    message: "caSecretRef needs an https:// url",
    field_path: None,
};

/// CEL rule on `spec.rabbitmq.management`: skipping verification only means something over TLS.
pub const INSECURE_NEEDS_HTTPS: CelRule = CelRule {
    rule: "!has(self.insecureSkipTLSVerify) || !self.insecureSkipTLSVerify || self.url.startsWith('https://')",
    message: "insecureSkipTLSVerify needs an https:// url",
    field_path: None,
};

/// The management HTTP API of the RabbitMQ the KollaConfig configures.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(transform = with_rules(&[CA_NEEDS_HTTPS, INSECURE_NEEDS_HTTPS]))]
pub struct Management {
    /// Base URL of the management API, e.g. http://rabbitmq.openstack.svc:15672 or
    /// https://rabbitmq.openstack.svc:15671. With https, the server certificate is verified
    /// against the system roots, or against caSecretRef when set.
    #[schemars(length(min = 8, max = 2048), regex(pattern = MANAGEMENT_URL_PATTERN))]
    pub url: String,
    /// The Secret (this namespace) holding the user and password of a RabbitMQ user with the
    /// policymaker tag. Read by the controller; never shown in status, events, logs or metrics.
    pub credentials_secret_ref: CredentialsSecretRef,
    /// A private CA to verify the broker's certificate: a PEM bundle in a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,
    /// Skip verifying the broker's TLS certificate. Only when set explicitly; the KollaConfig
    /// then carries the warning condition InsecureBroker.
    #[serde(
        default,
        rename = "insecureSkipTLSVerify",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub insecure_skip_tls_verify: bool,
}

/// The Secret holding the management API's credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialsSecretRef {
    /// Name of the Secret, in this namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
    /// The key holding the user name. Default: username.
    #[serde(default = "default_username_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub username_key: String,
    /// The key holding the password. Default: password.
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub password_key: String,
}

fn default_username_key() -> String {
    "username".to_string()
}

fn default_password_key() -> String {
    "password".to_string()
}

/// One key of a Secret in this namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Name of the Secret, in this namespace.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
    /// The key.
    #[schemars(length(min = 1, max = 253), regex(pattern = SECRET_KEY_PATTERN))]
    pub key: String,
}

/// Observed state of a KollaConfig, written by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KollaConfigStatus {
    /// The `metadata.generation` the controller last rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the output holds the current render) and `Degraded` (the render or the write
    /// failed; the previous output stays in place and the message says why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = list_map(&["type"]))]
    pub conditions: Vec<Condition>,
    /// The files in the output: name, size in bytes and SHA-256 of the content. Values are
    /// never shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = list_map(&["name"]))]
    pub files: Vec<FileStatus>,
    /// The fragments that contributed to the output, as Kind/name, sorted; at most the first
    /// 100 (see contributorCount for the total).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub contributors: Vec<String>,
    /// How many fragments contributed in total.
    #[serde(default)]
    pub contributor_count: i64,
    /// The live broker's policies (with spec.rabbitmq.management): counts and the last sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<BrokerStatus>,
    /// With spec.output.versioned: the name of the newest version written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_version: Option<String>,
    /// Per rollout workload: what kollacfg last rolled out to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = list_map(&["kind", "name"]))]
    pub rollout: Vec<WorkloadRollout>,
}

impl KollaConfigStatus {
    /// Whether `self` and `stored` say the same thing, whatever the order of the list-map lists
    /// (`conditions`, `files`, `rollout`; see [`crate::FragmentStatus::same_as`]).
    pub fn same_as(&self, stored: &Self) -> bool {
        use crate::common::same_list_map;
        // Destructured, so that a new field cannot be left out of the comparison.
        let Self {
            observed_generation,
            conditions,
            files,
            contributors,
            contributor_count,
            broker,
            output_version,
            rollout,
        } = self;
        *observed_generation == stored.observed_generation
            && same_list_map(conditions, &stored.conditions, |x, y| x.type_.cmp(&y.type_))
            && same_list_map(files, &stored.files, |x, y| x.name.cmp(&y.name))
            && same_list_map(rollout, &stored.rollout, |x, y| {
                (&x.kind, &x.name).cmp(&(&y.kind, &y.name))
            })
            && *contributors == stored.contributors
            && *contributor_count == stored.contributor_count
            && *broker == stored.broker
            && *output_version == stored.output_version
    }
}

/// What kollacfg last rolled out to one workload.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRollout {
    /// StatefulSet, Deployment or DaemonSet.
    pub kind: String,
    /// The workload's name.
    pub name: String,
    /// The kollacfg.dev/config-hash kollacfg last set on its pod template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// With spec.output.versioned: the version its template's volume was pointed at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Progressing, Complete, Stuck, Missing, Paused or RolledBack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RolloutState>,
    /// Pods the workload wants (spec.replicas; a DaemonSet's desiredNumberScheduled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i32>,
    /// Pods on the workload's current template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    /// Pods ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// When kollacfg last changed the workload's pod template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// When the counts last moved (the progress deadline counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_progress_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// The files whose content differs between the output the workload ran before kollacfg
    /// last changed its template and the one it was moved to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_files: Vec<String>,
    /// Why the rollout is Stuck, Missing, RolledBack or Paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where one workload's rollout stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RolloutState {
    /// Its template carries the current output; pods are being replaced.
    Progressing,
    /// Every pod runs the current output and is ready.
    Complete,
    /// No progress within the deadline, or a pod of the new revision failing.
    Stuck,
    /// The workload does not exist.
    Missing,
    /// spec.rolloutPolicy.paused holds it on an older output.
    Paused,
    /// Rolled back by hand (`kubectl rollout undo`) after kollacfg rolled the current output
    /// out to it: left there until the next change.
    RolledBack,
}

impl RolloutState {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Progressing => "Progressing",
            Self::Complete => "Complete",
            Self::Stuck => "Stuck",
            Self::Missing => "Missing",
            Self::Paused => "Paused",
            Self::RolledBack => "RolledBack",
        }
    }

    /// Every state, in a fixed order.
    pub const ALL: [Self; 6] = [
        Self::Progressing,
        Self::Complete,
        Self::Stuck,
        Self::Missing,
        Self::Paused,
        Self::RolledBack,
    ];
}

/// How many live policies are at most named in `status.broker.unmanagedPolicies`.
pub const MAX_STATUS_UNMANAGED: usize = 20;

/// The live broker's policies as the last sync saw them. Written only when a count or the
/// BrokerSynced condition changes (so `lastSyncTime` is the time of the last such change).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokerStatus {
    /// Policies in the rendered definitions.json.
    pub desired: i64,
    /// Policies the broker had before the sync (GET /api/policies).
    pub live: i64,
    /// Live policies kollacfg neither wants nor published: left alone.
    pub unmanaged: i64,
    /// The first 20 of those, as vhost/name, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub unmanaged_policies: Vec<String>,
    /// When these counts were last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

/// One file of the output.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileStatus {
    /// File name, e.g. rabbitmq.conf.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

impl KollaConfig {
    /// The name of the version of the output whose content hash (hex) is `hash`:
    /// `<output_name()>-<first 10 hex digits>`.
    pub fn version_name(&self, hash: &str) -> String {
        let digits = &hash[..hash.len().min(VERSION_HASH_DIGITS)];
        format!("{}-{digits}", self.output_name())
    }

    /// The output object's name: `spec.output.name`, or `<metadata.name>-config`.
    pub fn output_name(&self) -> String {
        match &self.spec.output.name {
            Some(name) => name.clone(),
            None => format!(
                "{}-config",
                self.metadata.name.as_deref().unwrap_or_default()
            ),
        }
    }
}
