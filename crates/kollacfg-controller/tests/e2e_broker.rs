//! End to end with a live broker: the real `kollacfg run` against a real kube-apiserver (as in
//! `e2e.rs`, under the chart's ServiceAccount) and a real RabbitMQ 3.10 node with its
//! management API on loopback (the fidelity harness's private node, booted from kolla's base
//! files, so kolla's `ha-all` is live). A KollaConfig with `spec.rabbitmq.management` keeps the
//! broker's policies equal to its rendered definitions.json without restarting the
//! StatefulSet; every assertion is on what the API server or `rabbitmqctl` reports.
//!
//! `#[ignore]`d in a plain `cargo test`: it needs `KOLLACFG_KUBE_BIN`, root and Debian's
//! `rabbitmq-server` (tests/run provides them).

#[allow(dead_code)]
#[path = "e2e/cluster.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "e2e/controller.rs"]
mod controller;
#[allow(dead_code)]
#[path = "../../kollacfg/tests/fidelity/rabbit.rs"]
mod rabbit;
#[allow(dead_code)]
#[path = "../../kollacfg/tests/fidelity/support.rs"]
mod support;
#[path = "e2e/wait.rs"]
mod wait;
#[allow(dead_code)]
#[path = "e2e/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use cluster::{repo, Cluster};
use controller::Controller;
use rabbit::RabbitNode;
use world::{condition, config_hash, object_files};

const NS: &str = "e2e-broker";
const USER: &str = "kollacfg";
const PASSWORD: &str = "e2e-Vb73kQ0pLm";
const LIMIT: Duration = Duration::from_secs(60);

/// The policies of vhost `/` in the node: name → (pattern, definition).
fn live(node: &RabbitNode) -> BTreeMap<String, (String, Value)> {
    node.policies()
        .into_iter()
        .map(|p| (p.name, (p.pattern, p.definition)))
        .collect()
}

/// Waits until the node's policies satisfy `want`; returns how long it took.
fn wait_live(
    node: &RabbitNode,
    what: &str,
    want: impl Fn(&BTreeMap<String, (String, Value)>) -> bool,
) -> Duration {
    let started = Instant::now();
    wait::until(what, LIMIT, || {
        let now = live(node);
        if want(&now) {
            Ok(())
        } else {
            Err(format!("live policies: {now:?}"))
        }
    });
    started.elapsed()
}

fn kolla_config(port: u16) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {{name: rabbitmq, namespace: {NS}}}
spec:
  service: rabbitmq
  base: {{secretRef: {{name: rabbitmq-kolla}}}}
  rollout: [{{kind: StatefulSet, name: rabbitmq}}]
  rabbitmq:
    version: \"3.10\"
    management:
      url: http://127.0.0.1:{port}
      credentialsSecretRef: {{name: rabbitmq-management}}
"
    )
}

fn policy(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1
kind: RabbitPolicy
metadata: {{name: {name}, namespace: {NS}}}
spec:
  kollaConfigRef: {{name: rabbitmq}}
{spec}"
    )
}

fn ha_two(params: u32) -> String {
    policy(
        "ha-two",
        &format!("  pattern: '^q\\.'\n  definition: {{ha-mode: exactly, ha-params: {params}}}\n"),
    )
}

fn erlang(busy_wait: &str) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1
kind: ErlangVmArgs
metadata: {{name: erlang, namespace: {NS}}}
spec:
  kollaConfigRef: {{name: rabbitmq}}
  schedulerBusyWait: {busy_wait}
"
    )
}

fn credentials(cluster: &Cluster, password: &str) {
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "rabbitmq-management", "namespace": NS},
        "stringData": {"username": USER, "password": password},
    });
    cluster.apply(&secret.to_string());
}

fn statefulset_hash(cluster: &Cluster) -> Option<String> {
    config_hash(&cluster.get("statefulset", NS, "rabbitmq").unwrap().unwrap())
}

fn definitions(cluster: &Cluster) -> String {
    let secret = cluster
        .get("secret", NS, "rabbitmq-config")
        .unwrap()
        .expect("the output Secret");
    String::from_utf8(object_files(&secret)["definitions.json"].clone()).unwrap()
}

/// The KollaConfig's `BrokerSynced` (status, reason, message) once it is for the current
/// generation and satisfies `want`.
fn wait_synced(cluster: &Cluster, want: &str, reason: &str) -> Value {
    wait::until(&format!("BrokerSynced {want} ({reason})"), LIMIT, || {
        let kc = cluster
            .get("kollaconfig", NS, "rabbitmq")?
            .ok_or("no KollaConfig")?;
        match condition(&kc, "BrokerSynced") {
            Some(c) if c["status"] == want && c["reason"] == reason => Ok(kc.clone()),
            other => Err(format!("BrokerSynced {other:?}")),
        }
    })
}

