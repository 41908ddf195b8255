//! `parse_documents`: multi-document streams, strict fields, and errors that name the
//! document, the resource, the field and the reason.

use kollacfg_api::{parse_documents, AnyResource, LoadError, KINDS};

const ALL_KINDS: &str = r#"
# the rabbitmq target and one fragment of every kind
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: rabbitmq, namespace: openstack}
spec:
  service: rabbitmq
  base: {secretRef: {name: rabbitmq-kolla}}
  output: {kind: Secret, name: rabbitmq-config}
  rollout: [{kind: StatefulSet, name: rabbitmq}]
  rabbitmq: {version: "3.13"}
---
apiVersion: kollacfg.dev/v1alpha1
kind: RabbitPolicy
metadata: {name: ha-two, namespace: openstack}
spec:
  kollaConfigRef: {name: rabbitmq}
  precedence: 10
  vhost: /
  name: ha-all
  pattern: '^(?!amq\.).*'
  applyTo: queues
  priority: 1
  definition: {ha-mode: exactly, ha-params: 2, ha-sync-mode: automatic}
---
---
apiVersion: kollacfg.dev/v1alpha1
kind: ErlangVmArgs
metadata: {name: no-busy-wait, namespace: openstack}
spec:
  kollaConfigRef: {name: rabbitmq}
  schedulerBusyWait: none
  dirtyCpuSchedulerBusyWait: none
  dirtyIoSchedulerBusyWait: none
  schedulerUtilizationBalancing: true
  schedulers: "4:4"
  asyncThreads: 64
  maxProcesses: 2097152
  distBufferBusyLimitKb: 128000
  extraArgs: ["+stbt db"]
---
apiVersion: kollacfg.dev/v1alpha1
kind: NovaVifPolicy
metadata: {name: vif, namespace: openstack}
spec: {kollaConfigRef: {name: nova-compute}, vifPluggingIsFatal: false, vifPluggingTimeout: 600}
---
apiVersion: kollacfg.dev/v1alpha1
kind: NovaComputePolicy
metadata: {name: overcommit, namespace: openstack}
spec:
  kollaConfigRef: {name: nova-compute}
  cpuAllocationRatio: 2.0
  ramAllocationRatio: 1.2
  diskAllocationRatio: 1.0
  reservedHostMemoryMb: 4096
  maxConcurrentBuilds: 4
---
apiVersion: kollacfg.dev/v1alpha1
kind: RabbitListenerPolicy
metadata: {name: keepalive, namespace: openstack}
spec: {kollaConfigRef: {name: rabbitmq}, tcpKeepalive: true, heartbeatSeconds: 30}
---
apiVersion: kollacfg.dev/v1alpha1
kind: OsloMessagingPolicy
metadata: {name: heartbeats, namespace: openstack}
spec:
  kollaConfigRef: {name: nova-compute}
  heartbeatTimeoutThreshold: 30
  heartbeatRate: 3
  rabbitQuorumQueue: true
  rabbitTransientQuorumQueue: false
---
apiVersion: kollacfg.dev/v1alpha1
kind: ConfigOverride
metadata: {name: nova-debug, namespace: openstack}
spec:
  kollaConfigRef: {name: nova-compute}
  file: nova.conf
  ini: {DEFAULT: {debug: "true"}}
status:
  observedGeneration: 3
---
"#;

#[test]
fn reads_every_kind_in_order_and_skips_empty_documents() {
    let resources = parse_documents(ALL_KINDS).unwrap();
    let kinds: Vec<&str> = resources.iter().map(AnyResource::kind).collect();
    assert_eq!(kinds, KINDS);
    let AnyResource::ErlangVmArgs(args) = &resources[2] else {
        panic!("third resource is the ErlangVmArgs");
    };
    assert_eq!(args.spec.async_threads, Some(64));
    assert_eq!(args.spec.extra_args, ["+stbt db"]);
    let AnyResource::ConfigOverride(o) = &resources[7] else {
        panic!("last resource is the ConfigOverride");
    };
    assert_eq!(o.status.as_ref().unwrap().observed_generation, Some(3));
    assert_eq!(parse_documents("").unwrap(), []);
    assert_eq!(parse_documents("---\n# nothing\n---\n").unwrap(), []);
}

#[test]
fn round_trips_through_yaml() {
    let resources = parse_documents(ALL_KINDS).unwrap();
    let yaml: Vec<String> = resources
        .iter()
        .map(|r| serde_yaml::to_string(r).unwrap())
        .collect();
    // serde_yaml writes `4:4` plain, which kubectl (YAML 1.1) reads as the number 244: the
    // loader refuses it, as kubectl would misread it. JSON quotes every string.
    assert!(parse_documents(&yaml.join("---\n")).is_err());
    let json: Vec<String> = resources
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    let again = parse_documents(&json.join("\n---\n")).unwrap();
    assert_eq!(again, resources);
    // Optional fields left out stay out.
    assert!(!yaml[3].contains("null"), "{}", yaml[3]);
}

/// Parses a one-resource stream preceded by a valid KollaConfig, expecting an error.
fn error(kind: &str, spec: &str) -> LoadError {
    let text = format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {{name: k}}\n\
         spec: {{service: nova-compute}}\n---\n\
         apiVersion: kollacfg.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: x}}\nspec:\n{spec}"
    );
    parse_documents(&text).expect_err("must be refused")
}

