//! Types shared by several kinds: references to other objects, the fragment status and the
//! condition types the controller reports. Pure data; no kind-specific rules live here.

use std::cmp::Ordering;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::{list_map, OBJECT_NAME_PATTERN};

/// Condition type: the resource was rendered (targets) or applied to its target (fragments).
pub const CONDITION_READY: &str = "Ready";
/// Condition type on fragments: another fragment sets the same item at the same precedence to a
/// different value.
pub const CONDITION_CONFLICTED: &str = "Conflicted";
/// Condition type on fragments: the engine refused the fragment's values.
pub const CONDITION_INVALID: &str = "Invalid";
/// Condition type on targets: the output could not be rendered or written; the previous output
/// stays in place.
pub const CONDITION_DEGRADED: &str = "Degraded";

/// Condition type on a KollaConfig with `spec.rabbitmq.management`: the live broker's policies
/// equal the rendered definitions.json (False: reason BrokerUnreachable, Unauthorized,
/// PolicyRejected or VhostMissing, and the message says which policy and quotes RabbitMQ).
pub const CONDITION_BROKER_SYNCED: &str = "BrokerSynced";
/// Condition type on a RabbitPolicy whose target has `spec.rabbitmq.management`: its policy is
/// live in the broker as rendered (or, with `absent`, gone from it).
pub const CONDITION_LIVE: &str = "Live";
/// Warning condition type on a KollaConfig whose management API is reached without verifying
/// its TLS certificate (`insecureSkipTLSVerify: true`).
pub const CONDITION_INSECURE_BROKER: &str = "InsecureBroker";
/// Warning condition type on a KollaConfig rolled out to a DaemonSet or a StatefulSet whose
/// output holds a literal per-host value (one host's address or name, e.g. nova.conf `my_ip`)
/// that every pod reads (reason LiteralHostValue; the message names the items and the perPod
/// entries that fix them). Absent when there is none. It does not block Ready.
pub const CONDITION_HOST_SPECIFIC_VALUE: &str = "HostSpecificValue";

/// Warning condition type on a KollaConfig with `spec.output.versioned` whose rollout entries
/// cannot all be pointed at a version (a workload not found, a volume missing or unnamed).
pub const CONDITION_ROLLOUT_WARNING: &str = "RolloutWarning";

/// Condition type on a KollaConfig with spec.rollout: True (reason RolledOut) when every
/// workload runs the current output and all its pods are ready; False with reason Progressing,
/// Paused, RolledBack, WorkloadNotFound or RolloutStuck (no progress within
/// spec.rolloutPolicy.progressDeadlineSeconds, or a pod of the new revision failing: the
/// message names the pod, its reason and the files that changed). Absent without spec.rollout.
pub const CONDITION_ROLLED_OUT: &str = "RolledOut";

/// Names the KollaConfig a fragment writes into.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KollaConfigRef {
    /// Name of a KollaConfig in the same namespace as this resource. The fragment's items are
    /// merged into that KollaConfig's files; a fragment naming a KollaConfig that does not exist
    /// waits for it.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
}

/// Names an object in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalObjectRef {
    /// Name of the object, in the same namespace as this resource.
    #[schemars(length(min = 1, max = 253), regex(pattern = OBJECT_NAME_PATTERN))]
    pub name: String,
}

/// Observed state of a fragment, written by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FragmentStatus {
    /// The `metadata.generation` the controller last acted on. When it is lower than
    /// `metadata.generation`, the conditions describe an older spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the fragment's items are in the target's output), `Conflicted` (another fragment
    /// sets the same item at the same precedence to a different value; the message names it)
    /// and `Invalid` (the engine refused a value; the message names the field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(transform = list_map(&["type"]))]
    pub conditions: Vec<Condition>,
}

impl FragmentStatus {
    /// Whether `self` and `stored` say the same thing, whatever the order of their conditions.
    /// The API server keeps `conditions` as a map keyed by type: an apply merges into the stored
    /// order (a type added later stays last), so a status read back may list in another order
    /// the conditions the controller keeps sorted.
    pub fn same_as(&self, stored: &Self) -> bool {
        let Self {
            observed_generation,
            conditions,
        } = self;
        *observed_generation == stored.observed_generation
            && same_list_map(conditions, &stored.conditions, |x, y| x.type_.cmp(&y.type_))
    }
}

/// Whether two list-map lists (see [`FragmentStatus::same_as`]) hold the same entries, in any
/// order; `by_key` orders entries by their map key.
pub fn same_list_map<T: PartialEq>(a: &[T], b: &[T], by_key: impl Fn(&T, &T) -> Ordering) -> bool {
    if a == b {
        return true;
    }
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y): (Vec<&T>, Vec<&T>) = (a.iter().collect(), b.iter().collect());
    x.sort_by(|p, q| by_key(p, q));
    y.sort_by(|p, q| by_key(p, q));
    x == y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KollaConfigStatus, WorkloadRollout};

    fn condition(type_: &str, message: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: "True".into(),
            reason: "R".into(),
            message: message.into(),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            observed_generation: None,
        }
    }

    #[test]
    fn statuses_compare_their_list_maps_in_any_order() {
        let sorted = FragmentStatus {
            observed_generation: Some(2),
            conditions: vec![condition("Live", "a"), condition("Ready", "b")],
        };
        let mut stored = sorted.clone();
        stored.conditions.reverse();
        assert_ne!(sorted, stored);
        assert!(sorted.same_as(&stored));
        stored.conditions[0].message = "changed".into();
        assert!(!sorted.same_as(&stored));
        stored.conditions.pop();
        assert!(!sorted.same_as(&stored));
        let mut older = sorted.clone();
        older.observed_generation = Some(1);
        assert!(!sorted.same_as(&older));

        let rollout = |name: &str| WorkloadRollout {
            kind: "StatefulSet".into(),
            name: name.into(),
            ..WorkloadRollout::default()
        };
        let target = KollaConfigStatus {
            conditions: sorted.conditions.clone(),
            rollout: vec![rollout("a"), rollout("b")],
            ..KollaConfigStatus::default()
        };
        let mut stored = target.clone();
        stored.conditions.reverse();
        stored.rollout.reverse();
        assert!(target.same_as(&stored));
        stored.output_version = Some("rabbitmq-config-0123456789".into());
        assert!(!target.same_as(&stored));
    }
}
