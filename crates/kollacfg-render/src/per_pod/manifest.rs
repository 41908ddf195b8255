//! The per-pod manifest, `kollacfg-perpod.json`: the list of per-pod edits carried beside the
//! shared files. Written sorted by file then item, pretty-printed with a final newline, so the
//! same `spec.perPod` always gives the same bytes; read back strictly (unknown fields, unknown
//! forms and repeated items are refused).
//!
//! ```json
//! {
//!   "version": 1,
//!   "edits": [
//!     {
//!       "file": "nova.conf",
//!       "form": "ini",
//!       "section": "DEFAULT",
//!       "key": "my_ip",
//!       "template": "{hostIP}"
//!     }
//!   ]
//! }
//! ```
//!
//! `form` is `ini` (with `section` and `key`), `env` (with `name`, a `rabbitmq-env.conf`
//! variable) or `conf` (with `key`, a `rabbitmq.conf` key); `template` is the value as
//! `spec.perPod` gives it, placeholders unfilled.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::items::ItemKey;
use crate::validate;

/// The manifest's file name in the shared output.
pub const MANIFEST: &str = "kollacfg-perpod.json";

/// The manifest format this engine writes and reads.
const VERSION: u32 = 1;

/// One per-pod edit: which item of which file, and its template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEdit {
    /// The file, e.g. `nova.conf`.
    pub file: String,
    /// The item, keyed as the file's editor keys it.
    pub item: ItemKey,
    /// The value with its placeholders, e.g. `rabbit@{podName}`.
    pub template: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: u32,
    edits: Vec<Record>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    file: String,
    form: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    section: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    template: String,
}

impl Record {
    fn of(edit: &PodEdit) -> Self {
        let (form, section, key, name) = match &edit.item {
            ItemKey::Ini { section, key } => ("ini", Some(section), Some(key), None),
            ItemKey::EnvVar(name) => ("env", None, None, Some(name)),
            ItemKey::ConfKey(key) => ("conf", None, Some(key), None),
            // `per_pod_edits` only makes the three forms above.
            ItemKey::Policy { .. } | ItemKey::ErlFlag(_) => ("", None, None, None),
        };
        Self {
            file: edit.file.clone(),
            form: form.to_string(),
            section: section.cloned(),
            key: key.cloned(),
            name: name.cloned(),
            template: edit.template.clone(),
        }
    }

    fn edit(self, index: usize) -> Result<PodEdit, String> {
        let at = format!("edits[{index}]");
        validate::file_name(&self.file).map_err(|e| format!("{at}.file: {e}"))?;
        let item = match (self.form.as_str(), self.section, self.key, self.name) {
            ("ini", Some(section), Some(key), None) => ItemKey::Ini { section, key },
            ("env", None, None, Some(name)) => ItemKey::EnvVar(name),
            ("conf", None, Some(key), None) => ItemKey::ConfKey(key),
            (form @ ("ini" | "env" | "conf"), ..) => {
                let needs = match form {
                    "ini" => "section and key",
                    "env" => "name",
                    _ => "key",
                };
                return Err(format!("{at}: form {form} takes {needs}, and only those"));
            }
            (form, ..) => {
                return Err(format!(
                    "{at}.form: {form:?} is not a per-pod form (ini, env or conf)"
                ))
            }
        };
        Ok(PodEdit {
            file: self.file,
            item,
            template: self.template,
        })
    }
}

/// The manifest's bytes for `edits` (sorted by file, then item, by the caller).
pub fn manifest_bytes(edits: &[PodEdit]) -> Vec<u8> {
    let document = Document {
        version: VERSION,
        edits: edits.iter().map(Record::of).collect(),
    };
    let mut bytes =
        serde_json::to_vec_pretty(&document).expect("strings and numbers always serialize");
    bytes.push(b'\n');
    bytes
}

/// The edits of a manifest, in its order; anything but a manifest this engine writes is an
/// error saying where.
pub fn parse_manifest(bytes: &[u8]) -> Result<Vec<PodEdit>, String> {
    let document: Document = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not a per-pod manifest: line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    if document.version != VERSION {
        return Err(format!(
            "manifest version {} is not {VERSION}, the version this kollacfg reads",
            document.version
        ));
    }
    let mut seen = BTreeSet::new();
    let mut edits = Vec::with_capacity(document.edits.len());
    for (i, record) in document.edits.into_iter().enumerate() {
        let edit = record.edit(i)?;
        if !seen.insert((edit.file.clone(), edit.item.clone())) {
            return Err(format!(
                "edits[{i}]: {} of {} is edited twice",
                edit.item, edit.file
            ));
        }
        edits.push(edit);
    }
    Ok(edits)
}
