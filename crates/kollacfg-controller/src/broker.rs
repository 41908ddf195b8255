//! The live broker of a KollaConfig with `spec.rabbitmq.management`: after the output is
//! written, the running RabbitMQ's policies are made equal to the rendered `definitions.json`
//! (one GET, then a PUT per policy that differs and a DELETE per policy kollacfg published and
//! no longer wants; every other live policy is left alone). Reads the credentials Secret; never
//! logs, reports or counts its values.
//!
//! What kollacfg published survives a controller restart and a lost status: it is the stored
//! output's `definitions.json` plus the annotation [`ANNOTATION_PENDING_DELETES`] on the output
//! object, which lists the policies that were published and are no longer wanted until the
//! broker has confirmed their deletion.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kollacfg_api::{
    BrokerStatus, KollaConfig, Management, CONDITION_BROKER_SYNCED, CONDITION_INSECURE_BROKER,
    CONDITION_LIVE,
};
use kollacfg_broker::{
    policies_from_definitions, Broker, BrokerConfig, BrokerError, Policy, PolicyKey, SyncOutcome,
};
use kollacfg_render::items::DEFINITIONS_JSON;
use kollacfg_render::ResourceRef;
use kube::{Api, Client};

use crate::build::DesiredOutput;
use crate::conditions::{Desired, State};
use crate::error::{Error, Result};

/// Annotation on the output object: the policies (a JSON list of `[vhost, name]`) kollacfg
/// published that are no longer wanted and whose deletion the broker has not confirmed yet.
/// Absent when there are none (the usual state).
pub const ANNOTATION_PENDING_DELETES: &str = "kollacfg.dev/broker-pending-deletes";

/// How long one request to the management API may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How many failed policies a condition message names before "and N more".
const MAX_LISTED: usize = 10;

/// Why a sync could not run or did not finish. The variant's [`SyncError::reason`] is the
/// `BrokerSynced` condition's reason.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The credentials Secret or one of its keys is missing (or the CA Secret).
    #[error("{0}")]
    Credentials(String),
    /// The broker refused the client's configuration, could not be reached, or refused the
    /// credentials.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

impl SyncError {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Credentials(_) => "CredentialsMissing",
            Self::Broker(e) => e.reason(),
        }
    }
}

/// One sync's result and how long it took.
pub struct Pass {
    /// The outcome: the plan and what was applied, or why nothing could be.
    pub result: std::result::Result<SyncOutcome, SyncError>,
    /// The policies of the rendered definitions.json.
    pub desired: Vec<Policy>,
    /// Which of the desired PUTs restored a policy changed or deleted by hand (its setting was
    /// already published and did not change).
    pub restored: usize,
    /// How long the sync took.
    pub took: Duration,
}

/// The policies of `file` (a definitions.json), none when it is missing or unreadable.
fn policies_in(file: Option<&[u8]>) -> Vec<Policy> {
    file.and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| policies_from_definitions(text).ok())
        .unwrap_or_default()
}

/// The policies of the rendered definitions.json among `files`.
pub fn desired_policies(files: &BTreeMap<String, Vec<u8>>) -> Vec<Policy> {
    policies_in(files.get(DEFINITIONS_JSON).map(Vec::as_slice))
}

/// The pending deletions recorded on a stored output.
pub fn pending_of(stored: &DesiredOutput) -> BTreeSet<PolicyKey> {
    let Some(text) = stored.annotation(ANNOTATION_PENDING_DELETES) else {
        return BTreeSet::new();
    };
    serde_json::from_str::<Vec<(String, String)>>(text)
        .unwrap_or_default()
        .into_iter()
        .map(|(vhost, name)| PolicyKey { vhost, name })
        .collect()
}

/// The annotation value recording `keys`; `None` for none.
pub fn pending_annotation(keys: &BTreeSet<PolicyKey>) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let list: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k.vhost.as_str(), k.name.as_str()))
        .collect();
    serde_json::to_string(&list).ok()
}

/// What kollacfg published and does not want any more: the policies of the stored output and
/// its pending deletions, less the `desired` ones.
pub fn no_longer_wanted(stored: Option<&DesiredOutput>, desired: &[Policy]) -> BTreeSet<PolicyKey> {
    let Some(stored) = stored else {
        return BTreeSet::new();
    };
    let wanted: BTreeSet<PolicyKey> = desired.iter().map(Policy::key).collect();
    policies_in(stored.file(DEFINITIONS_JSON))
        .iter()
        .map(Policy::key)
        .chain(pending_of(stored))
        .filter(|k| !wanted.contains(k))
        .collect()
}

