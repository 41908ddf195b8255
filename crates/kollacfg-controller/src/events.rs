//! Kubernetes Events on transitions only: a KollaConfig's Ready condition changing, its output
//! rewritten, a rollout triggered, a fragment becoming Invalid or Conflicted. Deciding which
//! events to send is pure; sending them never fails a reconcile. Messages carry names, sizes
//! and hashes, never a file's content.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kollacfg_api::{
    AnyResource, KollaConfig, RolloutState, WorkloadRollout, API_VERSION, CONDITION_BROKER_SYNCED,
    CONDITION_CONFLICTED, CONDITION_HOST_SPECIFIC_VALUE, CONDITION_INVALID, CONDITION_LIVE,
    CONDITION_READY,
};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::Resource;

use crate::build::{fragment_previous, Built};
use crate::conditions::transitioned;

/// One event to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// The object the event is about.
    pub regarding: ObjectReference,
    /// Normal or Warning.
    pub warning: bool,
    /// CamelCase reason.
    pub reason: String,
    /// What happened, for `kubectl describe`.
    pub note: String,
}

fn fragment_ref(fragment: &AnyResource) -> ObjectReference {
    let meta = fragment.metadata();
    ObjectReference {
        api_version: Some(API_VERSION.to_string()),
        kind: Some(fragment.kind().to_string()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        ..ObjectReference::default()
    }
}

fn find<'a>(list: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    list.iter().find(|c| c.type_ == type_)
}

/// The events of the rollout records: a rollout started (from which output to which, the
/// files that changed), completed, stuck (a warning naming why), rolled back by hand.
fn rollout_notices(kc: &KollaConfig, built: &Built, annotated: &[String]) -> Vec<Notice> {
    let regarding = kc.object_ref(&());
    let before = kc.status.as_ref().map_or(&[][..], |s| s.rollout.as_slice());
    let label = |r: &WorkloadRollout| {
        r.version
            .clone()
            .or_else(|| r.config_hash.as_deref().map(crate::rollout::short))
            .unwrap_or_else(|| "no kollacfg output".to_string())
    };
    let mut out = Vec::new();
    for after in &built.status.rollout {
        let id = format!("{}/{}", after.kind, after.name);
        let was = before
            .iter()
            .find(|r| r.kind == after.kind && r.name == after.name);
        let notice = |warning: bool, reason: &str, note: String| Notice {
            regarding: regarding.clone(),
            warning,
            reason: reason.to_string(),
            note,
        };
        if annotated.contains(&id) {
            let from = was.map_or_else(|| "no kollacfg output".to_string(), label);
            let files = if after.changed_files.is_empty() {
                "no file changed".to_string()
            } else {
                format!("files changed: {}", after.changed_files.join(", "))
            };
            out.push(notice(
                false,
                "RolloutStarted",
                format!("{id}: from {from} to {}; {files}", label(after)),
            ));
            continue;
        }
        let changed = was.map(|w| w.state) != Some(after.state)
            || was.and_then(|w| w.config_hash.as_ref()) != after.config_hash.as_ref();
        if !changed {
            continue;
        }
        let message = after.message.clone().unwrap_or_default();
        match after.state {
            Some(RolloutState::Complete) => out.push(notice(
                false,
                "RolloutComplete",
                format!("{id}: every pod runs {} and is ready", label(after)),
            )),
            Some(RolloutState::Stuck) => {
                out.push(notice(true, "RolloutStuck", format!("{id}: {message}")));
            }
            Some(RolloutState::RolledBack) => {
                out.push(notice(false, "RolledBack", format!("{id}: {message}")));
            }
            _ => {}
        }
    }
    out
}

/// The events a reconcile's outcome calls for. `output_written` and `annotated` (workload
/// `Kind/name`s) are what the apply step actually wrote.
pub fn notices(
    kc: &KollaConfig,
    built: &Built,
    fragments: &[AnyResource],
    output_written: bool,
    annotated: &[String],
) -> Vec<Notice> {
    let regarding = kc.object_ref(&());
    let mut out = Vec::new();
    let before = kc
        .status
        .as_ref()
        .map_or(&[][..], |s| s.conditions.as_slice());
    let after = &built.status.conditions;
    for type_ in [CONDITION_READY, CONDITION_BROKER_SYNCED] {
        if !transitioned(before, after, type_) {
            continue;
        }
        if let Some(now) = find(after, type_) {
            out.push(Notice {
                regarding: regarding.clone(),
                warning: now.status != "True",
                reason: now.reason.clone(),
                note: now.message.clone(),
            });
        }
    }
    // A warning condition (it does not block Ready): warned once, when it turns True.
    if let Some(now) = find(after, CONDITION_HOST_SPECIFIC_VALUE)
        .filter(|c| c.status == "True" && transitioned(before, after, &c.type_))
    {
        out.push(Notice {
            regarding: regarding.clone(),
            warning: true,
            reason: now.reason.clone(),
            note: now.message.clone(),
        });
    }
    if let (true, Some(output)) = (output_written, &built.output) {
        out.push(Notice {
            regarding: regarding.clone(),
            warning: false,
            reason: "OutputWritten".to_string(),
            note: format!(
                "{} {} written (content hash {})",
                output.kind(),
                output.name(),
                output.content_hash()
            ),
        });
    }
    out.extend(rollout_notices(kc, built, annotated));
    for (id, status) in &built.fragments {
        let Some(fragment) = fragments
            .iter()
            .find(|f| f.kind() == id.kind && f.metadata().name.as_deref() == Some(&id.name))
        else {
            continue;
        };
        let before = fragment_previous(fragment);
        // Warned once, on the transition into the bad state: Invalid or Conflicted True, or
        // Live False (a policy the broker refused).
        let bad = [
            (CONDITION_INVALID, "True"),
            (CONDITION_CONFLICTED, "True"),
            (CONDITION_LIVE, "False"),
        ];
        for (type_, bad_status) in bad {
            let now = find(&status.conditions, type_);
            if transitioned(before, &status.conditions, type_)
                && now.is_some_and(|c| c.status == bad_status)
            {
                let c = now.expect("checked above");
                out.push(Notice {
                    regarding: fragment_ref(fragment),
                    warning: true,
                    reason: c.reason.clone(),
                    note: c.message.clone(),
                });
            }
        }
    }
    out
}

