//! Reads kollacfg resources from a multi-document YAML stream (files given to the CLI) and
//! refuses what `kubectl apply` would refuse, naming document, resource, field and reason.
//! Reads text only: finding and opening files is the caller's job.

use kollacfg_render::ResourceRef;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::checks::check;
use crate::convert::DEFAULT_NAMESPACE;
use crate::kubectl_yaml::{self, DocumentScan};
use crate::resource::KINDS;
use crate::{AnyResource, API_VERSION};
use kollacfg_render::issue::printable;

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
    /// Flow collections (`[`, `{`) nested deeper than [`MAX_FLOW_DEPTH`]: refused before
    /// parsing, so no input can exhaust the stack or the parser's time.
    #[error(
        "document {document}: line {line}: [ and {{ nested deeper than the limit of \
         {MAX_FLOW_DEPTH} levels (nesting limit)"
    )]
    TooDeep {
        /// 1-based document index.
        document: usize,
        /// 1-based line where the limit was passed.
        line: usize,
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
            | Self::TooDeep { document, .. }
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
/// `kollacfg.dev/v1alpha1` resource is refused. The first error is returned; use
/// [`parse_all_documents`] to get every error of the stream.
pub fn parse_documents(text: &str) -> Result<Vec<AnyResource>, LoadError> {
    let (resources, mut errors) = parse_all_documents(text);
    if errors.is_empty() {
        Ok(resources)
    } else {
        Err(errors.swap_remove(0))
    }
}

/// Like [`parse_documents`], but goes on past a bad document and reports every error: each
/// document that fails, and every CEL rule a resource breaks. The resources returned are the
/// documents that passed. A stream whose YAML cannot be split into documents stops there.
pub fn parse_all_documents(text: &str) -> (Vec<AnyResource>, Vec<LoadError>) {
    let mut resources = Vec::new();
    let mut errors = Vec::new();
    if let Some(too_deep) = too_deep(text) {
        return (resources, vec![too_deep]);
    }
    let scans = kubectl_yaml::scan(text).unwrap_or_default();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let document_index = index + 1;
        let value = match Value::deserialize(document) {
            Ok(value) => value,
            Err(e) => {
                errors.push(LoadError::Yaml {
                    document: document_index,
                    reason: printable(&e.to_string()).into_owned(),
                });
                break;
            }
        };
        if value.is_null() {
            continue;
        }
        if let Some(scan) = scans.get(index) {
            let found = as_kubectl_reads(document_index, &value, scan);
            if !found.is_empty() {
                errors.extend(found);
                continue;
            }
        }
        match parse_value(document_index, value) {
            Ok(resource) => resources.push(resource),
            Err(found) => errors.extend(found),
        }
    }
    (resources, errors)
}

/// Where kubectl would read the document differently: a key given twice (kubectl refuses it;
/// here the last would silently win), or a plain scalar that YAML 1.1 reads as another value
/// than the YAML 1.2 reading here.
fn as_kubectl_reads(document: usize, value: &Value, scan: &DocumentScan) -> Vec<LoadError> {
    let resource = resource_of(value);
    let error = |field: String, reason: String| match &resource {
        Some(r) => LoadError::Field {
            document,
            resource: Box::new(r.clone()),
            field,
            reason,
        },
        None => LoadError::Yaml {
            document,
            reason: format!("{field}: {reason}"),
        },
    };
    let mut errors: Vec<LoadError> = scan
        .duplicates
        .iter()
        .map(|d| {
            error(
                printable(&d.path).into_owned(),
                format!(
                    "key given twice, at lines {} and {}; kubectl refuses a duplicate key",
                    d.first, d.second
                ),
            )
        })
        .collect();
    for plain in &scan.plains {
        let Some(want) = kubectl_yaml::yaml11(&plain.text) else {
            continue;
        };
        let Some(got) = kubectl_yaml::at(value, &plain.path) else {
            continue;
        };
        if kubectl_yaml::same_reading(got, &want) {
            continue;
        }
        let text = printable(&plain.text);
        errors.push(error(
            printable(&kubectl_yaml::dotted(&plain.path)).into_owned(),
            format!(
                "{text} (line {}) is read by kubectl (YAML 1.1) as {want}, not as {got}; \
                 write \"{text}\" (quoted) for the string, or {want} for that value",
                plain.line
            ),
        ));
    }
    errors
}

/// `Kind namespace/name` of a document, when it has a kind and a name.
fn resource_of(value: &Value) -> Option<ResourceRef> {
    let kind = value.get("kind")?.as_str()?;
    let metadata = value.get("metadata")?;
    let name = metadata.get("name")?.as_str()?;
    let namespace = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_NAMESPACE);
    Some(ResourceRef::new(kind, namespace, name))
}