/// The pending deletions left after `pass`: those whose DELETE was not confirmed. A key that
/// was not live needs no DELETE and is dropped too.
pub fn still_pending(pending: &BTreeSet<PolicyKey>, pass: &Pass) -> BTreeSet<PolicyKey> {
    match &pass.result {
        Err(_) => pending.clone(),
        Ok(outcome) => {
            let failed: BTreeSet<&PolicyKey> = outcome.failures.iter().map(|(k, _)| k).collect();
            pending
                .iter()
                .filter(|k| failed.contains(k))
                .cloned()
                .collect()
        }
    }
}

/// Reads a key of a Secret in `namespace`, as text.
async fn secret_value(
    client: &Client,
    namespace: &str,
    name: &str,
    key: &str,
    field: &str,
) -> Result<std::result::Result<Vec<u8>, String>> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| Error::ReadSecret {
            object: format!("{namespace}/{name}"),
            source,
        })?;
    let Some(secret) = secret else {
        return Ok(Err(format!("Secret {name:?} ({field}) not found")));
    };
    Ok(secret
        .data
        .and_then(|mut d| d.remove(key))
        .map(|b| b.0)
        .ok_or_else(|| format!("Secret {name:?} ({field}) has no key {key:?}")))
}

/// The client configuration from `management` and its Secrets. `Ok(Err(..))`: a Secret or a
/// key is missing (reported in status; waits for a change); `Err`: the API failed.
pub async fn config(
    client: &Client,
    namespace: &str,
    management: &Management,
) -> Result<std::result::Result<BrokerConfig, SyncError>> {
    let creds = &management.credentials_secret_ref;
    let field = "spec.rabbitmq.management.credentialsSecretRef";
    let text = |bytes: Vec<u8>, key: &str| {
        String::from_utf8(bytes)
            .map_err(|_| format!("Secret {:?} key {key:?} ({field}) is not UTF-8", creds.name))
    };
    let username = match secret_value(client, namespace, &creds.name, &creds.username_key, field)
        .await?
        .and_then(|b| text(b, &creds.username_key))
    {
        Ok(v) => v,
        Err(why) => return Ok(Err(SyncError::Credentials(why))),
    };
    let password = match secret_value(client, namespace, &creds.name, &creds.password_key, field)
        .await?
        .and_then(|b| text(b, &creds.password_key))
    {
        Ok(v) => v,
        Err(why) => return Ok(Err(SyncError::Credentials(why))),
    };
    let ca_pem = match &management.ca_secret_ref {
        None => None,
        Some(ca) => {
            let field = "spec.rabbitmq.management.caSecretRef";
            match secret_value(client, namespace, &ca.name, &ca.key, field).await? {
                Ok(pem) => Some(pem),
                Err(why) => return Ok(Err(SyncError::Credentials(why))),
            }
        }
    };
    Ok(Ok(BrokerConfig {
        url: management.url.clone(),
        username,
        password,
        ca_pem,
        insecure_skip_tls_verify: management.insecure_skip_tls_verify,
        timeout: REQUEST_TIMEOUT,
    }))
}

/// Syncs the broker: desired = the policies of the rendered `files`; deletable = `pending`
/// (published, no longer wanted) and the `absent` policies. `published` are the policies of
/// the stored output before this pass, to tell a drift repair from a change.
pub async fn sync(
    broker: std::result::Result<Broker, SyncError>,
    files: &BTreeMap<String, Vec<u8>>,
    published: Option<&DesiredOutput>,
    pending: &BTreeSet<PolicyKey>,
    absent: &[(String, String)],
) -> Pass {
    let started = Instant::now();
    let desired = desired_policies(files);
    let deletable: BTreeSet<PolicyKey> = pending
        .iter()
        .cloned()
        .chain(absent.iter().map(|(vhost, name)| PolicyKey {
            vhost: vhost.clone(),
            name: name.clone(),
        }))
        .collect();
    let result = match broker {
        Ok(broker) => kollacfg_broker::sync(&broker, &desired, &deletable)
            .await
            .map_err(SyncError::Broker),
        Err(e) => Err(e),
    };
    let before: BTreeMap<PolicyKey, Policy> =
        policies_in(published.and_then(|p| p.file(DEFINITIONS_JSON)))
            .into_iter()
            .map(|p| (p.key(), p))
            .collect();
    let restored = match &result {
        Ok(outcome) => outcome
            .put
            .iter()
            .filter(|k| {
                let now = desired.iter().find(|p| &p.key() == *k);
                matches!((before.get(k), now), (Some(b), Some(n)) if b.same_setting(n))
            })
            .count(),
        Err(_) => 0,
    };
    Pass {
        result,
        desired,
        restored,
        took: started.elapsed(),
    }
}

