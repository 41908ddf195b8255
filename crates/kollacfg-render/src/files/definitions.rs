//! `definitions.json`: RabbitMQ's definitions file. kollacfg manages `policies[]` only, item by
//! item (`(vhost, name)`); every other byte of the base (users with their `password_hash`,
//! vhosts, permissions, queues, exchanges, bindings, parameters, unknown keys, whitespace) is
//! kept as it was.
//!
//! The document keeps the base text and the byte spans of the top-level `policies` array and of
//! each of its elements, found by a small scanner over the original text; nothing outside that
//! array is ever re-serialised. Untouched policies keep their text byte for byte; a policy that
//! is added or replaced is written as compact JSON on a line of its own.

mod scan;
#[cfg(test)]
mod tests;

use std::ops::Range;

use serde_json::{Map, Value};

use super::ParseError;

/// The managed top-level key.
const POLICIES: &str = "policies";

/// One element of `policies[]`.
#[derive(Debug, Clone, PartialEq)]
struct Policy {
    vhost: String,
    name: String,
    body: Body,
}

/// Where a policy's text is.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    /// Its span in the base text, unchanged.
    Raw(Range<usize>),
    /// Compact JSON written by kollacfg.
    New(String),
}

/// A policy ready to be written: its key and its compact JSON text, as [`policy_text`]
/// makes it. Policies travel as text so that thousands of them cost one string each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyText<'a> {
    /// Virtual host.
    pub vhost: &'a str,
    /// Policy name.
    pub name: &'a str,
    /// The whole policy object as compact JSON.
    pub json: &'a str,
}

/// Where edits go in the base text.
#[derive(Debug, Clone, PartialEq)]
struct Layout {
    /// Offset just after the top-level `{`.
    open_end: usize,
    /// Offset of the top-level `}`.
    close: usize,
    /// End of the last member's value, and the indentation of the line holding its key.
    last_member: Option<(usize, String)>,
    /// The `policies` array, and the indentation of the line holding its key.
    policies: Option<(Range<usize>, String)>,
}

/// A parsed `definitions.json` that prints back byte for byte until its policies change.
#[derive(Debug, Clone, PartialEq)]
pub struct Definitions {
    text: String,
    layout: Layout,
    policies: Vec<Policy>,
    changed: bool,
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// The blanks at the start of the line holding offset `at`.
fn indent_of(text: &str, at: usize) -> String {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_error(err: &serde_json::Error) -> ParseError {
    let full = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let message = full.strip_suffix(&position).unwrap_or(&full);
    ParseError::new(
        err.line().max(1),
        format!("invalid JSON: {message} (column {})", err.column()),
    )
}

/// The `(vhost, name)` of a policy value; empty strings where they are missing.
fn key_of(value: &Value) -> (String, String) {
    let field = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (field("vhost"), field("name"))
}

/// Checks one element of the base's `policies` and returns its key.
fn check_policy(index: usize, value: &Value) -> Result<(String, String), String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "policies[{index}] must be an object, not {}",
            kind_of(value)
        ));
    };
    for field in ["vhost", "name"] {
        match map.get(field) {
            Some(Value::String(_)) => {}
            Some(other) => {
                return Err(format!(
                    "policies[{index}].{field} must be a string, not {}",
                    kind_of(other)
                ))
            }
            None => return Err(format!("policies[{index}] has no \"{field}\"")),
        }
    }
    Ok(key_of(value))
}

