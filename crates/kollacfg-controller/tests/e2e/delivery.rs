//! The delivery pattern of `examples/kolla-delivery/` on the real node: the output Secret mounted
//! read-only, the kollacfg image's `materialize` in an init container writing an in-memory
//! emptyDir with the pod's own values, and the kolla image's own `kolla_start` copying the files
//! as its `config.json` says. The example's manifests are applied as shipped, with the test
//! node's image references (and, for the StatefulSet, one replica on an emptyDir instead of a
//! volume claim). Every assertion is made from inside the running pods or on what the API server
//! reports.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{repo, Cluster};
use crate::controller::Controller;
use crate::node::Node;
use crate::world::{condition, config_hash, object_files};

pub(crate) const NS: &str = "openstack";
pub(crate) const POD_LIMIT: Duration = Duration::from_secs(300);
const BROKER_USER: &str = "kollacfg";
const BROKER_PASSWORD: &str = "node-e2e-Qx81vLs0";

/// The objects of a file of `examples/kolla-delivery/`, as kubectl reads them (YAML 1.1:
/// `defaultMode: 0440` is octal), without creating anything.
pub(crate) fn example(node: &Node, name: &str) -> Vec<Value> {
    let path = repo().join("examples/kolla-delivery").join(name);
    let printed = node.kubectl(&[
        "create",
        "--dry-run=client",
        "-o",
        "json",
        "-f",
        path.to_str().unwrap(),
    ]);
    // One JSON object per document, one after the other.
    serde_json::Deserializer::from_str(&printed)
        .into_iter::<Value>()
        .map(|object| object.expect("kubectl prints JSON"))
        .collect()
}

/// The document of `kind` named `name` among `documents`.
pub(crate) fn find(documents: &[Value], kind: &str, name: &str) -> Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the example"))
        .clone()
}

/// One `kubectl apply` of several objects.
pub(crate) fn apply(node: &Node, objects: &[Value]) {
    node.apply(&json!({"apiVersion": "v1", "kind": "List", "items": objects}).to_string());
}

/// Puts the test node's images in place of the example's references.
pub(crate) fn local_images(node: &Node, workload: &mut Value, service_image: &str) {
    let spec = &mut workload["spec"]["template"]["spec"];
    for init in spec["initContainers"].as_array_mut().unwrap() {
        init["image"] = json!(node.image("kollacfg"));
        init["imagePullPolicy"] = json!("Never");
    }
    for container in spec["containers"].as_array_mut().unwrap() {
        container["image"] = json!(node.image(service_image));
        container["imagePullPolicy"] = json!("Never");
    }
}

/// The CRDs (without the validation rules 1.20 does not know), established.
pub(crate) fn install_crds(node: &Node) {
    node.apply(&Cluster::stripped_crds());
    crate::wait::until("the CRDs established", Duration::from_secs(60), || {
        let out = node.kubectl_raw(&["get", "kollaconfigs,rabbitpolicies", "-A"]);
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    node.apply(
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}).to_string(),
    );
}

/// `kubectl create secret generic NAME` from every file of `dirs`.
pub(crate) fn base_secret(node: &Node, name: &str, dirs: &[PathBuf]) {
    let mut args = vec!["create", "secret", "generic", name, "-n", NS];
    let from: Vec<String> = dirs
        .iter()
        .map(|d| format!("--from-file={}", d.display()))
        .collect();
    args.extend(from.iter().map(String::as_str));
    node.kubectl(&args);
}

/// The controller, inside the node's network namespace, with the admin's credentials (the
/// chart's RBAC is proven by the tests of `e2e.rs`).
pub(crate) fn controller(node: &Node) -> Controller {
    Controller::start_in(
        node.dir(),
        Some(node.var("NODE_NETNS")),
        "node",
        &["--broker-resync", "5"],
        &node.dir().join("admin.kubeconfig"),
    )
}

pub(crate) fn get(node: &Node, kind: &str, name: &str) -> Value {
    serde_json::from_str(&node.kubectl(&["get", kind, name, "-n", NS, "-o", "json"]))
        .expect("an object as JSON")
}