/// The conditions and counts one pass calls for.
pub struct Report {
    /// The KollaConfig's `BrokerSynced` (and `InsecureBroker` when verification is off).
    pub target: Vec<Desired>,
    /// `status.broker`'s counts, without the time; `None` when the broker was not read.
    pub counts: Option<BrokerStatus>,
    /// The `Live` condition of each RabbitPolicy that decided a policy.
    pub fragments: BTreeMap<ResourceRef, Desired>,
}

fn quote(e: &BrokerError) -> String {
    e.to_string()
}

/// What `pass` means for the statuses: `winners` maps each policy item `(vhost, name)` of the
/// render to the fragment that decided it; `absent` are the keys that must not exist.
pub fn report(
    management: &Management,
    pass: &Pass,
    winners: &BTreeMap<(String, String), ResourceRef>,
    absent: &[(String, String)],
) -> Report {
    let mut target = Vec::new();
    if management.insecure_skip_tls_verify {
        target.push(Desired::new(
            CONDITION_INSECURE_BROKER,
            State::True,
            "InsecureSkipTLSVerify",
            format!(
                "the broker's certificate at {} is not verified \
                 (spec.rabbitmq.management.insecureSkipTLSVerify)",
                management.url
            ),
        ));
    }
    let key_of = |(vhost, name): &(String, String)| PolicyKey {
        vhost: vhost.clone(),
        name: name.clone(),
    };
    let mut fragments = BTreeMap::new();
    match &pass.result {
        Err(e) => {
            let reason = e.reason();
            target.push(Desired::new(
                CONDITION_BROKER_SYNCED,
                State::False,
                reason,
                format!(
                    "the policies of {} could not be synced: {e}; retrying with backoff \
                     (the output is written regardless)",
                    management.url
                ),
            ));
            for (item, fragment) in winners {
                fragments.insert(
                    fragment.clone(),
                    Desired::new(
                        CONDITION_LIVE,
                        State::Unknown,
                        reason,
                        format!(
                            "policy {} not checked: the broker could not be synced ({reason})",
                            key_of(item)
                        ),
                    ),
                );
            }
            Report {
                target,
                counts: None,
                fragments,
            }
        }
        Ok(outcome) => {
            let failed: BTreeMap<&PolicyKey, &BrokerError> =
                outcome.failures.iter().map(|(k, e)| (k, e)).collect();
            let absent: BTreeSet<PolicyKey> = absent.iter().map(key_of).collect();
            let mut listed = Vec::new();
            for (item, fragment) in winners {
                let key = key_of(item);
                let live = match failed.get(&key) {
                    Some(e) => {
                        let message = format!("policy {key} was refused: {}", quote(e));
                        listed.push(format!("{} ({}): {}", key, fragment.kind_name(), quote(e)));
                        Desired::new(CONDITION_LIVE, State::False, e.reason(), message)
                    }
                    None if absent.contains(&key) => Desired::new(
                        CONDITION_LIVE,
                        State::True,
                        "Absent",
                        format!("policy {key} is not in the broker"),
                    ),
                    None => Desired::new(
                        CONDITION_LIVE,
                        State::True,
                        "Live",
                        format!("policy {key} is live in the broker as rendered"),
                    ),
                };
                fragments.insert(fragment.clone(), live);
            }
            // Failures of policies no fragment decided (base policies, deletions).
            for (key, e) in &outcome.failures {
                let decided = winners.keys().any(|item| key_of(item) == *key);
                if !decided {
                    listed.push(format!("{key}: {}", quote(e)));
                }
            }
            let plan = &outcome.plan;
            // The state, not what this pass wrote: a message that counted the pass's writes
            // would change on the pass after every edit and rewrite the status once more.
            let synced = if outcome.failures.is_empty() {
                Desired::new(
                    CONDITION_BROKER_SYNCED,
                    State::True,
                    "Synced",
                    format!(
                        "{} desired policies are live at {}; {} other live policies left alone",
                        plan.desired,
                        management.url,
                        plan.unmanaged.len()
                    ),
                )
            } else {
                let reason = outcome.failures[0].1.reason();
                let more = listed.len().saturating_sub(MAX_LISTED);
                let tail = if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                };
                listed.truncate(MAX_LISTED);
                Desired::new(
                    CONDITION_BROKER_SYNCED,
                    State::False,
                    reason,
                    format!(
                        "{} of {} policies refused by the broker at {}: {}{tail}; the others are \
                         applied",
                        outcome.failures.len(),
                        plan.puts.len() + plan.deletes.len(),
                        management.url,
                        listed.join("; ")
                    ),
                )
            };
            target.push(synced);
            let counts = BrokerStatus {
                desired: plan.desired as i64,
                live: plan.live as i64,
                unmanaged: plan.unmanaged.len() as i64,
                unmanaged_policies: plan
                    .unmanaged
                    .iter()
                    .take(kollacfg_api::kolla_config::MAX_STATUS_UNMANAGED)
                    .map(ToString::to_string)
                    .collect(),
                last_sync_time: None,
            };
            Report {
                target,
                counts: Some(counts),
                fragments,
            }
        }
    }
}