impl Definitions {
    /// Parses `text`: a JSON object whose `policies`, when present, is an array of objects each
    /// with a string `vhost` and `name`.
    pub fn parse(text: &str) -> Result<Definitions, ParseError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| json_error(&e))?;
        let Value::Object(map) = &doc else {
            let at = text.len() - text.trim_start().len();
            return Err(ParseError::new(
                line_of(text, at),
                format!("the top level must be a JSON object, not {}", kind_of(&doc)),
            ));
        };
        let lost = || ParseError::new(1, "could not delimit the top-level JSON object");
        let top = scan::top_object(text).ok_or_else(lost)?;
        let mut found = top.members.iter().filter(|m| m.key == POLICIES);
        let member = found.next();
        if let Some(dup) = found.next() {
            return Err(ParseError::new(
                line_of(text, dup.key_start),
                "duplicate top-level key \"policies\"",
            ));
        }
        let mut policies = Vec::new();
        if let Some(member) = member {
            let value = map.get(POLICIES).unwrap_or(&Value::Null);
            let Value::Array(items) = value else {
                return Err(ParseError::new(
                    line_of(text, member.value.start),
                    format!("\"policies\" must be an array, not {}", kind_of(value)),
                ));
            };
            let spans = scan::array_elements(text, member.value.clone())
                .filter(|s| s.len() == items.len())
                .ok_or_else(lost)?;
            for (index, (span, value)) in spans.into_iter().zip(items).enumerate() {
                let (vhost, name) = check_policy(index, value)
                    .map_err(|msg| ParseError::new(line_of(text, span.start), msg))?;
                policies.push(Policy {
                    vhost,
                    name,
                    body: Body::Raw(span),
                });
            }
        }
        let layout = Layout {
            open_end: top.open + 1,
            close: top.close,
            last_member: top
                .members
                .last()
                .map(|m| (m.value.end, indent_of(text, m.key_start))),
            policies: member.map(|m| (m.value.clone(), indent_of(text, m.key_start))),
        };
        Ok(Definitions {
            text: text.to_string(),
            layout,
            policies,
            changed: false,
        })
    }

    /// The document used when the target has no base file: `{}`.
    pub fn empty() -> Definitions {
        Definitions {
            text: "{}\n".to_string(),
            layout: Layout {
                open_end: 1,
                close: 1,
                last_member: None,
                policies: None,
            },
            policies: Vec::new(),
            changed: false,
        }
    }

    /// The policies as they stand, in order.
    pub fn policies(&self) -> Vec<Value> {
        self.policies.iter().map(|p| self.value_of(p)).collect()
    }

    fn body_text<'t>(&'t self, p: &'t Policy) -> &'t str {
        match &p.body {
            Body::Raw(span) => &self.text[span.clone()],
            Body::New(json) => json,
        }
    }

    fn value_of(&self, p: &Policy) -> Value {
        serde_json::from_str(self.body_text(p)).expect("a policy's text is valid JSON")
    }

    /// Adds or replaces policies, each a full policy object as built by [`policy_json`].
    /// See [`Definitions::upsert_policy_texts`].
    pub fn upsert_policies(&mut self, policies: &[Value]) {
        let owned: Vec<((String, String), String)> = policies
            .iter()
            .map(|v| (key_of(v), v.to_string()))
            .collect();
        let texts: Vec<PolicyText<'_>> = owned
            .iter()
            .map(|((vhost, name), json)| PolicyText { vhost, name, json })
            .collect();
        self.upsert_policy_texts(&texts);
    }

    /// Adds or replaces policies given as text.
    ///
    /// A policy whose `(vhost, name)` exists replaces the first such element in place (later
    /// duplicates are removed); an equal value (as JSON, key order aside) leaves the element's
    /// text as it is. New policies are appended in the order given. An empty slice changes
    /// nothing. Linear in the number of policies.
    pub fn upsert_policy_texts(&mut self, policies: &[PolicyText<'_>]) {
        use std::collections::HashMap;
        if policies.is_empty() {
            return;
        }
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        let mut removed = vec![false; self.policies.len()];
        for (i, p) in self.policies.iter().enumerate() {
            let key = (p.vhost.clone(), p.name.clone());
            match index.entry(key) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(i);
                }
                std::collections::hash_map::Entry::Occupied(_) => removed[i] = true,
            }
        }
        for new in policies {
            let key = (new.vhost.to_string(), new.name.to_string());
            match index.get(&key) {
                Some(&at) => {
                    let old = &self.policies[at];
                    let same = self.body_text(old) == new.json
                        || serde_json::from_str::<Value>(new.json).ok() == Some(self.value_of(old));
                    if !same {
                        self.policies[at].body = Body::New(new.json.to_string());
                        self.changed = true;
                    }
                }
                None => {
                    index.insert(key, self.policies.len());
                    removed.push(false);
                    self.policies.push(Policy {
                        vhost: new.vhost.to_string(),
                        name: new.name.to_string(),
                        body: Body::New(new.json.to_string()),
                    });
                    self.changed = true;
                }
            }
        }
        // Duplicates of a managed key in the base go; those of unmanaged keys stay.
        let managed: std::collections::HashSet<(&str, &str)> =
            policies.iter().map(|p| (p.vhost, p.name)).collect();
        let mut i = 0;
        let before = self.policies.len();
        self.policies.retain(|p| {
            let drop = removed[i] && managed.contains(&(p.vhost.as_str(), p.name.as_str()));
            i += 1;
            !drop
        });
        self.changed |= self.policies.len() != before;
    }

    /// Removes every policy with one of these `(vhost, name)` keys (duplicates included).
    /// A key that is not there changes nothing; the other policies keep their text and order.
    pub fn remove_policies(&mut self, keys: &[(&str, &str)]) {
        if keys.is_empty() {
            return;
        }
        let gone: std::collections::HashSet<(&str, &str)> = keys.iter().copied().collect();
        let before = self.policies.len();
        self.policies
            .retain(|p| !gone.contains(&(p.vhost.as_str(), p.name.as_str())));
        self.changed |= self.policies.len() != before;
    }

    /// The file's text.
    pub fn render(&self) -> String {
        if !self.changed {
            return self.text.clone();
        }
        let text = self.text.as_str();
        let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let layout = &self.layout;
        if let Some((span, indent)) = &layout.policies {
            let array = self.array(indent, nl);
            return format!("{}{array}{}", &text[..span.start], &text[span.end..]);
        }
        if let Some((end, indent)) = &layout.last_member {
            let array = self.array(indent, nl);
            let (head, tail) = text.split_at(*end);
            return format!("{head},{nl}{indent}\"{POLICIES}\": {array}{tail}");
        }
        // An object without members: the new member gets lines of its own.
        let inner = &text[layout.open_end..layout.close];
        let inner = if inner.contains('\n') { inner } else { nl };
        format!(
            "{}{nl}  \"{POLICIES}\": {}{inner}{}",
            &text[..layout.open_end],
            self.array("  ", nl),
            &text[layout.close..]
        )
    }

    /// The policies array, one element per line, for a key on a line indented by `indent`.
    fn array(&self, indent: &str, nl: &str) -> String {
        if self.policies.is_empty() {
            return "[]".to_string();
        }
        let elements: Vec<String> = self
            .policies
            .iter()
            .map(|p| format!("{indent}  {}", self.body_text(p)))
            .collect();
        format!("[{nl}{}{nl}{indent}]", elements.join(&format!(",{nl}")))
    }
}

