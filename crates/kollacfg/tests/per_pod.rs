//! Per-pod values through the CLI: `render` writes the manifest beside the shared files,
//! `render --pod` one host's files, and `materialize` one pod's files from a directory laid out
//! as kubelet lays out a Secret volume — all or nothing, exit codes and bytes asserted.

mod support;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use support::*;

const KNOWN: &str = "(known: {nodeName}, {hostIP}, {podIP}, {podName}, {podNamespace})";

const NOVA: &str = "\
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: nova-compute, namespace: openstack}
spec:
  service: nova-compute
  rollout: [{kind: DaemonSet, name: nova-compute}]
  perPod:
  - file: nova.conf
    ini:
      DEFAULT: {my_ip: '{hostIP}', host: '{nodeName}'}
      vnc: {server_listen: '{hostIP}', server_proxyclient_address: '{hostIP}'}
---
apiVersion: kollacfg.dev/v1alpha1
kind: NovaVifPolicy
metadata: {name: vif, namespace: openstack}
spec:
  kollaConfigRef: {name: nova-compute}
  vifPluggingIsFatal: false
";

const RABBITMQ: &str = "\
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: rabbitmq, namespace: openstack}
spec:
  service: rabbitmq
  perPod:
  - file: rabbitmq-env.conf
    env: {RABBITMQ_NODENAME: 'rabbit@{podName}'}
  - file: rabbitmq.conf
    conf: {listeners.tcp.1: '{podIP}:5672', management.listener.ip: '{podIP}'}
";

const NOVA_MANIFEST: &str = r#"{
  "version": 1,
  "edits": [
    {
      "file": "nova.conf",
      "form": "ini",
      "section": "DEFAULT",
      "key": "host",
      "template": "{nodeName}"
    },
    {
      "file": "nova.conf",
      "form": "ini",
      "section": "DEFAULT",
      "key": "my_ip",
      "template": "{hostIP}"
    },
    {
      "file": "nova.conf",
      "form": "ini",
      "section": "vnc",
      "key": "server_listen",
      "template": "{hostIP}"
    },
    {
      "file": "nova.conf",
      "form": "ini",
      "section": "vnc",
      "key": "server_proxyclient_address",
      "template": "{hostIP}"
    }
  ]
}
"#;

/// The variables `materialize` reads the facts from.
const FACT_VARS: [&str; 5] = [
    "KOLLACFG_NODE_NAME",
    "KOLLACFG_HOST_IP",
    "KOLLACFG_POD_IP",
    "KOLLACFG_POD_NAME",
    "KOLLACFG_POD_NAMESPACE",
];

fn materialize(from: &Path, to: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kollacfg"));
    cmd.arg("materialize")
        .arg("--from")
        .arg(from)
        .arg("--to")
        .arg(to);
    for var in FACT_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run kollacfg")
}

const COMPUTE02: &[(&str, &str)] = &[
    ("KOLLACFG_NODE_NAME", "compute02"),
    ("KOLLACFG_HOST_IP", "10.0.0.22"),
];

fn input(dir: &Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("input.yaml");
    fs::write(&path, yaml).unwrap();
    path
}

/// `render` of `yaml` over the example base into `dir/out`, with `extra` arguments.
fn render(dir: &Path, yaml: &str, extra: &[&str]) -> Output {
    let file = input(dir, yaml);
    let out = dir.join("out");
    let mut args: Vec<std::ffi::OsString> = vec!["render".into(), "-f".into(), file.into()];
    args.extend(["--base".into(), example("base").into()]);
    args.extend(["--out".into(), out.into()]);
    args.extend(extra.iter().map(Into::into));
    kollacfg(&args)
}

fn base_nova() -> String {
    fs::read_to_string(example("base/nova-compute/nova.conf")).unwrap()
}

/// The example base's nova.conf as compute02 reads it, `vif_plugging_is_fatal` set.
fn compute02_nova() -> String {
    base_nova()
        .replace("my_ip = 10.0.0.21", "my_ip = 10.0.0.22")
        .replace("server_listen = 10.0.0.21", "server_listen = 10.0.0.22")
        .replace(
            "server_proxyclient_address = 10.0.0.21",
            "server_proxyclient_address = 10.0.0.22",
        )
}

