//! Where each rollout workload stands, read from the workload and its pods as the API server
//! reports them: the counts, whether the rollout is complete, whether a pod of the new
//! revision is failing, whether progress stopped for longer than the deadline. Also the
//! `RolledOut` condition over all workloads and the files that changed between two outputs.
//! Pure: the objects and the time are inputs.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kollacfg_api::{RolloutState, WorkloadKind, WorkloadRollout, CONDITION_ROLLED_OUT};
use serde_json::Value;

use crate::apply::{RolloutPlan, Step, Workload};
use crate::build::ANNOTATION_CONFIG_HASH;
use crate::conditions::{Desired, State};

/// How often a KollaConfig whose rollout is under way is looked at again, to find failing pods
/// (pods are not watched, and a crash-looping pod does not change its workload's counts).
pub const POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// How many failing pods a message names before "and N more".
const MAX_PODS: usize = 3;

/// A workload's counts as its controller reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Pods wanted.
    pub desired: i32,
    /// Pods on the current template.
    pub updated: i32,
    /// Pods ready.
    pub ready: i32,
    /// The workload's controller has seen the current template, every pod runs it and is
    /// ready (available), and no pod of an older template is left.
    pub complete: bool,
}

fn int(value: &Value) -> i32 {
    value
        .as_i64()
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(0)
}

/// The counts of `workload` (a Deployment, StatefulSet or DaemonSet as JSON).
pub fn progress(kind: WorkloadKind, workload: &Value) -> Progress {
    let status = &workload["status"];
    let observed = status["observedGeneration"].as_i64().unwrap_or(0)
        >= workload["metadata"]["generation"].as_i64().unwrap_or(0);
    let replicas = || {
        if workload["spec"]["replicas"].is_null() {
            1
        } else {
            int(&workload["spec"]["replicas"])
        }
    };
    match kind {
        WorkloadKind::Deployment => {
            let desired = replicas();
            let updated = int(&status["updatedReplicas"]);
            let ready = int(&status["readyReplicas"]);
            let available = int(&status["availableReplicas"]);
            let total = int(&status["replicas"]);
            Progress {
                desired,
                updated,
                ready,
                complete: observed
                    && updated == desired
                    && total == desired
                    && available == desired,
            }
        }
        WorkloadKind::StatefulSet => {
            let desired = replicas();
            let updated = int(&status["updatedReplicas"]);
            let ready = int(&status["readyReplicas"]);
            let revisions_agree = match (
                status["currentRevision"].as_str(),
                status["updateRevision"].as_str(),
            ) {
                (Some(current), Some(update)) => current == update,
                _ => true,
            };
            Progress {
                desired,
                updated,
                ready,
                complete: observed && revisions_agree && updated == desired && ready == desired,
            }
        }
        WorkloadKind::DaemonSet => {
            let desired = int(&status["desiredNumberScheduled"]);
            let updated = int(&status["updatedNumberScheduled"]);
            let ready = int(&status["numberReady"]);
            let available = int(&status["numberAvailable"]);
            Progress {
                desired,
                updated,
                ready,
                complete: observed && updated == desired && available == desired,
            }
        }
    }
}

/// Why `pod` is failing, if it is: a container waiting in `CrashLoopBackOff` or another
/// error state, a container that last ended in error, an init container that failed. Names
/// the container, the reason and the exit code where there is one.
pub fn pod_failure(pod: &Value) -> Option<String> {
    const WAITING: [&str; 7] = [
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
    ];
    let status = &pod["status"];
    let exit = |terminated: &Value| {
        terminated["exitCode"]
            .as_i64()
            .map_or(String::new(), |c| format!(", exit code {c}"))
    };
    let failing = |container: &Value, init: bool| -> Option<String> {
        let name = container["name"].as_str().unwrap_or("?");
        let what = if init { "init container" } else { "container" };
        let state = &container["state"];
        let last = &container["lastState"]["terminated"];
        if let Some(reason) = state["waiting"]["reason"].as_str() {
            if WAITING.contains(&reason) {
                let detail = if last.is_object() {
                    format!(
                        " (last ended: {}{})",
                        last["reason"].as_str().unwrap_or("terminated"),
                        exit(last)
                    )
                } else {
                    String::new()
                };
                return Some(format!("{what} {name} {reason}{detail}"));
            }
        }
        let terminated = &state["terminated"];
        let code = terminated["exitCode"].as_i64();
        let failed = if init {
            code.is_some_and(|c| c != 0)
        } else {
            terminated["reason"] == "Error" || (code.is_some_and(|c| c != 0))
        };
        failed.then(|| {
            format!(
                "{what} {name} {}{}",
                terminated["reason"].as_str().unwrap_or("Error"),
                exit(terminated)
            )
        })
    };
    let list = |key: &str| status[key].as_array().cloned().unwrap_or_default();
    list("initContainerStatuses")
        .iter()
        .find_map(|c| failing(c, true))
        .or_else(|| {
            list("containerStatuses")
                .iter()
                .find_map(|c| failing(c, false))
        })
}