/// Serialises a JSON value with object keys sorted at every depth, without copying it.
struct Sorted<'a>(&'a Value);

impl serde::Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self.0 {
            Value::Object(map) => SortedMap(map).serialize(serializer),
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for v in items {
                    out.serialize_element(&Sorted(v))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// Serialises a JSON object with its keys sorted at every depth, without copying it.
struct SortedMap<'a>(&'a Map<String, Value>);

impl serde::Serialize for SortedMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut entries: Vec<(&String, &Value)> = self.0.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = serializer.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            out.serialize_entry(k, &Sorted(v))?;
        }
        out.end()
    }
}

/// The policy object RabbitMQ exports, in its key order.
#[derive(serde::Serialize)]
struct PolicyOut<'a> {
    vhost: &'a str,
    name: &'a str,
    pattern: &'a str,
    #[serde(rename = "apply-to")]
    apply_to: &'a str,
    definition: SortedMap<'a>,
    priority: i64,
}

/// The compact JSON text of a policy: the same bytes as `policy_json(...).to_string()`,
/// built without an intermediate value.
pub fn policy_text(
    vhost: &str,
    name: &str,
    pattern: &str,
    apply_to: &str,
    definition: &Map<String, Value>,
    priority: i64,
) -> String {
    let out = PolicyOut {
        vhost,
        name,
        pattern,
        apply_to,
        definition: SortedMap(definition),
        priority,
    };
    serde_json::to_string(&out).expect("a policy serialises")
}

/// A policy object with RabbitMQ's export key order (vhost, name, pattern, apply-to,
/// definition, priority) and the definition's keys sorted, whatever order they came in: the
/// value of [`policy_text`].
pub fn policy_json(
    vhost: &str,
    name: &str,
    pattern: &str,
    apply_to: &str,
    definition: &Map<String, Value>,
    priority: i64,
) -> Value {
    let text = policy_text(vhost, name, pattern, apply_to, definition, priority);
    serde_json::from_str(&text).expect("policy_text writes valid JSON")
}
