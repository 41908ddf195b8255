//! `HostSpecificValue` from the command line: `validate` (and `render`, `diff`) warn about a
//! literal per-host value in a target rolled out to a DaemonSet or a StatefulSet, naming the
//! KollaConfig, its input file, the item, the value and the `perPod` entry that fixes it;
//! `--strict` fails on them with the exit code of a conflict and writes nothing.

mod support;

use support::*;

const NOVA: &str = "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: nova-compute, namespace: openstack}\nspec:\n  service: nova-compute\n  rollout: [{kind: KIND, name: nova-compute}]\n";

/// A directory with one KollaConfig of rollout `kind` in `in.yaml` and a base nova.conf holding
/// kolla's literal per-host values.
fn input(kind: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.yaml");
    std::fs::write(&file, NOVA.replace("KIND", kind)).unwrap();
    let base = dir.path().join("base/nova-compute");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(
        base.join("nova.conf"),
        "[DEFAULT]\nmy_ip = 10.0.0.21\n[vnc]\nserver_listen = 0.0.0.0\nserver_proxyclient_address = $my_ip\n[libvirt]\nlive_migration_inbound_addr = \"10.0.1.21\"\n",
    )
    .unwrap();
    (dir, file)
}

fn run(
    command: &str,
    dir: &std::path::Path,
    file: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args: Vec<std::ffi::OsString> = vec![
        command.into(),
        "-f".into(),
        file.into(),
        "--base".into(),
        dir.join("base").into(),
    ];
    args.extend(extra.iter().map(Into::into));
    kollacfg(&args)
}

fn expected(level: &str, file: &std::path::Path) -> String {
    let file = file.display();
    format!(
        "{level}: {file}: KollaConfig openstack/nova-compute: HostSpecificValue: nova-compute/nova.conf [DEFAULT] my_ip = \"10.0.0.21\" is one host's value, but every pod of DaemonSet nova-compute reads this file; set it per pod with perPod: [{{file: nova.conf, ini: {{DEFAULT: {{my_ip: \"{{hostIP}}\"}}}}}}]\n\
         {level}: {file}: KollaConfig openstack/nova-compute: HostSpecificValue: nova-compute/nova.conf [libvirt] live_migration_inbound_addr = \"10.0.1.21\" is one host's value, but every pod of DaemonSet nova-compute reads this file; set it per pod with perPod: [{{file: nova.conf, ini: {{libvirt: {{live_migration_inbound_addr: \"{{hostIP}}\"}}}}}}]\n"
    )
}

#[test]
fn validate_prints_host_specific_values_as_warnings() {
    let (dir, file) = input("DaemonSet");
    let out = run("validate", dir.path(), &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "{}valid: 1 target(s), 0 fragment(s), 1 file(s), 0 conflict(s)\n",
            expected("warning", &file)
        )
    );
}

#[test]
fn strict_fails_on_them_and_render_writes_nothing() {
    let (dir, file) = input("DaemonSet");
    let out = run("validate", dir.path(), &file, &["--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "{}error: 2 host-specific value(s) and --strict is set\n",
            expected("error", &file)
        )
    );
    let dest = dir.path().join("out");
    let out = run(
        "render",
        dir.path(),
        &file,
        &["--strict", "--out", dest.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).ends_with("error: 2 host-specific value(s) and --strict is set\n"));
    assert!(!dest.exists(), "--strict wrote {}", dest.display());
    // Without --strict, render writes and warns.
    let out = run(
        "render",
        dir.path(),
        &file,
        &["--out", dest.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&expected("warning", &file)),
        "{}",
        stderr(&out)
    );
    assert!(dest.join("nova-compute/nova.conf").exists());
}

#[test]
fn a_deployment_target_is_not_linted() {
    let (dir, file) = input("Deployment");
    let out = run("validate", dir.path(), &file, &["--strict"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "valid: 1 target(s), 0 fragment(s), 1 file(s), 0 conflict(s)\n"
    );
}

#[test]
fn a_statefulset_rabbitmq_from_the_examples_is_flagged() {
    let out = kollacfg([
        "validate".as_ref(),
        "-f".as_ref(),
        example("rabbitmq-cpu").as_os_str(),
        "--base".as_ref(),
        example("base").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    for item in [
        "rabbitmq/rabbitmq-env.conf variable RABBITMQ_NODENAME = \"rabbit@controller01\" is one host's value, but every pod of StatefulSet rabbitmq reads this file; set it per pod with perPod: [{file: rabbitmq-env.conf, env: {RABBITMQ_NODENAME: \"rabbit@{podName}\"}}]",
        "rabbitmq/rabbitmq.conf key listeners.tcp.1 = \"10.0.0.11:5672\" is one host's value, but every pod of StatefulSet rabbitmq reads this file; set it per pod with perPod: [{file: rabbitmq.conf, conf: {listeners.tcp.1: \"{podIP}:5672\"}}]",
    ] {
        assert!(err.contains(item), "{item} not in:\n{err}");
    }
}
