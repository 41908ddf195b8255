//! `ErlangVmArgs`: Erlang emulator flags for RabbitMQ's VM, merged flag by flag into
//! `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS` in `rabbitmq-env.conf`. Types, schema and CEL rules.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{FragmentStatus, KollaConfigRef};
use crate::schema::{
    drop_description, list_set, with_rules, CelRule, EXTRA_ARG_PATTERN, SCHEDULERS_PATTERN,
};

/// CEL rule on `spec`: an ErlangVmArgs that sets nothing is a mistake.
pub const ERLANG_AT_LEAST_ONE: CelRule = CelRule {
    rule: "has(self.schedulerBusyWait) || has(self.dirtyCpuSchedulerBusyWait) \
           || has(self.dirtyIoSchedulerBusyWait) || has(self.schedulerUtilizationBalancing) \
           || has(self.schedulers) || has(self.asyncThreads) || has(self.maxProcesses) \
           || has(self.distBufferBusyLimitKb) || (has(self.extraArgs) && size(self.extraArgs) > 0)",
    message: "set at least one of schedulerBusyWait, dirtyCpuSchedulerBusyWait, \
              dirtyIoSchedulerBusyWait, schedulerUtilizationBalancing, schedulers, asyncThreads, \
              maxProcesses, distBufferBusyLimitKb or extraArgs",
    field_path: None,
};

/// The flags `extraArgs` may not carry because a typed field sets them.
pub const TYPED_FLAGS: &[&str] = &[
    "+sbwt",
    "+sbwtdcpu",
    "+sbwtdio",
    "+sub",
    "+S",
    "+A",
    "+P",
    "+zdbbl",
];

/// CEL rule on `spec.extraArgs`: typed flags go through their validated fields, in any spelling
/// Erlang reads as them: a value glued on (`+P2048`, `+sbwtnone`, `+S4:4`) is the same flag.
/// No other emulator flag begins with `+sbwt`, `+sub`, `+A`, `+P` or `+zdbbl`; `+SP` and `+SD...`
/// are other flags than `+S`.
pub const EXTRA_ARGS_NOT_TYPED: CelRule = CelRule {
    rule: "self.all(a, !a.matches('^[+](sbwt|sub|A|P|zdbbl|S([^PD]|$))'))",
    message: "extraArgs may not set +sbwt, +sbwtdcpu, +sbwtdio, +sub, +S, +A, +P or +zdbbl, \
              also with a value glued on (Erlang reads +P2048 as +P 2048): \
              use schedulerBusyWait, dirtyCpuSchedulerBusyWait, dirtyIoSchedulerBusyWait, \
              schedulerUtilizationBalancing, schedulers, asyncThreads, maxProcesses or \
              distBufferBusyLimitKb",
    field_path: None,
};

/// Desired state of an ErlangVmArgs.
// Printer columns repeat `type_ = "string"`, which is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kollacfg.dev",
    version = "v1alpha1",
    kind = "ErlangVmArgs",
    plural = "erlangvmargs",
    namespaced,
    status = "FragmentStatus",
    derive = "PartialEq",
    shortname = "evmargs",
    category = "kollacfg",
    doc = "ErlangVmArgs sets Erlang emulator flags for RabbitMQ's VM. Each flag is one item in \
           RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS in the target's rabbitmq-env.conf; the flags \
           already there (kolla's -kernel inetrc ..., -pa ...) are kept. The classic fix for \
           idle RabbitMQ nodes burning CPU is schedulerBusyWait: none with \
           schedulerUtilizationBalancing: true (+sbwt none +sub true).",
    printcolumn(
        name = "Target",
        type_ = "string",
        json_path = ".spec.kollaConfigRef.name",
        description = "KollaConfig this fragment writes into"
    ),
    printcolumn(name = "Precedence", type_ = "integer", json_path = ".spec.precedence"),
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
#[schemars(transform = with_rules(&[ERLANG_AT_LEAST_ONE]))]
pub struct ErlangVmArgsSpec {
    /// The KollaConfig (service rabbitmq) whose rabbitmq-env.conf gets these flags.
    pub kolla_config_ref: KollaConfigRef,

    /// Precedence of these flags: per flag, the highest precedence wins; ties go to the
    /// alphabetically first Kind/name. Default 0.
    #[serde(default)]
    pub precedence: i32,

    /// +sbwt: how long an idle scheduler busy-waits (spins) before it sleeps. none stops the
    /// spinning that makes idle RabbitMQ nodes show high CPU; the emulator's default is medium.
    /// Unset: not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_busy_wait: Option<BusyWait>,

    /// +sbwtdcpu: the same busy-wait threshold for dirty CPU schedulers. Unset: not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_cpu_scheduler_busy_wait: Option<BusyWait>,

    /// +sbwtdio: the same busy-wait threshold for dirty I/O schedulers. Unset: not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_io_scheduler_busy_wait: Option<BusyWait>,

    /// +sub true|false: scheduler utilization balancing, which keeps load spread evenly over
    /// the schedulers instead of compacting it onto few. Unset: not written (emulator default
    /// false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_utilization_balancing: Option<bool>,

    /// +S Schedulers:SchedulersOnline, e.g. "2:2": how many scheduler threads the emulator
    /// creates and how many run, to keep RabbitMQ to fewer cores than the host has. Unset: not
    /// written (one scheduler per logical core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), regex(pattern = SCHEDULERS_PATTERN))]
    pub schedulers: Option<String>,

    /// +A: size of the emulator's async thread pool, 1-1024. Unset: not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1024))]
    pub async_threads: Option<i64>,

    /// +P: the maximum number of Erlang processes, 1024-134217727. Every connection, channel
    /// and queue uses processes; raise it for very many queues or connections. Unset: not
    /// written (RabbitMQ's own default applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024, max = 134217727))]
    pub max_processes: Option<i64>,

    /// +zdbbl: the inter-node distribution buffer busy limit in kilobytes, 1-2097151. A
    /// larger buffer helps busy clusters where nodes report "busy_dist_port". Unset: not
    /// written (RabbitMQ's own default applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2097151))]
    pub dist_buffer_busy_limit_kb: Option<i64>,

    /// Further emulator flags no field covers, one flag per entry: "+flag", or "+flag value"
    /// separated by one space, e.g. "+stbt db". Each is checked against Erlang 25's emulator
    /// flags (the flag exists, takes a value or none, and takes this value); a value glued to
    /// its flag is refused. Shell metacharacters are refused (rabbitmq-env.conf is sourced by
    /// the shell). Each flag is one item, merged by precedence like the typed ones. Default:
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 64),
        inner(length(min = 2, max = 256), regex(pattern = EXTRA_ARG_PATTERN))
    )]
    #[schemars(transform = list_set, transform = with_rules(&[EXTRA_ARGS_NOT_TYPED]))]
    pub extra_args: Vec<String>,
}

/// An Erlang scheduler busy-wait threshold.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
// The fields using it are optional, and an optional enum's schema takes the enum's description
// instead of the field's: keep the field's.
#[schemars(transform = drop_description)]
pub enum BusyWait {
    /// Do not busy-wait.
    None,
    /// Very short busy-wait.
    VeryShort,
    /// Short busy-wait.
    Short,
    /// Medium busy-wait (the emulator default for normal schedulers).
    Medium,
    /// Long busy-wait.
    Long,
    /// Very long busy-wait.
    VeryLong,
}

impl BusyWait {
    /// The value as the emulator spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::VeryShort => "very_short",
            Self::Short => "short",
            Self::Medium => "medium",
            Self::Long => "long",
            Self::VeryLong => "very_long",
        }
    }
}
