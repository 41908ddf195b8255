//! Errors the engine reports: each names the resource, the field and the reason, so an operator
//! can find and fix the input without reading code.

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
        write!(f, "{}: {}: {}", self.resource, self.field, self.reason)
    }
}

impl std::error::Error for Issue {}