/// Waits until the workload has rolled out its current template (carrying the config hash)
/// to one ready pod; returns that pod.
pub(crate) fn wait_rolled_out(node: &Node, kind: &str, name: &str, pod_prefix: &str) -> Value {
    crate::wait::until(
        &format!("{kind} {name} rolled out with kollacfg's hash"),
        POD_LIMIT,
        || {
            let workload = get(node, kind, name);
            let Some(hash) = config_hash(&workload) else {
                return Err("no kollacfg.dev/config-hash on the template yet".into());
            };
            let pods: Value =
                serde_json::from_str(&node.kubectl(&["get", "pods", "-n", NS, "-o", "json"]))
                    .unwrap();
            let pods: Vec<&Value> = pods["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| {
                    p["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with(pod_prefix))
                        && p["metadata"]["deletionTimestamp"].is_null()
                })
                .collect();
            let ready = |p: &Value| {
                p["status"]["containerStatuses"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["ready"] == true))
            };
            match pods.as_slice() {
                [pod]
                    if pod["metadata"]["annotations"]["kollacfg.dev/config-hash"] == hash
                        && ready(pod) =>
                {
                    Ok((*pod).clone())
                }
                _ => Err(format!(
                    "hash {hash}; pods: {:?}",
                    pods.iter()
                        .map(|p| (
                            p["metadata"]["name"].clone(),
                            p["metadata"]["annotations"]["kollacfg.dev/config-hash"].clone(),
                            p["status"]["phase"].clone(),
                            p["status"]["initContainerStatuses"][0]["state"].clone()
                        ))
                        .collect::<Vec<_>>()
                )),
            }
        },
    )
}

pub(crate) fn pod_name(pod: &Value) -> String {
    pod["metadata"]["name"].as_str().unwrap().to_string()
}

