//! Renders one target: checks its fragments, decides every item by precedence and writes the
//! winners into the target's base files. Pure: inputs in, bytes and a report out. Nothing is
//! produced for a target with any invalid fragment or unparseable base file, so a caller can
//! always keep the previous output.

use std::collections::BTreeMap;

use crate::contrib::contributions;
use crate::files::definitions::{Definitions, PolicyText};
use crate::files::ini::IniDocument;
use crate::files::rabbitmq_conf::RabbitConf;
use crate::files::rabbitmq_env::{EnvFile, ErlFlag};
use crate::files::ParseError;
use crate::issue::Issue;
use crate::items::{Contribution, FileFormat, ItemKey, ItemValue};
use crate::merge::{self, Conflict, ItemReport, Offer};
use crate::model::{ConfigOverride, Fragment, ResourceRef, Target};
use crate::{per_pod, validate};

/// A target's rendered files and how each item was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetOutput {
    /// The KollaConfig.
    pub target: ResourceRef,
    /// Every file of the target: the base files, with the edited ones re-rendered.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Every item a fragment set, sorted by file then item.
    pub items: Vec<ItemReport>,
    /// Every conflict, sorted.
    pub conflicts: Vec<Conflict>,
    /// The fragments that won at least one item, sorted.
    pub contributors: Vec<ResourceRef>,
    /// Every fragment aimed at the target, sorted.
    pub fragments: Vec<ResourceRef>,
}

impl TargetOutput {
    /// The `(vhost, name)` of every policy decided `absent` (`RabbitPolicy.spec.absent`), sorted:
    /// the policies that must not exist, in the file or on a live broker.
    pub fn absent_policies(&self) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = self
            .items
            .iter()
            .filter_map(absent_key)
            .map(|(vhost, name)| (vhost.to_string(), name.to_string()))
            .collect();
        keys.sort();
        keys
    }
}

/// The `(vhost, name)` of an item decided `absent`.
fn absent_key(item: &ItemReport) -> Option<(&str, &str)> {
    match (&item.item, &item.value) {
        (ItemKey::Policy { vhost, name }, ItemValue::Absent) => Some((vhost, name)),
        _ => None,
    }
}

/// Renders `target` from its `base` files (name → bytes) and the `fragments` aimed at it.
/// The order of `fragments` does not matter.
pub fn render_target(
    target: &Target,
    fragments: &[&Fragment],
    base: &BTreeMap<String, Vec<u8>>,
) -> Result<TargetOutput, Vec<Issue>> {
    render_target_per_pod(target, &[], fragments, base)
}

