//! What the generated CRDs promise `kubectl`: names, columns, subresources, ranges, enums,
//! defaults and list semantics. Read from `all_crds()` as the API server would receive them.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kollacfg_api::all_crds;
use serde_json::{json, Value};

fn crds() -> BTreeMap<String, CustomResourceDefinition> {
    all_crds()
        .into_iter()
        .map(|crd| (crd.spec.names.kind.clone(), crd))
        .collect()
}

/// The openAPIV3Schema of `kind` as JSON.
fn schema(kind: &str) -> Value {
    let crd = &crds()[kind];
    let validation = crd.spec.versions[0].schema.as_ref().unwrap();
    serde_json::to_value(validation.open_api_v3_schema.as_ref().unwrap()).unwrap()
}

/// The schema of `spec.<path>` (dot-separated) of `kind`.
fn spec_field(kind: &str, path: &str) -> Value {
    let mut node = schema(kind)["properties"]["spec"].clone();
    for part in path.split('.') {
        node = node["properties"][part].clone();
        assert!(!node.is_null(), "{kind} has no spec.{path}");
    }
    node
}

const FRAGMENTS: [&str; 7] = [
    "RabbitPolicy",
    "ErlangVmArgs",
    "NovaVifPolicy",
    "NovaComputePolicy",
    "RabbitListenerPolicy",
    "OsloMessagingPolicy",
    "ConfigOverride",
];

#[test]
fn names_short_names_and_category() {
    let expected = [
        ("KollaConfig", "kollaconfigs", "kcfg"),
        ("RabbitPolicy", "rabbitpolicies", "rpol"),
        ("ErlangVmArgs", "erlangvmargs", "evmargs"),
        ("NovaVifPolicy", "novavifpolicies", "novavif"),
        ("NovaComputePolicy", "novacomputepolicies", "novacompute"),
        ("RabbitListenerPolicy", "rabbitlistenerpolicies", "rlisten"),
        ("OsloMessagingPolicy", "oslomessagingpolicies", "oslomsg"),
        ("ConfigOverride", "configoverrides", "cfgover"),
    ];
    let crds = crds();
    assert_eq!(crds.len(), expected.len());
    for (kind, plural, short) in expected {
        let crd = &crds[kind];
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(format!("{plural}.kollacfg.dev").as_str())
        );
        assert_eq!(crd.spec.group, "kollacfg.dev");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.plural, plural);
        assert_eq!(crd.spec.names.short_names, Some(vec![short.to_string()]));
        assert_eq!(
            crd.spec.names.categories,
            Some(vec!["kollacfg".to_string()])
        );
        let version = &crd.spec.versions[0];
        assert_eq!(crd.spec.versions.len(), 1);
        assert_eq!(
            (version.name.as_str(), version.served, version.storage),
            ("v1alpha1", true, true)
        );
        let status = version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref());
        assert!(status.is_some(), "{kind} has a status subresource");
    }
}

fn columns(kind: &str) -> Vec<(String, String, String)> {
    let crds = crds();
    let version = &crds[kind].spec.versions[0];
    version
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| (c.name.clone(), c.type_.clone(), c.json_path.clone()))
        .collect()
}

fn column(name: &str, type_: &str, path: &str) -> (String, String, String) {
    (name.into(), type_.into(), path.into())
}

#[test]
fn printer_columns() {
    let ready = column(
        "Ready",
        "string",
        ".status.conditions[?(@.type==\"Ready\")].status",
    );
    let age = column("Age", "date", ".metadata.creationTimestamp");
    assert_eq!(
        columns("KollaConfig"),
        [
            column("Service", "string", ".spec.service"),
            column("Output", "string", ".spec.output.kind"),
            ready.clone(),
            age.clone(),
        ]
    );
    let target = column("Target", "string", ".spec.kollaConfigRef.name");
    let precedence = column("Precedence", "integer", ".spec.precedence");
    assert_eq!(
        columns("RabbitPolicy"),
        [
            target.clone(),
            precedence.clone(),
            column("Pattern", "string", ".spec.pattern"),
            ready.clone(),
            age.clone(),
        ]
    );
    for kind in &FRAGMENTS[1..] {
        let expected = [
            target.clone(),
            precedence.clone(),
            ready.clone(),
            age.clone(),
        ];
        assert_eq!(columns(kind), expected, "{kind}");
    }
}

