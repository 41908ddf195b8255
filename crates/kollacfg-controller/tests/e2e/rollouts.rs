//! Rollouts observed, paused and paced against the real API server (with the Deployment
//! controller, no kubelet: pods are created but never run): a new KollaConfig applied with 50
//! fragments in one `kubectl apply` is first rendered with all of them and changes the
//! Deployment's template once; 50 edits in one apply change it once more; pods that never
//! become ready turn `RolledOut` into `RolloutStuck` after the progress deadline, naming the
//! files that changed; `paused` writes the new version and holds the template; unpausing moves
//! it once. Every assertion is on what the server reports.

use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::controller::Controller;
use crate::world::{self, object_files};
use crate::{mounted_version, versioned_deployment, wait, wait_quiet, SHORT};

const NS: &str = "e2e-rollouts";
const FRAGMENTS: usize = 50;

/// The KollaConfig; with `late`, it also rolls out Deployment `late`.
fn kolla_config(paused: bool, late: bool) -> String {
    let late = if late {
        "    - kind: Deployment\n      name: late\n      volume: shared\n"
    } else {
        ""
    };
    format!(
        "apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata:
  name: rabbitmq
  namespace: {NS}
spec:
  service: rabbitmq
  base:
    secretRef:
      name: rabbitmq-kolla
  output:
    versioned: true
    keepVersions: 2
  rollout:
    - kind: Deployment
      name: api
      volume: shared
{late}  rolloutPolicy:
    paused: {paused}
    progressDeadlineSeconds: 5
"
    )
}

