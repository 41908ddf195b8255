//! Statuses from a render's outcome: the KollaConfig's (conditions, files, contributors) and
//! each fragment's (Ready, Invalid, Conflicted). Deterministic: sorted lists, and timestamps
//! that move only on a transition. Names, sizes and hashes only; never a file's content.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kollacfg_api::kolla_config::MAX_STATUS_CONTRIBUTORS;
use kollacfg_api::{
    FileStatus, FragmentStatus, KollaConfig, KollaConfigStatus, CONDITION_CONFLICTED,
    CONDITION_DEGRADED, CONDITION_HOST_SPECIFIC_VALUE, CONDITION_INVALID, CONDITION_READY,
};
use kollacfg_render::render::TargetOutput;
use kollacfg_render::{Issue, ResourceRef};

use super::{Degraded, MAX_OUTPUT_BYTES};
use crate::conditions::{merge, resolve, Desired, State};
use crate::hash::sha256_hex;

/// How many problems a condition message lists before "and N more".
const MAX_LISTED: usize = 10;

/// How many literal per-host values the `HostSpecificValue` message spells out in full (with
/// their `perPod` fix) before naming the rest only.
const MAX_HOST_VALUES_DETAILED: usize = 3;

/// The outcome of rendering one KollaConfig.
#[derive(Clone, Debug, PartialEq)]
pub enum Rendered {
    /// Rendered and small enough to write.
    Ok(Box<TargetOutput>),
    /// Rendered, but over [`MAX_OUTPUT_BYTES`] (total size attached): not written.
    TooLarge(Box<TargetOutput>, usize),
    /// The engine refused the inputs.
    Invalid(Vec<Issue>),
    /// The base object is missing.
    BaseMissing {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
}

impl Rendered {
    /// Why the output is not current, if it is not.
    pub fn degraded(&self) -> Option<Degraded> {
        match self {
            Self::Ok(_) => None,
            Self::TooLarge(_, size) => Some(Degraded::OutputTooLarge(*size)),
            Self::BaseMissing { .. } => Some(Degraded::BaseMissing),
            Self::Invalid(issues) if issues.iter().any(|i| i.resource.kind != "KollaConfig") => {
                Some(Degraded::InvalidFragments)
            }
            Self::Invalid(_) => Some(Degraded::InvalidBase),
        }
    }
}

/// The KollaConfig's status after `rendered`. When nothing is written, the file list and the
/// contributors stay those of the previous status: they describe the output still in place.
pub fn target_status(kc: &KollaConfig, rendered: &Rendered, now: &Time) -> KollaConfigStatus {
    let previous = kc.status.clone().unwrap_or_default();
    let generation = kc.metadata.generation;
    let kind = kc.spec.output.kind.as_str();
    let output = kc.output_name();
    let (files, contributors, contributor_count, desired) = match rendered {
        Rendered::Ok(out) => {
            let files: Vec<FileStatus> = out
                .files
                .iter()
                .map(|(name, content)| FileStatus {
                    name: name.clone(),
                    size: content.len() as i64,
                    sha256: sha256_hex(content),
                })
                .collect();
            let mut names: Vec<String> = out.contributors.iter().map(|r| r.kind_name()).collect();
            names.sort();
            let count = names.len() as i64;
            names.truncate(MAX_STATUS_CONTRIBUTORS);
            let message = format!(
                "{} file(s) from {count} contributing fragment(s) are in {kind} {output}",
                files.len()
            );
            let mut desired = vec![
                Desired::new(CONDITION_READY, State::True, "Rendered", message),
                Desired::new(
                    CONDITION_DEGRADED,
                    State::False,
                    "Rendered",
                    "the output holds the current render",
                ),
            ];
            desired.extend(host_specific_value(kc, out));
            (files, names, count, desired)
        }
        other => {
            let why = other.degraded().expect("only Ok is not degraded");
            let message = degraded_message(other, kind, &output);
            let desired = vec![
                Desired::new(CONDITION_READY, State::False, why.reason(), message.clone()),
                Desired::new(CONDITION_DEGRADED, State::True, why.reason(), message),
            ];
            (
                previous.files.clone(),
                previous.contributors.clone(),
                previous.contributor_count,
                desired,
            )
        }
    };
    let mut conditions = resolve(desired, &previous.conditions, generation, now);
    if !matches!(rendered, Rendered::Ok(_)) {
        // The output in place is unchanged, and so is what is to say about its values.
        let carried = [CONDITION_HOST_SPECIFIC_VALUE];
        merge(
            &mut conditions,
            Vec::new(),
            &carried,
            &previous.conditions,
            generation,
            now,
        );
    }
    KollaConfigStatus {
        observed_generation: generation,
        conditions,
        files,
        contributors,
        contributor_count,
        broker: previous.broker,
        output_version: previous.output_version,
        rollout: previous.rollout,
    }
}

/// `HostSpecificValue` True (reason `LiteralHostValue`) when the output holds literal per-host
/// values in a target rolled out to a DaemonSet or a StatefulSet; nothing when it holds none.
/// The message spells out the first few with their `perPod` fix and names the rest.
fn host_specific_value(kc: &KollaConfig, out: &TargetOutput) -> Option<Desired> {
    let found = kollacfg_api::host_values(kc, &out.files);
    let first = found.first()?;
    let detailed: Vec<String> = found
        .iter()
        .take(MAX_HOST_VALUES_DETAILED)
        .map(|v| format!("{} ({})", v.item_and_value(), v.per_pod))
        .collect();
    let rest: Vec<String> = found
        .iter()
        .skip(MAX_HOST_VALUES_DETAILED)
        .take(MAX_LISTED)
        .map(|v| v.item_text())
        .collect();
    let mut message = format!(
        "{} literal per-host value(s) in files every pod of {} reads; set them per pod: {}",
        found.len(),
        first.shared_by,
        detailed.join("; ")
    );
    if !rest.is_empty() {
        message.push_str(&format!("; also {}", rest.join(", ")));
        let more = found.len() - MAX_HOST_VALUES_DETAILED - rest.len();
        if more > 0 {
            message.push_str(&format!(" (and {more} more)"));
        }
    }
    Some(Desired::new(
        CONDITION_HOST_SPECIFIC_VALUE,
        State::True,
        "LiteralHostValue",
        message,
    ))
}

/// The KollaConfig's status after writing its output failed (`reason`: the error's variant
/// name): Ready False and Degraded True with `message`; files and contributors stay those of
/// the output still in place.
pub fn write_failed_status(
    kc: &KollaConfig,
    reason: &'static str,
    message: &str,
    now: &Time,
) -> KollaConfigStatus {
    let previous = kc.status.clone().unwrap_or_default();
    let generation = kc.metadata.generation;
    let message = format!(
        "{message}; the {} {} is left as it is (if any)",
        kc.spec.output.kind.as_str(),
        kc.output_name()
    );
    let desired = vec![
        Desired::new(CONDITION_READY, State::False, reason, message.clone()),
        Desired::new(CONDITION_DEGRADED, State::True, reason, message),
    ];
    KollaConfigStatus {
        observed_generation: generation,
        conditions: resolve(desired, &previous.conditions, generation, now),
        ..previous
    }
}

fn degraded_message(rendered: &Rendered, kind: &str, output: &str) -> String {
    let keeps = format!("the {kind} {output} is left as it is (if any)");
    match rendered {
        Rendered::Ok(_) => String::new(),
        Rendered::TooLarge(_, size) => format!(
            "the rendered files total {size} bytes, over the {MAX_OUTPUT_BYTES}-byte (1 MiB) \
             limit of a {kind}; {keeps}"
        ),
        Rendered::BaseMissing { kind: base, name } => {
            format!("base {base} {name:?} (spec.base) not found; {keeps}")
        }
        Rendered::Invalid(issues) => {
            let listed: Vec<String> = issues
                .iter()
                .take(MAX_LISTED)
                .map(|i| format!("{}: {}: {}", i.resource.kind_name(), i.field, i.reason))
                .collect();
            let more = issues.len().saturating_sub(MAX_LISTED);
            let tail = if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            };
            format!(
                "{} invalid input(s): {}{tail}; {keeps}",
                issues.len(),
                listed.join("; ")
            )
        }
    }
}

