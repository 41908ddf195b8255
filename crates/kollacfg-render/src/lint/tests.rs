use super::*;

const DS: Workload<'static> = Workload {
    kind: "DaemonSet",
    name: "nova-compute",
};

fn files(list: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    list.iter()
        .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()))
        .collect()
}

fn lint(list: &[(&str, &str)], rollout: &[Workload<'_>]) -> Vec<HostValue> {
    host_specific_values(&files(list), rollout, &[])
}

const NOVA: &str = "[DEFAULT]\nmy_ip = 10.0.0.21\ndebug = False\n";

#[test]
fn a_daemonset_target_with_a_base_my_ip_is_flagged_with_the_exact_fix() {
    let found = lint(&[("nova.conf", NOVA)], &[DS]);
    assert_eq!(found.len(), 1, "{found:?}");
    let v = &found[0];
    assert_eq!(v.file, "nova.conf");
    assert_eq!(
        v.item,
        ItemKey::Ini {
            section: "DEFAULT".into(),
            key: "my_ip".into()
        }
    );
    assert_eq!(v.value.as_deref(), Some("10.0.0.21"));
    assert_eq!(v.fact, Fact::HostIp);
    assert_eq!(
        v.per_pod,
        r#"perPod: [{file: nova.conf, ini: {DEFAULT: {my_ip: "{hostIP}"}}}]"#
    );
    assert_eq!(
        v.to_string(),
        r#"nova.conf [DEFAULT] my_ip = "10.0.0.21" is one host's value, but every pod of DaemonSet nova-compute reads this file; set it per pod with perPod: [{file: nova.conf, ini: {DEFAULT: {my_ip: "{hostIP}"}}}]"#
    );
}

#[test]
fn a_deployment_or_rolloutless_target_gives_nothing() {
    let deployment = Workload {
        kind: "Deployment",
        name: "nova-api",
    };
    assert_eq!(lint(&[("nova.conf", NOVA)], &[deployment]), vec![]);
    assert_eq!(lint(&[("nova.conf", NOVA)], &[]), vec![]);
    // One DaemonSet among the workloads is enough, and it is the one named.
    let found = lint(&[("nova.conf", NOVA)], &[deployment, DS]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].shared_by, "DaemonSet nova-compute");
}

#[test]
fn a_covered_item_gives_nothing_and_the_others_still_do() {
    let text = "[DEFAULT]\nmy_ip = 10.0.0.21\nhost = compute01\n";
    let covered = [ItemAddress {
        file: "nova.conf".into(),
        item: ItemKey::Ini {
            section: "DEFAULT".into(),
            key: "my_ip".into(),
        },
    }];
    let found = host_specific_values(&files(&[("nova.conf", text)]), &[DS], &covered);
    let items: Vec<String> = found.iter().map(HostValue::item_text).collect();
    assert_eq!(items, ["nova.conf [DEFAULT] host"]);
    assert_eq!(
        found[0].per_pod,
        r#"perPod: [{file: nova.conf, ini: {DEFAULT: {host: "{nodeName}"}}}]"#
    );
}