/// `FRAGMENTS` RabbitPolicies, each its own policy, all with `ha-params: ha_params`, as one
/// YAML stream.
fn policies(ha_params: u32) -> String {
    (0..FRAGMENTS)
        .map(|i| {
            format!(
                "apiVersion: kollacfg.dev/v1alpha1
kind: RabbitPolicy
metadata:
  name: burst-{i}
  namespace: {NS}
spec:
  kollaConfigRef:
    name: rabbitmq
  precedence: 0
  vhost: /
  name: burst-{i}
  pattern: '^burst{i}\\.'
  applyTo: all
  priority: 1
  definition:
    ha-mode: exactly
    ha-params: {ha_params}
"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

fn kc(cluster: &Cluster) -> Value {
    cluster
        .get("kollaconfig", NS, "rabbitmq")
        .unwrap()
        .expect("the KollaConfig")
}

fn api(cluster: &Cluster) -> Value {
    cluster
        .get("deployment", NS, "api")
        .unwrap()
        .expect("the Deployment")
}

fn generation(cluster: &Cluster) -> i64 {
    api(cluster)["metadata"]["generation"].as_i64().unwrap()
}

/// The Secret the Deployment `api`'s volume `shared` names.
fn mounted(cluster: &Cluster) -> String {
    mounted_version(cluster, NS, "api")
}

/// The `ha-params` of every policy of version `name`'s definitions.json, in policy order.
fn ha_params(cluster: &Cluster, name: &str) -> Result<Vec<i64>, String> {
    let stored = cluster
        .get("secret", NS, name)?
        .ok_or(format!("{name} not found"))?;
    let files = object_files(&stored);
    let definitions: Value = serde_json::from_slice(
        files
            .get("definitions.json")
            .ok_or(format!("{name} has no definitions.json"))?,
    )
    .map_err(|e| e.to_string())?;
    Ok(definitions["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"].as_str().is_some_and(|n| n.starts_with("burst-")))
        .map(|p| p["definition"]["ha-params"].as_i64().unwrap_or(-1))
        .collect())
}

/// Waits for `status.outputVersion` to be a version in which all `FRAGMENTS` policies have
/// `ha-params: want` (and, when `rolled`, for the Deployment to mount it); returns its name.
fn wait_version(cluster: &Cluster, want: i64, rolled: bool) -> String {
    wait::until("the version with every fragment", SHORT, || {
        let status = &kc(cluster)["status"];
        let version = status["outputVersion"]
            .as_str()
            .ok_or("no outputVersion")?
            .to_string();
        let params = ha_params(cluster, &version)?;
        if params.len() != FRAGMENTS || params.iter().any(|p| *p != want) {
            return Err(format!("{version}: {params:?}"));
        }
        if rolled && mounted(cluster) != version {
            return Err(format!("{version} not mounted yet"));
        }
        Ok(version)
    })
}

fn rolled_out(cluster: &Cluster) -> Value {
    world::condition(&kc(cluster), "RolledOut")
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
#[ignore = "needs a real kube-apiserver (tests/run builds it)"]
fn rollouts_observed_paused_and_one_restart_per_burst() {
    let Some(cluster) = Cluster::start(true) else {
        return;
    };
    crate::small_world(&cluster, NS);
    cluster.apply(&versioned_deployment(NS, "api", 10));
    let mut controller = Controller::start(&cluster, "only", &[]);
    controller.wait_ready();
    let start = generation(&cluster);

    // A new KollaConfig and its 50 fragments in one apply: one version, one template change.
    cluster.apply(&format!(
        "{}---\n{}",
        kolla_config(false, false),
        policies(2)
    ));
    let first = wait_version(&cluster, 2, true);
    wait_quiet(&controller, std::time::Duration::from_secs(3));
    assert_eq!(generation(&cluster), start + 1, "one template change");
    let names: Vec<String> = cluster
        .list_in("secrets", NS, Some("kollacfg.dev/target=rabbitmq"))
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        vec![first.clone()],
        "rendered before its fragments were seen"
    );

    // 50 edits in one apply: one more template change.
    cluster.apply(&policies(3));
    let second = wait_version(&cluster, 3, true);
    wait_quiet(&controller, std::time::Duration::from_secs(3));
    assert_eq!(
        generation(&cluster),
        start + 2,
        "one template change per burst"
    );
    let record = &kc(&cluster)["status"]["rollout"][0];
    assert_eq!(record["version"], second.as_str());
    assert_eq!(record["changedFiles"], json!(["definitions.json"]));

    // No kubelet: the pod never becomes ready, so after the 5 s deadline the rollout is stuck.
    wait::until("RolloutStuck", SHORT, || {
        let condition = rolled_out(&cluster);
        if condition["reason"] == "RolloutStuck" {
            Ok(condition)
        } else {
            Err(condition.to_string())
        }
    });
    let status = kc(&cluster)["status"].clone();
    let condition = world::condition(&kc(&cluster), "RolledOut")
        .unwrap()
        .clone();
    assert_eq!(condition["status"], "False");
    let message = condition["message"].as_str().unwrap();
    assert_eq!(
        message,
        "Deployment/api: no progress for more than 5s: 1 of 1 pods updated, 0 ready; files \
         changed in this revision: definitions.json"
    );
    assert_eq!(status["rollout"][0]["state"], "Stuck");
    assert_eq!(status["rollout"][0]["readyReplicas"], 0);
    let events = cluster.kubectl(&[
        "get",
        "events.events.k8s.io",
        "-n",
        NS,
        "-o",
        "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}",
    ]);
    for reason in ["RolloutStarted", "RolloutStuck"] {
        assert!(events.lines().any(|l| l == reason), "no {reason}: {events}");
    }
    let metrics = controller.metrics();
    assert!(
        metrics.contains("kollacfg_rollout_workloads{state=\"Stuck\"} 1"),
        "{metrics}"
    );

    // Paused: the new version is written, the template stays.
    cluster.apply(&kolla_config(true, false));
    cluster.apply(&policies(4));
    let third = wait_version(&cluster, 4, false);
    wait_quiet(&controller, std::time::Duration::from_secs(3));
    assert_eq!(mounted(&cluster), second, "the template moved while paused");
    assert_eq!(generation(&cluster), start + 2);
    let condition = rolled_out(&cluster);
    assert_eq!(condition["reason"], "Paused", "{condition}");
    assert_eq!(kc(&cluster)["status"]["rollout"][0]["state"], "Paused");

    // Unpaused: moved once, to the newest version.
    cluster.apply(&kolla_config(false, false));
    wait::until("the newest version mounted", SHORT, || {
        let now = mounted(&cluster);
        if now == third {
            Ok(())
        } else {
            Err(now)
        }
    });
    wait_quiet(&controller, std::time::Duration::from_secs(3));
    assert_eq!(
        generation(&cluster),
        start + 3,
        "unpausing moves the template once"
    );

    // A workload created after the KollaConfig that names it is rolled out when it appears
    // (the workload watch), not at the next resync (10 minutes).
    cluster.apply(&kolla_config(false, true));
    wait::until("WorkloadNotFound", SHORT, || {
        let condition = rolled_out(&cluster);
        if condition["reason"] == "WorkloadNotFound" {
            Ok(())
        } else {
            Err(condition.to_string())
        }
    });
    cluster.apply(&versioned_deployment(NS, "late", 10));
    wait::until("the late Deployment on the newest version", SHORT, || {
        let now = mounted_version(&cluster, NS, "late");
        if now == third {
            Ok(())
        } else {
            Err(now)
        }
    });
    controller.stop();
}
