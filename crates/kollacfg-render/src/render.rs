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
use crate::items::{FileFormat, ItemKey, ItemValue};
use crate::merge::{self, Conflict, ItemReport, Offer};
use crate::model::{Fragment, ResourceRef, Target};
use crate::validate;

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
    let mut issues = Vec::new();
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
    let items = merge::resolve(offers);
    let mut by_file: BTreeMap<&str, Vec<&ItemReport>> = BTreeMap::new();
    for item in &items {
        by_file.entry(item.file.as_ref()).or_default().push(item);
    }
    let mut files = base.clone();
    for (file, edits) in by_file {
        match edit_file(file, base.get(file), &edits) {
            Ok(text) => {
                files.insert(file.to_string(), text.into_bytes());
            }
            Err(reason) => issues.push(Issue::new(&target.id, format!("base {file}"), reason)),
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    let mut contributors: Vec<ResourceRef> = items.iter().map(|i| i.winner.clone()).collect();
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

/// Applies the decided items of one file to its base (or to an empty document) and checks
/// that the result parses again.
fn edit_file(file: &str, base: Option<&Vec<u8>>, edits: &[&ItemReport]) -> Result<String, String> {
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
                .filter_map(|e| match (&e.item, &e.value) {
                    (ItemKey::Policy { vhost, name }, ItemValue::Policy(json)) => {
                        Some(PolicyText { vhost, name, json })
                    }
                    _ => None,
                })
                .collect();
            doc.upsert_policy_texts(&policies);
            let absent: Vec<(&str, &str)> = edits.iter().filter_map(|e| absent_key(e)).collect();
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
                match (&edit.item, &edit.value) {
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
                if let (ItemKey::ConfKey(key), ItemValue::Text(v)) = (&edit.item, &edit.value) {
                    doc.set(key, v);
                }
            }
            let out = doc.render();
            RabbitConf::parse(&out).map_err(|e| rerender(file, e))?;
            out
        }
        FileFormat::Ini => {
            let mut doc = IniDocument::parse(text).map_err(in_base)?;
            doc.set_all(
                edits
                    .iter()
                    .filter_map(|edit| match (&edit.item, &edit.value) {
                        (ItemKey::Ini { section, key }, ItemValue::Text(v)) => {
                            Some((section.as_str(), key.as_str(), v.as_str()))
                        }
                        _ => None,
                    }),
            );
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