#[test]
fn rabbitmq_env_and_conf_items_are_flagged_with_their_facts() {
    let env = "RABBITMQ_NODENAME=rabbit@controller01\nexport ERL_EPMD_ADDRESS=10.0.0.11\nRABBITMQ_LOG_BASE=/var/log/kolla/rabbitmq\n";
    let conf = "listeners.tcp.1 = 10.0.0.11:5672\nlisteners.tcp.default = 5672\nmanagement.listener.ip = 10.0.0.11\nmanagement.tcp.ip = 0.0.0.0\nloopback_users = none\n";
    let sts = Workload {
        kind: "StatefulSet",
        name: "rabbitmq",
    };
    let found = lint(
        &[("rabbitmq-env.conf", env), ("rabbitmq.conf", conf)],
        &[sts],
    );
    let lines: Vec<(String, Option<String>, String)> = found
        .iter()
        .map(|v| (v.item_text(), v.value.clone(), v.per_pod.clone()))
        .collect();
    let s = |t: &str| t.to_string();
    assert_eq!(
        lines,
        vec![
            (
                s("rabbitmq-env.conf variable ERL_EPMD_ADDRESS"),
                Some(s("10.0.0.11")),
                s(r#"perPod: [{file: rabbitmq-env.conf, env: {ERL_EPMD_ADDRESS: "{podIP}"}}]"#)
            ),
            (
                s("rabbitmq-env.conf variable RABBITMQ_NODENAME"),
                Some(s("rabbit@controller01")),
                s(
                    r#"perPod: [{file: rabbitmq-env.conf, env: {RABBITMQ_NODENAME: "rabbit@{podName}"}}]"#
                )
            ),
            (
                s("rabbitmq.conf key listeners.tcp.1"),
                Some(s("10.0.0.11:5672")),
                s(r#"perPod: [{file: rabbitmq.conf, conf: {listeners.tcp.1: "{podIP}:5672"}}]"#)
            ),
            (
                s("rabbitmq.conf key management.listener.ip"),
                Some(s("10.0.0.11")),
                s(r#"perPod: [{file: rabbitmq.conf, conf: {management.listener.ip: "{podIP}"}}]"#)
            ),
        ]
    );
    assert!(found.iter().all(|v| v.shared_by == "StatefulSet rabbitmq"));
}

#[test]
fn quoted_uris_keep_their_shape_in_the_fix() {
    let text = "[libvirt]\nconnection_uri = \"qemu+tcp://10.0.1.21/system\"\nlive_migration_inbound_addr = \"10.0.1.21\"\n";
    let found = lint(&[("nova.conf", text)], &[DS]);
    let fixes: Vec<&str> = found.iter().map(|v| v.per_pod.as_str()).collect();
    assert_eq!(
        fixes,
        [
            r#"perPod: [{file: nova.conf, ini: {libvirt: {connection_uri: "qemu+tcp://{hostIP}/system"}}}]"#,
            r#"perPod: [{file: nova.conf, ini: {libvirt: {live_migration_inbound_addr: "{hostIP}"}}}]"#,
        ]
    );
}

#[test]
fn shared_values_are_not_host_specific() {
    // Wildcards, loopback, a port alone, oslo.config references, shell expansions, templates
    // and empty values are the same on every pod.
    let nova = "[DEFAULT]\nmy_ip = $my_ip_override\nhost =\n[vnc]\nserver_listen = 0.0.0.0\nserver_proxyclient_address = $my_ip\nnovncproxy_host = ::\n[spice]\nserver_listen = 127.0.0.1\n[serial_console]\nproxyclient_address = {hostIP}\n";
    let env = "RABBITMQ_NODENAME=rabbit@$(hostname)\nNODE_IP_ADDRESS=0.0.0.0\n";
    let conf = "listeners.tcp.default = 5672\nlisteners.tcp.1 = :::5672\nlisteners.ssl.1 = [::]:5671\nmanagement.tcp.ip = localhost\n";
    let found = lint(
        &[
            ("nova.conf", nova),
            ("rabbitmq-env.conf", env),
            ("rabbitmq.conf", conf),
        ],
        &[DS],
    );
    assert_eq!(found, vec![]);
}

#[test]
fn the_last_value_is_the_one_read_and_other_files_are_left_alone() {
    // oslo.config reads the last of a repeated option; a file not in the table is not read.
    let text = "[DEFAULT]\nmy_ip = 0.0.0.0\nmy_ip = 10.0.0.5\n";
    let found = lint(
        &[
            ("nova.conf", text),
            ("cinder.conf", "[DEFAULT]\nmy_ip = 10.0.0.5\n"),
            ("definitions.json", "{}"),
        ],
        &[DS],
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].value.as_deref(), Some("10.0.0.5"));
    // A file that does not parse is skipped (rendering reports it).
    assert_eq!(lint(&[("nova.conf", "my_ip = 10.0.0.5\n")], &[DS]), vec![]);
}

#[test]
fn every_row_of_the_table_is_flagged() {
    for row in HOST_ITEMS {
        let (text, item) = match row.item {
            ItemPattern::Ini { section, key } => (
                format!("[{section}]\n{key} = 192.0.2.7\n"),
                ItemKey::Ini {
                    section: section.into(),
                    key: key.into(),
                },
            ),
            ItemPattern::Env(name) => (format!("{name}=192.0.2.7\n"), ItemKey::EnvVar(name.into())),
            ItemPattern::Conf(pattern) => {
                let key = pattern.replace('*', "2");
                (format!("{key} = 192.0.2.7\n"), ItemKey::ConfKey(key))
            }
        };
        let found = lint(&[(row.file, &text)], &[DS]);
        assert_eq!(found.len(), 1, "{row:?}: {found:?}");
        assert_eq!(found[0].item, item, "{row:?}");
        let placeholder = row.fact.placeholder();
        assert!(found[0].per_pod.contains(placeholder), "{row:?}");
        // No row's name looks like a credential: its value is always printed.
        assert_eq!(found[0].value.as_deref(), Some("192.0.2.7"), "{row:?}");
    }
}

#[test]
fn values_of_items_named_like_credentials_are_never_printed() {
    let secret = ItemKey::Ini {
        section: "DEFAULT".into(),
        key: "transport_password".into(),
    };
    assert!(may_be_secret(&secret));
    assert!(may_be_secret(&ItemKey::EnvVar(
        "RABBITMQ_DEFAULT_PASS_TOKEN".into()
    )));
    assert!(!may_be_secret(&ItemKey::ConfKey("listeners.tcp.1".into())));
    let v = HostValue {
        file: "nova.conf".into(),
        item: secret,
        value: None,
        fact: Fact::HostIp,
        per_pod: "perPod: []".into(),
        shared_by: "DaemonSet x".into(),
    };
    assert!(
        v.to_string().contains("transport_password = (a value) is"),
        "{v}"
    );
}

#[test]
fn split_host_finds_the_host_part() {
    assert_eq!(split_host("10.0.0.1:5672"), ("", "10.0.0.1", ":5672"));
    assert_eq!(split_host("[fd00::1]:5672"), ("", "[fd00::1]", ":5672"));
    assert_eq!(split_host("fd00::1"), ("", "fd00::1", ""));
    assert_eq!(split_host("rabbit@node-1"), ("rabbit@", "node-1", ""));
    assert_eq!(
        split_host("qemu+tls://c1.example.org/system"),
        ("qemu+tls://", "c1.example.org", "/system")
    );
    assert_eq!(yaml_key("listeners.tcp.1"), "listeners.tcp.1");
    assert_eq!(yaml_key("a b"), "\"a b\"");
    assert_eq!(yaml_quoted("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
}
