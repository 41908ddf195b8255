//! `NovaVifPolicy` and `NovaComputePolicy`: typed `nova.conf` `[DEFAULT]` settings for VIF
//! plugging, overcommit and build concurrency. Types, schema and CEL rules.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{FragmentStatus, KollaConfigRef};
use crate::schema::{with_rules, CelRule};

/// CEL rule on `NovaVifPolicy.spec`: it must set something.
pub const NOVA_VIF_AT_LEAST_ONE: CelRule = CelRule {
    rule: "has(self.vifPluggingIsFatal) || has(self.vifPluggingTimeout)",
    message: "set at least one of vifPluggingIsFatal or vifPluggingTimeout",
    field_path: None,
};

/// CEL rule on `NovaComputePolicy.spec`: it must set something.
pub const NOVA_COMPUTE_AT_LEAST_ONE: CelRule = CelRule {
    rule: "has(self.cpuAllocationRatio) || has(self.ramAllocationRatio) \
           || has(self.diskAllocationRatio) || has(self.reservedHostMemoryMb) \
           || has(self.maxConcurrentBuilds)",
    message: "set at least one of cpuAllocationRatio, ramAllocationRatio, diskAllocationRatio, \
              reservedHostMemoryMb or maxConcurrentBuilds",
    field_path: None,
};

/// Desired state of a NovaVifPolicy.
// Printer columns repeat `type_ = "string"`, which is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kollacfg.dev",
    version = "v1alpha1",
    kind = "NovaVifPolicy",
    plural = "novavifpolicies",
    namespaced,
    status = "FragmentStatus",
    derive = "PartialEq",
    shortname = "novavif",
    category = "kollacfg",
    doc = "NovaVifPolicy sets how nova-compute waits for Neutron's network-vif-plugged event \
           when it boots an instance: vif_plugging_is_fatal and vif_plugging_timeout in the \
           [DEFAULT] section of the target's nova.conf. Mass VM creation that times out waiting \
           for the event is usually relieved with vifPluggingIsFatal: false.",
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
#[schemars(transform = with_rules(&[NOVA_VIF_AT_LEAST_ONE]))]
pub struct NovaVifPolicySpec {
    /// The KollaConfig (a nova-* service, e.g. nova-compute) whose nova.conf gets these keys.
    pub kolla_config_ref: KollaConfigRef,

    /// Precedence of these keys: per key, the highest precedence wins; ties go to the
    /// alphabetically first Kind/name. Default 0.
    #[serde(default)]
    pub precedence: i32,

    /// `[DEFAULT]` vif_plugging_is_fatal: when true (nova's default), an instance whose
    /// network-vif-plugged event does not arrive within vifPluggingTimeout fails to boot;
    /// false boots it anyway. Unset: not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vif_plugging_is_fatal: Option<bool>,

    /// `[DEFAULT]` vif_plugging_timeout: seconds to wait for network-vif-plugged before
    /// continuing or failing (see vifPluggingIsFatal); 0 does not wait. Unset: not written
    /// (nova's default is 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub vif_plugging_timeout: Option<i64>,
}

/// Desired state of a NovaComputePolicy.
// Printer columns repeat `type_ = "string"`, which is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kollacfg.dev",
    version = "v1alpha1",
    kind = "NovaComputePolicy",
    plural = "novacomputepolicies",
    namespaced,
    status = "FragmentStatus",
    derive = "PartialEq",
    shortname = "novacompute",
    category = "kollacfg",
    doc = "NovaComputePolicy sets overcommit ratios, the memory reserved for the host and the \
           cap on concurrent instance builds: cpu_allocation_ratio, ram_allocation_ratio, \
           disk_allocation_ratio, reserved_host_memory_mb and max_concurrent_builds in the \
           [DEFAULT] section of the target's nova.conf.",
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
#[schemars(transform = with_rules(&[NOVA_COMPUTE_AT_LEAST_ONE]))]
pub struct NovaComputePolicySpec {
    /// The KollaConfig (a nova-* service, e.g. nova-compute) whose nova.conf gets these keys.
    pub kolla_config_ref: KollaConfigRef,

    /// Precedence of these keys: per key, the highest precedence wins; ties go to the
    /// alphabetically first Kind/name. Default 0.
    #[serde(default)]
    pub precedence: i32,

    /// `[DEFAULT]` cpu_allocation_ratio: virtual CPUs the scheduler places per physical CPU,
    /// e.g. 2.0 for 1:2 overcommit. Unset: not written (nova's defaults apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub cpu_allocation_ratio: Option<f64>,

    /// `[DEFAULT]` ram_allocation_ratio: virtual RAM placed per unit of physical RAM, e.g. 1.2
    /// for 1:1.2 overcommit. Unset: not written (nova's defaults apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub ram_allocation_ratio: Option<f64>,

    /// `[DEFAULT]` disk_allocation_ratio: virtual disk placed per unit of physical disk.
    /// Unset: not written (nova's defaults apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub disk_allocation_ratio: Option<f64>,

    /// `[DEFAULT]` reserved_host_memory_mb: MiB of host memory kept for the host itself and
    /// never offered to instances. Unset: not written (nova's default is 512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub reserved_host_memory_mb: Option<i64>,

    /// `[DEFAULT]` max_concurrent_builds: how many instance builds one nova-compute runs at
    /// once, to tame boot storms; 0 means unlimited. Unset: not written (nova's default is 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_concurrent_builds: Option<i64>,
}
