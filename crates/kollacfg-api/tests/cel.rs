//! Every CEL rule (`x-kubernetes-validations`) of every CRD, evaluated offline with kube's CEL
//! support against objects that must pass and objects that must fail with the rule's message;
//! and the Rust mirror (`kollacfg_api::check`) held to the same verdicts.

use std::collections::{BTreeMap, BTreeSet};

use kollacfg_api::config_override::*;
use kollacfg_api::erlang_vm_args::{ERLANG_AT_LEAST_ONE, EXTRA_ARGS_NOT_TYPED};
use kollacfg_api::kolla_config::{BASE_EXACTLY_ONE, CA_NEEDS_HTTPS, INSECURE_NEEDS_HTTPS};
use kollacfg_api::messaging::{OSLO_MESSAGING_AT_LEAST_ONE, RABBIT_LISTENER_AT_LEAST_ONE};
use kollacfg_api::nova::{NOVA_COMPUTE_AT_LEAST_ONE, NOVA_VIF_AT_LEAST_ONE};
use kollacfg_api::rabbit_policy::*;
use kollacfg_api::schema::CelRule;
use kollacfg_api::{all_crds, check, parse_documents, AnyResource, LoadError};
use kube::core::cel::{ErrorKind, Validator};
use serde_json::Value;

/// One rule with specs (YAML, `kollaConfigRef` added) that pass every rule of the kind, and
/// specs that fail it, with every message they must fail with (some inputs cannot break one
/// rule alone).
struct Case {
    kind: &'static str,
    rule: CelRule,
    valid: &'static [&'static str],
    invalid: &'static [(&'static str, &'static [CelRule])],
}

const POLICY: &str = "pattern: '.*'\ndefinition: ";