#[test]
fn render_writes_the_manifest_beside_shared_files_that_hold_no_template() {
    let dir = tempfile::tempdir().unwrap();
    let result = render(dir.path(), NOVA, &[]);
    assert!(result.status.success(), "{}", stderr(&result));
    let tree = read_tree(&dir.path().join("out"));
    assert_eq!(
        tree.keys().collect::<Vec<_>>(),
        [
            "nova-compute/kollacfg-perpod.json",
            "nova-compute/nova.conf"
        ]
    );
    assert_eq!(
        String::from_utf8_lossy(&tree["nova-compute/kollacfg-perpod.json"]),
        NOVA_MANIFEST
    );
    let shared = String::from_utf8(tree["nova-compute/nova.conf"].clone()).unwrap();
    assert!(!shared.contains('{'), "{shared}");
    assert!(shared.contains("my_ip = 10.0.0.21\n"));
    assert!(shared.contains("vif_plugging_is_fatal = false\n"));
    let manifest_mode = fs::metadata(dir.path().join("out/nova-compute/kollacfg-perpod.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(manifest_mode & 0o777, 0o640);
}

#[test]
fn the_report_shows_the_kolla_config_winning_its_per_pod_items() {
    let dir = tempfile::tempdir().unwrap();
    let file = input(dir.path(), NOVA);
    let result = kollacfg([
        "validate".as_ref(),
        "-f".as_ref(),
        file.as_os_str(),
        "--report".as_ref(),
    ]);
    assert!(result.status.success(), "{}", stderr(&result));
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains(
            "  nova.conf: [DEFAULT] my_ip: KollaConfig/nova-compute (spec.perPod[0].ini.DEFAULT.my_ip)\n"
        ),
        "{stdout}"
    );
}

#[test]
fn render_pod_writes_one_hosts_files_as_materialize_does() {
    let dir = tempfile::tempdir().unwrap();
    let result = render(
        dir.path(),
        NOVA,
        &["--pod", "nodeName=compute02,hostIP=10.0.0.22"],
    );
    assert!(result.status.success(), "{}", stderr(&result));
    let tree = read_tree(&dir.path().join("out"));
    assert_eq!(tree.keys().collect::<Vec<_>>(), ["nova-compute/nova.conf"]);
    // New keys go after the last key of [DEFAULT]: the fragment's, then the pod's.
    let expected = compute02_nova().replace(
        "5672//\n\n# Fail the build",
        "5672//\nvif_plugging_is_fatal = false\nhost = compute02\n\n# Fail the build",
    );
    let pod_nova = String::from_utf8(tree["nova-compute/nova.conf"].clone()).unwrap();
    assert_eq!(pod_nova, expected);

    // The shared output, materialized for the same facts, gives the same bytes.
    let shared = tempfile::tempdir().unwrap();
    let result = render(shared.path(), NOVA, &[]);
    assert!(result.status.success(), "{}", stderr(&result));
    let to = shared.path().join("pod");
    let result = materialize(&shared.path().join("out/nova-compute"), &to, COMPUTE02);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert_eq!(stderr(&result), "materialize: 1 files, 4 per-pod edits\n");
    assert_eq!(fs::read_to_string(to.join("nova.conf")).unwrap(), pod_nova);
    assert!(!to.join("kollacfg-perpod.json").exists());
}

#[test]
fn diff_pod_shows_what_one_host_gets_against_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let file = input(dir.path(), NOVA);
    let diff = |pod: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec!["diff".into(), "-f".into(), (&file).into()];
        args.extend(["--base".into(), example("base").into()]);
        args.extend(pod.iter().map(Into::into));
        kollacfg(&args)
    };
    let shared = diff(&[]);
    assert_eq!(shared.status.code(), Some(1), "{}", stderr(&shared));
    let text = String::from_utf8_lossy(&shared.stdout);
    assert!(
        text.contains("+++ b/nova-compute/kollacfg-perpod.json\n"),
        "{text}"
    );
    assert!(!text.contains("+my_ip"), "{text}");
    let pod = diff(&["--pod", "nodeName=compute02,hostIP=10.0.0.22"]);
    assert_eq!(pod.status.code(), Some(1), "{}", stderr(&pod));
    let text = String::from_utf8_lossy(&pod.stdout);
    assert!(
        text.contains("-my_ip = 10.0.0.21\n+my_ip = 10.0.0.22\n"),
        "{text}"
    );
    assert!(text.contains("+host = compute02\n"), "{text}");
    assert!(!text.contains("kollacfg-perpod.json"), "{text}");
}

