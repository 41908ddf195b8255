//! Schema helpers shared by the resource types: CEL rules (`x-kubernetes-validations`), list-map
//! markers, the free-form object schema and the patterns reused by the offline checks.
//! Nothing here knows a specific kind; each kind's module lists its own rules.

use schemars::{json_schema, Schema, SchemaGenerator};
use serde_json::{json, Value};

/// One CEL validation rule, attached to a schema node as an `x-kubernetes-validations` entry.
///
/// The same constant is used by the schema (the API server evaluates `rule`) and by the offline
/// checks in [`crate::checks`] (which report `message`), so both sides say the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CelRule {
    /// The CEL expression; `self` is the schema node the rule is attached to.
    pub rule: &'static str,
    /// What `kubectl apply` prints when the rule fails.
    pub message: &'static str,
    /// Where the API server points the error, relative to the node (e.g. `.file`).
    pub field_path: Option<&'static str>,
}

impl CelRule {
    /// The rule as an `x-kubernetes-validations` entry.
    pub fn to_json(&self) -> Value {
        let mut rule = json!({ "rule": self.rule, "message": self.message });
        if let Some(path) = self.field_path {
            rule["fieldPath"] = json!(path);
        }
        rule
    }
}

/// A schemars transform appending `rules` to the node's `x-kubernetes-validations`.
pub(crate) fn with_rules(rules: &'static [CelRule]) -> impl FnMut(&mut Schema) {
    move |schema: &mut Schema| {
        let object = schema.ensure_object();
        let entry = object
            .entry("x-kubernetes-validations")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.extend(rules.iter().map(CelRule::to_json));
        }
    }
}

/// A schemars transform marking a list as a list-map keyed by `keys` (server-side apply merges
/// its entries by key, and the API server refuses duplicate keys).
pub(crate) fn list_map(keys: &'static [&'static str]) -> impl FnMut(&mut Schema) {
    move |schema: &mut Schema| {
        schema.insert("x-kubernetes-list-type".into(), json!("map"));
        schema.insert("x-kubernetes-list-map-keys".into(), json!(keys));
    }
}

/// A schemars transform marking a list of scalars as a set (no duplicate entries).
pub(crate) fn list_set(schema: &mut Schema) {
    schema.insert("x-kubernetes-list-type".into(), json!("set"));
}

/// A schemars transform removing the node's own description (so that a field's wins).
pub(crate) fn drop_description(schema: &mut Schema) {
    schema.remove("description");
}

/// The schema of a free-form JSON object: any keys, any JSON values, all kept as given.
///
/// Written as a map whose values preserve unknown fields, not as an object preserving unknown
/// fields: CEL rules can then look keys up (`'ha-mode' in self`), which the API server does
/// not allow on an object's unknown fields.
pub(crate) fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": { "x-kubernetes-preserve-unknown-fields": true },
    })
}

/// A Kubernetes object name (DNS-1123 subdomain), as used by `metadata.name`.
pub const OBJECT_NAME_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A kolla service directory name such as `rabbitmq` or `nova-compute`.
pub const SERVICE_PATTERN: &str = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$";

/// A plain file name inside a kolla service directory: no `/`, not hidden.
pub const FILE_NAME_PATTERN: &str = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$";

/// A RabbitMQ `MAJOR.MINOR` (optionally `.PATCH`) version.
pub const RABBITMQ_VERSION_PATTERN: &str = r"^[0-9]+\.[0-9]+(\.[0-9]+)?$";

/// The management API's base URL: http or https, a host, an optional port and path; no
/// user or password in it (those come from credentialsSecretRef), no query or fragment.
pub const MANAGEMENT_URL_PATTERN: &str = r"^https?://[A-Za-z0-9.\[\]:-]+(/[A-Za-z0-9._~/-]*)?$";

/// A key of a Secret (as Kubernetes allows them).
pub const SECRET_KEY_PATTERN: &str = r"^[-._a-zA-Z0-9]+$";

/// Erlang's `+S Schedulers:SchedulersOnline`.
pub const SCHEDULERS_PATTERN: &str = r"^[0-9]+:[0-9]+$";

/// One further emulator flag: `+flag` then arguments separated by single spaces, nothing the
/// shell would interpret (the variable lands in `rabbitmq-env.conf`, which the shell sources).
pub const EXTRA_ARG_PATTERN: &str =
    r"^\+[A-Za-z0-9]+( [A-Za-z0-9_@%=:,./][A-Za-z0-9_@%+=:,./-]*)*$";
