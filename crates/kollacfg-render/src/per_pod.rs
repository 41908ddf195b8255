//! Per-pod values: a KollaConfig's `spec.perPod` items, whose values are templates filled in
//! from the facts of the pod that reads the files (`{nodeName}`, `{hostIP}`, `{podIP}`,
//! `{podName}`, `{podNamespace}`).
//!
//! The shared output never holds a template: each file keeps what the base and the fragments
//! give it, and the output gains the manifest [`MANIFEST`], the list of per-pod edits.
//! [`materialize`] applies those edits for one pod's facts with the same editors and the same
//! checks as a render. Precedence: a per-pod item wins over every fragment for that item (it
//! is the pod's own fact).
//!
//! Nothing here reads the environment or the disk: the facts are handed in.

use std::collections::BTreeMap;

use crate::contrib::raw_items;
use crate::contrib::RABBITMQ_SERVICE;
use crate::issue::{printable, Issue};
use crate::items::{Contribution, ItemKey, ItemValue};
use crate::model::{ConfigOverride, OverrideContent, Target};

mod manifest;

pub use manifest::{manifest_bytes, parse_manifest, PodEdit, MANIFEST};

/// A fact about the pod that reads the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fact {
    /// `{nodeName}`: the node the pod runs on.
    NodeName,
    /// `{hostIP}`: the node's IP address.
    HostIp,
    /// `{podIP}`: the pod's IP address.
    PodIp,
    /// `{podName}`: the pod's name.
    PodName,
    /// `{podNamespace}`: the pod's namespace.
    PodNamespace,
}

impl Fact {
    /// Every fact, in the order the documentation lists them.
    pub const ALL: [Fact; 5] = [
        Fact::NodeName,
        Fact::HostIp,
        Fact::PodIp,
        Fact::PodName,
        Fact::PodNamespace,
    ];

    /// The placeholder's name, as written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Self::NodeName => "nodeName",
            Self::HostIp => "hostIP",
            Self::PodIp => "podIP",
            Self::PodName => "podName",
            Self::PodNamespace => "podNamespace",
        }
    }

    /// The environment variable `kollacfg materialize` reads the fact from.
    pub fn env(self) -> &'static str {
        match self {
            Self::NodeName => "KOLLACFG_NODE_NAME",
            Self::HostIp => "KOLLACFG_HOST_IP",
            Self::PodIp => "KOLLACFG_POD_IP",
            Self::PodName => "KOLLACFG_POD_NAME",
            Self::PodNamespace => "KOLLACFG_POD_NAMESPACE",
        }
    }

    /// The downward API field that sets that variable in a pod.
    pub fn field_ref(self) -> &'static str {
        match self {
            Self::NodeName => "spec.nodeName",
            Self::HostIp => "status.hostIP",
            Self::PodIp => "status.podIP",
            Self::PodName => "metadata.name",
            Self::PodNamespace => "metadata.namespace",
        }
    }

    /// The fact named `name` (`hostIP`), if there is one.
    pub fn named(name: &str) -> Option<Fact> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// A value of the kind a real pod has, used to check a template when it is rendered, before
    /// any pod exists (documentation addresses and names: nothing that could inject).
    fn representative(self) -> &'static str {
        match self {
            Self::NodeName => "node-1.example.org",
            Self::HostIp => "192.0.2.10",
            Self::PodIp => "192.0.2.20",
            Self::PodName => "pod-0",
            Self::PodNamespace => "openstack",
        }
    }
}

/// The known placeholders, for messages: `{nodeName}, {hostIP}, ...`.
fn known() -> String {
    let names: Vec<String> = Fact::ALL
        .iter()
        .map(|f| format!("{{{}}}", f.name()))
        .collect();
    names.join(", ")
}

/// One pod's facts. A fact that is not set is an error only where a template uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    values: BTreeMap<Fact, String>,
}

impl Facts {
    /// No facts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `fact` to `value`.
    pub fn set(&mut self, fact: Fact, value: impl Into<String>) -> &mut Self {
        self.values.insert(fact, value.into());
        self
    }

    /// Each fact from its environment variable ([`Fact::env`]), as `lookup` reads it.
    pub fn from_env(mut lookup: impl FnMut(&str) -> Option<String>) -> Self {
        let mut facts = Self::new();
        for fact in Fact::ALL {
            if let Some(value) = lookup(fact.env()) {
                facts.set(fact, value);
            }
        }
        facts
    }