/// The version of its output a KollaConfig names (`status.outputVersion`), once it names one.
pub(crate) fn output_version(node: &Node, kolla_config: &str) -> String {
    crate::wait::until(
        &format!("KollaConfig {kolla_config} naming its output version"),
        Duration::from_secs(60),
        || {
            let config = get(node, "kollaconfig", kolla_config);
            config["status"]["outputVersion"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{}", config["status"]))
        },
    )
}

/// The Secret the `shared` volume of a pod or a workload's pod template mounts.
pub(crate) fn mounted_version(pod: &Value) -> Option<String> {
    crate::world::volume_secret(pod, "shared")
}

/// `rabbitmqctl ARGS` in the pod's broker container, once the broker answers.
pub(crate) fn rabbitmqctl(node: &Node, pod: &str, args: &[&str]) -> String {
    let mut argv = vec!["rabbitmqctl"];
    argv.extend_from_slice(args);
    crate::wait::until(
        &format!("rabbitmqctl {} in {pod}", args.join(" ")),
        Duration::from_secs(180),
        || {
            let out = node.exec(NS, pod, "rabbitmq", &argv);
            if out.status.success() {
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            } else {
                Err(format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        },
    )
}

/// The broker's policies of vhost `/`: name → definition.
fn policies(node: &Node, pod: &str) -> serde_json::Map<String, Value> {
    let text = rabbitmqctl(node, pod, &["list_policies", "--formatter", "json"]);
    let list: Vec<Value> = serde_json::from_str(&text).expect("list_policies as JSON");
    list.into_iter()
        .map(|p| {
            let definition = match &p["definition"] {
                Value::String(s) => serde_json::from_str(s).unwrap(),
                other => other.clone(),
            };
            (p["name"].as_str().unwrap().to_string(), definition)
        })
        .collect()
}

/// The command line of the broker's Erlang VM in the pod.
pub(crate) fn beam(node: &Node, pod: &str) -> String {
    let processes = node.processes(NS, pod, "rabbitmq");
    processes
        .iter()
        .find(|p| p.contains("beam.smp"))
        .unwrap_or_else(|| panic!("no beam.smp among {processes:?}"))
        .clone()
}

pub(crate) fn restart_count(pod: &Value) -> i64 {
    pod["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap()
}

/// `rabbitmq-kolla`: kolla's RabbitMQ files (`examples/base/rabbitmq`) and what the delivery
/// example adds to them (`config.json`, ...).
pub(crate) fn rabbitmq_base(node: &Node) {
    base_secret(
        node,
        "rabbitmq-kolla",
        &[
            repo().join("examples/base/rabbitmq"),
            repo().join("examples/kolla-delivery/base/rabbitmq"),
        ],
    );
}

/// The example's RabbitMQ KollaConfig, with the node name from the pod's name (the issue's
/// scenario).
pub(crate) fn rabbitmq_config(node: &Node) -> Value {
    let mut config = find(&example(node, "kollacfg.yaml"), "KollaConfig", "rabbitmq");
    config["spec"]["perPod"][0]["env"]["RABBITMQ_NODENAME"] = json!("rabbit@{podName}");
    config
}

/// The fragments of the CPU seed (`examples/rabbitmq-cpu`; its own KollaConfig is the
/// example's): the `ha-all` policy and the scheduler flags.
pub(crate) fn seed_fragments() -> Vec<Value> {
    crate::documents(
        &fs::read_to_string(repo().join("examples/rabbitmq-cpu/rabbitmq.yaml")).unwrap(),
    )
    .into_iter()
    .filter(|d| d["kind"] != "KollaConfig")
    .collect()
}

/// The example's StatefulSet for the test node: its images, one replica, an emptyDir instead
/// of a volume claim, and `rabbitmq-0` resolving to the node's address.
pub(crate) fn rabbitmq_statefulset(node: &Node) -> Value {
    let ip = node.var("NODE_IP");
    let mut statefulset = find(&example(node, "workloads.yaml"), "StatefulSet", "rabbitmq");
    local_images(node, &mut statefulset, "rabbitmq");
    statefulset["spec"]["replicas"] = json!(1);
    statefulset["spec"]
        .as_object_mut()
        .unwrap()
        .remove("volumeClaimTemplates");
    let pod_spec = &mut statefulset["spec"]["template"]["spec"];
    pod_spec["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "data", "emptyDir": {}}));
    // rabbit@rabbitmq-0 must resolve; with hostNetwork the pod uses the node's hosts file plus
    // these entries.
    pod_spec["hostAliases"] = json!([{"ip": ip, "hostnames": ["rabbitmq-0"]}]);
    statefulset
}

/// RabbitMQ as a StatefulSet through `materialize` and kolla's start path, with the CPU seed
/// (`examples/rabbitmq-cpu`) applied: the broker in the pod runs with the seed's policy and
/// Erlang flags and its own node name; a policy edit reaches it live without restarting it; an
/// `ErlangVmArgs` edit replaces the pod, whose new VM has the new flag.
#[test]
#[ignore = "needs the test node: KOLLACFG_KUBE_BIN and KOLLACFG_NODE_IMAGES (see tests/node/README.md)"]
fn rabbitmq_statefulset_through_materialize_and_kolla_start() {
    let node = Node::start_with(&["pause", "rabbitmq", "kollacfg"]);
    let ip = node.var("NODE_IP").to_string();
    install_crds(&node);
    rabbitmq_base(&node);
    node.kubectl(&[
        "create",
        "secret",
        "generic",
        "rabbitmq-management",
        "-n",
        NS,
        &format!("--from-literal=username={BROKER_USER}"),
        &format!("--from-literal=password={BROKER_PASSWORD}"),
    ]);

    // The example's KollaConfig with the broker's management API for live policies.
    let mut config = rabbitmq_config(&node);
    config["spec"]["rabbitmq"]["management"] = json!({
        "url": format!("http://{ip}:15672"),
        "credentialsSecretRef": {"name": "rabbitmq-management"}
    });
    let mut objects = vec![config];
    objects.extend(seed_fragments());
    apply(&node, &objects);
    let statefulset = rabbitmq_statefulset(&node);

    let _controller = controller(&node);
    apply(&node, &[statefulset]);
    let pod = wait_rolled_out(&node, "statefulset", "rabbitmq", "rabbitmq-");
    let name = pod_name(&pod);
    assert_eq!(name, "rabbitmq-0");

    // The shared output (the version the KollaConfig names, which the pod's template mounts)
    // keeps the base's host values and carries the manifest; the pod's copy has its own.
    let version = output_version(&node, "rabbitmq");
    assert_eq!(mounted_version(&pod).as_deref(), Some(version.as_str()));
    let output = object_files(&get(&node, "secret", &version));
    let shared_env = String::from_utf8(output["rabbitmq-env.conf"].clone()).unwrap();
    assert!(
        shared_env.contains("RABBITMQ_NODENAME=rabbit@controller01\n"),
        "{shared_env}"
    );
    assert!(
        output.contains_key("kollacfg-perpod.json"),
        "{:?}",
        output.keys()
    );
    let env =
        String::from_utf8(node.read_file(NS, &name, "rabbitmq", "/etc/rabbitmq/rabbitmq-env.conf"))
            .unwrap();
    assert!(
        env.contains("RABBITMQ_NODENAME=rabbit@rabbitmq-0\n"),
        "{env}"
    );
    assert!(env.contains(&format!("ERL_EPMD_ADDRESS={ip}\n")), "{env}");
    let conf =
        String::from_utf8(node.read_file(NS, &name, "rabbitmq", "/etc/rabbitmq/rabbitmq.conf"))
            .unwrap();
    assert!(
        conf.contains(&format!("listeners.tcp.1 = {ip}:5672\n")),
        "{conf}"
    );
    let listing = node.exec_ok(
        NS,
        &name,
        "rabbitmq",
        &[
            "stat",
            "-c",
            "%n %a",
            "--",
            "/var/lib/kolla/config_files/config.json",
            "/var/lib/kolla/config_files/rabbitmq-env.conf",
        ],
    );
    assert_eq!(
        listing,
        "/var/lib/kolla/config_files/config.json 440\n/var/lib/kolla/config_files/rabbitmq-env.conf 440\n"
    );
    let manifest = node.exec(
        NS,
        &name,
        "rabbitmq",
        &[
            "test",
            "-e",
            "/var/lib/kolla/config_files/kollacfg-perpod.json",
        ],
    );
    assert!(
        !manifest.status.success(),
        "the manifest was copied into the service's files"
    );
    let logs = node.logs(NS, &name, "rabbitmq");
    assert!(
        logs.contains("Copying /var/lib/kolla/config_files/rabbitmq-env.conf to /etc/rabbitmq/rabbitmq-env.conf"),
        "kolla_set_configs did not copy the files:\n{logs}"
    );

    // The seed, as the broker in the pod runs it.
    assert_eq!(
        rabbitmqctl(&node, &name, &["eval", "node()."]).trim(),
        "'rabbit@rabbitmq-0'"
    );
    let vm = beam(&node, &name);
    assert!(vm.contains("-sbwt none -sub true"), "{vm}");
    assert_eq!(
        policies(&node, &name)["ha-all"],
        json!({"ha-mode": "exactly", "ha-params": 2})
    );

    // Live: once the broker knows kollacfg's user, a policy edit reaches it, and the pod keeps
    // running (same pod, no restart, same template hash).
    for args in [
        vec!["add_user", BROKER_USER, BROKER_PASSWORD],
        vec!["set_user_tags", BROKER_USER, "administrator"],
        vec!["set_permissions", "-p", "/", BROKER_USER, ".*", ".*", ".*"],
    ] {
        rabbitmqctl(&node, &name, &args);
    }
    // The controller retries an unreachable broker with its backoff (doubling, at most 5 min);
    // the broker was unreachable from the first pass until its pod, which waited for the first
    // version, had booted.
    crate::wait::until("BrokerSynced=True", Duration::from_secs(330), || {
        let config = get(&node, "kollaconfig", "rabbitmq");
        match condition(&config, "BrokerSynced") {
            Some(c) if c["status"] == "True" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    let hash = config_hash(&get(&node, "statefulset", "rabbitmq"));
    node.kubectl(&[
        "patch",
        "rabbitpolicy",
        "ha-all-exactly-two",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"definition":{"ha-mode":"exactly","ha-params":3}}}"#,
    ]);
    crate::wait::until("the edited policy live", Duration::from_secs(30), || {
        let live = policies(&node, &name);
        if live["ha-all"] == json!({"ha-mode": "exactly", "ha-params": 3}) {
            Ok(())
        } else {
            Err(format!("{live:?}"))
        }
    });
    let after = get(&node, "pod", &name);
    assert_eq!(after["metadata"]["uid"], pod["metadata"]["uid"]);
    assert_eq!(restart_count(&after), 0);
    assert_eq!(config_hash(&get(&node, "statefulset", "rabbitmq")), hash);

    // An Erlang flag is read at boot only: the edit rolls the StatefulSet, and the new VM has it.
    node.kubectl(&[
        "patch",
        "erlangvmargs",
        "scheduler-no-busy-wait",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"distBufferBusyLimitKb":8192}}"#,
    ]);
    crate::wait::until("a new template hash", Duration::from_secs(60), || {
        let now = config_hash(&get(&node, "statefulset", "rabbitmq"));
        if now != hash {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    });
    let replaced = wait_rolled_out(&node, "statefulset", "rabbitmq", "rabbitmq-");
    assert_ne!(replaced["metadata"]["uid"], pod["metadata"]["uid"]);
    rabbitmqctl(&node, &name, &["status"]);
    let vm = beam(&node, &name);
    assert!(vm.contains("-zdbbl 8192"), "{vm}");
    assert!(vm.contains("-sbwt none -sub true"), "{vm}");
}

/// A `config.json` for the test's nova image: instead of nova-compute (which needs libvirt),
/// Nova's own config loader reads the copied nova.conf and prints what it got.
const NOVA_CONFIG_JSON: &str = r#"{
    "command": "bash /var/lib/kolla/config_files/loader.sh",
    "config_files": [
        {
            "source": "/var/lib/kolla/config_files/nova.conf",
            "dest": "/etc/nova/nova.conf",
            "owner": "nova",
            "perm": "0600"
        }
    ]
}
"#;

const NOVA_LOADER: &str = "python3 /var/lib/kolla/config_files/nova_check.py /etc/nova/nova.conf \
DEFAULT.my_ip DEFAULT.host vnc.server_proxyclient_address\nexec sleep infinity\n";

/// The base directory of the test's nova-compute: kolla's nova.conf, the loader's config.json.
fn nova_base(dir: &Path) -> PathBuf {
    let base = dir.join("nova-base");
    fs::create_dir_all(&base).unwrap();
    fs::copy(
        repo().join("examples/base/nova-compute/nova.conf"),
        base.join("nova.conf"),
    )
    .unwrap();
    fs::copy(
        repo().join("crates/kollacfg/tests/fidelity/nova_check.py"),
        base.join("nova_check.py"),
    )
    .unwrap();
    fs::write(base.join("config.json"), NOVA_CONFIG_JSON).unwrap();
    fs::write(base.join("loader.sh"), NOVA_LOADER).unwrap();
    base
}

/// A nova DaemonSet through `materialize`: Nova's own loader, in the pod, reads `my_ip` equal to
/// the pod's `status.hostIP`; a target with kolla's literal `my_ip` is flagged; and a pod whose
/// `materialize` refuses (a fact missing) stops at its init container with the reason in its
/// status, and nothing reaches the service container.
#[test]
#[ignore = "needs the test node: KOLLACFG_KUBE_BIN and KOLLACFG_NODE_IMAGES (see tests/node/README.md)"]
fn nova_daemonset_reads_its_own_host_ip() {
    let node = Node::start_with(&["pause", "nova", "kollacfg"]);
    let ip = node.var("NODE_IP").to_string();
    let node_name = node.var("NODE_NAME").to_string();
    install_crds(&node);
    let base = nova_base(node.dir());
    base_secret(&node, "nova-compute-kolla", &[base]);

    let config = find(
        &example(&node, "kollacfg.yaml"),
        "KollaConfig",
        "nova-compute",
    );
    // The same base without perPod: kolla's literal my_ip would reach every pod.
    let mut literal = config.clone();
    literal["metadata"]["name"] = json!("nova-compute-literal");
    literal["spec"].as_object_mut().unwrap().remove("perPod");
    literal["spec"]["output"]["name"] = json!("nova-compute-literal-config");
    // Still for a DaemonSet (what makes a literal host value a finding), but not the example's:
    // that one follows its own KollaConfig's versions only. This one is never created.
    literal["spec"]["rollout"][0]["name"] = json!("nova-compute-literal");
    let mut daemonset = find(
        &example(&node, "workloads.yaml"),
        "DaemonSet",
        "nova-compute",
    );
    local_images(&node, &mut daemonset, "nova");
    apply(&node, &[daemonset]);
    // The controller reads rollout workloads when it renders (it does not watch them): the
    // DaemonSet exists first, its pods waiting for the output Secret meanwhile.
    let _controller = controller(&node);
    apply(&node, &[config, literal]);
    let pod = wait_rolled_out(&node, "daemonset", "nova-compute", "nova-compute-");
    let name = pod_name(&pod);
    assert_eq!(pod["status"]["hostIP"], ip.as_str());
    // The placeholder of workloads.yaml replaced by the version the KollaConfig names.
    assert_eq!(
        mounted_version(&pod),
        Some(output_version(&node, "nova-compute"))
    );

    // Ready is not printed yet: the container runs kolla_start first, then the loader.
    let report: Value = crate::wait::until("Nova's loader's report", POD_LIMIT, || {
        let logs = node.logs(NS, &name, "nova-compute");
        logs.lines()
            .find_map(|l| serde_json::from_str(l).ok())
            .ok_or_else(|| format!("no JSON printed yet:\n{logs}"))
    });
    assert_eq!(
        report["values"],
        json!({"DEFAULT.my_ip": ip, "DEFAULT.host": node_name,
               "vnc.server_proxyclient_address": ip}),
        "{report}"
    );
    assert_eq!(report["sources"]["DEFAULT.my_ip"], "user", "{report}");

    // The literal target: HostSpecificValue names the file, the item, the value and the fix.
    crate::wait::until(
        "HostSpecificValue on the literal target",
        Duration::from_secs(60),
        || {
            let literal = get(&node, "kollaconfig", "nova-compute-literal");
            match condition(&literal, "HostSpecificValue") {
                Some(c) if c["status"] == "True" => {
                    let message = c["message"].as_str().unwrap_or_default();
                    if message.contains("nova.conf")
                        && message.contains("my_ip")
                        && message.contains("10.0.0.21")
                        && message.contains("{hostIP}")
                    {
                        Ok(())
                    } else {
                        Err(message.to_string())
                    }
                }
                other => Err(format!("{other:?}")),
            }
        },
    );
    let perpod = get(&node, "kollaconfig", "nova-compute");
    assert!(
        condition(&perpod, "HostSpecificValue").is_none_or(|c| c["status"] != "True"),
        "{}",
        perpod["status"]
    );

    // A pod whose materialize lacks the host's address: the init container fails with the
    // reason as its message, the service container never starts, the emptyDir stays empty.
    // The template as kollacfg left it: its volume names the current version.
    let mut refused = get(&node, "daemonset", "nova-compute")["spec"]["template"].clone();
    assert_eq!(
        mounted_version(&refused),
        Some(output_version(&node, "nova-compute"))
    );
    let init = &mut refused["spec"]["initContainers"][0];
    init["env"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["name"] != "KOLLACFG_HOST_IP");
    refused["spec"]["nodeName"] = json!(node_name);
    let pod_object = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "refused", "namespace": NS},
        "spec": refused["spec"]
    });
    apply(&node, &[pod_object]);
    let failed = crate::wait::until("the init container refused", POD_LIMIT, || {
        let pod = get(&node, "pod", "refused");
        let init = &pod["status"]["initContainerStatuses"][0];
        let terminated = if init["state"]["terminated"].is_object() {
            &init["state"]["terminated"]
        } else {
            &init["lastState"]["terminated"]
        };
        if terminated.is_object() {
            Ok((pod.clone(), terminated.clone()))
        } else {
            Err(format!("{}", pod["status"]))
        }
    });
    let (pod, terminated) = failed;
    assert_eq!(terminated["exitCode"], 2, "{terminated}");
    let message = terminated["message"].as_str().unwrap_or_default();
    assert!(message.contains("KOLLACFG_HOST_IP"), "{terminated}");
    let service = &pod["status"]["containerStatuses"][0];
    assert_eq!(
        service["state"]["waiting"]["reason"], "PodInitializing",
        "{service}"
    );
    assert_eq!(service["restartCount"], 0);
    let uid = pod["metadata"]["uid"].as_str().unwrap();
    let empty_dir = node
        .dir()
        .join("kubelet/pods")
        .join(uid)
        .join("volumes/kubernetes.io~empty-dir/config-files");
    let left: Vec<_> = fs::read_dir(&empty_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", empty_dir.display()))
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "materialize left {left:?} behind");
}