#[test]
fn render_pod_with_a_missing_fact_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let result = render(dir.path(), NOVA, &["--pod", "nodeName=compute02"]);
    assert_eq!(result.status.code(), Some(1));
    assert!(!dir.path().join("out").exists());
    // The errors; the base's other per-host items (not in this perPod) are warned about too.
    let errors: String = stderr(&result)
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        !stderr(&result).contains("HostSpecificValue: nova-compute/nova.conf [DEFAULT] my_ip"),
        "an item set per pod was flagged as a literal: {}",
        stderr(&result)
    );
    assert_eq!(
        errors,
        "error: KollaConfig openstack/nova-compute: nova-compute/nova.conf: [DEFAULT] my_ip: {hostIP}: KOLLACFG_HOST_IP is not set (set it from the downward API's status.hostIP)\n\
         error: KollaConfig openstack/nova-compute: nova-compute/nova.conf: [vnc] server_listen: {hostIP}: KOLLACFG_HOST_IP is not set (set it from the downward API's status.hostIP)\n\
         error: KollaConfig openstack/nova-compute: nova-compute/nova.conf: [vnc] server_proxyclient_address: {hostIP}: KOLLACFG_HOST_IP is not set (set it from the downward API's status.hostIP)\n"
    );
    let bad = render(dir.path(), NOVA, &["--pod", "hostname=compute02"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains(&format!("unknown fact \"hostname\" {KNOWN}")),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn an_unknown_placeholder_is_refused_naming_file_resource_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = NOVA.replace("my_ip: '{hostIP}'", "my_ip: '{foo}'");
    let file = input(dir.path(), &yaml);
    let result = kollacfg(["validate".as_ref(), "-f".as_ref(), file.as_os_str()]);
    assert_eq!(result.status.code(), Some(1));
    assert_eq!(
        stderr(&result),
        format!(
            "error: {}: KollaConfig openstack/nova-compute: spec.perPod[0].ini.DEFAULT.my_ip: unknown placeholder {{foo}} {KNOWN}\n",
            file.display()
        )
    );
    let yaml = RABBITMQ.replace("file: rabbitmq.conf", "file: definitions.json");
    let file = input(dir.path(), &yaml);
    let result = kollacfg(["validate".as_ref(), "-f".as_ref(), file.as_os_str()]);
    assert_eq!(result.status.code(), Some(1));
    let err = stderr(&result);
    assert!(
        // The loader refuses it first, by the CRD's own rule.
        err.contains("(KollaConfig openstack/rabbitmq): spec.perPod[1].file: definitions.json is written by RabbitPolicy, not ConfigOverride"),
        "{err}"
    );
}

/// A directory laid out as kubelet's atomic writer lays out a Secret volume: each file a link
/// `NAME -> ..data/NAME`, `..data -> ..<timestamp>`, the files in `..<timestamp>/` with `mode`.
fn kubelet_volume(dir: &Path, files: &[(&str, &[u8])], mode: u32) {
    let data = dir.join("..2026_12_03_09_15_00.123456789");
    fs::create_dir_all(&data).unwrap();
    for (name, bytes) in files {
        let path = data.join(name);
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        symlink(Path::new("..data").join(name), dir.join(name)).unwrap();
    }
    symlink("..2026_12_03_09_15_00.123456789", dir.join("..data")).unwrap();
}

/// The rabbitmq target rendered (shared output, manifest included) over the example base.
fn rabbitmq_shared() -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let result = render(dir.path(), RABBITMQ, &[]);
    assert!(result.status.success(), "{}", stderr(&result));
    read_tree(&dir.path().join("out/rabbitmq"))
        .into_iter()
        .collect()
}

