//! RabbitMQ policies as values: their key, their comparison (as RabbitMQ would compare them:
//! JSON values, key order aside, `2 == 2.0`), and reading them out of a `definitions.json`.
//! Pure; no I/O.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A policy's identity on a broker: its virtual host and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyKey {
    /// Virtual host.
    pub vhost: String,
    /// Policy name.
    pub name: String,
}

impl PolicyKey {
    /// Builds a key.
    pub fn new(vhost: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            vhost: vhost.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for PolicyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.vhost, self.name)
    }
}

/// One policy, as RabbitMQ's HTTP API and its definitions export spell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Virtual host.
    pub vhost: String,
    /// Policy name.
    pub name: String,
    /// Regular expression matched against queue and exchange names.
    pub pattern: String,
    /// `all`, `queues`, `exchanges`, ... (RabbitMQ's `apply-to`).
    #[serde(rename = "apply-to", default = "default_apply_to")]
    pub apply_to: String,
    /// RabbitMQ's policy priority.
    #[serde(default)]
    pub priority: i64,
    /// The policy definition, keys as RabbitMQ spells them.
    #[serde(default)]
    pub definition: Map<String, Value>,
}

fn default_apply_to() -> String {
    "all".to_string()
}

impl Policy {
    /// The policy's `(vhost, name)`.
    pub fn key(&self) -> PolicyKey {
        PolicyKey::new(&self.vhost, &self.name)
    }

    /// Whether both policies set the same thing: pattern, apply-to, priority and definition
    /// compared as values (JSON, key order aside; `2 == 2.0` as RabbitMQ would). The key is
    /// not compared.
    pub fn same_setting(&self, other: &Policy) -> bool {
        self.pattern == other.pattern
            && self.apply_to == other.apply_to
            && self.priority == other.priority
            && map_eq(&self.definition, &other.definition)
    }

    /// The body of `PUT /api/policies/{vhost}/{name}`.
    pub fn put_body(&self) -> Value {
        serde_json::json!({
            "pattern": self.pattern,
            "apply-to": self.apply_to,
            "priority": self.priority,
            "definition": self.definition,
        })
    }
}

fn map_eq(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| value_eq(v, w)))
}

/// JSON equality with objects compared key order aside and numbers compared by value.
pub fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Object(x), Value::Object(y)) => map_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| value_eq(v, w))
        }
        _ => a == b,
    }
}

/// The policies of a `definitions.json` text (a rendered one), in file order. A file without
/// `policies` has none. Each element needs string `vhost`, `name` and `pattern`; `apply-to`
/// defaults to `all`, `priority` to 0 and `definition` to `{}`, as RabbitMQ's import does.
pub fn policies_from_definitions(text: &str) -> Result<Vec<Policy>, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("definitions.json: invalid JSON: {e}"))?;
    let Value::Object(top) = doc else {
        return Err("definitions.json: the top level must be a JSON object".to_string());
    };
    let Some(policies) = top.get("policies") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = policies else {
        return Err("definitions.json: \"policies\" must be an array".to_string());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            Policy::deserialize(item).map_err(|e| format!("definitions.json: policies[{i}]: {e}"))
        })
        .collect()
}