#[test]
fn numeric_ranges() {
    let range = |kind: &str, field: &str| {
        let node = spec_field(kind, field);
        (node["minimum"].as_f64(), node["maximum"].as_f64())
    };
    assert_eq!(
        range("ErlangVmArgs", "asyncThreads"),
        (Some(1.0), Some(1024.0))
    );
    assert_eq!(
        range("ErlangVmArgs", "maxProcesses"),
        (Some(1024.0), Some(134217727.0))
    );
    assert_eq!(
        range("ErlangVmArgs", "distBufferBusyLimitKb"),
        (Some(1.0), Some(2097151.0))
    );
    assert_eq!(
        range("NovaVifPolicy", "vifPluggingTimeout"),
        (Some(0.0), None)
    );
    for field in [
        "cpuAllocationRatio",
        "ramAllocationRatio",
        "diskAllocationRatio",
    ] {
        assert_eq!(
            range("NovaComputePolicy", field),
            (Some(0.0), None),
            "{field}"
        );
        assert_eq!(spec_field("NovaComputePolicy", field)["type"], "number");
    }
    for field in ["reservedHostMemoryMb", "maxConcurrentBuilds"] {
        assert_eq!(
            range("NovaComputePolicy", field),
            (Some(0.0), None),
            "{field}"
        );
        assert_eq!(spec_field("NovaComputePolicy", field)["type"], "integer");
    }
    assert_eq!(
        range("RabbitListenerPolicy", "heartbeatSeconds"),
        (Some(0.0), None)
    );
    assert_eq!(
        range("OsloMessagingPolicy", "heartbeatTimeoutThreshold"),
        (Some(0.0), None)
    );
    assert_eq!(
        range("OsloMessagingPolicy", "heartbeatRate"),
        (Some(1.0), None)
    );
}

#[test]
fn enums() {
    let values = |kind: &str, field: &str| spec_field(kind, field)["enum"].clone();
    assert_eq!(
        values("RabbitPolicy", "applyTo"),
        json!([
            "all",
            "queues",
            "exchanges",
            "classic_queues",
            "quorum_queues",
            "streams"
        ])
    );
    let busy = json!(["none", "very_short", "short", "medium", "long", "very_long"]);
    for field in [
        "schedulerBusyWait",
        "dirtyCpuSchedulerBusyWait",
        "dirtyIoSchedulerBusyWait",
    ] {
        assert_eq!(values("ErlangVmArgs", field), busy, "{field}");
        // The field's own documentation, not the enum type's, reaches `kubectl explain`.
        let doc = spec_field("ErlangVmArgs", field)["description"].clone();
        assert!(doc.as_str().unwrap().starts_with("+sbwt"), "{field}: {doc}");
    }
    assert_eq!(
        values("KollaConfig", "output.kind"),
        json!(["Secret", "ConfigMap"])
    );
    let rollout_kind =
        spec_field("KollaConfig", "rollout")["items"]["properties"]["kind"]["enum"].clone();
    assert_eq!(
        rollout_kind,
        json!(["StatefulSet", "Deployment", "DaemonSet"])
    );
}

