//! `ConfigOverride`: the escape hatch, raw items for one file of the target (INI sections and
//! keys, `rabbitmq.conf` keys or `rabbitmq-env.conf` variables). Types, schema and CEL rules;
//! the engine re-checks every name and value for injection.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{FragmentStatus, KollaConfigRef};
use crate::schema::{with_rules, CelRule, FILE_NAME_PATTERN};

/// CEL rule on `spec`: one form of content per resource.
pub const OVERRIDE_EXACTLY_ONE: CelRule = CelRule {
    rule: "(has(self.ini) ? 1 : 0) + (has(self.conf) ? 1 : 0) + (has(self.env) ? 1 : 0) == 1",
    message: "set exactly one of ini, conf or env",
    field_path: None,
};

/// CEL rule on `spec`: `definitions.json` belongs to RabbitPolicy.
pub const OVERRIDE_NOT_DEFINITIONS: CelRule = CelRule {
    rule: "self.file != 'definitions.json'",
    message: "definitions.json is written by RabbitPolicy, not ConfigOverride",
    field_path: Some(".file"),
};

/// CEL rule on `spec`: `env` writes shell variables, which only `rabbitmq-env.conf` holds.
pub const OVERRIDE_ENV_FILE: CelRule = CelRule {
    rule: "!has(self.env) || self.file == 'rabbitmq-env.conf'",
    message: "env is for file rabbitmq-env.conf (use ini for INI files such as nova.conf, conf for rabbitmq.conf)",
    field_path: Some(".file"),
};

/// CEL rule on `spec`: `conf` writes `rabbitmq.conf` keys.
pub const OVERRIDE_CONF_FILE: CelRule = CelRule {
    rule: "!has(self.conf) || self.file == 'rabbitmq.conf'",
    message: "conf is for file rabbitmq.conf (use ini for INI files such as nova.conf, env for rabbitmq-env.conf)",
    field_path: Some(".file"),
};

/// CEL rule on `spec`: `ini` writes INI `*.conf` files other than RabbitMQ's two.
pub const OVERRIDE_INI_FILE: CelRule = CelRule {
    rule: "!has(self.ini) || (self.file.endsWith('.conf') && !(self.file in ['rabbitmq.conf', 'rabbitmq-env.conf']))",
    message: "ini is for INI *.conf files such as nova.conf (rabbitmq.conf takes conf, rabbitmq-env.conf takes env)",
    field_path: Some(".file"),
};

/// CEL rule on `spec.env`: the Erlang flags variable is merged flag by flag by ErlangVmArgs.
pub const ENV_NO_ERL_ARGS: CelRule = CelRule {
    rule: "!('RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS' in self) && !('SERVER_ADDITIONAL_ERL_ARGS' in self)",
    message: "env may not set RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS or SERVER_ADDITIONAL_ERL_ARGS: \
              it is merged flag by flag, so set its flags with an ErlangVmArgs resource \
              (extraArgs for flags without a field)",
    field_path: None,
};

/// Every CEL rule on `spec`, in schema order.
pub const SPEC_RULES: &[CelRule] = &[
    OVERRIDE_EXACTLY_ONE,
    OVERRIDE_NOT_DEFINITIONS,
    OVERRIDE_ENV_FILE,
    OVERRIDE_CONF_FILE,
    OVERRIDE_INI_FILE,
];

/// Desired state of a ConfigOverride.
// Printer columns repeat `type_ = "string"`, which is not a mistake.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kollacfg.dev",
    version = "v1alpha1",
    kind = "ConfigOverride",
    plural = "configoverrides",
    namespaced,
    status = "FragmentStatus",
    derive = "PartialEq",
    shortname = "cfgover",
    category = "kollacfg",
    doc = "ConfigOverride sets raw items in one file of the target, for what no typed kind \
           covers: INI keys (ini, for nova.conf and other *.conf files), rabbitmq.conf keys \
           (conf) or rabbitmq-env.conf variables (env). Each key is one item, merged by \
           precedence with the typed kinds; everything else in the file is kept.",
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
#[schemars(transform = with_rules(SPEC_RULES))]
pub struct ConfigOverrideSpec {
    /// The KollaConfig whose file gets these items.
    pub kolla_config_ref: KollaConfigRef,

    /// Precedence of these items: per item, the highest precedence wins; ties go to the
    /// alphabetically first Kind/name. Default 0.
    #[serde(default)]
    pub precedence: i32,

    /// The file within the target's directory, a plain file name such as nova.conf,
    /// rabbitmq.conf or rabbitmq-env.conf (no "/").
    #[schemars(length(min = 1, max = 253), regex(pattern = FILE_NAME_PATTERN))]
    pub file: String,

    /// INI items: {section: {key: value}}, e.g. {DEFAULT: {debug: "true"}}. Each
    /// section.key is one item; values are strings and single lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minProperties" = 1))]
    pub ini: Option<BTreeMap<String, BTreeMap<String, String>>>,

    /// rabbitmq.conf items: {key: value}, e.g. {"collect_statistics_interval": "30000"}.
    /// Each key is one item; values are strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minProperties" = 1))]
    pub conf: Option<BTreeMap<String, String>>,

    /// rabbitmq-env.conf variables: {NAME: value}, e.g. {RABBITMQ_IO_THREAD_POOL_SIZE: "64"}.
    /// Each variable is one item; values may not contain shell metacharacters.
    /// RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS is refused: use ErlangVmArgs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minProperties" = 1))]
    #[schemars(transform = with_rules(&[ENV_NO_ERL_ARGS]))]
    pub env: Option<BTreeMap<String, String>>,
}
