//! Conversion into the engine model: every kind maps field for field, and the documented
//! defaults (vhost `/`, policy name = metadata.name, applyTo `all`, priority 0, precedence 0,
//! namespace `default`) are applied.

use std::collections::BTreeMap;

use kollacfg_api::{parse_documents, to_fragment, to_target, AnyResource};
use kollacfg_render::{
    ConfigOverride, ErlangVmArgs, FragmentBody, NovaComputePolicy, NovaVifPolicy,
    OsloMessagingPolicy, OverrideContent, RabbitListenerPolicy, RabbitPolicy, ResourceRef, Target,
};
use serde_json::json;

fn one(yaml: &str) -> AnyResource {
    let mut resources = parse_documents(yaml).unwrap();
    assert_eq!(resources.len(), 1);
    resources.remove(0)
}

fn fragment(kind: &str, spec: &str) -> kollacfg_render::Fragment {
    let yaml = format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: f}}\n\
         spec:\n  kollaConfigRef: {{name: target}}\n{spec}"
    );
    let resource = one(&yaml);
    let fragment = to_fragment(&resource).expect("a fragment");
    assert_eq!(fragment.id, ResourceRef::new(kind, "default", "f"));
    assert_eq!(fragment.target, "target");
    assert_eq!(fragment.body.kind(), kind);
    fragment
}

#[test]
fn a_minimal_rabbit_policy_gets_every_default() {
    let f = fragment(
        "RabbitPolicy",
        "  pattern: '.*'\n  definition: {ha-mode: all}\n",
    );
    assert_eq!(f.precedence, 0);
    assert_eq!(
        f.body,
        FragmentBody::RabbitPolicy(RabbitPolicy {
            vhost: "/".into(),
            name: "f".into(),
            pattern: ".*".into(),
            apply_to: "all".into(),
            priority: 0,
            definition: json!({"ha-mode": "all"}).as_object().unwrap().clone(),
            absent: false,
        })
    );
}

#[test]
fn explicit_rabbit_policy_values_win_over_defaults() {
    let spec =
        "  precedence: -5\n  vhost: openstack\n  name: ha-all\n  pattern: '^(?!amq\\.).*'\n  \
                applyTo: classic_queues\n  priority: 7\n  \
                definition: {ha-mode: exactly, ha-params: 2, ha-sync-mode: automatic}\n";
    let f = fragment("RabbitPolicy", spec);
    assert_eq!(f.precedence, -5);
    let FragmentBody::RabbitPolicy(p) = f.body else {
        panic!("a policy")
    };
    assert_eq!(
        (
            p.vhost.as_str(),
            p.name.as_str(),
            p.pattern.as_str(),
            p.apply_to.as_str(),
            p.priority
        ),
        ("openstack", "ha-all", "^(?!amq\\.).*", "classic_queues", 7)
    );
    // Key order is kept as written.
    let keys: Vec<&String> = p.definition.keys().collect();
    assert_eq!(keys, ["ha-mode", "ha-params", "ha-sync-mode"]);
}

#[test]
fn erlang_vm_args_map_to_flag_values() {
    let spec =
        "  precedence: 3\n  schedulerBusyWait: none\n  dirtyCpuSchedulerBusyWait: very_short\n  \
                dirtyIoSchedulerBusyWait: very_long\n  schedulerUtilizationBalancing: true\n  \
                schedulers: '2:2'\n  asyncThreads: 8\n  maxProcesses: 2097152\n  \
                distBufferBusyLimitKb: 128000\n  extraArgs: ['+stbt db']\n";
    let f = fragment("ErlangVmArgs", spec);
    assert_eq!(f.precedence, 3);
    assert_eq!(
        f.body,
        FragmentBody::ErlangVmArgs(ErlangVmArgs {
            scheduler_busy_wait: Some("none".into()),
            dirty_cpu_scheduler_busy_wait: Some("very_short".into()),
            dirty_io_scheduler_busy_wait: Some("very_long".into()),
            scheduler_utilization_balancing: Some(true),
            schedulers: Some("2:2".into()),
            async_threads: Some(8),
            max_processes: Some(2097152),
            dist_buffer_busy_limit_kb: Some(128000),
            extra_args: vec!["+stbt db".into()],
        })
    );
    let f = fragment("ErlangVmArgs", "  schedulerBusyWait: none\n");
    let expected = ErlangVmArgs {
        scheduler_busy_wait: Some("none".into()),
        ..Default::default()
    };
    assert_eq!(f.body, FragmentBody::ErlangVmArgs(expected));
}

