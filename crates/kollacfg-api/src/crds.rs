//! The CustomResourceDefinitions of all kollacfg kinds, as objects and as YAML: one source for
//! the committed `crds/` directory, `kollacfg crds`, the Helm chart and the tests.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

use crate::{
    ConfigOverride, ErlangVmArgs, KollaConfig, NovaComputePolicy, NovaVifPolicy,
    OsloMessagingPolicy, RabbitListenerPolicy, RabbitPolicy,
};

/// Every kollacfg CRD, sorted by name (`<plural>.kollacfg.dev`).
///
/// Use these rather than the derived `Kind::crd()`: descriptions here are unwrapped into one
/// line per paragraph, so that `kubectl explain` can wrap them to the terminal.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    let mut crds: Vec<_> = [
        KollaConfig::crd(),
        RabbitPolicy::crd(),
        ErlangVmArgs::crd(),
        NovaVifPolicy::crd(),
        NovaComputePolicy::crd(),
        RabbitListenerPolicy::crd(),
        OsloMessagingPolicy::crd(),
        ConfigOverride::crd(),
    ]
    .into_iter()
    .map(unwrap_descriptions)
    .collect();
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    crds
}

/// The file name a CRD is committed under: `<plural>.<group>.yaml`.
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.{}.yaml", crd.spec.names.plural, crd.spec.group)
}

/// One CRD as a YAML document (no `---` marker), ending in a newline.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    serde_yaml::to_string(crd).expect("a CustomResourceDefinition always serializes to YAML")
}

/// Every CRD as `(file name, YAML)`, sorted by name: the content of the `crds/` directory.
pub fn crd_files() -> Vec<(String, String)> {
    all_crds()
        .iter()
        .map(|crd| (crd_file_name(crd), crd_yaml(crd)))
        .collect()
}

/// Every CRD as one multi-document YAML stream, documents separated by `---` lines, sorted by
/// name. The same bytes on every call; ready for `kubectl apply -f -`.
pub fn crds_yaml() -> String {
    all_crds()
        .iter()
        .map(crd_yaml)
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Joins the source-wrapped lines of every `description` in the CRD into paragraphs.
fn unwrap_descriptions(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let mut value = serde_json::to_value(crd).expect("a CRD serializes to JSON");
    unwrap_in(&mut value);
    serde_json::from_value(value).expect("unwrapping descriptions keeps a valid CRD")
}

fn unwrap_in(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(text) if key == "description" => *text = unwrap_text(text),
                    _ => unwrap_in(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_in),
        _ => {}
    }
}

/// `"a\nb\n\nc"` → `"a b\n\nc"`: single line breaks become spaces, paragraphs stay.
fn unwrap_text(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            paragraph
                .split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}
