//! The desired output object: a Secret (default) or ConfigMap named by `output_name()`, keys =
//! file names, the standard labels, an owner reference to the KollaConfig and the content hash.
//! Pure; the apply step decides whether it needs writing.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kollacfg_api::{KollaConfig, OutputKind, LABEL_TARGET};
use kube::Resource;

use crate::hash::{content_hash, files_hash};

/// The field manager of every write the controller makes.
pub const FIELD_MANAGER: &str = "kollacfg";
/// Annotation on the output object: [`files_hash`] of its files.
pub const ANNOTATION_CONTENT_HASH: &str = "kollacfg.dev/content-hash";
/// `app.kubernetes.io/name` label.
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/managed-by` label; the controller watches outputs by it.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// `app.kubernetes.io/instance` label: the KollaConfig's name.
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";

/// The output object as it should be.
#[derive(Clone, Debug, PartialEq)]
pub enum DesiredOutput {
    /// `spec.output.kind: Secret`.
    Secret(Secret),
    /// `spec.output.kind: ConfigMap`.
    ConfigMap(ConfigMap),
}

impl DesiredOutput {
    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Self::Secret(s) => &s.metadata,
            Self::ConfigMap(c) => &c.metadata,
        }
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// `Secret` or `ConfigMap`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Secret(_) => "Secret",
            Self::ConfigMap(_) => "ConfigMap",
        }
    }

    /// Every file in the object (key → bytes).
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        match self {
            Self::Secret(s) => s
                .data
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
            Self::ConfigMap(c) => {
                let text = c
                    .data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone().into_bytes()));
                let binary = c
                    .binary_data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.0.clone()));
                text.chain(binary).collect()
            }
        }
    }

    /// The content of file `name` in the object, if it has it.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        match self {
            Self::Secret(s) => s.data.as_ref()?.get(name).map(|b| b.0.as_slice()),
            Self::ConfigMap(c) => c
                .data
                .as_ref()
                .and_then(|d| d.get(name))
                .map(|t| t.as_bytes())
                .or_else(|| c.binary_data.as_ref()?.get(name).map(|b| b.0.as_slice())),
        }
    }

    /// The value of annotation `key`, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata()
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }

    /// Sets annotation `key` to `value`, or removes it with `None`.
    pub fn set_annotation(&mut self, key: &str, value: Option<String>) {
        let metadata = match self {
            Self::Secret(s) => &mut s.metadata,
            Self::ConfigMap(c) => &mut c.metadata,
        };
        let annotations = metadata.annotations.get_or_insert_with(BTreeMap::new);
        match value {
            Some(v) => {
                annotations.insert(key.to_string(), v);
            }
            None => {
                annotations.remove(key);
            }
        }
    }

    /// The `kollacfg.dev/content-hash` it carries.
    pub fn content_hash(&self) -> &str {
        self.annotation(ANNOTATION_CONTENT_HASH).unwrap_or_default()
    }
}

/// The output object for `files` rendered from `kolla_config`.
pub fn desired_output(
    kolla_config: &KollaConfig,
    files: &BTreeMap<String, Vec<u8>>,
) -> DesiredOutput {
    let instance = kolla_config.metadata.name.clone().unwrap_or_default();
    let versioned = kolla_config.spec.output.versioned;
    let mut labels = BTreeMap::from([
        (LABEL_NAME.to_string(), "kollacfg".to_string()),
        (LABEL_MANAGED_BY.to_string(), "kollacfg".to_string()),
        (LABEL_INSTANCE.to_string(), instance.clone()),
    ]);
    let hash = files_hash(files);
    // A version is named by its content and never changes; the stable-named object is
    // rewritten in place.
    let name = if versioned {
        labels.insert(LABEL_TARGET.to_string(), instance);
        kolla_config.version_name(&hash)
    } else {
        kolla_config.output_name()
    };
    let immutable = versioned.then_some(true);
    let metadata = ObjectMeta {
        name: Some(name),
        namespace: kolla_config.metadata.namespace.clone(),
        labels: Some(labels),
        annotations: Some(BTreeMap::from([(
            ANNOTATION_CONTENT_HASH.to_string(),
            hash,
        )])),
        owner_references: kolla_config.controller_owner_ref(&()).map(|r| vec![r]),
        ..ObjectMeta::default()
    };
    match kolla_config.spec.output.kind {
        OutputKind::Secret => DesiredOutput::Secret(Secret {
            metadata,
            type_: Some("Opaque".to_string()),
            immutable,
            data: Some(
                files
                    .iter()
                    .map(|(n, c)| (n.clone(), ByteString(c.clone())))
                    .collect(),
            ),
            ..Secret::default()
        }),
        OutputKind::ConfigMap => {
            // Text goes to `data`, anything that is not UTF-8 to `binaryData`.
            let mut data = BTreeMap::new();
            let mut binary = BTreeMap::new();
            for (name, content) in files {
                match std::str::from_utf8(content) {
                    Ok(text) => {
                        data.insert(name.clone(), text.to_string());
                    }
                    Err(_) => {
                        binary.insert(name.clone(), ByteString(content.clone()));
                    }
                }
            }
            DesiredOutput::ConfigMap(ConfigMap {
                metadata,
                data: (!data.is_empty()).then_some(data),
                binary_data: (!binary.is_empty()).then_some(binary),
                immutable,
            })
        }
    }
}

/// [`files_hash`] of what a stored Secret holds.
pub fn secret_files_hash(secret: &Secret) -> String {
    content_hash(
        secret
            .data
            .iter()
            .flatten()
            .map(|(n, c)| (n.as_str(), c.0.as_slice())),
    )
}

/// [`files_hash`] of what a stored ConfigMap holds (`data` and `binaryData` together).
pub fn config_map_files_hash(map: &ConfigMap) -> String {
    let text = map
        .data
        .iter()
        .flatten()
        .map(|(n, c)| (n.as_str(), c.as_bytes()));
    let binary = map
        .binary_data
        .iter()
        .flatten()
        .map(|(n, c)| (n.as_str(), c.0.as_slice()));
    content_hash(text.chain(binary))
}

/// The hash of what a stored output object of the desired kind actually holds, so that a hand
/// edit of its data (which leaves the annotation alone) is noticed and restored.
pub fn stored_files_hash(stored: &DesiredOutput) -> String {
    match stored {
        DesiredOutput::Secret(s) => secret_files_hash(s),
        DesiredOutput::ConfigMap(c) => config_map_files_hash(c),
    }
}
