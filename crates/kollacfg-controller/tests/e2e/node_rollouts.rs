//! Versioned rollouts on the real node, with the RabbitMQ StatefulSet of
//! `examples/kolla-delivery/` (one replica, as `delivery.rs` runs it): a change of the broker's
//! files replaces its pod once and `RolledOut` follows it to `True`; while paused, a new version
//! is written and the running pod's mounted files stay byte for byte what they were (past the
//! kubelet's sync period), a pod deleted by hand comes back on the old files, and unpausing
//! moves it once; a `rabbitmq.conf` key the broker refuses crash-loops the new pod and is
//! reported `RolloutStuck`, naming the pod, its reason and the changed file; `kubectl rollout
//! undo` brings the previous files back and is reported `RolledBack`. Every assertion is made
//! from inside the running pod, on the kubelet's own volume directory or on what the API server
//! reports.

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::delivery::{self, get, mounted_version, restart_count, NS, POD_LIMIT};
use crate::node::Node;
use crate::world::{condition, object_files};

/// Past the kubelet's sync period (60 s plus jitter), after which it would have rewritten the
/// files of a mutable Secret in every pod mounting it.
const KUBELET_SYNC: Duration = Duration::from_secs(75);
/// Long enough for a second template change to show, if one were coming: the settle delay and
/// two polls of the controller.
const QUIET: Duration = Duration::from_secs(15);
const POD: &str = "rabbitmq-0";
const ERL_ARGS: &str = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=";
/// A `rabbitmq.conf` key of the right form that RabbitMQ 3.10 has no setting for.
const REFUSED_KEY: &str = "kollacfg_e2e.no_such_setting";

fn kolla_config(node: &Node) -> Value {
    get(node, "kollaconfig", "rabbitmq")
}

fn statefulset(node: &Node) -> Value {
    get(node, "statefulset", "rabbitmq")
}

fn generation(node: &Node) -> i64 {
    statefulset(node)["metadata"]["generation"]
        .as_i64()
        .expect("a generation")
}

/// How many times the StatefulSet controller created a pod of `rabbitmq` (its
/// `SuccessfulCreate` events, counts summed).
fn pod_creations(node: &Node) -> i64 {
    let events: Value = serde_json::from_str(&node.kubectl(&[
        "get",
        "events",
        "-n",
        NS,
        "--field-selector",
        "involvedObject.kind=StatefulSet,involvedObject.name=rabbitmq,reason=SuccessfulCreate",
        "-o",
        "json",
    ]))
    .unwrap();
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_i64().unwrap_or(1))
        .sum()
}

fn merge_patch(node: &Node, kind: &str, name: &str, patch: &Value) {
    node.kubectl(&[
        "patch",
        kind,
        name,
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        &patch.to_string(),
    ]);
}

fn uid(pod: &Value) -> String {
    pod["metadata"]["uid"].as_str().unwrap().to_string()
}

/// A file of a version of the output, as stored.
fn version_file(node: &Node, version: &str, file: &str) -> String {
    let files = object_files(&get(node, "secret", version));
    String::from_utf8(files[file].clone()).unwrap()
}

/// A file as the broker's container reads it (`kubectl exec cat`).
fn container_file(node: &Node, path: &str) -> String {
    String::from_utf8(node.read_file(NS, POD, "rabbitmq", path)).unwrap()
}

/// The `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=` line of a `rabbitmq-env.conf`.
fn erl_args(env: &str) -> String {
    env.lines()
        .find(|l| l.starts_with(ERL_ARGS))
        .unwrap_or_else(|| panic!("no {ERL_ARGS} in:\n{env}"))
        .to_string()
}

/// The files of the pod's `shared` volume as the kubelet mounted them (its own directory on
/// the node), by name, and the timestamped directory its `..data` link points at (the kubelet
/// writes a new one and swaps the link when it updates the files).
fn mounted_files(node: &Node, pod: &Value) -> (BTreeMap<String, Vec<u8>>, String) {
    let dir = node
        .dir()
        .join("kubelet/pods")
        .join(uid(pod))
        .join("volumes/kubernetes.io~secret/shared");
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") {
            files.insert(name.clone(), fs::read(dir.join(&name)).unwrap());
        }
    }
    let data = fs::read_link(dir.join("..data")).expect("the kubelet's ..data link");
    assert!(!files.is_empty(), "nothing mounted in {}", dir.display());
    (files, data.to_string_lossy().into_owned())
}

/// The KollaConfig's one `status.rollout[]` record.
fn record(config: &Value) -> Value {
    let records = config["status"]["rollout"].as_array().cloned();
    match records.as_deref() {
        Some([one]) => one.clone(),
        other => panic!("not one rollout record: {other:?}"),
    }
}