fn cases() -> Vec<Case> {
    vec![
        Case {
            kind: "KollaConfig",
            rule: BASE_EXACTLY_ONE,
            valid: &[
                "service: rabbitmq\nbase: {secretRef: {name: rabbitmq-kolla}}",
                "service: nova-compute\nbase: {configMapRef: {name: nova-kolla}}",
                "service: rabbitmq",
            ],
            invalid: &[
                (
                    "service: rabbitmq\nbase: {secretRef: {name: a}, configMapRef: {name: b}}",
                    &[BASE_EXACTLY_ONE],
                ),
                ("service: rabbitmq\nbase: {}", &[BASE_EXACTLY_ONE]),
            ],
        },
        Case {
            kind: "KollaConfig",
            rule: CA_NEEDS_HTTPS,
            valid: &[
                "service: rabbitmq\nrabbitmq: {management: {url: 'https://rmq:15671', credentialsSecretRef: {name: c}, caSecretRef: {name: ca, key: ca.crt}}}",
                "service: rabbitmq\nrabbitmq: {management: {url: 'http://rmq:15672', credentialsSecretRef: {name: c}}}",
            ],
            invalid: &[(
                "service: rabbitmq\nrabbitmq: {management: {url: 'http://rmq:15672', credentialsSecretRef: {name: c}, caSecretRef: {name: ca, key: ca.crt}}}",
                &[CA_NEEDS_HTTPS],
            )],
        },
        Case {
            kind: "KollaConfig",
            rule: INSECURE_NEEDS_HTTPS,
            valid: &[
                "service: rabbitmq\nrabbitmq: {management: {url: 'https://rmq:15671', credentialsSecretRef: {name: c}, insecureSkipTLSVerify: true}}",
                "service: rabbitmq\nrabbitmq: {management: {url: 'http://rmq:15672', credentialsSecretRef: {name: c}, insecureSkipTLSVerify: false}}",
            ],
            invalid: &[(
                "service: rabbitmq\nrabbitmq: {management: {url: 'http://rmq:15672', credentialsSecretRef: {name: c}, insecureSkipTLSVerify: true}}",
                &[INSECURE_NEEDS_HTTPS],
            )],
        },
        Case {
            kind: "RabbitPolicy",
            rule: HA_MODE_VALUES,
            valid: &[
                "{p}{ha-mode: exactly, ha-params: 2, ha-sync-mode: automatic}",
                "{p}{message-ttl: 60000, max-length: 1000}",
            ],
            invalid: &[
                ("{p}{ha-mode: everywhere}", &[HA_MODE_VALUES]),
                ("{p}{ha-mode: 2}", &[HA_MODE_VALUES]),
            ],
        },
        Case {
            kind: "RabbitPolicy",
            rule: HA_PARAMS_REQUIRED,
            valid: &["{p}{ha-mode: nodes, ha-params: [rabbit@a, rabbit@b]}"],
            invalid: &[
                ("{p}{ha-mode: exactly}", &[HA_PARAMS_REQUIRED]),
                ("{p}{ha-mode: nodes, ha-sync-mode: manual}", &[HA_PARAMS_REQUIRED]),
            ],
        },
        Case {
            kind: "RabbitPolicy",
            rule: HA_ALL_NO_PARAMS,
            valid: &["{p}{ha-mode: all}"],
            invalid: &[("{p}{ha-mode: all, ha-params: 2}", &[HA_ALL_NO_PARAMS])],
        },
        Case {
            kind: "RabbitPolicy",
            rule: HA_KEYS_NEED_MODE,
            valid: &["{p}{ha-mode: exactly, ha-params: 2, ha-promote-on-failure: always}"],
            invalid: &[
                ("{p}{ha-params: 2}", &[HA_KEYS_NEED_MODE]),
                ("{p}{ha-sync-mode: automatic, message-ttl: 5}", &[HA_KEYS_NEED_MODE]),
            ],
        },
        Case {
            kind: "RabbitPolicy",
            rule: POLICY_NEEDS_PATTERN_AND_DEFINITION,
            valid: &[
                "absent: true",
                "name: ha-all\nabsent: true\npattern: '.*'",
                "absent: false\n{p}{ha-mode: all}",
            ],
            invalid: &[
                ("name: ha-all", &[POLICY_NEEDS_PATTERN_AND_DEFINITION]),
                ("absent: false\npattern: '.*'", &[POLICY_NEEDS_PATTERN_AND_DEFINITION]),
                ("definition: {message-ttl: 5}", &[POLICY_NEEDS_PATTERN_AND_DEFINITION]),
            ],
        },
        Case {
            kind: "ErlangVmArgs",
            rule: ERLANG_AT_LEAST_ONE,
            valid: &[
                "schedulerBusyWait: none\nschedulerUtilizationBalancing: true",
                "extraArgs: ['+stbt db']",
                "maxProcesses: 2097152",
            ],
            invalid: &[
                ("precedence: 3", &[ERLANG_AT_LEAST_ONE]),
                ("extraArgs: []", &[ERLANG_AT_LEAST_ONE]),
            ],
        },
        Case {
            kind: "ErlangVmArgs",
            rule: EXTRA_ARGS_NOT_TYPED,
            valid: &["extraArgs: ['+stbt db', '+sbt db', '+SDio 4', '+SDcpu 2:2', '+SP 50:50']"],
            invalid: &[
                ("extraArgs: ['+stbt db', '+sbwt none']", &[EXTRA_ARGS_NOT_TYPED]),
                ("extraArgs: ['+S 2:2']", &[EXTRA_ARGS_NOT_TYPED]),
                ("extraArgs: ['+zdbbl']", &[EXTRA_ARGS_NOT_TYPED]),
                // Glued values: Erlang reads these as the typed flags.
                ("extraArgs: ['+P2048']", &[EXTRA_ARGS_NOT_TYPED]),
                ("extraArgs: ['+sbwtnone']", &[EXTRA_ARGS_NOT_TYPED]),
                ("extraArgs: ['+sbwtdcpushort']", &[EXTRA_ARGS_NOT_TYPED]),
                ("extraArgs: ['+S4:4']", &[EXTRA_ARGS_NOT_TYPED]),
                ("extraArgs: ['+Sbar']", &[EXTRA_ARGS_NOT_TYPED]),
                ("extraArgs: ['+Ab']", &[EXTRA_ARGS_NOT_TYPED]),
            ],
        },
        Case {
            kind: "NovaVifPolicy",
            rule: NOVA_VIF_AT_LEAST_ONE,
            valid: &["vifPluggingIsFatal: false", "vifPluggingTimeout: 0"],
            invalid: &[("precedence: 1", &[NOVA_VIF_AT_LEAST_ONE])],
        },
        Case {
            kind: "NovaComputePolicy",
            rule: NOVA_COMPUTE_AT_LEAST_ONE,
            valid: &["ramAllocationRatio: 1.2", "maxConcurrentBuilds: 0"],
            invalid: &[("precedence: 1", &[NOVA_COMPUTE_AT_LEAST_ONE])],
        },
        Case {
            kind: "RabbitListenerPolicy",
            rule: RABBIT_LISTENER_AT_LEAST_ONE,
            valid: &["tcpKeepalive: true", "heartbeatSeconds: 0"],
            invalid: &[("precedence: 1", &[RABBIT_LISTENER_AT_LEAST_ONE])],
        },
        Case {
            kind: "OsloMessagingPolicy",
            rule: OSLO_MESSAGING_AT_LEAST_ONE,
            valid: &["heartbeatRate: 2", "rabbitTransientQuorumQueue: false"],
            invalid: &[("precedence: 1", &[OSLO_MESSAGING_AT_LEAST_ONE])],
        },
        Case {
            kind: "ConfigOverride",
            rule: OVERRIDE_EXACTLY_ONE,
            valid: &["file: nova.conf\nini: {DEFAULT: {debug: 'true'}}"],
            invalid: &[
                ("file: nova.conf", &[OVERRIDE_EXACTLY_ONE]),
                (
                    "file: rabbitmq.conf\nconf: {heartbeat: '30'}\nenv: {A: b}",
                    &[OVERRIDE_EXACTLY_ONE, OVERRIDE_ENV_FILE],
                ),
            ],
        },
        Case {
            kind: "ConfigOverride",
            rule: OVERRIDE_NOT_DEFINITIONS,
            valid: &["file: rabbitmq.conf\nconf: {heartbeat: '30'}"],
            invalid: &[
                ("file: definitions.json", &[OVERRIDE_EXACTLY_ONE, OVERRIDE_NOT_DEFINITIONS]),
                (
                    "file: definitions.json\nconf: {a: b}",
                    &[OVERRIDE_NOT_DEFINITIONS, OVERRIDE_CONF_FILE],
                ),
            ],
        },
        Case {
            kind: "ConfigOverride",
            rule: OVERRIDE_ENV_FILE,
            valid: &["file: rabbitmq-env.conf\nenv: {RABBITMQ_IO_THREAD_POOL_SIZE: '64'}"],
            invalid: &[(
                "file: nova.conf\nenv: {RABBITMQ_IO_THREAD_POOL_SIZE: '64'}",
                &[OVERRIDE_ENV_FILE],
            )],
        },
        Case {
            kind: "ConfigOverride",
            rule: OVERRIDE_CONF_FILE,
            valid: &["file: rabbitmq.conf\nconf: {collect_statistics_interval: '30000'}"],
            invalid: &[(
                "file: rabbitmq-env.conf\nconf: {collect_statistics_interval: '30000'}",
                &[OVERRIDE_CONF_FILE],
            )],
        },
        Case {
            kind: "ConfigOverride",
            rule: OVERRIDE_INI_FILE,
            valid: &[
                "file: neutron.conf\nini: {DEFAULT: {debug: 'true'}}",
                "file: nova.conf\nini: {oslo_messaging_rabbit: {amqp_durable_queues: 'true'}}",
            ],
            invalid: &[
                ("file: rabbitmq.conf\nini: {DEFAULT: {a: b}}", &[OVERRIDE_INI_FILE]),
                ("file: rabbitmq-env.conf\nini: {DEFAULT: {a: b}}", &[OVERRIDE_INI_FILE]),
                ("file: policy.yaml\nini: {DEFAULT: {a: b}}", &[OVERRIDE_INI_FILE]),
            ],
        },
        Case {
            kind: "ConfigOverride",
            rule: ENV_NO_ERL_ARGS,
            valid: &["file: rabbitmq-env.conf\nenv: {RABBITMQ_SERVER_ERL_ARGS_EXTRA: x}"],
            invalid: &[
                (
                    "file: rabbitmq-env.conf\nenv: {RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '+sbwt none'}",
                    &[ENV_NO_ERL_ARGS],
                ),
                (
                    "file: rabbitmq-env.conf\nenv: {SERVER_ADDITIONAL_ERL_ARGS: '+sub true', A: b}",
                    &[ENV_NO_ERL_ARGS],
                ),
            ],
        },
        // KollaConfig.spec.perPod items are addressed as ConfigOverride addresses them, under
        // the same rules.
        Case {
            kind: "KollaConfig",
            rule: OVERRIDE_EXACTLY_ONE,
            valid: &[
                "service: nova-compute\nperPod: [{file: nova.conf, ini: {DEFAULT: {my_ip: '{hostIP}'}}}]",
            ],
            invalid: &[(
                "service: rabbitmq\nperPod: [{file: rabbitmq.conf, conf: {a: '{podIP}'}, env: {A: '{podName}'}}]",
                &[OVERRIDE_EXACTLY_ONE, OVERRIDE_ENV_FILE],
            )],
        },
        Case {
            kind: "KollaConfig",
            rule: OVERRIDE_NOT_DEFINITIONS,
            valid: &["service: rabbitmq\nperPod: [{file: rabbitmq.conf, conf: {listeners.tcp.1: '{podIP}:5672'}}]"],
            invalid: &[(
                "service: rabbitmq\nperPod: [{file: definitions.json, conf: {a: '{podIP}'}}]",
                &[OVERRIDE_NOT_DEFINITIONS, OVERRIDE_CONF_FILE],
            )],
        },
        Case {
            kind: "KollaConfig",
            rule: OVERRIDE_ENV_FILE,
            valid: &["service: rabbitmq\nperPod: [{file: rabbitmq-env.conf, env: {RABBITMQ_NODENAME: 'rabbit@{podName}'}}]"],
            invalid: &[(
                "service: nova-compute\nperPod: [{file: nova.conf, env: {RABBITMQ_NODENAME: 'rabbit@{podName}'}}]",
                &[OVERRIDE_ENV_FILE],
            )],
        },
        Case {
            kind: "KollaConfig",
            rule: OVERRIDE_CONF_FILE,
            valid: &["service: rabbitmq\nperPod: [{file: rabbitmq.conf, conf: {management.tcp.ip: '{podIP}'}}]"],
            invalid: &[(
                "service: rabbitmq\nperPod: [{file: rabbitmq-env.conf, conf: {a: '{podIP}'}}]",
                &[OVERRIDE_CONF_FILE],
            )],
        },
        Case {
            kind: "KollaConfig",
            rule: OVERRIDE_INI_FILE,
            valid: &["service: neutron-openvswitch-agent\nperPod: [{file: neutron.conf, ini: {DEFAULT: {host: '{nodeName}'}}}]"],
            invalid: &[(
                "service: rabbitmq\nperPod: [{file: rabbitmq.conf, ini: {DEFAULT: {a: '{podIP}'}}}]",
                &[OVERRIDE_INI_FILE],
            )],
        },
        Case {
            kind: "KollaConfig",
            rule: ENV_NO_ERL_ARGS,
            valid: &["service: rabbitmq\nperPod: [{file: rabbitmq-env.conf, env: {RABBITMQ_NODE_IP_ADDRESS: '{podIP}'}}]"],
            invalid: &[(
                "service: rabbitmq\nperPod: [{file: rabbitmq-env.conf, env: {RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-sname {podName}'}}]",
                &[ENV_NO_ERL_ARGS],
            )],
        },
    ]
}