fn valid() -> Desired {
    Desired::new(
        CONDITION_INVALID,
        State::False,
        "Valid",
        "the engine accepts its values",
    )
}

/// The status of fragment `id` of `kc` after `rendered`; `previous` are its stored conditions.
pub fn fragment_status(
    id: &ResourceRef,
    kc: &KollaConfig,
    rendered: &Rendered,
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
) -> FragmentStatus {
    let target = kc.metadata.name.as_deref().unwrap_or_default();
    let not_rendered = || {
        let why = rendered.degraded().map_or("", |d| d.reason());
        Desired::new(
            CONDITION_READY,
            State::False,
            "TargetDegraded",
            format!("KollaConfig {target} was not written ({why}); see its Degraded condition"),
        )
    };
    let unknown = |type_| {
        Desired::new(
            type_,
            State::Unknown,
            "NotRendered",
            "not evaluated: the target was not rendered",
        )
    };
    let desired = match rendered {
        Rendered::Ok(out) | Rendered::TooLarge(out, _) => {
            let mut with: Vec<String> = out
                .conflicts
                .iter()
                .filter_map(|c| {
                    let other = if &c.winner == id {
                        &c.loser
                    } else if &c.loser == id {
                        &c.winner
                    } else {
                        return None;
                    };
                    Some(format!("{} on {} {}", other.kind_name(), c.file, c.item))
                })
                .collect();
            with.sort();
            with.dedup();
            let conflicted = if with.is_empty() {
                Desired::new(
                    CONDITION_CONFLICTED,
                    State::False,
                    "NoConflict",
                    "no other fragment sets its items at its precedence to other values",
                )
            } else {
                Desired::new(
                    CONDITION_CONFLICTED,
                    State::True,
                    "Conflict",
                    format!(
                        "same precedence, different value: with {}; raise one precedence to \
                         settle it",
                        with.join("; with ")
                    ),
                )
            };
            let lost = out.conflicts.iter().any(|c| &c.loser == id);
            let ready = if matches!(rendered, Rendered::TooLarge(..)) {
                not_rendered()
            } else if out.contributors.contains(id) {
                Desired::new(
                    CONDITION_READY,
                    State::True,
                    "Applied",
                    format!(
                        "its items are in {} {}",
                        kc.spec.output.kind.as_str(),
                        kc.output_name()
                    ),
                )
            } else if lost {
                Desired::new(
                    CONDITION_READY,
                    State::False,
                    "ConflictLost",
                    "every item it sets went to a fragment it conflicts with",
                )
            } else {
                Desired::new(
                    CONDITION_READY,
                    State::True,
                    "Overridden",
                    "it sets no item that a fragment of higher precedence (or the KollaConfig's spec.perPod) \
                     does not set",
                )
            };
            vec![ready, valid(), conflicted]
        }
        Rendered::Invalid(issues) => {
            let mine: Vec<String> = issues
                .iter()
                .filter(|i| &i.resource == id)
                .map(|i| format!("{}: {}", i.field, i.reason))
                .collect();
            if mine.is_empty() {
                vec![not_rendered(), valid(), unknown(CONDITION_CONFLICTED)]
            } else {
                vec![
                    Desired::new(
                        CONDITION_READY,
                        State::False,
                        "Invalid",
                        "see the Invalid condition",
                    ),
                    Desired::new(
                        CONDITION_INVALID,
                        State::True,
                        "InvalidSpec",
                        mine.join("; "),
                    ),
                    unknown(CONDITION_CONFLICTED),
                ]
            }
        }
        Rendered::BaseMissing { .. } => vec![
            not_rendered(),
            unknown(CONDITION_INVALID),
            unknown(CONDITION_CONFLICTED),
        ],
    };
    FragmentStatus {
        observed_generation: generation,
        conditions: resolve(desired, previous, generation, now),
    }
}

/// The status of a fragment whose `kollaConfigRef` names no KollaConfig in its namespace: not
/// Ready (`TargetNotFound`), validity and conflicts unknown until the target exists.
pub fn orphan_status(
    target: &str,
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
) -> FragmentStatus {
    let unknown = |type_| {
        Desired::new(
            type_,
            State::Unknown,
            "TargetNotFound",
            "not evaluated: the KollaConfig it names does not exist",
        )
    };
    let desired = vec![
        Desired::new(
            CONDITION_READY,
            State::False,
            "TargetNotFound",
            format!("no KollaConfig named {target:?} in this namespace; waiting for it"),
        ),
        unknown(CONDITION_INVALID),
        unknown(CONDITION_CONFLICTED),
    ];
    FragmentStatus {
        observed_generation: generation,
        conditions: resolve(desired, previous, generation, now),
    }
}
