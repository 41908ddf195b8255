//! Reads kollacfg resources from a multi-document YAML stream (files given to the CLI) and
//! refuses what `kubectl apply` would refuse, naming document, resource, field and reason.
//! Reads text only: finding and opening files is the caller's job.

use kollacfg_render::ResourceRef;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::checks::check;
use crate::convert::DEFAULT_NAMESPACE;
use crate::resource::KINDS;
use crate::{AnyResource, API_VERSION};

/// Why a YAML stream could not be loaded. Every variant names the 1-based document index in
/// the stream (empty documents count).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The text is not YAML, or not YAML that maps onto JSON.
    #[error("document {document}: not valid YAML: {reason}")]
    Yaml {
        /// 1-based document index.
        document: usize,
        /// The parser's message, with line and column when it has them.
        reason: String,
    },
    /// The document is not a mapping with `apiVersion` and `kind`.
    #[error("document {document}: not a Kubernetes object (a mapping with apiVersion and kind)")]
    NotAnObject {
        /// 1-based document index.
        document: usize,
    },
    /// The document is some other resource.
    #[error(
        "document {document}: {api_version}/{kind} is not a kollacfg resource \
         (expected apiVersion {API_VERSION} and kind {})",
        KINDS.join(", ")
    )]
    UnknownKind {
        /// 1-based document index.
        document: usize,
        /// The document's `apiVersion` (empty when missing).
        api_version: String,
        /// The document's `kind` (empty when missing).
        kind: String,
    },
    /// The resource has no `metadata.name`.
    #[error("document {document}: {kind} has no metadata.name")]
    MissingName {
        /// 1-based document index.
        document: usize,
        /// The resource kind.
        kind: String,
    },
    /// A field is missing, mistyped, unknown, or breaks one of the CRD's rules.
    #[error("document {document} ({resource}): {field}: {reason}")]
    Field {
        /// 1-based document index.
        document: usize,
        /// `Kind namespace/name` of the resource (boxed: keeps the error small).
        resource: Box<ResourceRef>,
        /// Path of the field, e.g. `spec.vifPluggingTimeout` (`.` for the object itself).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl LoadError {
    /// The 1-based index of the offending document.
    pub fn document(&self) -> usize {
        match self {
            Self::Yaml { document, .. }
            | Self::NotAnObject { document }
            | Self::UnknownKind { document, .. }
            | Self::MissingName { document, .. }
            | Self::Field { document, .. } => *document,
        }
    }

    /// The resource the error is about, when the document got far enough to name one.
    pub fn resource(&self) -> Option<&ResourceRef> {
        match self {
            Self::Field { resource, .. } => Some(resource),
            _ => None,
        }
    }
}

/// Parses every kollacfg resource in a multi-document YAML stream, in order.
///
/// Empty documents are skipped. Every resource is deserialized strictly (unknown fields are
/// refused, so a typo in a field name is an error rather than a silently ignored key) and
/// checked against its CRD's CEL rules ([`crate::checks::check`]). Anything that is not a
/// `kollacfg.dev/v1alpha1` resource is refused. The first error stops the load.
pub fn parse_documents(text: &str) -> Result<Vec<AnyResource>, LoadError> {
    let mut resources = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let document_index = index + 1;
        let value = Value::deserialize(document).map_err(|e| LoadError::Yaml {
            document: document_index,
            reason: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        resources.push(parse_value(document_index, value)?);
    }
    Ok(resources)
}

/// Parses one document already read as JSON.
fn parse_value(document: usize, value: Value) -> Result<AnyResource, LoadError> {
    let Value::Object(object) = &value else {
        return Err(LoadError::NotAnObject { document });
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if api_version.is_empty() && kind.is_empty() {
        return Err(LoadError::NotAnObject { document });
    }
    if api_version != API_VERSION || !KINDS.contains(&kind) {
        return Err(LoadError::UnknownKind {
            document,
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        });
    }
    let metadata = object.get("metadata");
    let meta_text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Value::as_str);
    let Some(name) = meta_text("name").filter(|name| !name.is_empty()) else {
        return Err(LoadError::MissingName {
            document,
            kind: kind.to_string(),
        });
    };
    let namespace = meta_text("namespace").unwrap_or(DEFAULT_NAMESPACE);
    let resource = ResourceRef::new(kind, namespace, name);

    let typed = Typed {
        document,
        resource: &resource,
    };
    let any = match kind {
        "KollaConfig" => AnyResource::KollaConfig(typed.parse(value)?),
        "RabbitPolicy" => AnyResource::RabbitPolicy(typed.parse(value)?),
        "ErlangVmArgs" => AnyResource::ErlangVmArgs(typed.parse(value)?),
        "NovaVifPolicy" => AnyResource::NovaVifPolicy(typed.parse(value)?),
        "NovaComputePolicy" => AnyResource::NovaComputePolicy(typed.parse(value)?),
        "RabbitListenerPolicy" => AnyResource::RabbitListenerPolicy(typed.parse(value)?),
        "OsloMessagingPolicy" => AnyResource::OsloMessagingPolicy(typed.parse(value)?),
        _ => AnyResource::ConfigOverride(typed.parse(value)?),
    };
    if let Some(violation) = check(&any).into_iter().next() {
        return Err(LoadError::Field {
            document,
            resource: Box::new(resource),
            field: violation.field,
            reason: violation.message,
        });
    }
    Ok(any)
}

/// Deserializes one document into its kind's type, keeping the path of a failing field.
struct Typed<'a> {
    document: usize,
    resource: &'a ResourceRef,
}

impl Typed<'_> {
    fn parse<T: DeserializeOwned>(&self, value: Value) -> Result<T, LoadError> {
        serde_path_to_error::deserialize(value).map_err(|e| LoadError::Field {
            document: self.document,
            resource: Box::new(self.resource.clone()),
            field: e.path().to_string(),
            reason: e.into_inner().to_string(),
        })
    }
}