/// A whole object of `kind` around `spec` (`{p}` stands for a policy's pattern).
fn object(kind: &str, spec: &str) -> Value {
    let mut spec = spec.replace("{p}", POLICY);
    if kind != "KollaConfig" {
        spec = format!("kollaConfigRef: {{name: rabbitmq}}\n{spec}");
    }
    let spec: Value = serde_yaml::from_str(&spec).expect("sample spec is YAML");
    serde_json::json!({
        "apiVersion": "kollacfg.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": "sample", "namespace": "openstack"},
        "spec": spec,
    })
}

fn schemas() -> BTreeMap<String, Value> {
    all_crds()
        .into_iter()
        .map(|crd| {
            let version = &crd.spec.versions[0];
            let schema = version.schema.as_ref().unwrap().open_api_v3_schema.as_ref();
            (
                crd.spec.names.kind.clone(),
                serde_json::to_value(schema.unwrap()).unwrap(),
            )
        })
        .collect()
}

/// The messages of every rule `object` fails, as the API server would evaluate them.
fn cel_failures(schema: &Value, object: &Value) -> BTreeSet<String> {
    match Validator::new().validate(schema, object, None) {
        Ok(()) => BTreeSet::new(),
        Err(errors) => errors
            .iter()
            .map(|e| {
                assert_eq!(
                    e.kind,
                    ErrorKind::ValidationFailure,
                    "rule did not evaluate: {e}"
                );
                e.message.clone()
            })
            .collect(),
    }
}