/// Parses one document already read as JSON.
fn parse_value(document: usize, value: Value) -> Result<AnyResource, Vec<LoadError>> {
    let Value::Object(object) = &value else {
        return Err(vec![LoadError::NotAnObject { document }]);
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if api_version.is_empty() && kind.is_empty() {
        return Err(vec![LoadError::NotAnObject { document }]);
    }
    if api_version != API_VERSION || !KINDS.contains(&kind) {
        return Err(vec![LoadError::UnknownKind {
            document,
            api_version: printable(api_version).into_owned(),
            kind: printable(kind).into_owned(),
        }]);
    }
    let metadata = object.get("metadata");
    let meta_text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Value::as_str);
    let Some(name) = meta_text("name").filter(|name| !name.is_empty()) else {
        return Err(vec![LoadError::MissingName {
            document,
            kind: kind.to_string(),
        }]);
    };
    let namespace = meta_text("namespace").unwrap_or(DEFAULT_NAMESPACE);
    let resource = ResourceRef::new(kind, namespace, name);
    // The API server accepts only DNS-1123 names: a name with a newline or an escape sequence
    // never reaches the engine, its reports or its messages.
    for (field, text, max, dots) in [
        ("metadata.name", name, 253, true),
        ("metadata.namespace", namespace, 63, false),
    ] {
        if !dns1123(text, max, dots) {
            return Err(vec![LoadError::Field {
                document,
                resource: Box::new(resource),
                field: field.to_string(),
                reason: format!(
                    "{:?} is not a DNS-1123 {} (at most {max} lowercase letters, digits and '-'{}, \
                     starting and ending with a letter or digit)",
                    printable(text),
                    if dots { "subdomain" } else { "label" },
                    if dots { ", '.'" } else { "" }
                ),
            }]);
        }
    }

    let typed = Typed {
        document,
        resource: &resource,
    };
    let any = match kind {
        "KollaConfig" => AnyResource::KollaConfig(typed.parse(value).map_err(|e| vec![e])?),
        "RabbitPolicy" => AnyResource::RabbitPolicy(typed.parse(value).map_err(|e| vec![e])?),
        "ErlangVmArgs" => AnyResource::ErlangVmArgs(typed.parse(value).map_err(|e| vec![e])?),
        "NovaVifPolicy" => AnyResource::NovaVifPolicy(typed.parse(value).map_err(|e| vec![e])?),
        "NovaComputePolicy" => {
            AnyResource::NovaComputePolicy(typed.parse(value).map_err(|e| vec![e])?)
        }
        "RabbitListenerPolicy" => {
            AnyResource::RabbitListenerPolicy(typed.parse(value).map_err(|e| vec![e])?)
        }
        "OsloMessagingPolicy" => {
            AnyResource::OsloMessagingPolicy(typed.parse(value).map_err(|e| vec![e])?)
        }
        _ => AnyResource::ConfigOverride(typed.parse(value).map_err(|e| vec![e])?),
    };
    let violations: Vec<LoadError> = check(&any)
        .into_iter()
        .map(|violation| LoadError::Field {
            document,
            resource: Box::new(resource.clone()),
            field: violation.field,
            reason: violation.message,
        })
        .collect();
    if violations.is_empty() {
        Ok(any)
    } else {
        Err(violations)
    }
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
            field: printable(&e.path().to_string()).into_owned(),
            reason: printable(&e.into_inner().to_string()).into_owned(),
        })
    }
}

/// How deeply flow collections (`[...]`, `{...}`) may nest. No kollacfg resource needs more
/// than a few levels; the YAML parser's time grows with the square of the depth.
pub const MAX_FLOW_DEPTH: usize = 64;

/// Finds where flow collections nest deeper than [`MAX_FLOW_DEPTH`], skipping quoted scalars
/// and comments. A quote counts as opening a quoted scalar only where a scalar can start (after
/// a space, `[`, `{`, `,` or at the start of a line), as YAML has it; `---` starts a new
/// document.
fn too_deep(text: &str) -> Option<LoadError> {
    let (mut document, mut line, mut depth) = (1, 1, 0usize);
    let mut prev = '\n';
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                if chars.as_str().starts_with("---") {
                    document += 1;
                    depth = 0;
                }
            }
            '#' if prev.is_whitespace() => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
                prev = '\n';
                continue;
            }
            '\'' | '"' if prev.is_whitespace() || matches!(prev, '[' | '{' | ',' | ':') => {
                let mut escaped = false;
                for q in chars.by_ref() {
                    if q == '\n' {
                        line += 1;
                    }
                    if c == '"' && q == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if q == c && !escaped {
                        break;
                    }
                    escaped = false;
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(LoadError::TooDeep { document, line });
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    None
}

/// A DNS-1123 label (`dots: false`) or subdomain (`dots: true`) of at most `max` characters.
fn dns1123(text: &str, max: usize, dots: bool) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| alnum(b) || b == b'-')
            && l.bytes().next().is_some_and(alnum)
            && l.bytes().last().is_some_and(alnum)
    };
    text.len() <= max
        && if dots {
            text.split('.').all(label)
        } else {
            label(text)
        }
}