/// Waits until the KollaConfig's `RolledOut` has `reason` and `accept` holds for the
/// KollaConfig; returns it.
fn wait_rolled_out_reason(
    node: &Node,
    reason: &str,
    limit: Duration,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    crate::wait::until(&format!("RolledOut reason {reason}"), limit, || {
        let config = kolla_config(node);
        match condition(&config, "RolledOut") {
            Some(c) if c["reason"] == reason && accept(&config) => Ok(config.clone()),
            other => Err(format!(
                "RolledOut {other:?}; outputVersion {}; rollout {}",
                config["status"]["outputVersion"], config["status"]["rollout"]
            )),
        }
    })
}

/// Waits until a version other than those of `old` is the KollaConfig's output version, its
/// record says `Complete` on it, `RolledOut` is `True` for it, and the pod runs it, ready.
/// Returns the version and the pod.
fn wait_complete(node: &Node, old: &[&str]) -> (String, Value) {
    let config = wait_rolled_out_reason(node, "RolledOut", POD_LIMIT, |config| {
        let version = config["status"]["outputVersion"].as_str().unwrap_or("");
        let record = &config["status"]["rollout"][0];
        !version.is_empty()
            && !old.contains(&version)
            && record["version"] == version
            && record["state"] == "Complete"
    });
    let version = config["status"]["outputVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let rolled_out = condition(&config, "RolledOut").unwrap();
    assert_eq!(rolled_out["status"], "True", "{rolled_out}");
    assert!(
        rolled_out["message"]
            .as_str()
            .is_some_and(|m| m.contains(&version)),
        "{rolled_out}"
    );
    let pod = delivery::wait_rolled_out(node, "statefulset", "rabbitmq", "rabbitmq-");
    assert_eq!(mounted_version(&pod).as_deref(), Some(version.as_str()));
    (version, pod)
}

/// Waits until `rabbitmq-0` is a pod other than `old_uid`, running and ready; returns it.
fn wait_replaced(node: &Node, old_uid: &str) -> Value {
    crate::wait::until("rabbitmq-0 replaced and ready", POD_LIMIT, || {
        let out = node.kubectl_raw(&["get", "pod", POD, "-n", NS, "-o", "json"]);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let pod: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        let ready = pod["status"]["containerStatuses"]
            .as_array()
            .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["ready"] == true));
        if uid(&pod) != old_uid && ready && pod["metadata"]["deletionTimestamp"].is_null() {
            Ok(pod)
        } else {
            Err(format!("uid {}, status {}", uid(&pod), pod["status"]))
        }
    })
}