/// `status.broker` after a pass: the new `counts` stamped `now` when they or the
/// `BrokerSynced` condition changed, else the previous one as it was (so an unchanged pass
/// writes no status).
pub fn broker_status(
    previous: Option<&BrokerStatus>,
    counts: Option<BrokerStatus>,
    synced_changed: bool,
    now: &Time,
) -> Option<BrokerStatus> {
    let Some(counts) = counts else {
        return previous.cloned();
    };
    if let Some(previous) = previous {
        let same = BrokerStatus {
            last_sync_time: previous.last_sync_time.clone(),
            ..counts.clone()
        };
        if &same == previous && !synced_changed {
            return Some(same);
        }
    }
    Some(BrokerStatus {
        last_sync_time: Some(crate::conditions::whole_seconds(now)),
        ..counts
    })
}

/// Whether a RabbitPolicy keeps its stored `Live` condition (`stored`, among its conditions)
/// after a pass that did not reach the broker: when the condition describes the fragment's
/// current `generation`. The KollaConfig's `BrokerSynced` says the broker is not reached; a
/// broker outage then rewrites one status, not one per RabbitPolicy (twice: down, back). A
/// fragment edited meanwhile (or new) gets `Unknown`.
pub fn keeps_last_live(pass: &Pass, stored: &[Condition], generation: Option<i64>) -> bool {
    pass.result.is_err()
        && stored
            .iter()
            .any(|c| c.type_ == CONDITION_LIVE && c.observed_generation == generation)
}

/// Whether the `BrokerSynced` condition changed status or reason between `before` and `after`.
pub fn synced_changed(before: &[Condition], after: &[Condition]) -> bool {
    crate::conditions::transitioned(before, after, CONDITION_BROKER_SYNCED)
}