    /// Facts written `nodeName=n1,hostIP=10.0.0.21,...` (the form of `render --pod`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut facts = Self::new();
        for pair in text.split(',').filter(|p| !p.is_empty()) {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(format!(
                    "{:?} is not NAME=VALUE (names: {})",
                    printable(pair),
                    known()
                ));
            };
            let Some(fact) = Fact::named(name) else {
                return Err(format!(
                    "unknown fact {:?} (known: {})",
                    printable(name),
                    known()
                ));
            };
            if facts.values.insert(fact, value.to_string()).is_some() {
                return Err(format!("{name} is given more than once"));
            }
        }
        Ok(facts)
    }

    /// The value of `fact`; a fact not set, or set empty, is an error naming its variable.
    pub fn get(&self, fact: Fact) -> Result<&str, String> {
        match self.values.get(&fact).map(String::as_str) {
            Some("") => Err(format!(
                "{{{}}}: {} is empty (set it from the downward API's {})",
                fact.name(),
                fact.env(),
                fact.field_ref()
            )),
            Some(value) => Ok(value),
            None => Err(format!(
                "{{{}}}: {} is not set (set it from the downward API's {})",
                fact.name(),
                fact.env(),
                fact.field_ref()
            )),
        }
    }

    fn representative() -> Self {
        let mut facts = Self::new();
        for fact in Fact::ALL {
            facts.set(fact, fact.representative());
        }
        facts
    }
}

/// `template` with every placeholder replaced by its fact, in one pass (a fact's value is never
/// read as a template). `{` always opens a placeholder: an unknown or unclosed one is an error.
pub fn fill(template: &str, facts: &Facts) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after
            .find(['}', '{'])
            .filter(|&i| after.as_bytes()[i] == b'}')
        else {
            // The rest of the value is not quoted: a misplaced value could be a credential.
            return Err(format!(
                "unclosed placeholder: a {{ without its }} (known: {})",
                known()
            ));
        };
        let name = &after[..close];
        let Some(fact) = Fact::named(name) else {
            return Err(format!(
                "unknown placeholder {{{}}} (known: {})",
                printable(name),
                known()
            ));
        };
        out.push_str(facts.get(fact)?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The edits of a target's `spec.perPod`, every template checked: only known placeholders,
/// at least one, and the value filled in with representative facts passes every check a
/// literal value of that item passes. Each edit comes with the contribution it makes (its
/// field, for reports). Two entries for one item are refused.
pub fn per_pod_edits(
    target: &Target,
    per_pod: &[ConfigOverride],
) -> Result<Vec<(PodEdit, Contribution)>, Vec<Issue>> {
    let is_rabbitmq = target.service == RABBITMQ_SERVICE;
    let representative = Facts::representative();
    let mut issues = Vec::new();
    let mut edits: Vec<(PodEdit, Contribution)> = Vec::new();
    let mut seen: BTreeMap<(String, ItemKey), String> = BTreeMap::new();
    for (i, entry) in per_pod.iter().enumerate() {
        let mut templates: BTreeMap<String, String> = BTreeMap::new();
        let mut check = |field: &str, template: &str| {
            if !template.contains('{') {
                // Not quoted: a literal value could be a credential.
                return Err(format!(
                    "the value has no placeholder (known: {}); a value shared by every pod \
                     belongs in the base or a ConfigOverride",
                    known()
                ));
            }
            let value = fill(template, &representative)?;
            templates.insert(field.to_string(), template.to_string());
            Ok(value)
        };
        let at = format!("spec.perPod[{i}]");
        match raw_items(&target.id, entry, is_rabbitmq, &at, &mut check) {
            Err(found) => issues.extend(found),
            Ok(contributions) => {
                for contribution in contributions {
                    let key = (contribution.file.to_string(), contribution.item.clone());
                    if let Some(first) = seen.get(&key) {
                        issues.push(Issue::new(
                            &target.id,
                            contribution.field.to_string(),
                            format!("sets the same item as {first}"),
                        ));
                        continue;
                    }
                    seen.insert(key, contribution.field.to_string());
                    let template = templates
                        .get(contribution.field.as_ref())
                        .cloned()
                        .unwrap_or_default();
                    let edit = PodEdit {
                        file: contribution.file.to_string(),
                        item: contribution.item.clone(),
                        template,
                    };
                    edits.push((edit, contribution));
                }
            }
        }
    }
    if !issues.is_empty() {
        issues.sort();
        return Err(issues);
    }
    edits.sort_by(|a, b| (&a.0.file, &a.0.item).cmp(&(&b.0.file, &b.0.item)));
    Ok(edits)
}

/// A per-pod edit that cannot be applied, or a manifest that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterializeError {
    /// The file concerned (a file of the output, or the manifest).
    pub file: String,
    /// Why, naming the item and, for a missing fact, its environment variable.
    pub reason: String,
}