/// The rabbitmq StatefulSet on versioned outputs, through the four scenarios in sequence (one
/// node start): a change rolls it once, paused holds it, a refused key is reported stuck, an
/// undo is reported rolled back.
#[test]
#[ignore = "needs the test node: KOLLACFG_KUBE_BIN and KOLLACFG_NODE_IMAGES (see tests/node/README.md)"]
fn rabbitmq_versioned_rollouts_on_the_node() {
    let node = Node::start_with(&["pause", "rabbitmq", "kollacfg"]);
    delivery::install_crds(&node);
    delivery::rabbitmq_base(&node);
    let mut config = delivery::rabbitmq_config(&node);
    assert_eq!(config["spec"]["output"]["versioned"], true);
    // A deadline far away: what stops a rollout below is a crashing pod, not time.
    config["spec"]["rolloutPolicy"] = json!({"progressDeadlineSeconds": 3600});
    let _controller = delivery::controller(&node);
    // The StatefulSet first: its pod waits for the Secret the placeholder names (never
    // written), until the KollaConfig's first pass points the template at the first version.
    delivery::apply(&node, &[delivery::rabbitmq_statefulset(&node)]);
    let mut objects = vec![config];
    objects.extend(delivery::seed_fragments());
    delivery::apply(&node, &objects);
    let (v1, first) = wait_complete(&node, &[]);
    assert_eq!(delivery::pod_name(&first), POD);

    // a. An ErlangVmArgs edit changes rabbitmq-env.conf: one template change, one new pod,
    //    RolledOut True on the new version, and the new flag in the running container's file.
    let generation_before = generation(&node);
    let creations_before = pod_creations(&node);
    merge_patch(
        &node,
        "erlangvmargs",
        "scheduler-no-busy-wait",
        &json!({"spec": {"distBufferBusyLimitKb": 8192}}),
    );
    let (v2, pod) = wait_complete(&node, &[&v1]);
    assert_ne!(uid(&pod), uid(&first));
    std::thread::sleep(QUIET);
    assert_eq!(generation(&node), generation_before + 1);
    assert_eq!(pod_creations(&node), creations_before + 1);
    let now = get(&node, "pod", POD);
    assert_eq!(now["metadata"]["uid"], pod["metadata"]["uid"]);
    assert_eq!(restart_count(&now), 0);
    let record_a = record(&kolla_config(&node));
    assert_eq!(record_a["version"], v2.as_str(), "{record_a}");
    assert_eq!(
        record_a["changedFiles"],
        json!(["rabbitmq-env.conf"]),
        "{record_a}"
    );
    let env_v1 = erl_args(&version_file(&node, &v1, "rabbitmq-env.conf"));
    let env_v2 = erl_args(&version_file(&node, &v2, "rabbitmq-env.conf"));
    assert!(env_v2.contains("+zdbbl 8192"), "{env_v2}");
    assert!(!env_v1.contains("zdbbl"), "{env_v1}");
    assert_eq!(
        erl_args(&container_file(&node, "/etc/rabbitmq/rabbitmq-env.conf")),
        env_v2
    );
    assert_eq!(
        erl_args(&container_file(
            &node,
            "/var/lib/kolla/config_files/rabbitmq-env.conf"
        )),
        env_v2
    );
    let vm = delivery::beam(&node, POD);
    assert!(vm.contains("-zdbbl 8192"), "{vm}");

    // b. Paused: a new version is written and the template stays; the running pod's mounted
    //    files stay byte for byte what they were past the kubelet's sync period.
    merge_patch(
        &node,
        "kollaconfig",
        "rabbitmq",
        &json!({"spec": {"rolloutPolicy": {"paused": true}}}),
    );
    let running = get(&node, "pod", POD);
    let (files_before, data_before) = mounted_files(&node, &running);
    let env_before = container_file(&node, "/etc/rabbitmq/rabbitmq-env.conf");
    let generation_before = generation(&node);
    merge_patch(
        &node,
        "erlangvmargs",
        "scheduler-no-busy-wait",
        &json!({"spec": {"distBufferBusyLimitKb": 16384}}),
    );
    let paused = wait_rolled_out_reason(&node, "Paused", Duration::from_secs(60), |config| {
        config["status"]["outputVersion"]
            .as_str()
            .is_some_and(|v| v != v2)
    });
    let written = Instant::now();
    let v3 = paused["status"]["outputVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let rolled_out = condition(&paused, "RolledOut").unwrap();
    assert_eq!(rolled_out["status"], "False", "{rolled_out}");
    let message = rolled_out["message"].as_str().unwrap();
    assert!(
        message.contains(&v2) && message.contains(&v3),
        "{rolled_out}"
    );
    assert_eq!(record(&paused)["state"], "Paused");
    let env_v3 = erl_args(&version_file(&node, &v3, "rabbitmq-env.conf"));
    assert!(env_v3.contains("+zdbbl 16384"), "{env_v3}");
    assert_eq!(mounted_version(&statefulset(&node)), Some(v2.clone()));
    std::thread::sleep(KUBELET_SYNC.saturating_sub(written.elapsed()));
    let (files_after, data_after) = mounted_files(&node, &running);
    assert_eq!(data_after, data_before, "the kubelet rewrote the volume");
    assert!(
        files_after == files_before,
        "the mounted files changed: {}",
        crate::world::describe_difference(&files_before, &files_after)
    );
    assert_eq!(
        container_file(&node, "/etc/rabbitmq/rabbitmq-env.conf"),
        env_before
    );
    let still = get(&node, "pod", POD);
    assert_eq!(still["metadata"]["uid"], running["metadata"]["uid"]);
    assert_eq!(restart_count(&still), 0);
    assert_eq!(generation(&node), generation_before);
    assert_eq!(mounted_version(&statefulset(&node)), Some(v2.clone()));

    //    A pod deleted by hand comes back on the template's version: the old files.
    node.kubectl(&["delete", "pod", POD, "-n", NS, "--wait=true"]);
    let recreated = wait_replaced(&node, &uid(&running));
    assert_eq!(mounted_version(&recreated), Some(v2.clone()));
    let (files_recreated, _) = mounted_files(&node, &recreated);
    assert!(
        files_recreated == files_before,
        "{}",
        crate::world::describe_difference(&files_before, &files_recreated)
    );
    assert_eq!(
        erl_args(&container_file(&node, "/etc/rabbitmq/rabbitmq-env.conf")),
        env_v2
    );
    assert_eq!(generation(&node), generation_before);

    //    Unpausing moves the template once, to the paused version.
    let creations_before = pod_creations(&node);
    merge_patch(
        &node,
        "kollaconfig",
        "rabbitmq",
        &json!({"spec": {"rolloutPolicy": {"paused": false}}}),
    );
    let (version, pod) = wait_complete(&node, &[&v1, &v2]);
    assert_eq!(version, v3);
    assert_ne!(uid(&pod), uid(&recreated));
    std::thread::sleep(QUIET);
    assert_eq!(generation(&node), generation_before + 1);
    assert_eq!(pod_creations(&node), creations_before + 1);
    assert_eq!(
        erl_args(&container_file(&node, "/etc/rabbitmq/rabbitmq-env.conf")),
        env_v3
    );

    // c. A rabbitmq.conf key RabbitMQ has no setting for: the new pod's broker refuses to
    //    boot; RolledOut names the pod, why it fails and the file that changed.
    let healthy = get(&node, "pod", POD);
    node.apply(
        &json!({
            "apiVersion": "kollacfg.dev/v1alpha1",
            "kind": "ConfigOverride",
            "metadata": {"name": "refused-key", "namespace": NS},
            "spec": {
                "kollaConfigRef": {"name": "rabbitmq"},
                "file": "rabbitmq.conf",
                "conf": {(REFUSED_KEY): "true"}
            }
        })
        .to_string(),
    );
    let stuck = wait_rolled_out_reason(&node, "RolloutStuck", POD_LIMIT, |config| {
        config["status"]["outputVersion"]
            .as_str()
            .is_some_and(|v| v != v3)
    });
    let v4 = stuck["status"]["outputVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(version_file(&node, &v4, "rabbitmq.conf").contains(REFUSED_KEY));
    let rolled_out = condition(&stuck, "RolledOut").unwrap();
    assert_eq!(rolled_out["status"], "False", "{rolled_out}");
    let message = rolled_out["message"].as_str().unwrap();
    assert!(
        message.starts_with("StatefulSet/rabbitmq: pod rabbitmq-0: container rabbitmq "),
        "{rolled_out}"
    );
    assert!(
        message.contains("CrashLoopBackOff") || message.contains("Error"),
        "{rolled_out}"
    );
    assert!(
        message.ends_with("; files changed in this revision: rabbitmq.conf"),
        "{rolled_out}"
    );
    let record_c = record(&stuck);
    assert_eq!(record_c["state"], "Stuck", "{record_c}");
    assert_eq!(record_c["version"], v4.as_str(), "{record_c}");
    assert_eq!(record_c["changedFiles"], json!(["rabbitmq.conf"]));
    let crashing = get(&node, "pod", POD);
    assert_ne!(crashing["metadata"]["uid"], healthy["metadata"]["uid"]);
    assert_eq!(mounted_version(&crashing), Some(v4.clone()));
    // The broker's container itself ends, again and again, never ready.
    crate::wait::until("the broker's container restarted", POD_LIMIT, || {
        let pod = get(&node, "pod", POD);
        let status = &pod["status"]["containerStatuses"][0];
        if pod["metadata"]["uid"] == crashing["metadata"]["uid"]
            && status["restartCount"].as_i64() >= Some(1)
            && status["lastState"]["terminated"].is_object()
            && status["ready"] == false
        {
            Ok(())
        } else {
            Err(format!("{status}"))
        }
    });

    // d. `kubectl rollout undo`: the pod is replaced on the previous template, whose files are
    //    the previous version's; kollacfg reports it rolled back and leaves it there.
    node.kubectl(&["rollout", "undo", "statefulset/rabbitmq", "-n", NS]);
    let undone = wait_replaced(&node, &uid(&crashing));
    assert_eq!(mounted_version(&undone), Some(v3.clone()));
    assert_eq!(
        erl_args(&container_file(&node, "/etc/rabbitmq/rabbitmq-env.conf")),
        env_v3
    );
    let conf = container_file(&node, "/etc/rabbitmq/rabbitmq.conf");
    assert!(!conf.contains(REFUSED_KEY), "{conf}");
    let rolled_back = wait_rolled_out_reason(&node, "RolledBack", Duration::from_secs(60), |c| {
        record(c)["state"] == "RolledBack"
    });
    let record_d = record(&rolled_back);
    assert_eq!(record_d["version"], v3.as_str(), "{record_d}");
    let rolled_out = condition(&rolled_back, "RolledOut").unwrap();
    assert_eq!(rolled_out["status"], "False", "{rolled_out}");
    assert!(
        rolled_out["message"]
            .as_str()
            .is_some_and(|m| m.contains(&v3)),
        "{rolled_out}"
    );
    assert_eq!(rolled_back["status"]["outputVersion"], v4.as_str());
    assert_eq!(mounted_version(&statefulset(&node)), Some(v3));
}
