//! `KollaConfig.spec.perPod`: items whose values differ per pod (`my_ip`, the RabbitMQ node
//! name, a listener address), addressed exactly as a `ConfigOverride` addresses items, with
//! values that are templates over the pod's facts. Type and schema only: the engine
//! (`kollacfg_render::per_pod`) checks the templates and `kollacfg materialize` fills them in.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config_override::{ENV_NO_ERL_ARGS, SPEC_RULES};
use crate::schema::{with_rules, FILE_NAME_PATTERN};

/// One per-pod item: a file and one of `ini`, `conf` or `env`, under the same rules as a
/// ConfigOverride's spec.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(transform = with_rules(SPEC_RULES))]
pub struct PerPodItem {
    /// The file within the target's directory, a plain file name such as nova.conf,
    /// rabbitmq.conf or rabbitmq-env.conf (no "/"; not definitions.json).
    #[schemars(length(min = 1, max = 253), regex(pattern = FILE_NAME_PATTERN))]
    pub file: String,

    /// INI items: {section: {key: template}}, e.g. {DEFAULT: {my_ip: "{hostIP}"}}.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minProperties" = 1))]
    pub ini: Option<BTreeMap<String, BTreeMap<String, String>>>,

    /// rabbitmq.conf items: {key: template}, e.g. {"listeners.tcp.1": "{podIP}:5672"}.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minProperties" = 1))]
    pub conf: Option<BTreeMap<String, String>>,

    /// rabbitmq-env.conf variables: {NAME: template}, e.g. {RABBITMQ_NODENAME:
    /// "rabbit@{podName}"}. RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS is refused: use ErlangVmArgs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minProperties" = 1))]
    #[schemars(transform = with_rules(&[ENV_NO_ERL_ARGS]))]
    pub env: Option<BTreeMap<String, String>>,
}
