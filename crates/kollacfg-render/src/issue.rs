//! Errors the engine reports: each names the resource, the field and the reason, so an operator
//! can find and fix the input without reading code.

use std::borrow::Cow;
use std::fmt;

use crate::model::ResourceRef;

/// One problem with one resource's input (or its target's base files).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Issue {
    /// The resource at fault (`Kind namespace/name`).
    pub resource: ResourceRef,
    /// The field path, e.g. `spec.definition.ha-params`, or `base/nova.conf` for a base file.
    pub field: String,
    /// Why it is refused.
    pub reason: String,
}

impl Issue {
    /// Builds an issue.
    pub fn new(
        resource: &ResourceRef,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            resource: resource.clone(),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.resource,
            printable(&self.field),
            printable(&self.reason)
        )
    }
}

impl std::error::Error for Issue {}

/// `text` with every control character (newline, escape, ...) written as an escape (`\n`,
/// `\u{1b}`), so a quoted name or value can neither forge a line nor drive a terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}
