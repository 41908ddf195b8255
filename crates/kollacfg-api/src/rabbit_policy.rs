//! `RabbitPolicy`: one RabbitMQ policy in `definitions.json` `policies[]`. Types, schema and
//! the CEL rules on `definition`; the engine re-checks keys and versions semantically.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::common::{FragmentStatus, KollaConfigRef};
use crate::schema::{free_form_object, with_rules, CelRule};

/// CEL rule on `spec.definition`: only RabbitMQ's three mirroring modes.
pub const HA_MODE_VALUES: CelRule = CelRule {
    rule: "!('ha-mode' in self) || self['ha-mode'] in ['all', 'exactly', 'nodes']",
    message: "ha-mode must be all, exactly or nodes",
    field_path: None,
};

/// CEL rule on `spec.definition`: `exactly` and `nodes` need their parameter.
pub const HA_PARAMS_REQUIRED: CelRule = CelRule {
    rule: "!('ha-mode' in self) || !(self['ha-mode'] in ['exactly', 'nodes']) || 'ha-params' in self",
    message: "ha-params is required when ha-mode is exactly (a replica count, e.g. 2) or nodes (a list of node names)",
    field_path: None,
};

/// CEL rule on `spec.definition`: `all` takes no parameter.
pub const HA_ALL_NO_PARAMS: CelRule = CelRule {
    rule: "!('ha-params' in self) || !('ha-mode' in self) || self['ha-mode'] != 'all'",
    message: "ha-mode all takes no ha-params (it mirrors to every node); to cap the mirrors use ha-mode exactly with ha-params N",
    field_path: None,
};

/// CEL rule on `spec.definition`: the other `ha-*` keys only mean something with `ha-mode`.
pub const HA_KEYS_NEED_MODE: CelRule = CelRule {
    rule: "'ha-mode' in self || !['ha-params', 'ha-sync-mode', 'ha-sync-batch-size', 'ha-promote-on-shutdown', 'ha-promote-on-failure'].exists(k, k in self)",
    message: "ha-params, ha-sync-mode, ha-sync-batch-size and ha-promote-on-* need ha-mode",
    field_path: None,
};

/// CEL rule on `spec`: a policy that exists needs its pattern and definition.
pub const POLICY_NEEDS_PATTERN_AND_DEFINITION: CelRule = CelRule {
    rule: "(has(self.absent) && self.absent) || (has(self.pattern) && has(self.definition))",
    message: "pattern and definition are required unless absent is true",
    field_path: None,
};

/// Every CEL rule on `spec.definition`, in schema order.
pub const DEFINITION_RULES: &[CelRule] = &[
    HA_MODE_VALUES,
    HA_PARAMS_REQUIRED,
    HA_ALL_NO_PARAMS,
    HA_KEYS_NEED_MODE,
];

/// Desired state of a RabbitPolicy.
// Printer columns repeat `type_ = "string"`, which is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kollacfg.dev",
    version = "v1alpha1",
    kind = "RabbitPolicy",
    plural = "rabbitpolicies",
    namespaced,
    status = "FragmentStatus",
    derive = "PartialEq",
    shortname = "rpol",
    category = "kollacfg",
    doc = "RabbitPolicy is one RabbitMQ policy (vhost, name) written into the policies of the \
           target's definitions.json, which RabbitMQ loads at boot. Use it to change classic \
           queue mirroring ({\"ha-mode\":\"all\"} on .* can burn 500-1200% CPU on large \
           clusters; {\"ha-mode\":\"exactly\",\"ha-params\":2} caps the mirrors), TTLs, length \
           limits or dead-lettering. The whole policy is one item: the one with the highest \
           precedence wins. With absent: true the policy must not exist: it is removed from \
           definitions.json (also a base policy such as kolla's ha-all) and from a managed \
           live broker.",
    printcolumn(
        name = "Target",
        type_ = "string",
        json_path = ".spec.kollaConfigRef.name",
        description = "KollaConfig this fragment writes into"
    ),
    printcolumn(name = "Precedence", type_ = "integer", json_path = ".spec.precedence"),
    printcolumn(name = "Pattern", type_ = "string", json_path = ".spec.pattern"),
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
#[schemars(transform = with_rules(&[POLICY_NEEDS_PATTERN_AND_DEFINITION]))]
pub struct RabbitPolicySpec {
    /// The KollaConfig (service rabbitmq) whose definitions.json gets this policy.
    pub kolla_config_ref: KollaConfigRef,

    /// Precedence of this policy: when several resources write the same (vhost, name), the
    /// highest precedence wins; ties go to the alphabetically first Kind/name. Default 0.
    #[serde(default)]
    pub precedence: i32,

    /// The virtual host the policy applies in. Default "/".
    #[serde(default = "default_vhost")]
    #[schemars(length(min = 1, max = 255))]
    pub vhost: String,

    /// The policy name in RabbitMQ. Default: metadata.name. A policy of the same vhost and
    /// name in the base definitions.json is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,

    /// The policy (vhost, name) must not exist: it is removed from definitions.json (a base
    /// policy too, such as kolla's ha-all) and, when the target manages a live broker, from
    /// the broker. It is an item value like any other: precedence and conflicts apply. pattern
    /// and definition are then not needed and are ignored. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub absent: bool,

    /// Regular expression (PCRE, as RabbitMQ evaluates it) matched against queue and
    /// exchange names, e.g. ".*" or "^(?!amq\.).*". Required unless absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub pattern: Option<String>,

    /// Which objects the policy applies to: all (default), queues, exchanges,
    /// classic_queues, quorum_queues or streams.
    #[serde(default)]
    pub apply_to: ApplyTo,

    /// RabbitMQ's policy priority: when several policies match an object, the one with the
    /// highest priority applies (RabbitMQ applies one policy per object). Default 0.
    #[serde(default)]
    pub priority: i64,

    /// The policy definition, keys and values exactly as RabbitMQ spells them: ha-mode,
    /// ha-params, ha-sync-mode, message-ttl, expires, max-length, max-length-bytes, overflow,
    /// dead-letter-exchange, delivery-limit, queue-mode, ... Written as a whole (not merged
    /// key by key). ha-* keys are refused when the target's rabbitmq.version is 4.0 or later.
    /// Required unless absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    #[schemars(transform = with_rules(DEFINITION_RULES))]
    pub definition: Option<Map<String, Value>>,
}

fn default_vhost() -> String {
    "/".to_string()
}

/// What a RabbitMQ policy applies to (`apply-to`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplyTo {
    /// Queues and exchanges (the default).
    #[default]
    All,
    /// Queues of every type.
    Queues,
    /// Exchanges.
    Exchanges,
    /// Classic queues only.
    ClassicQueues,
    /// Quorum queues only.
    QuorumQueues,
    /// Streams only.
    Streams,
}

impl ApplyTo {
    /// The value RabbitMQ uses in `apply-to`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Queues => "queues",
            Self::Exchanges => "exchanges",
            Self::ClassicQueues => "classic_queues",
            Self::QuorumQueues => "quorum_queues",
            Self::Streams => "streams",
        }
    }
}