/// The messages of every rule `object` fails, by the Rust mirror.
fn rust_failures(object: &Value) -> BTreeSet<String> {
    let value = object.clone();
    let any: AnyResource = match object["kind"].as_str().unwrap() {
        "KollaConfig" => serde_json::from_value::<kollacfg_api::KollaConfig>(value).map(Into::into),
        "RabbitPolicy" => {
            serde_json::from_value::<kollacfg_api::RabbitPolicy>(value).map(Into::into)
        }
        "ErlangVmArgs" => {
            serde_json::from_value::<kollacfg_api::ErlangVmArgs>(value).map(Into::into)
        }
        "NovaVifPolicy" => {
            serde_json::from_value::<kollacfg_api::NovaVifPolicy>(value).map(Into::into)
        }
        "NovaComputePolicy" => {
            serde_json::from_value::<kollacfg_api::NovaComputePolicy>(value).map(Into::into)
        }
        "RabbitListenerPolicy" => {
            serde_json::from_value::<kollacfg_api::RabbitListenerPolicy>(value).map(Into::into)
        }
        "OsloMessagingPolicy" => {
            serde_json::from_value::<kollacfg_api::OsloMessagingPolicy>(value).map(Into::into)
        }
        _ => serde_json::from_value::<kollacfg_api::ConfigOverride>(value).map(Into::into),
    }
    .expect("sample deserializes");
    check(&any).into_iter().map(|v| v.message).collect()
}