fn volume_of(dir: &Path, files: &[(String, Vec<u8>)], mode: u32) {
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    kubelet_volume(dir, &borrowed, mode);
}

const RABBIT_POD: &[(&str, &str)] = &[
    ("KOLLACFG_POD_NAME", "rabbitmq-1"),
    ("KOLLACFG_POD_IP", "10.244.1.5"),
];

#[test]
fn materialize_reads_a_kubelet_secret_volume_and_writes_the_pods_files() {
    let from = tempfile::tempdir().unwrap();
    volume_of(from.path(), &rabbitmq_shared(), 0o440);
    let to = tempfile::tempdir().unwrap();
    let result = materialize(from.path(), to.path(), RABBIT_POD);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert_eq!(stderr(&result), "materialize: 3 files, 3 per-pod edits\n");
    let tree = read_tree(to.path());
    assert_eq!(
        tree.keys().collect::<Vec<_>>(),
        ["definitions.json", "rabbitmq-env.conf", "rabbitmq.conf"]
    );
    let base = |name: &str| fs::read_to_string(example("base/rabbitmq").join(name)).unwrap();
    assert_eq!(
        tree["definitions.json"],
        base("definitions.json").as_bytes()
    );
    assert_eq!(
        String::from_utf8_lossy(&tree["rabbitmq-env.conf"]),
        base("rabbitmq-env.conf").replace(
            "RABBITMQ_NODENAME=rabbit@controller01",
            "RABBITMQ_NODENAME=rabbit@rabbitmq-1"
        )
    );
    assert_eq!(
        String::from_utf8_lossy(&tree["rabbitmq.conf"]),
        base("rabbitmq.conf")
            .replace(
                "listeners.tcp.1 = 10.0.0.11:5672",
                "listeners.tcp.1 = 10.244.1.5:5672"
            )
            .replace(
                "management.listener.ip = 10.0.0.11",
                "management.listener.ip = 10.244.1.5"
            )
    );
    for name in tree.keys() {
        let mode = fs::metadata(to.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o440, "{name}");
    }
}

