//! Fidelity of per-pod values: files written by `kollacfg materialize`, read by the real
//! readers. Nova's own option loader (Debian's `python3-nova`) reads `my_ip` and `host` as the
//! pod's facts from a materialized `nova.conf`; the shell reads the pod's node name from a
//! materialized `rabbitmq-env.conf` as RabbitMQ's start script sources it; and a private
//! RabbitMQ 3.10 node boots from the materialized RabbitMQ files (the fidelity harness
//! appends its own node name and loopback listeners, see `fidelity/rabbit.rs`, so the boot
//! proves that cuttlefish and the start script accept the edited files).
//!
//! Ignored by a plain `cargo test` (they need root, `rabbitmq-server` and `python3-nova`);
//! `cargo test -p kollacfg --test fidelity_per_pod -- --include-ignored` runs them.

#[allow(dead_code)]
#[path = "fidelity/nova.rs"]
mod nova;
#[allow(dead_code)]
#[path = "fidelity/rabbit.rs"]
mod rabbit;
#[allow(dead_code)]
#[path = "fidelity/support.rs"]
mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use nova::read_nova_conf;
use rabbit::RabbitNode;
use support::{describe, examples_dir, run, TempDir};

/// Renders `yaml` over `examples/base` (the shared output, manifest included) and materializes
/// `service` for the facts in `env`; returns the directory holding the pod's files.
fn materialized(
    dir: &TempDir,
    yaml: &str,
    service: &str,
    env: &[(&str, &str)],
) -> std::path::PathBuf {
    let input = dir.path().join("input.yaml");
    fs::write(&input, yaml).expect("write input");
    let out = dir.path().join("out");
    let binary = env!("CARGO_BIN_EXE_kollacfg");
    let rendered = run(Command::new(binary)
        .arg("render")
        .arg("-f")
        .arg(&input)
        .arg("--base")
        .arg(examples_dir().join("base"))
        .arg("--out")
        .arg(&out));
    assert!(rendered.status.success(), "{}", describe(&rendered));
    assert!(out.join(service).join("kollacfg-perpod.json").is_file());
    let pod = dir.path().join("pod");
    let result = run(Command::new(binary)
        .arg("materialize")
        .arg("--from")
        .arg(out.join(service))
        .arg("--to")
        .arg(&pod)
        .envs(env.iter().copied()));
    assert!(result.status.success(), "{}", describe(&result));
    pod
}

#[test]
#[ignore = "needs python3-nova (tests/run installs it)"]
fn nova_reads_the_pods_own_address_and_host_from_a_materialized_nova_conf() {
    let dir = TempDir::new("perpod-nova");
    let pod = materialized(
        &dir,
        "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: nova-compute}\n\
         spec:\n  service: nova-compute\n  perPod:\n  - file: nova.conf\n    ini:\n      \
         DEFAULT: {my_ip: '{hostIP}', host: '{nodeName}'}\n      \
         vnc: {server_proxyclient_address: '{hostIP}'}\n",
        "nova-compute",
        &[
            ("KOLLACFG_NODE_NAME", "compute17.example.org"),
            ("KOLLACFG_HOST_IP", "10.0.3.17"),
        ],
    );
    let reading = read_nova_conf(
        &pod.join("nova.conf"),
        &[
            "DEFAULT.my_ip",
            "DEFAULT.host",
            "vnc.server_proxyclient_address",
            "DEFAULT.state_path",
        ],
    )
    .unwrap_or_else(|e| panic!("Nova's loader refused the materialized nova.conf: {e:?}"));
    reading.assert_from_file("DEFAULT.my_ip", json!("10.0.3.17"));
    reading.assert_from_file("DEFAULT.host", json!("compute17.example.org"));
    reading.assert_from_file("vnc.server_proxyclient_address", json!("10.0.3.17"));
    // The rest of kolla's file as it was.
    reading.assert_from_file("DEFAULT.state_path", json!("/var/lib/nova"));
}

const RABBITMQ: &str = "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
metadata: {name: rabbitmq}\nspec:\n  service: rabbitmq\n  perPod:\n  \
- file: rabbitmq-env.conf\n    env: {RABBITMQ_NODENAME: 'rabbit@{podName}'}\n  \
- file: rabbitmq.conf\n    conf: {listeners.tcp.1: '{podIP}:5672'}\n";

/// The value of `$name` after a POSIX shell sources `file`, as RabbitMQ's start script does.
fn sourced(file: &Path, name: &str) -> String {
    let output = run(Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(". \"$1\" && printf %s \"${name}\""))
        .arg("sh")
        .arg(file));
    assert!(output.status.success(), "{}", describe(&output));
    String::from_utf8(output.stdout).expect("UTF-8")
}

#[test]
#[ignore = "needs rabbitmq-server (tests/run installs it)"]
fn rabbitmq_boots_from_materialized_files_and_the_shell_reads_the_pods_node_name() {
    let dir = TempDir::new("perpod-rabbitmq");
    let pod = materialized(
        &dir,
        RABBITMQ,
        "rabbitmq",
        &[
            ("KOLLACFG_POD_NAME", "rabbitmq-2"),
            ("KOLLACFG_POD_IP", "10.244.2.9"),
        ],
    );
    let env = pod.join("rabbitmq-env.conf");
    assert_eq!(sourced(&env, "RABBITMQ_NODENAME"), "rabbit@rabbitmq-2");
    // kolla's other settings are sourced as they were.
    assert_eq!(sourced(&env, "RABBITMQ_DIST_PORT"), "25672");
    let conf = fs::read_to_string(pod.join("rabbitmq.conf")).expect("read");
    assert!(
        conf.contains("\nlisteners.tcp.1 = 10.244.2.9:5672\n"),
        "{conf}"
    );
    // The node runs as `rabbitmq`, which must read the pod's files (0640, root's group).
    for entry in fs::read_dir(&pod).expect("read pod dir") {
        let path = entry.expect("entry").path();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    fs::set_permissions(&pod, fs::Permissions::from_mode(0o755)).expect("chmod");
    let node = RabbitNode::boot(&pod);
    assert_eq!(
        node.eval("application:get_env(rabbit, cluster_partition_handling)."),
        "{ok,pause_minority}"
    );
}