/// Whether `kc`'s target has policies synced live.
pub fn enabled(kc: &KollaConfig) -> bool {
    crate::build::management(kc).is_some()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::jiff::Timestamp;
    use k8s_openapi::ByteString;
    use kollacfg_api::CredentialsSecretRef;
    use kollacfg_broker::Plan;

    use super::*;

    const DEFS: &str = r#"{"users": [], "policies": [
  {"vhost": "/", "name": "ha-all", "pattern": ".*", "apply-to": "all", "definition": {"ha-mode": "all"}, "priority": 0},
  {"vhost": "/", "name": "ttl", "pattern": "^q", "apply-to": "queues", "definition": {"message-ttl": 1000}, "priority": 1}
]}"#;

    fn key(vhost: &str, name: &str) -> PolicyKey {
        PolicyKey {
            vhost: vhost.into(),
            name: name.into(),
        }
    }

    fn stored(definitions: &str, pending: Option<&str>) -> DesiredOutput {
        let mut out = DesiredOutput::Secret(Secret {
            data: Some(BTreeMap::from([(
                DEFINITIONS_JSON.to_string(),
                ByteString(definitions.as_bytes().to_vec()),
            )])),
            ..Secret::default()
        });
        out.set_annotation(ANNOTATION_PENDING_DELETES, pending.map(str::to_string));
        out
    }

    fn management(insecure: bool) -> Management {
        Management {
            url: "http://rabbitmq:15672".into(),
            credentials_secret_ref: CredentialsSecretRef {
                name: "creds".into(),
                username_key: "username".into(),
                password_key: "password".into(),
            },
            ca_secret_ref: None,
            insecure_skip_tls_verify: insecure,
        }
    }

    fn pass(result: std::result::Result<SyncOutcome, SyncError>) -> Pass {
        Pass {
            result,
            desired: Vec::new(),
            restored: 0,
            took: Duration::ZERO,
        }
    }

    fn outcome(failures: Vec<(PolicyKey, BrokerError)>, unmanaged: usize) -> SyncOutcome {
        SyncOutcome {
            plan: Plan {
                puts: Vec::new(),
                deletes: Vec::new(),
                unmanaged: (0..unmanaged)
                    .map(|i| key("/", &format!("u{i:02}")))
                    .collect(),
                desired: 2,
                live: 2 + unmanaged,
            },
            put: vec![key("/", "ttl")],
            deleted: Vec::new(),
            failures,
        }
    }

    #[test]
    fn what_was_published_and_is_no_longer_wanted_is_deletable() {
        let desired = policies_from_definitions(
            r#"{"policies": [{"vhost": "/", "name": "ttl", "pattern": "^q", "apply-to": "queues", "definition": {}, "priority": 0}]}"#,
        )
        .unwrap();
        // Published in the stored file, plus an earlier deletion not yet confirmed.
        let before = stored(DEFS, Some(r#"[["other","gone"]]"#));
        assert_eq!(
            no_longer_wanted(Some(&before), &desired),
            BTreeSet::from([key("/", "ha-all"), key("other", "gone")])
        );
        // Nothing stored yet: nothing was published.
        assert_eq!(no_longer_wanted(None, &desired), BTreeSet::new());
    }

    #[test]
    fn the_pending_record_round_trips_and_is_absent_when_empty() {
        let keys = BTreeSet::from([key("/", "a\"b"), key("v h", "x")]);
        let text = pending_annotation(&keys).unwrap();
        assert_eq!(text, r#"[["/","a\"b"],["v h","x"]]"#);
        assert_eq!(pending_of(&stored("{}", Some(&text))), keys);
        assert_eq!(pending_annotation(&BTreeSet::new()), None);
        assert_eq!(pending_of(&stored("{}", None)), BTreeSet::new());
    }

    #[test]
    fn confirmed_deletions_leave_the_record_failed_ones_stay() {
        let pending = BTreeSet::from([key("/", "a"), key("/", "b")]);
        let failed = BrokerError::Rejected {
            status: 500,
            reason: "boom".into(),
        };
        let partly = pass(Ok(outcome(vec![(key("/", "b"), failed)], 0)));
        assert_eq!(
            still_pending(&pending, &partly),
            BTreeSet::from([key("/", "b")])
        );
        let down = pass(Err(SyncError::Broker(BrokerError::Unreachable(
            "refused".into(),
        ))));
        assert_eq!(still_pending(&pending, &down), pending);
    }

    #[test]
    fn a_refused_policy_fails_its_fragment_and_names_it_on_the_target() {
        let winners = BTreeMap::from([
            (
                ("/".to_string(), "ttl".to_string()),
                ResourceRef::new("RabbitPolicy", "openstack", "ttl"),
            ),
            (
                ("/".to_string(), "ha".to_string()),
                ResourceRef::new("RabbitPolicy", "openstack", "ha"),
            ),
        ]);
        let refused = BrokerError::Rejected {
            status: 400,
            reason: "Validation failed: ha-params not a number".into(),
        };
        let p = pass(Ok(outcome(vec![(key("/", "ha"), refused)], 25)));
        let report = report(&management(false), &p, &winners, &[]);
        let synced = &report.target[0];
        assert_eq!(
            (synced.type_, synced.state, synced.reason),
            (CONDITION_BROKER_SYNCED, State::False, "PolicyRejected")
        );
        assert!(
            synced.message.contains("/ha (RabbitPolicy/ha)"),
            "{}",
            synced.message
        );
        assert!(
            synced.message.contains("ha-params not a number"),
            "{}",
            synced.message
        );
        let ha = &report.fragments[&ResourceRef::new("RabbitPolicy", "openstack", "ha")];
        assert_eq!((ha.state, ha.reason), (State::False, "PolicyRejected"));
        let ttl = &report.fragments[&ResourceRef::new("RabbitPolicy", "openstack", "ttl")];
        assert_eq!((ttl.state, ttl.reason), (State::True, "Live"));
        let counts = report.counts.unwrap();
        assert_eq!((counts.desired, counts.live, counts.unmanaged), (2, 27, 25));
        assert_eq!(counts.unmanaged_policies.len(), 20);
        assert_eq!(counts.unmanaged_policies[0], "//u00");
    }

    #[test]
    fn a_synced_broker_reads_the_same_whatever_the_pass_wrote() {
        let winners = BTreeMap::from([(
            ("/".to_string(), "ttl".to_string()),
            ResourceRef::new("RabbitPolicy", "openstack", "ttl"),
        )]);
        let wrote = outcome(Vec::new(), 3);
        let mut nothing = outcome(Vec::new(), 3);
        nothing.put.clear();
        let after_edit = report(&management(false), &pass(Ok(wrote)), &winners, &[]);
        let after_that = report(&management(false), &pass(Ok(nothing)), &winners, &[]);
        assert_eq!(after_edit.target, after_that.target);
        assert_eq!(
            after_that.target[0].message,
            format!(
                "2 desired policies are live at {}; 3 other live policies left alone",
                management(false).url
            )
        );
        assert_eq!(after_edit.fragments, after_that.fragments);
    }

    #[test]
    fn an_unreached_broker_keeps_the_live_condition_of_unedited_policies() {
        let live = |generation: i64| Condition {
            type_: CONDITION_LIVE.into(),
            status: "True".into(),
            reason: "Live".into(),
            message: "policy //ttl is live in the broker as rendered".into(),
            observed_generation: Some(generation),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
        };
        let down = pass(Err(SyncError::Broker(BrokerError::Unreachable(
            "refused".into(),
        ))));
        let up = pass(Ok(outcome(Vec::new(), 0)));
        assert!(keeps_last_live(&down, &[live(2)], Some(2)));
        // Edited since (generation 3), never live, or the broker reached: the pass decides.
        assert!(!keeps_last_live(&down, &[live(2)], Some(3)));
        assert!(!keeps_last_live(&down, &[], Some(2)));
        assert!(!keeps_last_live(&up, &[live(2)], Some(2)));
    }

    #[test]
    fn an_unreachable_broker_is_reported_with_its_reason_and_no_counts() {
        let winners = BTreeMap::from([(
            ("/".to_string(), "ttl".to_string()),
            ResourceRef::new("RabbitPolicy", "openstack", "ttl"),
        )]);
        let p = pass(Err(SyncError::Broker(BrokerError::Unauthorized)));
        let report = report(&management(true), &p, &winners, &[]);
        let reasons: Vec<(&str, State, &str)> = report
            .target
            .iter()
            .map(|d| (d.type_, d.state, d.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    CONDITION_INSECURE_BROKER,
                    State::True,
                    "InsecureSkipTLSVerify"
                ),
                (CONDITION_BROKER_SYNCED, State::False, "Unauthorized"),
            ]
        );
        assert!(report.counts.is_none());
        let live = &report.fragments[&ResourceRef::new("RabbitPolicy", "openstack", "ttl")];
        assert_eq!(live.state, State::Unknown);
        let missing = pass(Err(SyncError::Credentials(
            "Secret \"creds\" not found".into(),
        )));
        let report2 = super::report(&management(false), &missing, &BTreeMap::new(), &[]);
        assert_eq!(report2.target[0].reason, "CredentialsMissing");
    }

    #[test]
    fn broker_counts_are_stamped_only_when_they_or_the_condition_change() {
        let t = |s| Time(Timestamp::from_second(s).unwrap());
        let counts = BrokerStatus {
            desired: 2,
            live: 3,
            unmanaged: 1,
            unmanaged_policies: vec!["//x".into()],
            last_sync_time: None,
        };
        let first = broker_status(None, Some(counts.clone()), true, &t(10)).unwrap();
        assert_eq!(first.last_sync_time, Some(t(10)));
        let same = broker_status(Some(&first), Some(counts.clone()), false, &t(20)).unwrap();
        assert_eq!(same, first);
        let flipped = broker_status(Some(&first), Some(counts.clone()), true, &t(30)).unwrap();
        assert_eq!(flipped.last_sync_time, Some(t(30)));
        let more = BrokerStatus { live: 4, ..counts };
        let changed = broker_status(Some(&first), Some(more), false, &t(40)).unwrap();
        assert_eq!((changed.live, changed.last_sync_time), (4, Some(t(40))));
        // Not read: the previous counts stay.
        assert_eq!(broker_status(Some(&first), None, true, &t(50)), Some(first));
    }
}
