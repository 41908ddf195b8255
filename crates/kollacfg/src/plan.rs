//! Builds the complete render plan in memory: load, check, merge and render every target.
//! Nothing is written here; any error means no plan (and so nothing written).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kollacfg_api::{AnyResource, KollaConfig};
use kollacfg_render::lint::HostValue;
use kollacfg_render::per_pod::{materialize, Facts};
use kollacfg_render::render::{assign, render_target_per_pod, TargetOutput};
use kollacfg_render::{ConfigOverride, Fragment, Issue, ResourceRef, Target};

use crate::inputs;

/// One rendered target.
pub struct Planned {
    /// The kolla service directory name.
    pub service: String,
    /// The base files it started from.
    pub base: BTreeMap<String, Vec<u8>>,
    /// The base files' permission bits (a rendered file is never more open than its base).
    pub base_modes: BTreeMap<String, u32>,
    /// What it renders to.
    pub output: TargetOutput,
    /// Literal per-host values in a file every pod of a DaemonSet or StatefulSet reads.
    pub host_values: Vec<HostValue>,
}

/// Every target rendered, ready to write or compare.
pub struct Plan {
    /// Targets in order of service name.
    pub targets: Vec<Planned>,
    /// How many fragments were read.
    pub fragment_count: usize,
}

/// Which KollaConfigs to render.
pub enum Selection<'a> {
    /// Every one, one per service directory (what `render` writes).
    All,
    /// Every one of this service, several allowed (nothing is written per directory).
    Service(&'a str),
    /// The one with this `metadata.name` (or `namespace/name`).
    Named(&'a str),
}

impl Selection<'_> {
    fn keeps(&self, target: &Target) -> bool {
        match self {
            Self::All => true,
            Self::Service(service) => target.service == *service,
            Self::Named(name) => {
                *name == target.id.name
                    || *name == format!("{}/{}", target.id.namespace, target.id.name)
            }
        }
    }
}

/// Loads and renders everything; prints every error (and conflicts as warnings) to stderr.
/// Returns `None` when anything is wrong, or when `strict` and there is a conflict.
pub fn build(paths: &[PathBuf], base: Option<&Path>, strict: bool) -> Option<Plan> {
    build_selected(paths, base, strict, &Selection::All)
}