#[test]
fn materialize_never_widens_a_mode_past_0640() {
    let from = tempfile::tempdir().unwrap();
    for (name, mode) in [("a.conf", 0o644), ("b.conf", 0o600), ("c.conf", 0o755)] {
        fs::write(from.path().join(name), "[DEFAULT]\n").unwrap();
        fs::set_permissions(from.path().join(name), fs::Permissions::from_mode(mode)).unwrap();
    }
    let to = tempfile::tempdir().unwrap();
    let result = materialize(from.path(), to.path(), &[]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert_eq!(stderr(&result), "materialize: 3 files, 0 per-pod edits\n");
    for (name, mode) in [("a.conf", 0o640), ("b.conf", 0o600), ("c.conf", 0o640)] {
        let got = fs::metadata(to.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(got & 0o777, mode, "{name}");
        assert_eq!(fs::read(to.path().join(name)).unwrap(), b"[DEFAULT]\n");
    }
}

/// `--to` holding a previous pod's files, and its bytes.
fn previous_output() -> (
    tempfile::TempDir,
    std::collections::BTreeMap<String, Vec<u8>>,
) {
    let to = tempfile::tempdir().unwrap();
    fs::write(
        to.path().join("rabbitmq-env.conf"),
        "RABBITMQ_NODENAME=rabbit@old\n",
    )
    .unwrap();
    fs::write(
        to.path().join("rabbitmq.conf"),
        "listeners.tcp.1 = 10.0.0.1:5672\n",
    )
    .unwrap();
    let before = read_tree(to.path());
    (to, before)
}

#[test]
fn a_missing_fact_fails_with_its_variable_and_leaves_to_untouched() {
    let from = tempfile::tempdir().unwrap();
    volume_of(from.path(), &rabbitmq_shared(), 0o440);
    let (to, before) = previous_output();
    let result = materialize(
        from.path(),
        to.path(),
        &[("KOLLACFG_POD_NAME", "rabbitmq-1")],
    );
    assert_eq!(result.status.code(), Some(2));
    let from = from.path().display();
    assert_eq!(
        stderr(&result),
        format!(
            "materialize: {from}/rabbitmq.conf: key listeners.tcp.1: {{podIP}}: KOLLACFG_POD_IP is not set (set it from the downward API's status.podIP)\n\
             materialize: {from}/rabbitmq.conf: key management.listener.ip: {{podIP}}: KOLLACFG_POD_IP is not set (set it from the downward API's status.podIP)\n"
        )
    );
    assert_eq!(read_tree(to.path()), before);
}

#[test]
fn facts_that_would_inject_are_refused_after_substitution() {
    let from = tempfile::tempdir().unwrap();
    volume_of(from.path(), &rabbitmq_shared(), 0o440);
    let (to, before) = previous_output();
    for pod_name in ["rabbitmq-1$(reboot)", "rabbitmq-1\nRABBITMQ_X=1", "a;b"] {
        let env = [
            ("KOLLACFG_POD_NAME", pod_name),
            ("KOLLACFG_POD_IP", "10.244.1.5"),
        ];
        let result = materialize(from.path(), to.path(), &env);
        assert_eq!(result.status.code(), Some(2), "{pod_name:?}");
        let err = stderr(&result);
        assert!(
            err.starts_with(&format!(
                "materialize: {}/rabbitmq-env.conf: variable RABBITMQ_NODENAME: value contains ",
                from.path().display()
            )),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(read_tree(to.path()), before);
    }
}

/// Changes a good volume into a bad one.
type Spoil = Box<dyn Fn(&Path)>;

#[test]
fn links_outside_kubelets_layout_are_refused() {
    let shared = rabbitmq_shared();
    let cases: Vec<(&str, Spoil, String)> = vec![
        (
            "a file linking elsewhere",
            Box::new(|dir: &Path| {
                fs::write(dir.join("real.conf"), "x = 1\n").unwrap();
                symlink(dir.join("real.conf"), dir.join("nova.conf")).unwrap();
            }),
            "nova.conf: a symbolic link to ".into(),
        ),
        (
            "a file linking into ..data under another name",
            Box::new(|dir: &Path| {
                symlink("..data/rabbitmq.conf", dir.join("nova.conf")).unwrap();
            }),
            "nova.conf: a symbolic link to ..data/rabbitmq.conf; only kubelet's volume layout"
                .into(),
        ),
        (
            "..data leaving the volume",
            Box::new(|dir: &Path| {
                fs::remove_file(dir.join("..data")).unwrap();
                symlink("/etc", dir.join("..data")).unwrap();
            }),
            "..data: points to /etc; kubelet points it to a directory ..<timestamp> beside it"
                .into(),
        ),
        (
            "a subdirectory",
            Box::new(|dir: &Path| fs::create_dir(dir.join("extra")).unwrap()),
            "extra: is a directory; materialize copies only regular files".into(),
        ),
    ];
    for (what, spoil, message) in cases {
        let from = tempfile::tempdir().unwrap();
        volume_of(from.path(), &shared, 0o440);
        spoil(from.path());
        let (to, before) = previous_output();
        let result = materialize(from.path(), to.path(), RABBIT_POD);
        assert_eq!(result.status.code(), Some(2), "{what}");
        let err = stderr(&result);
        assert!(
            err.starts_with(&format!("materialize: {}/{message}", from.path().display())),
            "{what}: {err}"
        );
        assert_eq!(read_tree(to.path()), before, "{what}");
    }
}

#[test]
fn a_to_that_is_a_link_is_refused() {
    let from = tempfile::tempdir().unwrap();
    fs::write(from.path().join("a.conf"), "[DEFAULT]\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    symlink(dir.path().join("real"), dir.path().join("to")).unwrap();
    let result = materialize(from.path(), &dir.path().join("to"), &[]);
    assert_eq!(result.status.code(), Some(2));
    assert!(
        stderr(&result).contains("is a symbolic link, not a directory"),
        "{}",
        stderr(&result)
    );
    assert_eq!(fs::read_dir(dir.path().join("real")).unwrap().count(), 0);
}
