//! What the CLI prints: errors located in their input file, conflict warnings, summaries and
//! unified diffs. Errors and warnings go to stderr; diffs to stdout.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kollacfg_render::{Issue, ResourceRef};

use crate::plan::{Plan, Planned};
use crate::stdout::{out, outln};
use crate::write::Stats;

/// `FILE: Kind namespace/name: field: reason`.
pub fn locate(issue: &Issue, sources: &BTreeMap<ResourceRef, PathBuf>) -> String {
    match sources.get(&issue.resource) {
        Some(file) => format!("{}: {issue}", file.display()),
        None => issue.to_string(),
    }
}

/// Prints the lines `lines` gives for each target as warnings (errors under `strict`); returns
/// how many.
fn warn_each(planned: &[Planned], strict: bool, lines: impl Fn(&Planned) -> Vec<String>) -> usize {
    let level = if strict { "error" } else { "warning" };
    let mut count = 0;
    for line in planned.iter().flat_map(lines) {
        count += 1;
        eprintln!("{level}: {line}");
    }
    count
}

/// Prints every conflict as a warning (an error line under `strict`); returns how many.
pub fn warn_conflicts(
    planned: &[Planned],
    sources: &BTreeMap<ResourceRef, PathBuf>,
    strict: bool,
) -> usize {
    let file_of = |r: &ResourceRef| {
        sources
            .get(r)
            .map(|f| format!(" ({})", f.display()))
            .unwrap_or_default()
    };
    warn_each(planned, strict, |p| {
        p.output
            .conflicts
            .iter()
            .map(|c| {
                format!(
                    "conflict in {}/{} ({}): {}{} and {}{} set different values at the same precedence; {} applies",
                    p.service,
                    c.file,
                    c.item,
                    c.winner,
                    file_of(&c.winner),
                    c.loser,
                    file_of(&c.loser),
                    c.winner.kind_name(),
                )
            })
            .collect()
    })
}

/// Prints every `HostSpecificValue` as a warning (an error line under `strict`), naming the
/// KollaConfig and its input file; returns how many.
pub fn warn_host_values(
    planned: &[Planned],
    sources: &BTreeMap<ResourceRef, PathBuf>,
    strict: bool,
) -> usize {
    warn_each(planned, strict, |p| {
        let target = &p.output.target;
        let file = sources
            .get(target)
            .map(|f| format!("{}: ", f.display()))
            .unwrap_or_default();
        p.host_values
            .iter()
            .map(|v| format!("{file}{target}: HostSpecificValue: {}/{v}", p.service))
            .collect()
    })
}

fn totals(plan: &Plan) -> (usize, usize) {
    let files = plan.targets.iter().map(|t| t.output.files.len()).sum();
    let conflicts = plan.targets.iter().map(|t| t.output.conflicts.len()).sum();
    (files, conflicts)
}

/// The closing line of a successful `render`.
pub fn summary(plan: &Plan, stats: &Stats) {
    let (files, conflicts) = totals(plan);
    let applied: usize = plan
        .targets
        .iter()
        .map(|t| t.output.contributors.len())
        .sum();
    eprintln!(
        "rendered {} target(s): {files} file(s) written ({} changed), {applied} of {} fragment(s) applied, {conflicts} conflict(s)",
        plan.targets.len(),
        stats.changed,
        plan.fragment_count,
    );
}

/// Prints, per target and item, the fragment whose value applies and the ones that lost, to
/// stdout. Values are left out: a ConfigOverride may carry credentials.
pub fn items(plan: &Plan) {
    for t in &plan.targets {
        outln!(
            "{} (service {}): {} item(s) from {} of {} fragment(s)",
            t.output.target,
            t.service,
            t.output.items.len(),
            t.output.contributors.len(),
            t.output.fragments.len()
        );
        for item in &t.output.items {
            let mut line = format!(
                "  {}: {}: {} ({})",
                item.file,
                item.item,
                item.winner.kind_name(),
                item.field
            );
            if !item.conflicts.is_empty() {
                let names: Vec<String> = item.conflicts.iter().map(|r| r.kind_name()).collect();
                line.push_str(&format!("; conflicts with {}", names.join(", ")));
            }
            if !item.overridden.is_empty() {
                let names: Vec<String> = item.overridden.iter().map(|r| r.kind_name()).collect();
                line.push_str(&format!("; overrides {}", names.join(", ")));
            }
            outln!("{line}");
        }
    }
}

/// The closing line of a successful `validate`.
pub fn validated(plan: &Plan) {
    let (files, conflicts) = totals(plan);
    eprintln!(
        "valid: {} target(s), {} fragment(s), {files} file(s), {conflicts} conflict(s)",
        plan.targets.len(),
        plan.fragment_count,
    );
}

/// Prints a unified diff of every file that rendering would change; true when any would.
pub fn diff(plan: &Plan) -> bool {
    let mut changed = 0;
    for t in &plan.targets {
        for (name, new) in &t.output.files {
            let old = t.base.get(name);
            if old == Some(new) {
                continue;
            }
            changed += 1;
            let old_text = old.map(|b| String::from_utf8_lossy(b)).unwrap_or_default();
            let new_text = String::from_utf8_lossy(new);
            let old_name = match old {
                Some(_) => format!("a/{}/{name}", t.service),
                None => "/dev/null".to_string(),
            };
            let text = similar::TextDiff::from_lines(old_text.as_ref(), new_text.as_ref())
                .unified_diff()
                .context_radius(3)
                .header(&old_name, &format!("b/{}/{name}", t.service))
                .to_string();
            out!("{text}");
            if !text.ends_with('\n') {
                outln!();
            }
        }
    }
    eprintln!(
        "{changed} file(s) would change in {} target(s)",
        plan.targets.len()
    );
    changed > 0
}