fn field_error(err: &LoadError) -> (usize, String, String, String) {
    match err {
        LoadError::Field {
            document,
            resource,
            field,
            reason,
        } => (
            *document,
            resource.to_string(),
            field.clone(),
            reason.clone(),
        ),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_typo_in_a_field_name_is_refused_by_name() {
    let err = error(
        "NovaVifPolicy",
        "  kollaConfigRef: {name: k}\n  vifPlugingTimeout: 600\n",
    );
    let (document, resource, field, reason) = field_error(&err);
    assert_eq!(
        (document, resource.as_str()),
        (2, "NovaVifPolicy default/x")
    );
    assert_eq!(field, "spec.vifPlugingTimeout");
    assert!(
        reason.starts_with("unknown field `vifPlugingTimeout`, expected one of"),
        "{reason}"
    );
    assert!(reason.contains("`vifPluggingTimeout`"), "{reason}");
}

#[test]
fn a_wrong_type_names_the_field_and_reason() {
    let err = error(
        "NovaVifPolicy",
        "  kollaConfigRef: {name: k}\n  vifPluggingTimeout: soon\n",
    );
    assert_eq!(
        err.to_string(),
        "document 2 (NovaVifPolicy default/x): spec.vifPluggingTimeout: \
         invalid type: string \"soon\", expected i64"
    );
    assert_eq!(err.document(), 2);
    assert_eq!(err.resource().unwrap().name, "x");
}

#[test]
fn nested_fields_and_list_items_are_named() {
    let err = error(
        "ErlangVmArgs",
        "  kollaConfigRef: {name: k}\n  extraArgs: ['+stbt db', 7]\n",
    );
    let (_, _, field, reason) = field_error(&err);
    assert_eq!(field, "spec.extraArgs[1]");
    assert!(reason.starts_with("invalid type: integer `7`"), "{reason}");

    let err = error(
        "RabbitPolicy",
        "  kollaConfigRef: {nam: k}\n  pattern: x\n  definition: {}\n",
    );
    assert_eq!(field_error(&err).2, "spec.kollaConfigRef.nam");

    let err = error(
        "ConfigOverride",
        "  kollaConfigRef: {name: k}\n  file: nova.conf\n  ini: {DEFAULT: {debug: true}}\n",
    );
    let (_, _, field, reason) = field_error(&err);
    assert_eq!(field, "spec.ini.DEFAULT.debug");
    assert!(reason.contains("expected a string"), "{reason}");
}

#[test]
fn enums_and_required_fields() {
    let err = error(
        "RabbitPolicy",
        "  kollaConfigRef: {name: k}\n  pattern: x\n  applyTo: vhosts\n  definition: {}\n",
    );
    let (_, _, field, reason) = field_error(&err);
    assert_eq!(field, "spec.applyTo");
    assert!(
        reason.starts_with("unknown variant `vhosts`, expected one of `all`"),
        "{reason}"
    );

    let err = error(
        "RabbitPolicy",
        "  kollaConfigRef: {name: k}\n  definition: {}\n",
    );
    let (_, _, field, reason) = field_error(&err);
    assert_eq!(
        (field.as_str(), reason.as_str()),
        (
            "spec",
            "pattern and definition are required unless absent is true"
        )
    );
}

#[test]
fn an_unquoted_version_is_refused_not_misread() {
    let text = "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
                metadata: {name: rabbitmq, namespace: openstack}\n\
                spec: {service: rabbitmq, rabbitmq: {version: 3.10}}\n";
    let err = parse_documents(text).unwrap_err();
    let (document, resource, field, reason) = field_error(&err);
    assert_eq!(
        (document, resource.as_str(), field.as_str()),
        (1, "KollaConfig openstack/rabbitmq", "spec.rabbitmq.version")
    );
    assert!(reason.contains("expected a string"), "{reason}");
}

#[test]
fn foreign_and_malformed_documents() {
    let configmap = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";
    // ALL_KINDS ends with an empty 10th document.
    let err = parse_documents(&format!("{ALL_KINDS}{configmap}")).unwrap_err();
    assert!(
        matches!(err, LoadError::UnknownKind { document: 11, .. }),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .starts_with("document 11: v1/ConfigMap is not a kollacfg resource"));

    let err = parse_documents("apiVersion: kollacfg.dev/v1\nkind: KollaConfig\n").unwrap_err();
    assert!(
        matches!(err, LoadError::UnknownKind { document: 1, .. }),
        "{err:?}"
    );

    let err = parse_documents("apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nspec: {}\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "document 1: KollaConfig has no metadata.name"
    );

    let err = parse_documents("---\n- a list\n").unwrap_err();
    assert!(
        matches!(err, LoadError::NotAnObject { document: 1 }),
        "{err:?}"
    );

    let err = parse_documents("a: b\n---\nkind: [unclosed\n").unwrap_err();
    assert!(
        matches!(err, LoadError::NotAnObject { document: 1 }),
        "{err:?}"
    );

    let err = parse_documents("---\n---\nkind: [unclosed\n").unwrap_err();
    match err {
        LoadError::Yaml { document, reason } => {
            assert_eq!(document, 2);
            assert!(reason.contains("line"), "{reason}");
        }
        other => panic!("expected a YAML error, got {other:?}"),
    }
}

/// Flow nesting past the limit is refused before parsing, naming the document and the line;
/// brackets inside quoted scalars and comments do not count.
#[test]
fn flow_nesting_is_limited_but_quoted_brackets_do_not_count() {
    let deep = format!("a: 1\n---\nb:\n  c: {}{}\n", "[".repeat(65), "]".repeat(65));
    let err = parse_documents(&deep).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::TooDeep {
                document: 2,
                line: 4
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("limit of 64 levels"), "{err}");

    let brackets = "[".repeat(200);
    let quoted = format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\nmetadata: {{name: o}}\nspec:\n  kollaConfigRef: {{name: nova}}\n  file: nova.conf\n  ini: {{DEFAULT: {{a: \"{brackets}\", b: '{brackets}'}}}}  # {brackets}\n"
    );
    let parsed = parse_documents(&quoted).unwrap();
    assert_eq!(parsed.len(), 1);
}