/// The failing pods among `pods` that run the template carrying config hash `hash`, as
/// "pod <name>: <why>", at most a few named.
pub fn failing_pods(pods: &[Value], hash: &str) -> Option<String> {
    let failures: Vec<String> = pods
        .iter()
        .filter(|p| p["metadata"]["annotations"][ANNOTATION_CONFIG_HASH] == hash)
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| {
            let why = pod_failure(p)?;
            Some(format!(
                "pod {}: {why}",
                p["metadata"]["name"].as_str().unwrap_or("?")
            ))
        })
        .collect();
    if failures.is_empty() {
        return None;
    }
    let mut message = failures
        .iter()
        .take(MAX_PODS)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if failures.len() > MAX_PODS {
        message.push_str(&format!("; and {} more", failures.len() - MAX_PODS));
    }
    Some(message)
}

/// The names of the files that differ between `before` and `after` (added, removed or
/// changed), sorted. kollacfg's own manifest of per-pod edits counts as a file.
pub fn changed_files(
    before: Option<&BTreeMap<String, Vec<u8>>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let empty = BTreeMap::new();
    let before = before.unwrap_or(&empty);
    let mut names: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|name| before.get(*name) != after.get(*name))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What a workload on the current template is doing, given its counts, its failing pods (if
/// any) and its previous record: `Complete`, `Stuck` (a pod failing, or no progress for
/// longer than `deadline_seconds`) or `Progressing`. Fills the record's counts, state,
/// progress time and message.
pub fn observe(
    record: &mut WorkloadRollout,
    previous: Option<&WorkloadRollout>,
    progress: Progress,
    failing: Option<String>,
    deadline_seconds: u32,
    now: &Time,
) {
    let now = crate::conditions::whole_seconds(now);
    let same_rollout = previous.filter(|p| p.config_hash == record.config_hash);
    let since = match same_rollout {
        // A new rollout: its progress counts from when the template was changed.
        None => record.started_time.clone().unwrap_or_else(|| now.clone()),
        Some(p)
            if p.updated_replicas != Some(progress.updated)
                || p.ready_replicas != Some(progress.ready) =>
        {
            now.clone()
        }
        Some(p) => p.last_progress_time.clone().unwrap_or_else(|| now.clone()),
    };
    record.desired_replicas = Some(progress.desired);
    record.updated_replicas = Some(progress.updated);
    record.ready_replicas = Some(progress.ready);
    let idle = now.0.as_second() - since.0.as_second();
    record.last_progress_time = Some(since);
    let files = if record.changed_files.is_empty() {
        String::new()
    } else {
        format!(
            "; files changed in this revision: {}",
            record.changed_files.join(", ")
        )
    };
    let (state, message) = if progress.complete {
        (RolloutState::Complete, None)
    } else if let Some(failing) = failing {
        (RolloutState::Stuck, Some(format!("{failing}{files}")))
    } else if idle > i64::from(deadline_seconds) {
        (
            RolloutState::Stuck,
            Some(format!(
                "no progress for more than {deadline_seconds}s: {} of {} pods updated, {} \
                 ready{files}",
                progress.updated, progress.desired, progress.ready
            )),
        )
    } else {
        (RolloutState::Progressing, None)
    };
    record.state = Some(state);
    record.message = message;
}

/// The files of the output a workload mounted before, by the version its template names
/// (versioned mode) or, with `None`, the output as stored before this pass.
pub type FilesBefore<'a> = dyn Fn(Option<&str>) -> Option<BTreeMap<String, Vec<u8>>> + 'a;

/// The record of one workload after this pass (`status.rollout[]`), from its step, its pods
/// (read only while a rollout on the current template is not complete), the current files
/// and what was rolled out before.
pub fn record(
    workload: &Workload,
    plan: &RolloutPlan<'_>,
    pods: &[Value],
    files: &BTreeMap<String, Vec<u8>>,
    before: &FilesBefore<'_>,
    now: &Time,
) -> WorkloadRollout {
    let kind = workload.entry.kind;
    let previous = plan
        .previous
        .iter()
        .find(|r| r.kind == kind.as_str() && r.name == workload.entry.name);
    let counts = workload.object.as_ref().map(|o| progress(kind, o));
    let template_hash = workload.object.as_ref().and_then(|o| {
        o["spec"]["template"]["metadata"]["annotations"][ANNOTATION_CONFIG_HASH]
            .as_str()
            .map(str::to_string)
    });
    let fresh = |hash: Option<String>, version: Option<String>| WorkloadRollout {
        kind: kind.as_str().to_string(),
        name: workload.entry.name.clone(),
        config_hash: hash,
        version,
        ..WorkloadRollout::default()
    };
    let counted = |mut r: WorkloadRollout| {
        r.desired_replicas = counts.map(|p| p.desired);
        r.updated_replicas = counts.map(|p| p.updated);
        r.ready_replicas = counts.map(|p| p.ready);
        r
    };
    let newest = plan
        .version
        .map_or_else(|| short(plan.hash), |(v, _)| v.to_string());
    match &workload.step {
        Step::Missing => {
            let mut r = counted(previous.cloned().unwrap_or_else(|| fresh(None, None)));
            r.state = Some(RolloutState::Missing);
            r.message = Some(format!(
                "{kind}/{} not found",
                workload.entry.name,
                kind = kind.as_str()
            ));
            r
        }
        Step::Held { mounted } => {
            let mut r = counted(
                previous
                    .filter(|p| p.config_hash == template_hash)
                    .cloned()
                    .unwrap_or_else(|| fresh(template_hash.clone(), mounted.clone())),
            );
            if mounted.is_some() {
                r.version.clone_from(mounted);
            }
            let on = mounted
                .clone()
                .or_else(|| template_hash.as_deref().map(short))
                .unwrap_or_else(|| "its current files".to_string());
            r.state = Some(RolloutState::Paused);
            r.message = Some(format!(
                "paused: the pod template stays on {on}; the newest output is {newest}"
            ));
            r
        }
        Step::RolledBack { mounted } => {
            let mut r = counted(
                previous
                    .cloned()
                    .unwrap_or_else(|| fresh(Some(plan.hash.to_string()), None)),
            );
            r.version.clone_from(mounted);
            r.state = Some(RolloutState::RolledBack);
            r.message = Some(format!(
                "rolled back by hand to {}; left there until the next change",
                mounted.as_deref().unwrap_or("an older output")
            ));
            r
        }
        Step::Move { volume, mounted } => {
            let now = crate::conditions::whole_seconds(now);
            let mut r = fresh(
                Some(plan.hash.to_string()),
                volume.as_ref().map(|(_, v, _)| v.clone()),
            );
            r.started_time = Some(now.clone());
            r.last_progress_time = Some(now);
            r.changed_files = changed_files(before(mounted.as_deref()).as_ref(), files);
            r.state = Some(RolloutState::Progressing);
            r
        }
        Step::Current { mounted } => {
            let mut r = previous
                .filter(|p| p.config_hash.as_deref() == Some(plan.hash))
                .cloned()
                .unwrap_or_else(|| fresh(Some(plan.hash.to_string()), None));
            if mounted.is_some() {
                r.version.clone_from(mounted);
            }
            let counts = counts.unwrap_or_default();
            let failing = if counts.complete {
                None
            } else {
                failing_pods(pods, plan.hash)
            };
            let deadline = plan.target.spec.progress_deadline_seconds();
            observe(&mut r, previous, counts, failing, deadline, now);
            r
        }
    }
}

/// The first 12 hex digits of a hash, as "config hash …".
pub fn short(hash: &str) -> String {
    format!("config hash {}", &hash[..hash.len().min(12)])
}

/// The `RolledOut` condition over the records of every rollout workload: `True` when each is
/// `Complete`; else `False` with the reason of the worst state (stuck, then missing, rolled
/// back, paused, progressing), naming the workloads.
pub fn rolled_out(records: &[WorkloadRollout], version: &str) -> Desired {
    let of = |state: RolloutState| -> Vec<&WorkloadRollout> {
        records.iter().filter(|r| r.state == Some(state)).collect()
    };
    let describe = |list: &[&WorkloadRollout]| -> String {
        list.iter()
            .map(|r| match &r.message {
                Some(m) => format!("{}/{}: {m}", r.kind, r.name),
                None => format!("{}/{}", r.kind, r.name),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let order = [
        (RolloutState::Stuck, "RolloutStuck"),
        (RolloutState::Missing, "WorkloadNotFound"),
        (RolloutState::RolledBack, "RolledBack"),
        (RolloutState::Paused, "Paused"),
        (RolloutState::Progressing, "Progressing"),
    ];
    for (state, reason) in order {
        let list = of(state);
        if list.is_empty() {
            continue;
        }
        let message = match state {
            RolloutState::Progressing => format!(
                "rolling out {version}: {}",
                list.iter()
                    .map(|r| format!(
                        "{}/{} {} of {} updated, {} ready",
                        r.kind,
                        r.name,
                        r.updated_replicas.unwrap_or(0),
                        r.desired_replicas.unwrap_or(0),
                        r.ready_replicas.unwrap_or(0)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            _ => describe(&list),
        };
        return Desired::new(CONDITION_ROLLED_OUT, State::False, reason, message);
    }
    Desired::new(
        CONDITION_ROLLED_OUT,
        State::True,
        "RolledOut",
        format!(
            "{} workload(s) run {version} with every pod ready",
            records.len()
        ),
    )
}

/// Whether a rollout is under way (or waiting to be seen through) for one of `records`, so
/// the KollaConfig is looked at again after [`POLL`]. An undo by hand replaces pods too: it is
/// followed until every pod is updated and ready, so its record does not keep the counts of
/// the moment the undo was first seen.
pub fn under_way(records: &[WorkloadRollout]) -> bool {
    records.iter().any(|r| match r.state {
        Some(RolloutState::Progressing | RolloutState::Stuck) => true,
        Some(RolloutState::RolledBack) => {
            r.updated_replicas != r.desired_replicas || r.ready_replicas != r.desired_replicas
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests;