/// [`build`], rendering only the selected KollaConfigs (every input is still loaded and
/// checked).
pub fn build_selected(
    paths: &[PathBuf],
    base: Option<&Path>,
    strict: bool,
    selection: &Selection<'_>,
) -> Option<Plan> {
    let inputs = match inputs::load(paths) {
        Ok(inputs) => inputs,
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            return None;
        }
    };
    let inputs::Inputs { resources, sources } = inputs;
    let mut targets: Vec<Target> = Vec::new();
    let mut per_pod: BTreeMap<ResourceRef, Vec<ConfigOverride>> = BTreeMap::new();
    let mut fragments: Vec<Fragment> = Vec::with_capacity(resources.len());
    // The KollaConfigs themselves are kept for the lints over their output (few and small).
    let mut configs: BTreeMap<kollacfg_render::ResourceRef, KollaConfig> = BTreeMap::new();
    // Each fragment is dropped as soon as it is converted: the engine's model is all that is
    // kept, which halves peak memory on large inputs.
    for r in resources {
        match r {
            AnyResource::KollaConfig(kc) => {
                let target = kollacfg_api::to_target(&kc);
                per_pod.insert(target.id.clone(), kollacfg_api::to_per_pod(&kc));
                configs.insert(target.id.clone(), kc);
                targets.push(target);
            }
            other => fragments.extend(kollacfg_api::to_fragment(&other)),
        }
    }
    let (assigned, mut issues) = assign(&targets, &fragments);
    let mut planned = Vec::new();
    let mut services: BTreeMap<&str, &kollacfg_render::ResourceRef> = BTreeMap::new();
    for target in targets.iter().filter(|t| selection.keeps(t)) {
        let one_per_service = matches!(selection, Selection::All);
        if let Some(first) = services
            .insert(&target.service, &target.id)
            .filter(|_| one_per_service)
        {
            issues.push(Issue::new(
                &target.id,
                "spec.service",
                format!(
                    "{first} renders service {:?} too; offline, one KollaConfig per service directory",
                    target.service
                ),
            ));
            continue;
        }
        // The name becomes a path under --base and --out: checked before anything is opened.
        if let Err(reason) = kollacfg_render::validate::service_name(&target.service) {
            issues.push(Issue::new(&target.id, "spec.service", reason));
            continue;
        }
        let base_files = match inputs::base_files(base, &target.service) {
            Ok(files) => files,
            Err(e) => {
                issues.push(Issue::new(&target.id, "base", e));
                continue;
            }
        };
        let frags = assigned.get(&target.id).cloned().unwrap_or_default();
        let items = per_pod.get(&target.id).map_or(&[][..], Vec::as_slice);
        match render_target_per_pod(target, items, &frags, &base_files.files) {
            Ok(output) => {
                if let Err(issue) = base_kept(target, &base_files, &output) {
                    issues.push(issue);
                    continue;
                }
                let host_values = configs
                    .get(&target.id)
                    .map(|kc| kollacfg_api::host_values(kc, &output.files))
                    .unwrap_or_default();
                planned.push(Planned {
                    service: target.service.clone(),
                    base: base_files.files,
                    base_modes: base_files.modes,
                    output,
                    host_values,
                })
            }
            Err(found) => issues.extend(found),
        }
    }
    issues.sort();
    issues.dedup();
    let mut failed = !issues.is_empty();
    for issue in &issues {
        eprintln!("error: {}", crate::report::locate(issue, &sources));
    }
    planned.sort_by(|a, b| a.service.cmp(&b.service));
    let conflicts = crate::report::warn_conflicts(&planned, &sources, strict);
    if strict && conflicts > 0 {
        eprintln!("error: {conflicts} conflict(s) and --strict is set");
        failed = true;
    }
    let host_values = crate::report::warn_host_values(&planned, &sources, strict);
    if strict && host_values > 0 {
        eprintln!("error: {host_values} host-specific value(s) and --strict is set");
        failed = true;
    }
    if failed {
        return None;
    }
    Some(Plan {
        targets: planned,
        fragment_count: fragments.len(),
    })
}

impl Plan {
    /// Turns every target's shared files into one pod's (`--pod`): its per-pod edits applied
    /// for `facts`, no manifest. Prints every error; `false` when there was any.
    pub fn for_pod(&mut self, facts: &Facts) -> bool {
        let mut ok = true;
        for t in &mut self.targets {
            match materialize(&t.output.files, facts) {
                Ok(pod) => t.output.files = pod.files,
                Err(errors) => {
                    ok = false;
                    for e in errors {
                        eprintln!("error: {}: {}/{e}", t.output.target, t.service);
                    }
                }
            }
        }
        ok
    }
}

/// Every file the fragments edit must come from the base when a base is given: an edited file
/// missing from `--base DIR/<service>` is an error naming its path, never a file holding only
/// the fragments' items. Without `--base` (the deliberate "no base") it is a warning naming
/// the target.
fn base_kept(target: &Target, base: &inputs::Base, output: &TargetOutput) -> Result<(), Issue> {
    let edited: std::collections::BTreeSet<&str> =
        output.items.iter().map(|i| i.file.as_ref()).collect();
    let missing: Vec<&str> = edited
        .into_iter()
        .filter(|f| !base.files.contains_key(*f))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    match &base.dir {
        Some(dir) => Err(Issue::new(
            &target.id,
            format!("base {}", missing[0]),
            format!(
                "{}: missing; the fragments edit it and --base is given, so it is expected \
                 (an empty file starts from nothing)",
                dir.join(missing[0]).display()
            ),
        )),
        None => {
            eprintln!(
                "warning: {}: no --base: {} written from the fragments' items alone",
                target.id,
                missing.join(", ")
            );
            Ok(())
        }
    }
}