#[test]
fn patterns() {
    let pattern = |kind: &str, field: &str| spec_field(kind, field)["pattern"].clone();
    assert_eq!(pattern("ErlangVmArgs", "schedulers"), "^[0-9]+:[0-9]+$");
    assert_eq!(
        pattern("KollaConfig", "service"),
        "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    );
    assert_eq!(
        pattern("ConfigOverride", "file"),
        "^[A-Za-z0-9_-][A-Za-z0-9._-]*$"
    );
    assert_eq!(
        pattern("KollaConfig", "rabbitmq.version"),
        "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$"
    );
    let items = spec_field("ErlangVmArgs", "extraArgs")["items"].clone();
    assert_eq!(items["pattern"], kollacfg_api::schema::EXTRA_ARG_PATTERN);
}

#[test]
fn defaults_the_api_server_fills_in() {
    for kind in FRAGMENTS {
        assert_eq!(spec_field(kind, "precedence")["default"], 0, "{kind}");
        assert_eq!(spec_field(kind, "precedence")["type"], "integer", "{kind}");
        let required = &schema(kind)["properties"]["spec"]["required"];
        assert!(
            required
                .as_array()
                .unwrap()
                .contains(&json!("kollaConfigRef")),
            "{kind}"
        );
    }
    assert_eq!(spec_field("RabbitPolicy", "vhost")["default"], "/");
    assert_eq!(spec_field("RabbitPolicy", "applyTo")["default"], "all");
    assert_eq!(spec_field("RabbitPolicy", "priority")["default"], 0);
    assert_eq!(
        spec_field("KollaConfig", "output")["default"],
        json!({"kind": "Secret"})
    );
    // pattern and definition are required unless absent: a CEL rule on spec says so.
    let spec = &schema("RabbitPolicy")["properties"]["spec"];
    assert_eq!(spec["required"], json!(["kollaConfigRef"]));
    assert_eq!(
        spec["x-kubernetes-validations"][0]["rule"],
        kollacfg_api::rabbit_policy::POLICY_NEEDS_PATTERN_AND_DEFINITION.rule
    );
    assert_eq!(
        schema("KollaConfig")["properties"]["spec"]["required"],
        json!(["service"])
    );
}

#[test]
fn free_form_and_string_maps() {
    let definition = spec_field("RabbitPolicy", "definition");
    assert_eq!(definition["type"], "object");
    assert_eq!(
        definition["additionalProperties"],
        json!({"x-kubernetes-preserve-unknown-fields": true})
    );
    let ini = spec_field("ConfigOverride", "ini");
    assert_eq!(
        ini["additionalProperties"]["additionalProperties"]["type"],
        "string"
    );
    for field in ["conf", "env"] {
        let map = spec_field("ConfigOverride", field);
        assert_eq!(map["additionalProperties"]["type"], "string", "{field}");
        assert_eq!(map["minProperties"], 1, "{field}");
    }
}

#[test]
fn lists_merge_by_key() {
    let rollout = spec_field("KollaConfig", "rollout");
    assert_eq!(rollout["x-kubernetes-list-type"], "map");
    assert_eq!(
        rollout["x-kubernetes-list-map-keys"],
        json!(["kind", "name"])
    );
    assert_eq!(
        spec_field("ErlangVmArgs", "extraArgs")["x-kubernetes-list-type"],
        "set"
    );
    for kind in ["KollaConfig", "RabbitPolicy", "ConfigOverride"] {
        let conditions = schema(kind)["properties"]["status"]["properties"]["conditions"].clone();
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            json!(["type"]),
            "{kind}"
        );
    }
}

#[test]
fn status_shapes() {
    let status = schema("KollaConfig")["properties"]["status"]["properties"].clone();
    let fields: Vec<&String> = status.as_object().unwrap().keys().collect();
    let mut fields: Vec<&str> = fields.iter().map(|s| s.as_str()).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "broker",
            "conditions",
            "contributorCount",
            "contributors",
            "files",
            "observedGeneration",
            "outputVersion",
            "rollout"
        ]
    );
    assert_eq!(status["contributors"]["maxItems"], 100);
    assert_eq!(status["rollout"]["x-kubernetes-list-type"], "map");
    assert_eq!(
        status["rollout"]["x-kubernetes-list-map-keys"],
        json!(["kind", "name"])
    );
    assert_eq!(
        status["files"]["items"]["required"],
        json!(["name", "sha256", "size"])
    );
    for kind in FRAGMENTS {
        let status = schema(kind)["properties"]["status"]["properties"].clone();
        let mut fields: Vec<String> = status.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(fields, ["conditions", "observedGeneration"], "{kind}");
    }
}

#[test]
fn every_field_is_documented_for_kubectl_explain() {
    fn walk(path: &str, node: &Value, missing: &mut Vec<String>) {
        let Some(properties) = node["properties"].as_object() else {
            return;
        };
        for (name, child) in properties {
            let here = format!("{path}.{name}");
            let doc = child["description"].as_str().unwrap_or_default();
            if doc.is_empty() {
                missing.push(here.clone());
            }
            assert!(
                !doc.contains('\n'),
                "{here}: description keeps source line breaks"
            );
            walk(&here, child, missing);
            walk(&format!("{here}[]"), &child["items"], missing);
        }
    }
    let mut missing = Vec::new();
    for (kind, crd) in crds() {
        let schema = schema(&kind);
        assert!(
            !schema["description"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{kind}"
        );
        walk(
            &crd.spec.names.kind,
            &schema["properties"]["spec"],
            &mut missing,
        );
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}