#[test]
fn nova_and_messaging_kinds_map_field_for_field() {
    let f = fragment("NovaVifPolicy", "  vifPluggingIsFatal: false\n");
    let expected = NovaVifPolicy {
        vif_plugging_is_fatal: Some(false),
        vif_plugging_timeout: None,
    };
    assert_eq!(f.body, FragmentBody::NovaVifPolicy(expected));

    let spec = "  cpuAllocationRatio: 2\n  ramAllocationRatio: 1.2\n  diskAllocationRatio: 1.0\n  \
                reservedHostMemoryMb: 4096\n  maxConcurrentBuilds: 0\n";
    let f = fragment("NovaComputePolicy", spec);
    let expected = NovaComputePolicy {
        cpu_allocation_ratio: Some(2.0),
        ram_allocation_ratio: Some(1.2),
        disk_allocation_ratio: Some(1.0),
        reserved_host_memory_mb: Some(4096),
        max_concurrent_builds: Some(0),
    };
    assert_eq!(f.body, FragmentBody::NovaComputePolicy(expected));

    let f = fragment(
        "RabbitListenerPolicy",
        "  tcpKeepalive: true\n  heartbeatSeconds: 30\n",
    );
    let expected = RabbitListenerPolicy {
        tcp_keepalive: Some(true),
        heartbeat_seconds: Some(30),
    };
    assert_eq!(f.body, FragmentBody::RabbitListenerPolicy(expected));

    let spec = "  heartbeatTimeoutThreshold: 30\n  heartbeatRate: 3\n  rabbitQuorumQueue: true\n  \
                rabbitTransientQuorumQueue: false\n";
    let f = fragment("OsloMessagingPolicy", spec);
    let expected = OsloMessagingPolicy {
        heartbeat_timeout_threshold: Some(30),
        heartbeat_rate: Some(3),
        rabbit_quorum_queue: Some(true),
        rabbit_transient_quorum_queue: Some(false),
    };
    assert_eq!(f.body, FragmentBody::OsloMessagingPolicy(expected));
}

#[test]
fn config_overrides_keep_their_form() {
    let f = fragment(
        "ConfigOverride",
        "  file: nova.conf\n  ini: {DEFAULT: {debug: 'true'}}\n",
    );
    let section = BTreeMap::from([("debug".to_string(), "true".to_string())]);
    let expected = ConfigOverride {
        file: "nova.conf".into(),
        content: OverrideContent::Ini(BTreeMap::from([("DEFAULT".to_string(), section)])),
    };
    assert_eq!(f.body, FragmentBody::ConfigOverride(expected));

    let f = fragment(
        "ConfigOverride",
        "  file: rabbitmq.conf\n  conf: {heartbeat: '30'}\n",
    );
    let conf = BTreeMap::from([("heartbeat".to_string(), "30".to_string())]);
    let expected = ConfigOverride {
        file: "rabbitmq.conf".into(),
        content: OverrideContent::Conf(conf),
    };
    assert_eq!(f.body, FragmentBody::ConfigOverride(expected));

    let f = fragment(
        "ConfigOverride",
        "  file: rabbitmq-env.conf\n  env: {NODENAME: rabbit}\n",
    );
    let env = BTreeMap::from([("NODENAME".to_string(), "rabbit".to_string())]);
    let expected = ConfigOverride {
        file: "rabbitmq-env.conf".into(),
        content: OverrideContent::Env(env),
    };
    assert_eq!(f.body, FragmentBody::ConfigOverride(expected));
}

#[test]
fn kolla_configs_are_targets_not_fragments() {
    let resource = one("apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
         metadata: {name: rabbitmq, namespace: openstack}\n\
         spec: {service: rabbitmq, rabbitmq: {version: '3.13'}}\n");
    assert_eq!(to_fragment(&resource), None);
    assert_eq!(resource.kolla_config_ref(), None);
    assert_eq!(resource.precedence(), None);
    let AnyResource::KollaConfig(kc) = &resource else {
        panic!("a KollaConfig")
    };
    let id = ResourceRef::new("KollaConfig", "openstack", "rabbitmq");
    assert_eq!(resource.resource_ref(), id);
    assert_eq!(
        to_target(kc),
        Target {
            id,
            service: "rabbitmq".into(),
            rabbitmq_version: Some("3.13".into()),
        }
    );
    assert_eq!(kc.output_name(), "rabbitmq-config");
    assert_eq!(kc.spec.output.kind, kollacfg_api::OutputKind::Secret);

    let resource = one(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: nova}\n\
         spec: {service: nova-compute, output: {kind: ConfigMap, name: nova-files}}\n",
    );
    let AnyResource::KollaConfig(kc) = &resource else {
        panic!("a KollaConfig")
    };
    let target = to_target(kc);
    assert_eq!(target.id.namespace, "default");
    assert_eq!(target.rabbitmq_version, None);
    assert_eq!(kc.output_name(), "nova-files");
}

#[test]
fn per_pod_items_convert_in_order_each_with_its_one_form() {
    let resource = one(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: rabbitmq}\n\
         spec:\n  service: rabbitmq\n  perPod:\n\
         \x20 - {file: rabbitmq.conf, conf: {listeners.tcp.1: '{podIP}:5672'}}\n\
         \x20 - {file: rabbitmq-env.conf, env: {RABBITMQ_NODENAME: 'rabbit@{podName}'}}\n",
    );
    let AnyResource::KollaConfig(kc) = &resource else {
        panic!("a KollaConfig")
    };
    let text = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        kollacfg_api::to_per_pod(kc),
        vec![
            ConfigOverride {
                file: "rabbitmq.conf".into(),
                content: OverrideContent::Conf(text(&[("listeners.tcp.1", "{podIP}:5672")])),
            },
            ConfigOverride {
                file: "rabbitmq-env.conf".into(),
                content: OverrideContent::Env(text(&[("RABBITMQ_NODENAME", "rabbit@{podName}")])),
            },
        ]
    );
    // Refused by the loader as the CRD's rules refuse it, naming the item.
    let err = parse_documents(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: nova}\n\
         spec:\n  service: nova-compute\n  perPod:\n\
         \x20 - {file: nova.conf, ini: {DEFAULT: {my_ip: '{hostIP}'}}}\n\
         \x20 - {file: nova.conf, env: {A: '{podIP}'}}\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "document 1 (KollaConfig default/nova): spec.perPod[1].file: env is for file \
         rabbitmq-env.conf (use ini for INI files such as nova.conf, conf for rabbitmq.conf)"
    );
}