/// [`render_target`] for a target with `per_pod` items (its `spec.perPod`). Each wins its item
/// over every fragment in the report; the shared files keep what the base and the fragments
/// give (never a template), and the output gains the manifest
/// [`MANIFEST`](crate::per_pod::MANIFEST) listing the edits. Without per-pod items there is
/// no manifest (a base file of that name is dropped: the manifest always comes from the spec).
pub fn render_target_per_pod(
    target: &Target,
    per_pod: &[ConfigOverride],
    fragments: &[&Fragment],
    base: &BTreeMap<String, Vec<u8>>,
) -> Result<TargetOutput, Vec<Issue>> {
    let mut issues = Vec::new();
    let pod_edits = per_pod::per_pod_edits(target, per_pod).unwrap_or_else(|found| {
        issues.extend(found);
        Vec::new()
    });
    if let Err(reason) = validate::service_name(&target.service) {
        issues.push(Issue::new(&target.id, "spec.service", reason));
    }
    let version = match target
        .rabbitmq_version
        .as_deref()
        .map(validate::rabbitmq_version)
    {
        Some(Err(reason)) => {
            issues.push(Issue::new(&target.id, "spec.rabbitmq.version", reason));
            None
        }
        Some(Ok(v)) => Some(v),
        None => None,
    };
    let mut offers = Vec::new();
    for fragment in fragments {
        match contributions(fragment, target, version) {
            Ok(list) => offers.extend(list.into_iter().map(|contribution| Offer {
                from: &fragment.id,
                precedence: fragment.precedence,
                contribution,
            })),
            Err(found) => issues.extend(found),
        }
    }
    if !issues.is_empty() {
        issues.sort();
        return Err(issues);
    }
    let mut items = merge::resolve(offers);
    let mut by_file: BTreeMap<&str, Vec<(&ItemKey, &ItemValue)>> = BTreeMap::new();
    for item in &items {
        by_file
            .entry(item.file.as_ref())
            .or_default()
            .push((&item.item, &item.value));
    }
    let mut files = base.clone();
    for (file, edits) in by_file {
        match edit_file(file, base.get(file).map(Vec::as_slice), &edits) {
            Ok(text) => {
                files.insert(file.to_string(), text.into_bytes());
            }
            Err(reason) => issues.push(Issue::new(&target.id, format!("base {file}"), reason)),
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    files.remove(per_pod::MANIFEST);
    if !pod_edits.is_empty() {
        let edits: Vec<per_pod::PodEdit> = pod_edits.iter().map(|(e, _)| e.clone()).collect();
        files.insert(
            per_pod::MANIFEST.to_string(),
            per_pod::manifest_bytes(&edits),
        );
        per_pod_wins(&mut items, &target.id, pod_edits);
    }
    let mut contributors: Vec<ResourceRef> = items
        .iter()
        .map(|i| i.winner.clone())
        .filter(|w| *w != target.id)
        .collect();
    contributors.sort();
    contributors.dedup();
    let mut all: Vec<ResourceRef> = fragments.iter().map(|f| f.id.clone()).collect();
    all.sort();
    Ok(TargetOutput {
        target: target.id.clone(),
        conflicts: merge::conflicts(&items),
        files,
        items,
        contributors,
        fragments: all,
    })
}

/// Makes each per-pod edit the winner of its item: the fragments that set the item (winner and
/// conflicting ones alike) are overridden, and an item no fragment sets is added. The items
/// stay sorted by file, then item.
fn per_pod_wins(
    items: &mut Vec<ItemReport>,
    target: &ResourceRef,
    edits: Vec<(per_pod::PodEdit, Contribution)>,
) {
    for (edit, contribution) in edits {
        let value = ItemValue::Text(edit.template);
        let key = (contribution.file.as_ref(), &contribution.item);
        match items.binary_search_by(|i| (i.file.as_ref(), &i.item).cmp(&key)) {
            Ok(at) => {
                let item = &mut items[at];
                let fragments = std::mem::take(&mut item.conflicts);
                item.overridden.push(item.winner.clone());
                item.overridden.extend(fragments);
                item.overridden.sort();
                item.winner = target.clone();
                item.field = contribution.field;
                item.value = value;
            }
            Err(at) => items.insert(
                at,
                ItemReport {
                    file: contribution.file,
                    item: contribution.item,
                    winner: target.clone(),
                    field: contribution.field,
                    value,
                    conflicts: Vec::new(),
                    overridden: Vec::new(),
                },
            ),
        }
    }
}

/// Applies the decided items of one file to its base (or to an empty document) and checks
/// that the result parses again.
pub(crate) fn edit_file(
    file: &str,
    base: Option<&[u8]>,
    edits: &[(&ItemKey, &ItemValue)],
) -> Result<String, String> {
    let text = match base {
        Some(bytes) => {
            std::str::from_utf8(bytes).map_err(|e| format!("{file} is not UTF-8 text ({e})"))?
        }
        None => "",
    };
    let in_base = |e: ParseError| format!("{file} does not parse: {e}");
    let rendered = match FileFormat::of(file) {
        FileFormat::Definitions => {
            let mut doc = match base {
                Some(_) => Definitions::parse(text).map_err(in_base)?,
                None => Definitions::empty(),
            };
            let policies: Vec<PolicyText<'_>> = edits
                .iter()
                .filter_map(|e| match e {
                    (ItemKey::Policy { vhost, name }, ItemValue::Policy(json)) => {
                        Some(PolicyText { vhost, name, json })
                    }
                    _ => None,
                })
                .collect();
            doc.upsert_policy_texts(&policies);
            let absent: Vec<(&str, &str)> = edits
                .iter()
                .filter_map(|e| match e {
                    (ItemKey::Policy { vhost, name }, ItemValue::Absent) => {
                        Some((vhost.as_str(), name.as_str()))
                    }
                    _ => None,
                })
                .collect();
            doc.remove_policies(&absent);
            let out = doc.render();
            // The policies are built by serde and the rest is the base's text: checking the
            // syntax of the whole (without building a document) is enough.
            serde_json::from_str::<serde::de::IgnoredAny>(&out)
                .map_err(|e| rerender(file, ParseError::new(e.line(), e.to_string())))?;
            out
        }
        FileFormat::RabbitEnv => {
            let mut doc = EnvFile::parse(text).map_err(in_base)?;
            doc.check_editable()
                .map_err(|e| format!("{file} line {}: {}", e.line, e.message))?;
            let mut flags = Vec::new();
            for edit in edits {
                match edit {
                    (ItemKey::EnvVar(name), ItemValue::Text(v)) => doc.set(name, v),
                    (ItemKey::ErlFlag(name), ItemValue::Flag(args)) => flags.push(ErlFlag {
                        name: name.clone(),
                        args: args.clone(),
                    }),
                    _ => {}
                }
            }
            doc.set_erl_flags(&flags).map_err(in_base)?;
            let out = doc.render();
            EnvFile::parse(&out).map_err(|e| rerender(file, e))?;
            out
        }
        FileFormat::RabbitConf => {
            let mut doc = RabbitConf::parse(text).map_err(in_base)?;
            for edit in edits {
                if let (ItemKey::ConfKey(key), ItemValue::Text(v)) = edit {
                    doc.set(key, v);
                }
            }
            let out = doc.render();
            RabbitConf::parse(&out).map_err(|e| rerender(file, e))?;
            out
        }
        FileFormat::Ini => {
            let mut doc = IniDocument::parse(text).map_err(in_base)?;
            doc.set_all(edits.iter().filter_map(|edit| match edit {
                (ItemKey::Ini { section, key }, ItemValue::Text(v)) => {
                    Some((section.as_str(), key.as_str(), v.as_str()))
                }
                _ => None,
            }));
            let out = doc.render();
            IniDocument::parse(&out).map_err(|e| rerender(file, e))?;
            out
        }
    };
    Ok(rendered)
}

fn rerender(file: &str, e: ParseError) -> String {
    format!("the rendered {file} does not parse again ({e}); nothing was written")
}

/// Groups fragments by the target they name (same namespace, `spec.kollaConfigRef.name`).
/// Fragments naming no known target, and targets defined twice, are reported.
pub fn assign<'a>(
    targets: &'a [Target],
    fragments: &'a [Fragment],
) -> (BTreeMap<&'a ResourceRef, Vec<&'a Fragment>>, Vec<Issue>) {
    let mut issues = Vec::new();
    let mut by_key: BTreeMap<(&str, &str), &ResourceRef> = BTreeMap::new();
    let mut out: BTreeMap<&ResourceRef, Vec<&Fragment>> = BTreeMap::new();
    for t in targets {
        if by_key
            .insert((&t.id.namespace, &t.id.name), &t.id)
            .is_some()
        {
            issues.push(Issue::new(&t.id, "metadata.name", "defined more than once"));
        }
        out.entry(&t.id).or_default();
    }
    for f in fragments {
        match by_key.get(&(f.id.namespace.as_str(), f.target.as_str())) {
            Some(t) => out.entry(*t).or_default().push(f),
            None => issues.push(Issue::new(
                &f.id,
                "spec.kollaConfigRef.name",
                format!(
                    "no KollaConfig named {:?} in namespace {:?}",
                    f.target, f.id.namespace
                ),
            )),
        }
    }
    (out, issues)
}
