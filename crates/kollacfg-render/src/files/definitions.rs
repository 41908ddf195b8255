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
    value: Value,
    /// Its span in the base text while it is unchanged.
    raw: Option<Range<usize>>,
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
                    value: value.clone(),
                    raw: Some(span),
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
        self.policies.iter().map(|p| p.value.clone()).collect()
    }

    /// Adds or replaces policies, each a full policy object as built by [`policy_json`].
    ///
    /// A policy whose `(vhost, name)` exists replaces the first such element in place (later
    /// duplicates are removed); an equal value leaves the element's text as it is. New
    /// policies are appended in the order given. An empty slice changes nothing.
    pub fn upsert_policies(&mut self, policies: &[Value]) {
        for value in policies {
            let (vhost, name) = key_of(value);
            let same = |p: &Policy| p.vhost == vhost && p.name == name;
            let Some(first) = self.policies.iter().position(same) else {
                self.policies.push(Policy {
                    vhost,
                    name,
                    value: value.clone(),
                    raw: None,
                });
                self.changed = true;
                continue;
            };
            let before = self.policies.len();
            let mut pos = 0;
            self.policies.retain(|p| {
                let keep = pos <= first || !same(p);
                pos += 1;
                keep
            });
            let target = &mut self.policies[first];
            if target.value != *value {
                target.value = value.clone();
                target.raw = None;
                self.changed = true;
            }
            self.changed |= self.policies.len() != before;
        }
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
            .map(|p| {
                let body = match &p.raw {
                    Some(span) => self.text[span.clone()].to_string(),
                    None => p.value.to_string(),
                };
                format!("{indent}  {body}")
            })
            .collect();
        format!("[{nl}{}{nl}{indent}]", elements.join(&format!(",{nl}")))
    }
}

/// Sorts object keys alphabetically, at every depth.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// A policy object with RabbitMQ's export key order (vhost, name, pattern, apply-to,
/// definition, priority) and the definition's keys sorted, whatever order they came in.
pub fn policy_json(
    vhost: &str,
    name: &str,
    pattern: &str,
    apply_to: &str,
    definition: &Map<String, Value>,
    priority: i64,
) -> Value {
    let mut policy = Map::new();
    policy.insert("vhost".into(), vhost.into());
    policy.insert("name".into(), name.into());
    policy.insert("pattern".into(), pattern.into());
    policy.insert("apply-to".into(), apply_to.into());
    policy.insert(
        "definition".into(),
        sorted(&Value::Object(definition.clone())),
    );
    policy.insert("priority".into(), priority.into());
    Value::Object(policy)
}
