//! `RabbitListenerPolicy` (server side, `rabbitmq.conf`) and `OsloMessagingPolicy` (client
//! side, `[oslo_messaging_rabbit]` of an OpenStack service): keepalives and heartbeats that
//! keep idle AMQP connections alive through firewalls. Types, schema and CEL rules.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{FragmentStatus, KollaConfigRef};
use crate::schema::{with_rules, CelRule};

/// CEL rule on `RabbitListenerPolicy.spec`: it must set something.
pub const RABBIT_LISTENER_AT_LEAST_ONE: CelRule = CelRule {
    rule: "has(self.tcpKeepalive) || has(self.heartbeatSeconds)",
    message: "set at least one of tcpKeepalive or heartbeatSeconds",
    field_path: None,
};

/// CEL rule on `OsloMessagingPolicy.spec`: it must set something.
pub const OSLO_MESSAGING_AT_LEAST_ONE: CelRule = CelRule {
    rule: "has(self.heartbeatTimeoutThreshold) || has(self.heartbeatRate) \
           || has(self.rabbitQuorumQueue) || has(self.rabbitTransientQuorumQueue)",
    message: "set at least one of heartbeatTimeoutThreshold, heartbeatRate, rabbitQuorumQueue \
              or rabbitTransientQuorumQueue",
    field_path: None,
};

/// Desired state of a RabbitListenerPolicy.
// Printer columns repeat `type_ = "string"`, which is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kollacfg.dev",
    version = "v1alpha1",
    kind = "RabbitListenerPolicy",
    plural = "rabbitlistenerpolicies",
    namespaced,
    status = "FragmentStatus",
    derive = "PartialEq",
    shortname = "rlisten",
    category = "kollacfg",
    doc = "RabbitListenerPolicy sets how RabbitMQ keeps client connections alive: TCP \
           keepalive on the AMQP listener and the heartbeat timeout it proposes, as keys of the \
           target's rabbitmq.conf. Use it when firewalls or NAT drop idle AMQP connections.",
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
#[schemars(transform = with_rules(&[RABBIT_LISTENER_AT_LEAST_ONE]))]
pub struct RabbitListenerPolicySpec {
    /// The KollaConfig (service rabbitmq) whose rabbitmq.conf gets these keys.
    pub kolla_config_ref: KollaConfigRef,

    /// Precedence of these keys: per key, the highest precedence wins; ties go to the
    /// alphabetically first Kind/name. Default 0.
    #[serde(default)]
    pub precedence: i32,

    /// rabbitmq.conf tcp_listen_options.keepalive: TCP keepalive on AMQP client connections,
    /// so idle connections carry traffic through firewalls and dead peers are detected. Unset:
    /// not written (RabbitMQ's default is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_keepalive: Option<bool>,

    /// rabbitmq.conf heartbeat: the AMQP heartbeat timeout in seconds the server proposes to
    /// clients; 0 disables heartbeats. Unset: not written (RabbitMQ's default is 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub heartbeat_seconds: Option<i64>,
}

/// Desired state of an OsloMessagingPolicy.
// Printer columns repeat `type_ = "string"`, which is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kollacfg.dev",
    version = "v1alpha1",
    kind = "OsloMessagingPolicy",
    plural = "oslomessagingpolicies",
    namespaced,
    status = "FragmentStatus",
    derive = "PartialEq",
    shortname = "oslomsg",
    category = "kollacfg",
    doc = "OsloMessagingPolicy sets how an OpenStack service talks to RabbitMQ through \
           oslo.messaging: heartbeats and quorum queues, in the [oslo_messaging_rabbit] section \
           of the target's oslo config file (nova.conf for nova-* services).",
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
#[schemars(transform = with_rules(&[OSLO_MESSAGING_AT_LEAST_ONE]))]
pub struct OsloMessagingPolicySpec {
    /// The KollaConfig (an OpenStack service such as nova-compute) whose oslo config file gets
    /// these keys.
    pub kolla_config_ref: KollaConfigRef,

    /// Precedence of these keys: per key, the highest precedence wins; ties go to the
    /// alphabetically first Kind/name. Default 0.
    #[serde(default)]
    pub precedence: i32,

    /// `[oslo_messaging_rabbit]` heartbeat_timeout_threshold: seconds without a heartbeat after
    /// which the client treats the RabbitMQ connection as dead and reconnects; 0 disables
    /// heartbeats. Unset: not written (oslo.messaging's default is 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub heartbeat_timeout_threshold: Option<i64>,

    /// `[oslo_messaging_rabbit]` heartbeat_rate: how many times per
    /// heartbeat_timeout_threshold the heartbeat is checked, at least 1. Unset: not written
    /// (oslo.messaging's default applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub heartbeat_rate: Option<i64>,

    /// `[oslo_messaging_rabbit]` rabbit_quorum_queue: declare the service's queues as quorum
    /// queues (replicated) instead of classic queues. RabbitMQ refuses to redeclare an
    /// existing queue with another type, so switching needs the old queues removed. Unset: not
    /// written (oslo.messaging's default is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rabbit_quorum_queue: Option<bool>,

    /// `[oslo_messaging_rabbit]` rabbit_transient_quorum_queue: also use quorum queues for
    /// transient queues (replies, fanout). Unset: not written (oslo.messaging's default is
    /// false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rabbit_transient_quorum_queue: Option<bool>,
}