impl std::fmt::Display for MaterializeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", printable(&self.file), printable(&self.reason))
    }
}

/// One pod's files.
#[derive(Debug, Clone, PartialEq)]
pub struct Materialized {
    /// Every file of the shared output but the manifest, with the edits applied.
    pub files: BTreeMap<String, Vec<u8>>,
    /// How many per-pod edits were applied.
    pub edits: usize,
}

/// One pod's files from the shared output `files` (the manifest included, if any) and its
/// `facts`: every edit of the manifest filled in, checked as a render checks a literal value
/// (injection included, after the facts are in) and applied by the same lossless editors; the
/// edited files must parse again. Without a manifest the files are returned as they are. Any
/// error means no files.
pub fn materialize(
    files: &BTreeMap<String, Vec<u8>>,
    facts: &Facts,
) -> Result<Materialized, Vec<MaterializeError>> {
    let mut out = files.clone();
    let Some(manifest) = out.remove(MANIFEST) else {
        return Ok(Materialized {
            files: out,
            edits: 0,
        });
    };
    let edits = parse_manifest(&manifest).map_err(|reason| {
        vec![MaterializeError {
            file: MANIFEST.to_string(),
            reason,
        }]
    })?;
    let mut errors = Vec::new();
    let mut by_file: BTreeMap<&str, Vec<(ItemKey, ItemValue)>> = BTreeMap::new();
    for edit in &edits {
        match apply_facts(edit, facts) {
            Ok(item) => by_file.entry(&edit.file).or_default().push(item),
            Err(reason) => errors.push(MaterializeError {
                file: edit.file.clone(),
                reason: format!("{}: {reason}", edit.item),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (file, items) in by_file {
        let pairs: Vec<(&ItemKey, &ItemValue)> = items.iter().map(|(k, v)| (k, v)).collect();
        match crate::render::edit_file(file, files.get(file).map(Vec::as_slice), &pairs) {
            Ok(text) => {
                out.insert(file.to_string(), text.into_bytes());
            }
            Err(reason) => errors.push(MaterializeError {
                file: file.to_string(),
                reason,
            }),
        }
    }
    if errors.is_empty() {
        Ok(Materialized {
            files: out,
            edits: edits.len(),
        })
    } else {
        Err(errors)
    }
}

/// The item and value one edit gives with `facts`: the template filled in, then the checks and
/// encoding of a literal value of the same item.
fn apply_facts(edit: &PodEdit, facts: &Facts) -> Result<(ItemKey, ItemValue), String> {
    let one = |name: &str| BTreeMap::from([(name.to_string(), edit.template.clone())]);
    let content = match &edit.item {
        ItemKey::Ini { section, key } => {
            OverrideContent::Ini(BTreeMap::from([(section.clone(), one(key))]))
        }
        ItemKey::EnvVar(name) => OverrideContent::Env(one(name)),
        ItemKey::ConfKey(key) => OverrideContent::Conf(one(key)),
        other => return Err(format!("{other} cannot be set per pod")),
    };
    let entry = ConfigOverride {
        file: edit.file.clone(),
        content,
    };
    let id = crate::model::ResourceRef::new("PerPod", "", MANIFEST);
    let mut fill_in = |_: &str, template: &str| fill(template, facts);
    match raw_items(&id, &entry, true, "perPod", &mut fill_in) {
        Ok(mut items) if items.len() == 1 => {
            let c = items.remove(0);
            Ok((c.item, c.value))
        }
        Ok(_) => Err("the manifest's edit names no item".to_string()),
        Err(issues) => {
            let reasons: Vec<String> = issues.into_iter().map(|i| i.reason).collect();
            Err(reasons.join("; "))
        }
    }
}
