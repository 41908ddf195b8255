//! The engine's input model: targets (one kolla service directory each) and fragments (typed
//! fixes that write items into a target's files). Pure data; the API crate converts custom
//! resources into these types, and the engine never sees Kubernetes objects.

use std::collections::BTreeMap;
use std::fmt;

/// Identifies a resource for reports and errors: `Kind namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceRef {
    /// The resource kind, e.g. `RabbitPolicy`.
    pub kind: String,
    /// The namespace (offline inputs without one use `default`).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl ResourceRef {
    /// Builds a reference.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// `Kind/name`, the key that breaks precedence ties (alphabetically first wins).
    pub fn kind_name(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::issue::printable;
        write!(
            f,
            "{} {}/{}",
            printable(&self.kind),
            printable(&self.namespace),
            printable(&self.name)
        )
    }
}

/// A `KollaConfig`: one kolla service's config directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The KollaConfig itself.
    pub id: ResourceRef,
    /// Kolla service directory name: `rabbitmq`, `nova-compute`, ...
    pub service: String,
    /// `spec.rabbitmq.version`, turning on version-aware checks when set.
    pub rabbitmq_version: Option<String>,
}

/// A fragment: one typed fix aimed at a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// The fragment resource.
    pub id: ResourceRef,
    /// `spec.kollaConfigRef.name`: a KollaConfig in the same namespace.
    pub target: String,
    /// `spec.precedence`: the highest wins per item.
    pub precedence: i32,
    /// What the fragment writes.
    pub body: FragmentBody,
}

/// The kind-specific part of a fragment.
#[derive(Debug, Clone, PartialEq)]
pub enum FragmentBody {
    /// `RabbitPolicy` → `definitions.json` `policies[]`.
    RabbitPolicy(RabbitPolicy),
    /// `ErlangVmArgs` → `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS` in `rabbitmq-env.conf`.
    ErlangVmArgs(ErlangVmArgs),
    /// `NovaVifPolicy` → `nova.conf` `[DEFAULT]`.
    NovaVifPolicy(NovaVifPolicy),
    /// `NovaComputePolicy` → `nova.conf` `[DEFAULT]`.
    NovaComputePolicy(NovaComputePolicy),
    /// `RabbitListenerPolicy` → `rabbitmq.conf`.
    RabbitListenerPolicy(RabbitListenerPolicy),
    /// `OsloMessagingPolicy` → the service's oslo file, `[oslo_messaging_rabbit]`.
    OsloMessagingPolicy(OsloMessagingPolicy),
    /// `ConfigOverride` → any file of the target.
    ConfigOverride(ConfigOverride),
}

impl FragmentBody {
    /// The resource kind this body belongs to.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RabbitPolicy(_) => "RabbitPolicy",
            Self::ErlangVmArgs(_) => "ErlangVmArgs",
            Self::NovaVifPolicy(_) => "NovaVifPolicy",
            Self::NovaComputePolicy(_) => "NovaComputePolicy",
            Self::RabbitListenerPolicy(_) => "RabbitListenerPolicy",
            Self::OsloMessagingPolicy(_) => "OsloMessagingPolicy",
            Self::ConfigOverride(_) => "ConfigOverride",
        }
    }
}

/// A RabbitMQ policy, as RabbitMQ spells it, or (`absent`) the wish that it not exist.
#[derive(Debug, Clone, PartialEq)]
pub struct RabbitPolicy {
    /// Virtual host (default `/`).
    pub vhost: String,
    /// Policy name (default: the resource name).
    pub name: String,
    /// Regular expression matched against queue/exchange names.
    pub pattern: String,
    /// `all`, `queues`, `exchanges`, `classic_queues`, `quorum_queues`, `streams`.
    pub apply_to: String,
    /// RabbitMQ's policy priority.
    pub priority: i64,
    /// The policy definition, keys as RabbitMQ spells them.
    pub definition: serde_json::Map<String, serde_json::Value>,
    /// The policy `(vhost, name)` must not exist: it is removed from `definitions.json` (a
    /// base policy too). `pattern`, `apply_to`, `priority` and `definition` are then ignored.
    pub absent: bool,
}

/// Erlang emulator flags for RabbitMQ's VM.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErlangVmArgs {
    /// `+sbwt`.
    pub scheduler_busy_wait: Option<String>,
    /// `+sbwtdcpu`.
    pub dirty_cpu_scheduler_busy_wait: Option<String>,
    /// `+sbwtdio`.
    pub dirty_io_scheduler_busy_wait: Option<String>,
    /// `+sub`.
    pub scheduler_utilization_balancing: Option<bool>,
    /// `+S`, `N:M`.
    pub schedulers: Option<String>,
    /// `+A`.
    pub async_threads: Option<i64>,
    /// `+P`.
    pub max_processes: Option<i64>,
    /// `+zdbbl`.
    pub dist_buffer_busy_limit_kb: Option<i64>,
    /// Further emulator flags, each `+flag value...`.
    pub extra_args: Vec<String>,
}

/// `network-vif-plugged` handling in nova-compute.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NovaVifPolicy {
    /// `vif_plugging_is_fatal`.
    pub vif_plugging_is_fatal: Option<bool>,
    /// `vif_plugging_timeout`, seconds.
    pub vif_plugging_timeout: Option<i64>,
}

/// Overcommit and build concurrency in nova.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NovaComputePolicy {
    /// `cpu_allocation_ratio`.
    pub cpu_allocation_ratio: Option<f64>,
    /// `ram_allocation_ratio`.
    pub ram_allocation_ratio: Option<f64>,
    /// `disk_allocation_ratio`.
    pub disk_allocation_ratio: Option<f64>,
    /// `reserved_host_memory_mb`.
    pub reserved_host_memory_mb: Option<i64>,
    /// `max_concurrent_builds`.
    pub max_concurrent_builds: Option<i64>,
}

/// RabbitMQ listener settings in `rabbitmq.conf`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RabbitListenerPolicy {
    /// `tcp_listen_options.keepalive`.
    pub tcp_keepalive: Option<bool>,
    /// `heartbeat`, seconds.
    pub heartbeat_seconds: Option<i64>,
}

/// oslo.messaging's RabbitMQ driver settings, `[oslo_messaging_rabbit]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OsloMessagingPolicy {
    /// `heartbeat_timeout_threshold`.
    pub heartbeat_timeout_threshold: Option<i64>,
    /// `heartbeat_rate`.
    pub heartbeat_rate: Option<i64>,
    /// `rabbit_quorum_queue`.
    pub rabbit_quorum_queue: Option<bool>,
    /// `rabbit_transient_quorum_queue`.
    pub rabbit_transient_quorum_queue: Option<bool>,
}

/// The escape hatch: raw items for one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigOverride {
    /// The file name within the target, e.g. `nova.conf`.
    pub file: String,
    /// The items.
    pub content: OverrideContent,
}

/// What a `ConfigOverride` sets; exactly one form per resource.
#[derive(Debug, Clone, PartialEq)]
pub enum OverrideContent {
    /// `ini: {section: {key: value}}`.
    Ini(BTreeMap<String, BTreeMap<String, String>>),
    /// `conf: {key: value}` for `rabbitmq.conf`.
    Conf(BTreeMap<String, String>),
    /// `env: {NAME: value}` for `rabbitmq-env.conf`.
    Env(BTreeMap<String, String>),
}