fn messages(rules: &[CelRule]) -> BTreeSet<String> {
    rules.iter().map(|r| r.message.to_string()).collect()
}

#[test]
fn every_rule_passes_its_valid_samples() {
    let schemas = schemas();
    for case in cases() {
        for spec in case.valid {
            let object = object(case.kind, spec);
            let failures = cel_failures(&schemas[case.kind], &object);
            assert!(
                failures.is_empty(),
                "{} {spec:?} must pass, failed: {failures:?}",
                case.kind
            );
        }
    }
}

#[test]
fn every_rule_fails_its_invalid_samples_with_its_message() {
    let schemas = schemas();
    for case in cases() {
        assert!(
            !case.invalid.is_empty(),
            "rule {:?} has no failing sample",
            case.rule.rule
        );
        for (spec, expected) in case.invalid {
            assert!(
                expected.contains(&case.rule),
                "sample {spec:?} must break its own rule"
            );
            let object = object(case.kind, spec);
            let failures = cel_failures(&schemas[case.kind], &object);
            assert_eq!(failures, messages(expected), "{} {spec:?}", case.kind);
        }
    }
}

#[test]
fn the_rust_mirror_agrees_with_cel() {
    for case in cases() {
        for spec in case.valid {
            let failures = rust_failures(&object(case.kind, spec));
            assert!(
                failures.is_empty(),
                "{} {spec:?}: mirror refuses: {failures:?}",
                case.kind
            );
        }
        for (spec, expected) in case.invalid {
            let failures = rust_failures(&object(case.kind, spec));
            assert_eq!(failures, messages(expected), "{} {spec:?}", case.kind);
        }
    }
}

#[test]
fn the_loader_refuses_what_a_rule_refuses() {
    for case in cases() {
        for (spec, expected) in case.invalid {
            let yaml = serde_yaml::to_string(&object(case.kind, spec)).unwrap();
            match parse_documents(&yaml) {
                Err(LoadError::Field {
                    reason, resource, ..
                }) => {
                    assert!(messages(expected).contains(&reason), "{spec:?}: {reason}");
                    assert_eq!(
                        resource.to_string(),
                        format!("{} openstack/sample", case.kind)
                    );
                }
                other => panic!("{} {spec:?} must be refused, got {other:?}", case.kind),
            }
        }
    }
}

/// Every `x-kubernetes-validations` rule in the schema, with the kind it belongs to.
fn rules_in(kind: &str, schema: &Value, found: &mut BTreeSet<(String, String)>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                for rule in rules {
                    let text = rule["rule"].as_str().unwrap().to_string();
                    assert!(rule["message"].is_string(), "rule {text:?} has no message");
                    found.insert((kind.to_string(), text));
                }
            }
            map.values().for_each(|child| rules_in(kind, child, found));
        }
        Value::Array(items) => items.iter().for_each(|child| rules_in(kind, child, found)),
        _ => {}
    }
}

#[test]
fn every_rule_in_the_crds_is_tested() {
    let mut in_crds = BTreeSet::new();
    for (kind, schema) in schemas() {
        rules_in(&kind, &schema, &mut in_crds);
    }
    let tested: BTreeSet<(String, String)> = cases()
        .iter()
        .map(|case| (case.kind.to_string(), case.rule.rule.to_string()))
        .collect();
    assert_eq!(in_crds, tested);
}
