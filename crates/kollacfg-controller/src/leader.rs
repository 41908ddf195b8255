//! Leader election on a `coordination.k8s.io/v1` Lease, so that two replicas are safe: only
//! the holder runs the controller (and so writes). The holder renews the Lease; a replica
//! takes it over only after it expired. Deciding is pure; claiming is an optimistic update
//! (a lost race is a 409 and simply means someone else holds it).

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::Api;

/// Which Lease, who we are, and the timings.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's identity (pod name).
    pub identity: String,
    /// How long a Lease holds without renewal.
    pub duration: Duration,
    /// How often the holder renews.
    pub renew_every: Duration,
    /// The holder steps down when it could not renew for this long (less than `duration`, so
    /// it stops before anyone else may take over).
    pub renew_deadline: Duration,
}

impl LeaseSettings {
    /// 15 s Leases, renewed every 5 s, given up after 10 s without a renewal.
    pub fn new(namespace: String, name: String, identity: String) -> Self {
        Self {
            namespace,
            name,
            identity,
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            renew_deadline: Duration::from_secs(10),
        }
    }
}

/// What to do about the Lease as it is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it (missing, released or expired): claim it.
    Acquire,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it and it has not expired.
    Wait {
        /// The holder.
        holder: String,
    },
}

/// Decides from the stored Lease (`None`: it does not exist) at time `now`.
pub fn decide(lease: Option<&Lease>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = lease.and_then(|l| l.spec.as_ref()) else {
        return Decision::Acquire;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder.is_empty() {
        return Decision::Acquire;
    }
    if holder == identity {
        return Decision::Renew;
    }
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let expired = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .is_none_or(|t| t.0 + SignedDuration::from_secs(seconds) < now);
    if expired {
        Decision::Acquire
    } else {
        Decision::Wait { holder }
    }
}

/// The Lease to write to claim or renew it at `now` (with the stored one's resourceVersion, so
/// a concurrent claim makes the write fail with 409).
pub fn claimed(previous: Option<&Lease>, settings: &LeaseSettings, now: Timestamp) -> Lease {
    let spec = previous.and_then(|l| l.spec.clone()).unwrap_or_default();
    let ours = spec.holder_identity.as_deref() == Some(settings.identity.as_str());
    let transitions = spec.lease_transitions.unwrap_or(0);
    Lease {
        metadata: ObjectMeta {
            name: Some(settings.name.clone()),
            namespace: Some(settings.namespace.clone()),
            resource_version: previous.and_then(|l| l.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(settings.identity.clone()),
            lease_duration_seconds: Some(settings.duration.as_secs() as i32),
            acquire_time: if ours {
                spec.acquire_time
            } else {
                Some(MicroTime(now))
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(if ours || previous.is_none() {
                transitions
            } else {
                transitions + 1
            }),
            ..LeaseSpec::default()
        }),
    }
}

/// One attempt to claim or renew. `Ok(true)`: we hold the Lease now.
pub async fn try_claim(api: &Api<Lease>, settings: &LeaseSettings) -> kube::Result<bool> {
    let current = api.get_opt(&settings.name).await?;
    let now = Timestamp::now();
    if let Decision::Wait { .. } = decide(current.as_ref(), &settings.identity, now) {
        return Ok(false);
    }
    let lease = claimed(current.as_ref(), settings, now);
    let params = PostParams::default();
    let written = match current {
        None => api.create(&params, &lease).await,
        Some(_) => api.replace(&settings.name, &params, &lease).await,
    };
    match written {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Waits until this replica holds the Lease.
pub async fn acquire(api: &Api<Lease>, settings: &LeaseSettings) {
    let mut waiting_logged = false;
    loop {
        match try_claim(api, settings).await {
            Ok(true) => {
                tracing::info!(identity = settings.identity, "became the leader");
                return;
            }
            Ok(false) if !waiting_logged => {
                tracing::info!(lease = settings.name, "another replica leads; standing by");
                waiting_logged = true;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!("claiming the lease failed (retrying): {e}"),
        }
        tokio::time::sleep(settings.renew_every).await;
    }
}

/// Renews the Lease until it is lost (someone else holds it, or no renewal succeeded within
/// the renew deadline); returns then.
pub async fn hold(api: &Api<Lease>, settings: &LeaseSettings) {
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(settings.renew_every).await;
        match try_claim(api, settings).await {
            Ok(true) => renewed = Instant::now(),
            Ok(false) => {
                tracing::warn!("the lease was taken over; stepping down");
                return;
            }
            Err(e) if renewed.elapsed() >= settings.renew_deadline => {
                tracing::warn!("could not renew the lease in time ({e}); stepping down");
                return;
            }
            Err(e) => tracing::warn!("renewing the lease failed (retrying): {e}"),
        }
    }
}

/// Gives the Lease up on shutdown so that a standby takes over at once. Best effort.
pub async fn release(api: &Api<Lease>, settings: &LeaseSettings) {
    let Ok(Some(mut lease)) = api.get_opt(&settings.name).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(settings.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    if let Err(e) = api
        .replace(&settings.name, &PostParams::default(), &lease)
        .await
    {
        tracing::debug!("releasing the lease failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::fixtures::{status_body, Seen, Step};

    fn settings(identity: &str) -> LeaseSettings {
        LeaseSettings::new("kollacfg-system".into(), "kollacfg".into(), identity.into())
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn a_missing_lease_is_claimed_and_held_until_it_expires() {
        assert_eq!(decide(None, "a", at(100)), Decision::Acquire);
        let mut lease = claimed(None, &settings("a"), at(100));
        assert_eq!(lease.spec.as_ref().unwrap().lease_transitions, Some(0));
        lease.metadata.resource_version = Some("7".into());
        assert_eq!(decide(Some(&lease), "a", at(101)), Decision::Renew);
        assert_eq!(
            decide(Some(&lease), "b", at(114)),
            Decision::Wait { holder: "a".into() }
        );
        assert_eq!(decide(Some(&lease), "b", at(116)), Decision::Acquire);

        let taken = claimed(Some(&lease), &settings("b"), at(116));
        let spec = taken.spec.as_ref().unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(spec.lease_transitions, Some(1));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(116))));
        assert_eq!(taken.metadata.resource_version.as_deref(), Some("7"));

        let renewed = claimed(Some(&lease), &settings("a"), at(105));
        let spec = renewed.spec.as_ref().unwrap();
        assert_eq!(spec.acquire_time, Some(MicroTime(at(100))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(105))));
        assert_eq!(spec.lease_transitions, Some(0));
    }

    const LEASE_URI: &str = "/apis/coordination.k8s.io/v1/namespaces/kollacfg-system/leases";

    async fn claim(script: Vec<Step>) -> (bool, Vec<Seen>) {
        let (client, verifier) = crate::fixtures::client();
        let server = tokio::spawn(verifier.run(script));
        let api = Api::<Lease>::namespaced(client, "kollacfg-system");
        let held = try_claim(&api, &settings("a")).await.unwrap();
        drop(api);
        (held, server.await.unwrap())
    }

    fn stored(holder: &str, renewed: Timestamp) -> serde_json::Value {
        let mut lease = claimed(None, &settings(holder), renewed);
        lease.metadata.resource_version = Some("7".into());
        serde_json::to_value(lease).unwrap()
    }

    #[tokio::test]
    async fn a_missing_lease_is_created() {
        let (held, seen) = claim(vec![
            Step::new(
                Method::GET,
                &format!("{LEASE_URI}/kollacfg"),
                404,
                status_body(404, "NotFound"),
            ),
            Step::echo(Method::POST, &format!("{LEASE_URI}?")),
        ])
        .await;
        assert!(held);
        assert_eq!(seen[1].body["spec"]["holderIdentity"], "a");
        assert_eq!(seen[1].body["spec"]["leaseDurationSeconds"], 15);
    }

    #[tokio::test]
    async fn a_lease_held_by_another_replica_is_only_read() {
        let (held, seen) = claim(vec![Step::new(
            Method::GET,
            &format!("{LEASE_URI}/kollacfg"),
            200,
            stored("b", Timestamp::now()),
        )])
        .await;
        assert!(!held);
        assert_eq!(seen.len(), 1);
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_and_a_lost_race_is_no_error() {
        let uri = format!("{LEASE_URI}/kollacfg");
        let old = stored("b", at(100));
        let (held, seen) = claim(vec![
            Step::new(Method::GET, &uri, 200, old.clone()),
            Step::echo(Method::PUT, &format!("{uri}?")),
        ])
        .await;
        assert!(held);
        assert_eq!(seen[1].body["metadata"]["resourceVersion"], "7");
        assert_eq!(seen[1].body["spec"]["leaseTransitions"], 1);
        let (held, _) = claim(vec![
            Step::new(Method::GET, &uri, 200, old),
            Step::new(
                Method::PUT,
                &format!("{uri}?"),
                409,
                status_body(409, "Conflict"),
            ),
        ])
        .await;
        assert!(!held);
    }

    #[test]
    fn a_released_lease_is_free() {
        let mut lease = claimed(None, &settings("a"), at(100));
        lease.spec.as_mut().unwrap().holder_identity = None;
        assert_eq!(decide(Some(&lease), "b", at(101)), Decision::Acquire);
    }
}