/// GETs sent to the broker so far.
fn broker_gets(controller: &Controller) -> u64 {
    controller
        .metrics()
        .lines()
        .filter(|l| {
            l.starts_with("kollacfg_broker_requests_total{") && l.contains("method=\"GET\"")
        })
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(_, v)| v.parse::<f64>().unwrap_or(0.0) as u64)
        .sum()
}

#[test]
#[ignore = "needs a real kube-apiserver and Debian's rabbitmq-server (tests/run provides them)"]
fn policies_follow_the_resources_live() {
    let started = Instant::now();
    let Some(cluster) = Cluster::start(false) else {
        return;
    };
    let mut node = RabbitNode::boot(&repo().join("examples/base/rabbitmq"));
    node.ctl(&["add_user", USER, PASSWORD]);
    node.ctl(&["set_user_tags", USER, "policymaker"]);
    node.ctl(&["set_permissions", "-p", "/", USER, "^$", "^$", "^$"]);
    let by_hand = r#"{"max-length":10}"#;
    node.ctl(&["set_policy", "-p", "/", "by-hand", "^hand\\.", by_hand]);
    assert!(live(&node).contains_key("ha-all"), "kolla's ha-all is live");

    cluster.kubectl(&["create", "namespace", NS]);
    let base = format!(
        "--from-file={}",
        repo().join("examples/base/rabbitmq").display()
    );
    cluster.kubectl(&[
        "create",
        "secret",
        "generic",
        "rabbitmq-kolla",
        "-n",
        NS,
        &base,
    ]);
    credentials(&cluster, PASSWORD);
    cluster.apply(&world::workload("StatefulSet", NS, "rabbitmq", None));
    let mut controller = Controller::start(&cluster, "broker", &["--broker-resync", "3"]);
    controller.wait_ready();

    // The target and a VM flag: rendered, synced, the StatefulSet annotated once.
    cluster.apply(&kolla_config(node.management_port()));
    cluster.apply(&erlang("none"));
    wait_synced(&cluster, "True", "Synced");
    let first = wait::until("the StatefulSet's config hash", LIMIT, || {
        statefulset_hash(&cluster).ok_or_else(|| "no hash yet".to_string())
    });
    eprintln!("e2e-broker: target synced ({:?})", started.elapsed());

    // 1. A new RabbitPolicy goes live; the file holds it; no restart.
    cluster.apply(&ha_two(2));
    let took = wait_live(&node, "ha-two live", |p| {
        p.get("ha-two")
            .is_some_and(|(_, d)| d == &json!({"ha-mode": "exactly", "ha-params": 2}))
    });
    eprintln!("e2e-broker: a new policy was live after {took:?}");
    wait::until("ha-two in definitions.json", LIMIT, || {
        let text = definitions(&cluster);
        if text.contains("\"name\":\"ha-two\"") {
            Ok(())
        } else {
            Err(text)
        }
    });
    assert_eq!(statefulset_hash(&cluster).as_ref(), Some(&first));

    // 2. An edit goes live; still no restart.
    cluster.apply(&ha_two(3));
    wait_live(&node, "ha-two edited live", |p| {
        p.get("ha-two").is_some_and(|(_, d)| d["ha-params"] == 3)
    });
    assert_eq!(statefulset_hash(&cluster).as_ref(), Some(&first));

    // Nothing changed: the passes of three broker resyncs write nothing (no status, no output,
    // no policy), also for a policy shaped as the benchmark's (queues only, a TTL).
    cluster.apply(&policy(
        "ttl-bench",
        "  name: bench-ttl\n  pattern: '^q'\n  applyTo: queues\n  definition: {message-ttl: 100001}\n",
    ));
    wait_live(&node, "bench-ttl live", |p| p.contains_key("bench-ttl"));
    let writes = || {
        (
            controller.writes(),
            controller.counter("kollacfg_broker_requests_total") - broker_gets(&controller),
        )
    };
    wait::until("the controller to stop writing", LIMIT, || {
        let before = writes();
        std::thread::sleep(Duration::from_secs(10));
        let after = writes();
        if before == after {
            Ok(())
        } else {
            Err(format!(
                "writes (API, broker) went from {before:?} to {after:?} in 10 s"
            ))
        }
    });
    let gets = broker_gets(&controller);
    let quiet = writes();
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(writes(), quiet, "a pass over an unchanged world wrote");
    assert!(broker_gets(&controller) > gets, "no broker resync in 10 s");

    // 3. `absent` removes kolla's base ha-all from the broker and from the file.
    cluster.apply(&policy("no-ha-all", "  name: ha-all\n  absent: true\n"));
    wait_live(&node, "ha-all gone", |p| !p.contains_key("ha-all"));
    wait::until("ha-all out of definitions.json", LIMIT, || {
        let text = definitions(&cluster);
        if text.contains("\"ha-all\"") {
            Err(text)
        } else {
            Ok(())
        }
    });
    assert_eq!(statefulset_hash(&cluster).as_ref(), Some(&first));

    // 4. Drift: a managed policy changed by hand is restored by the next broker resync;
    // the policy made by hand, never published, is left alone.
    node.ctl(&[
        "set_policy",
        "-p",
        "/",
        "ha-two",
        "^q\\.",
        r#"{"ha-mode":"all"}"#,
    ]);
    let took = wait_live(&node, "ha-two restored", |p| {
        p.get("ha-two").is_some_and(|(_, d)| d["ha-params"] == 3)
    });
    eprintln!("e2e-broker: drift repaired after {took:?}");
    assert!(controller.counter("kollacfg_broker_policies_restored_total") >= 1);
    let by_hand_live = live(&node)["by-hand"].clone();
    assert_eq!(by_hand_live.1, json!({"max-length": 10}));
    let kc = cluster.get("kollaconfig", NS, "rabbitmq").unwrap().unwrap();
    let broker = &kc["status"]["broker"];
    assert_eq!(broker["unmanaged"], 1, "{broker}");
    assert_eq!(
        broker["unmanagedPolicies"],
        json!(["//by-hand"]),
        "{broker}"
    );

    // 5. Deleting the fragment deletes the policy live and from the file.
    cluster.kubectl(&["delete", "rabbitpolicy", "ha-two", "-n", NS, "--wait=true"]);
    wait_live(&node, "ha-two deleted", |p| !p.contains_key("ha-two"));
    wait::until("ha-two out of definitions.json", LIMIT, || {
        let text = definitions(&cluster);
        if text.contains("\"ha-two\"") {
            Err(text)
        } else {
            Ok(())
        }
    });
    // The record of pending deletions is cleared once the broker confirmed.
    wait::until("no pending deletions", LIMIT, || {
        let secret = cluster.get("secret", NS, "rabbitmq-config")?.unwrap();
        match secret["metadata"]["annotations"]["kollacfg.dev/broker-pending-deletes"].as_str() {
            None => Ok(()),
            Some(pending) => Err(pending.to_string()),
        }
    });
    assert!(live(&node).contains_key("by-hand"));
    assert_eq!(statefulset_hash(&cluster).as_ref(), Some(&first));

    // 6. An ErlangVmArgs change still restarts: the rollout hash moves.
    cluster.apply(&erlang("short"));
    wait::until("a new config hash", LIMIT, || {
        match statefulset_hash(&cluster) {
            Some(h) if h != first => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });

    // 7. The broker down for 30 s: an edit made meanwhile is reported BrokerUnreachable; once
    // the broker is back (it imports kolla's base file again at boot, ha-all included), the
    // controller converges by itself through its backoff: the edit live, ha-all gone again.
    // A RabbitPolicy left alone keeps its Live condition, unwritten; the new one is Unknown.
    let bench_policy = || {
        cluster
            .get("rabbitpolicy", NS, "ttl-bench")
            .unwrap()
            .unwrap()
    };
    let before = bench_policy();
    node.stop_server();
    let down = Instant::now();
    cluster.apply(&policy(
        "ttl",
        "  pattern: '^ttl\\.'\n  definition: {message-ttl: 60000}\n",
    ));
    wait_synced(&cluster, "False", "BrokerUnreachable");
    wait::until("the new RabbitPolicy's Live Unknown", LIMIT, || {
        let ttl = cluster.get("rabbitpolicy", NS, "ttl")?.ok_or("no ttl")?;
        match world::condition(&ttl, "Live") {
            Some(c) if c["status"] == "Unknown" && c["reason"] == "BrokerUnreachable" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let during = bench_policy();
    assert_eq!(
        during["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
        "the status of an unedited RabbitPolicy was rewritten in the outage: {}",
        during["status"]
    );
    assert_eq!(world::condition(&during, "Live").unwrap()["status"], "True");
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down.elapsed()));
    node.start_again();
    let back = Instant::now();
    wait::until(
        "the restarted broker to converge",
        Duration::from_secs(240),
        || {
            let now = live(&node);
            if now.contains_key("ttl") && !now.contains_key("ha-all") {
                Ok(())
            } else {
                Err(format!("live policies: {now:?}"))
            }
        },
    );
    eprintln!(
        "e2e-broker: converged {:?} after the broker came back",
        back.elapsed()
    );
    wait_synced(&cluster, "True", "Synced");

    // 8. A wrong password: Unauthorized, and the password is nowhere in the status.
    credentials(&cluster, "not-the-password");
    let kc = wait_synced(&cluster, "False", "Unauthorized");
    assert!(!kc["status"].to_string().contains(PASSWORD));
    credentials(&cluster, PASSWORD);
    wait_synced(&cluster, "True", "Synced");

    controller.assert_running();
    controller.stop();
    eprintln!("e2e-broker: done ({:?})", started.elapsed());
}