/// Sends `notices`; a failure is logged, never returned (events are best effort).
pub async fn publish(recorder: &Recorder, notices: Vec<Notice>) {
    for notice in notices {
        let event = Event {
            type_: if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: notice.reason.clone(),
            note: Some(truncate(notice.note, 1000)),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &notice.regarding).await {
            tracing::warn!(reason = notice.reason, "sending an event failed: {e}");
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary (events hold at most 1 kB).
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::build::{build, Base, Inputs};
    use crate::fixtures::{clock, fragments, kolla_config, resource, BASE_CONF};

    const BAD: &str = "apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\n\
                       metadata: {name: bad, namespace: openstack}\n\
                       spec: {kollaConfigRef: {name: rabbitmq}, file: rabbitmq.conf, \
                       conf: {heartbeat: \"60 # comment\"}}\n";

    fn run(kc: &KollaConfig, frags: &[AnyResource]) -> Built {
        let base = BTreeMap::from([("rabbitmq.conf".to_string(), BASE_CONF.as_bytes().to_vec())]);
        build(&Inputs {
            kolla_config: kc,
            fragments: frags,
            base: Base::Files(base),
            now: clock(),
        })
    }

    #[test]
    fn an_invalid_fragment_warns_once_on_it_and_on_its_target() {
        let kc = kolla_config(None);
        let mut frags = fragments(&BTreeMap::new());
        frags.push(resource(BAD));
        let built = run(&kc, &frags);
        let sent = notices(&kc, &built, &frags, false, &[]);
        let sent: Vec<(bool, &str, Option<&str>)> = sent
            .iter()
            .map(|n| (n.warning, n.reason.as_str(), n.regarding.kind.as_deref()))
            .collect();
        assert_eq!(
            sent,
            [
                (true, "InvalidFragments", Some("KollaConfig")),
                (true, "InvalidSpec", Some("ConfigOverride")),
            ]
        );

        // The next pass over the statuses just written sends nothing.
        let kc2 = kolla_config(Some(&serde_json::to_value(&built.status).unwrap()));
        let statuses: BTreeMap<String, serde_json::Value> = built
            .fragments
            .iter()
            .map(|(id, s)| (id.kind_name(), serde_json::to_value(s).unwrap()))
            .collect();
        let mut bad = serde_json::to_value(resource(BAD)).unwrap();
        bad["status"] = statuses["ConfigOverride/bad"].clone();
        let mut frags2 = fragments(&statuses);
        frags2.push(resource(&bad.to_string()));
        let again = run(&kc2, &frags2);
        assert_eq!(notices(&kc2, &again, &frags2, false, &[]), []);
    }

    #[test]
    fn broker_sync_transitions_are_events_and_a_refused_policy_warns_once() {
        let kc = kolla_config(None);
        let frags = fragments(&BTreeMap::new());
        let mut built = run(&kc, &frags);
        // Puts condition `type_` False with `reason` into `conditions`.
        let set_false = |conditions: &mut Vec<Condition>, type_, reason| {
            crate::conditions::merge(
                conditions,
                vec![crate::conditions::Desired::new(
                    type_,
                    crate::conditions::State::False,
                    reason,
                    "refused",
                )],
                &[],
                &[],
                None,
                &clock(),
            );
        };
        set_false(
            &mut built.status.conditions,
            CONDITION_BROKER_SYNCED,
            "Unauthorized",
        );
        // (Live is set on RabbitPolicies; the fixtures' first fragment stands in for one.)
        let (id, status) = built.fragments.first_mut().expect("fixture fragments");
        let policy = id.name.clone();
        set_false(&mut status.conditions, CONDITION_LIVE, "PolicyRejected");
        let sent = notices(&kc, &built, &frags, false, &[]);
        let broker: Vec<(bool, &str)> = sent
            .iter()
            .filter(|n| n.reason == "Unauthorized" || n.reason == "PolicyRejected")
            .map(|n| (n.warning, n.regarding.name.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(broker, [(true, "rabbitmq"), (true, policy.as_str())]);

        // Stored as they are now: the next pass sends none of them again.
        let kc2 = kolla_config(Some(&serde_json::to_value(&built.status).unwrap()));
        let statuses: BTreeMap<String, serde_json::Value> = built
            .fragments
            .iter()
            .map(|(id, s)| (id.kind_name(), serde_json::to_value(s).unwrap()))
            .collect();
        let frags2 = fragments(&statuses);
        let again = notices(&kc2, &built, &frags2, false, &[]);
        assert!(
            again
                .iter()
                .all(|n| n.reason != "Unauthorized" && n.reason != "PolicyRejected"),
            "{again:?}"
        );
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let text = "é".repeat(600);
        let cut = truncate(text, 1000);
        assert_eq!(cut.len(), 1000);
        assert_eq!(truncate("short".to_string(), 1000), "short");
    }
}
