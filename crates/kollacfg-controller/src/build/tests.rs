//! Build-layer tests from inline objects: output bytes, metadata, statuses, limits.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kollacfg_api::{parse_documents, AnyResource, FragmentStatus, KollaConfig};
use kollacfg_render::render::render_target;

use super::*;
use crate::fixtures::{BASE_CONF, FRAGMENTS};
use crate::hash::{files_hash, sha256_hex};

const TARGET: &str = r#"
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: rabbitmq, namespace: openstack, uid: 0c6d1a2e-1111-2222-3333-444455556666, generation: 3}
spec:
  service: rabbitmq
  base: {secretRef: {name: rabbitmq-kolla}}
  rollout: [{kind: StatefulSet, name: rabbitmq}]
"#;

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(seconds).unwrap())
}

fn target(yaml: &str) -> KollaConfig {
    match parse_documents(yaml).unwrap().remove(0) {
        AnyResource::KollaConfig(kc) => kc,
        other => panic!("not a KollaConfig: {other:?}"),
    }
}

fn fragments(yaml: &str) -> Vec<AnyResource> {
    parse_documents(yaml).unwrap()
}

fn base() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([("rabbitmq.conf".to_string(), BASE_CONF.as_bytes().to_vec())])
}

fn run(kc: &KollaConfig, frags: &[AnyResource], base: Base, now: i64) -> Built {
    let built = build(&Inputs {
        kolla_config: kc,
        fragments: frags,
        base,
        now: at(now),
    });
    assert_messages(&built);
    built
}

/// The same resource with `status` set, as if read back from the API server.
fn with_status<T: serde::Serialize>(resource: &AnyResource, status: &T) -> AnyResource {
    let mut value = serde_json::to_value(resource).unwrap();
    value["status"] = serde_json::to_value(status).unwrap();
    parse_documents(&value.to_string()).unwrap().remove(0)
}

/// Every condition of every status in `built`.
fn all_conditions(built: &Built) -> Vec<&Condition> {
    let target = built.status.conditions.iter();
    target
        .chain(
            built
                .fragments
                .iter()
                .flat_map(|(_, s)| s.conditions.iter()),
        )
        .collect()
}

/// The API server refuses an applied condition with an empty message.
fn assert_messages(built: &Built) {
    for c in all_conditions(built) {
        assert!(!c.message.is_empty(), "empty message in {c:?}");
    }
}

fn condition<'a>(list: &'a [Condition], type_: &str) -> &'a Condition {
    list.iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {list:?}"))
}

fn fragment<'a>(built: &'a Built, kind: &str, name: &str) -> &'a FragmentStatus {
    &built
        .fragments
        .iter()
        .find(|(id, _)| id.kind == kind && id.name == name)
        .unwrap_or_else(|| panic!("no status for {kind}/{name}"))
        .1
}

#[test]
fn output_secret_holds_exactly_the_engines_bytes() {
    let kc = target(TARGET);
    let frags = fragments(FRAGMENTS);
    let built = run(&kc, &frags, Base::Files(base()), 100);

    let engine_frags: Vec<_> = frags.iter().filter_map(kollacfg_api::to_fragment).collect();
    let refs: Vec<_> = engine_frags.iter().collect();
    let expected = render_target(&kollacfg_api::to_target(&kc), &refs, &base())
        .unwrap()
        .files;

    let Some(DesiredOutput::Secret(secret)) = &built.output else {
        panic!("expected a Secret, got {:?}", built.output);
    };
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .clone()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    assert_eq!(data, expected);
    assert_ne!(
        data["rabbitmq.conf"],
        BASE_CONF.as_bytes(),
        "fragments changed nothing"
    );

    let meta = &secret.metadata;
    assert_eq!(meta.name.as_deref(), Some("rabbitmq-config"));
    assert_eq!(meta.namespace.as_deref(), Some("openstack"));
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let labels = meta.labels.clone().unwrap();
    assert_eq!(
        labels,
        BTreeMap::from([
            (LABEL_INSTANCE.to_string(), "rabbitmq".to_string()),
            (LABEL_MANAGED_BY.to_string(), "kollacfg".to_string()),
            (LABEL_NAME.to_string(), "kollacfg".to_string()),
        ])
    );
    assert!(!labels.keys().any(|k| k.contains("argocd")));
    let owners = meta.owner_references.clone().unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].kind, "KollaConfig");
    assert_eq!(owners[0].api_version, "kollacfg.dev/v1alpha1");
    assert_eq!(owners[0].name, "rabbitmq");
    assert_eq!(owners[0].uid, "0c6d1a2e-1111-2222-3333-444455556666");
    assert_eq!(owners[0].controller, Some(true));
    let hash = files_hash(&expected);
    assert_eq!(
        meta.annotations.clone().unwrap(),
        BTreeMap::from([(ANNOTATION_CONTENT_HASH.to_string(), hash.clone())])
    );
    assert_eq!(built.rollout_hash.as_deref(), Some(hash.as_str()));
    assert_eq!(built.degraded, None);
}

#[test]
fn config_map_output_puts_text_in_data() {
    let kc = target(&TARGET.replace(
        "  rollout:",
        "  output: {kind: ConfigMap, name: rabbit-files}\n  rollout:",
    ));
    let built = run(&kc, &fragments(FRAGMENTS), Base::Files(base()), 100);
    let Some(DesiredOutput::ConfigMap(map)) = &built.output else {
        panic!("expected a ConfigMap, got {:?}", built.output);
    };
    assert_eq!(map.metadata.name.as_deref(), Some("rabbit-files"));
    let data = map.data.clone().unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["rabbitmq.conf"]);
    assert!(data["rabbitmq.conf"].contains("collect_statistics_interval = 30000"));
    assert_eq!(map.binary_data, None);
    assert_eq!(
        crate::build::output::config_map_files_hash(map),
        built.output.as_ref().unwrap().content_hash()
    );
}

#[test]
fn status_lists_files_and_contributors_and_is_stable_across_passes() {
    let kc = target(TARGET);
    let frags = fragments(FRAGMENTS);
    let first = run(&kc, &frags, Base::Files(base()), 100);

    let status = &first.status;
    assert_eq!(status.observed_generation, Some(3));
    assert_eq!(
        status.contributors,
        ["ConfigOverride/stats", "RabbitListenerPolicy/keepalive"]
    );
    assert_eq!(status.contributor_count, 2);
    let Some(DesiredOutput::Secret(secret)) = &first.output else {
        panic!()
    };
    let conf = &secret.data.as_ref().unwrap()["rabbitmq.conf"].0;
    assert_eq!(status.files.len(), 1);
    assert_eq!(status.files[0].name, "rabbitmq.conf");
    assert_eq!(status.files[0].size, conf.len() as i64);
    assert_eq!(status.files[0].sha256, sha256_hex(conf));
    let ready = condition(&status.conditions, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Rendered")
    );
    assert_eq!(ready.last_transition_time, at(100));
    let degraded = condition(&status.conditions, "Degraded");
    assert_eq!(degraded.status, "False");

    let stats = fragment(&first, "ConfigOverride", "stats");
    assert_eq!(stats.observed_generation, Some(2));
    let ready = condition(&stats.conditions, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Applied")
    );
    assert_eq!(condition(&stats.conditions, "Invalid").status, "False");
    assert_eq!(condition(&stats.conditions, "Conflicted").status, "False");

    // Second pass, later, over the stored statuses: byte-identical statuses.
    let mut kc2 = kc.clone();
    kc2.status = Some(first.status.clone());
    let frags2: Vec<AnyResource> = frags
        .iter()
        .map(|f| {
            with_status(
                f,
                fragment(&first, f.kind(), &f.metadata().name.clone().unwrap()),
            )
        })
        .collect();
    let second = run(&kc2, &frags2, Base::Files(base()), 999);
    assert_eq!(second.status, first.status);
    assert_eq!(second.fragments, first.fragments);
    assert_eq!(second.output, first.output);
    assert_eq!(
        serde_json::to_string(&second.status).unwrap(),
        serde_json::to_string(&first.status).unwrap()
    );
}

#[test]
fn contributors_are_capped_at_100_with_the_total_counted() {
    let kc = target(TARGET);
    let yaml: Vec<String> = (0..150)
        .map(|i| {
            format!(
                "apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\n\
                 metadata: {{name: o{i:03}, namespace: openstack}}\n\
                 spec: {{kollaConfigRef: {{name: rabbitmq}}, file: rabbitmq.conf, \
                 conf: {{key_{i}: \"{i}\"}}}}\n"
            )
        })
        .collect();
    let frags = fragments(&yaml.join("---\n"));
    // Reverse order in: sorted out.
    let reversed: Vec<AnyResource> = frags.into_iter().rev().collect();
    let built = run(&kc, &reversed, Base::Files(base()), 1);
    assert_eq!(built.status.contributor_count, 150);
    assert_eq!(built.status.contributors.len(), 100);
    assert_eq!(built.status.contributors[0], "ConfigOverride/o000");
    assert_eq!(built.status.contributors[99], "ConfigOverride/o099");
    assert_eq!(built.fragments.len(), 150);
    assert_eq!(built.fragments[0].0.name, "o000");
}

#[test]
fn output_over_one_mebibyte_is_degraded_and_keeps_the_previous_output() {
    let mut kc = target(TARGET);
    let previous = run(&kc, &fragments(FRAGMENTS), Base::Files(base()), 1).status;
    kc.status = Some(previous.clone());
    let mut big = BASE_CONF.to_string();
    big.push_str(&format!("# {}\n", "x".repeat(MAX_OUTPUT_BYTES)));
    let files = BTreeMap::from([("rabbitmq.conf".to_string(), big.into_bytes())]);
    let built = run(&kc, &fragments(FRAGMENTS), Base::Files(files), 2);

    assert_eq!(built.output, None);
    assert_eq!(built.rollout_hash, None);
    let Some(Degraded::OutputTooLarge(size)) = built.degraded else {
        panic!("expected OutputTooLarge, got {:?}", built.degraded);
    };
    assert!(size > MAX_OUTPUT_BYTES);
    let degraded = condition(&built.status.conditions, "Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "OutputTooLarge")
    );
    assert!(
        degraded.message.contains(&size.to_string()),
        "{}",
        degraded.message
    );
    assert!(degraded.message.contains("1 MiB"));
    assert_eq!(degraded.last_transition_time, at(2));
    assert_eq!(condition(&built.status.conditions, "Ready").status, "False");
    // The file list describes the output still in place.
    assert_eq!(built.status.files, previous.files);
    assert_eq!(built.status.contributors, previous.contributors);
    let ready = condition(
        &fragment(&built, "ConfigOverride", "stats").conditions,
        "Ready",
    );
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "TargetDegraded")
    );
}

#[test]
fn invalid_fragment_is_reported_on_it_and_on_the_target_and_nothing_is_written() {
    let mut kc = target(TARGET);
    let previous = run(&kc, &fragments(FRAGMENTS), Base::Files(base()), 1).status;
    kc.status = Some(previous.clone());
    let bad = format!(
        "{FRAGMENTS}---\napiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\n\
         metadata: {{name: bad, namespace: openstack, generation: 7}}\n\
         spec: {{kollaConfigRef: {{name: rabbitmq}}, file: rabbitmq.conf, \
         conf: {{heartbeat: \"60 # comment\"}}}}\n"
    );
    let built = run(&kc, &fragments(&bad), Base::Files(base()), 2);

    assert_eq!(built.output, None);
    assert_eq!(built.rollout_hash, None);
    assert_eq!(built.degraded, Some(Degraded::InvalidFragments));
    let invalid = fragment(&built, "ConfigOverride", "bad");
    assert_eq!(invalid.observed_generation, Some(7));
    let cond = condition(&invalid.conditions, "Invalid");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("True", "InvalidSpec")
    );
    assert!(cond.message.starts_with("spec.conf"), "{}", cond.message);
    assert_eq!(condition(&invalid.conditions, "Ready").status, "False");

    let degraded = condition(&built.status.conditions, "Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "InvalidFragments")
    );
    assert!(
        degraded.message.contains("ConfigOverride/bad: spec.conf"),
        "{}",
        degraded.message
    );
    assert_eq!(built.status.files, previous.files);

    let other = fragment(&built, "ConfigOverride", "stats");
    assert_eq!(condition(&other.conditions, "Invalid").status, "False");
    assert_eq!(
        condition(&other.conditions, "Ready").reason,
        "TargetDegraded"
    );
}

#[test]
fn conflicting_fragments_both_report_the_other_and_the_item() {
    let kc = target(TARGET);
    let yaml = ["a-stats", "b-stats"]
        .iter()
        .zip(["10000", "30000"])
        .map(|(name, value)| {
            format!(
                "apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\n\
                 metadata: {{name: {name}, namespace: openstack}}\n\
                 spec: {{kollaConfigRef: {{name: rabbitmq}}, file: rabbitmq.conf, \
                 conf: {{collect_statistics_interval: \"{value}\"}}}}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let built = run(&kc, &fragments(&yaml), Base::Files(base()), 1);
    assert!(
        built.output.is_some(),
        "a conflict still renders (the winner applies)"
    );
    let a = fragment(&built, "ConfigOverride", "a-stats");
    let b = fragment(&built, "ConfigOverride", "b-stats");
    let ca = condition(&a.conditions, "Conflicted");
    let cb = condition(&b.conditions, "Conflicted");
    assert_eq!((ca.status.as_str(), cb.status.as_str()), ("True", "True"));
    assert!(
        ca.message
            .contains("ConfigOverride/b-stats on rabbitmq.conf"),
        "{}",
        ca.message
    );
    assert!(
        cb.message
            .contains("ConfigOverride/a-stats on rabbitmq.conf"),
        "{}",
        cb.message
    );
    assert!(
        ca.message.contains("collect_statistics_interval"),
        "{}",
        ca.message
    );
    assert_eq!(condition(&a.conditions, "Ready").reason, "Applied");
    let lost = condition(&b.conditions, "Ready");
    assert_eq!(
        (lost.status.as_str(), lost.reason.as_str()),
        ("False", "ConflictLost")
    );
}

#[test]
fn missing_base_is_degraded_not_a_failure() {
    let kc = target(TARGET);
    let built = run(
        &kc,
        &fragments(FRAGMENTS),
        Base::Missing {
            kind: "Secret",
            name: "rabbitmq-kolla".to_string(),
        },
        1,
    );
    assert_eq!(built.output, None);
    assert_eq!(built.degraded, Some(Degraded::BaseMissing));
    let degraded = condition(&built.status.conditions, "Degraded");
    assert_eq!(degraded.reason, "BaseMissing");
    assert!(
        degraded.message.contains("Secret \"rabbitmq-kolla\""),
        "{}",
        degraded.message
    );
}

#[test]
fn only_fragments_in_the_same_namespace_naming_the_target_belong_to_it() {
    let kc = target(TARGET);
    let frags = fragments(FRAGMENTS);
    assert!(frags.iter().all(|f| names_target(&kc, f)));
    let elsewhere = fragments(&FRAGMENTS.replace("namespace: openstack", "namespace: other"));
    assert!(!elsewhere.iter().any(|f| names_target(&kc, f)));
    let other_target = fragments(&FRAGMENTS.replace("name: rabbitmq}", "name: nova}"));
    assert!(!other_target.iter().any(|f| names_target(&kc, f)));
    assert!(!names_target(&kc, &AnyResource::KollaConfig(kc.clone())));
}

fn with_per_pod(template: &str) -> KollaConfig {
    target(&format!(
        "{TARGET}  perPod: [{{file: rabbitmq.conf, conf: {{listeners.tcp.1: '{template}'}}}}]\n"
    ))
}

#[test]
fn a_per_pod_change_changes_the_manifest_and_restarts_the_workloads() {
    let frags = fragments(FRAGMENTS);
    let plain = run(&target(TARGET), &frags, Base::Files(base()), 1);
    let a = run(
        &with_per_pod("{podIP}:5672"),
        &frags,
        Base::Files(base()),
        1,
    );
    let b = run(
        &with_per_pod("{podIP}:5673"),
        &frags,
        Base::Files(base()),
        1,
    );
    let files = |built: &Built| built.output.as_ref().unwrap().files();
    // The shared rabbitmq.conf is the same; only the manifest tells the pods apart.
    assert_eq!(files(&a)["rabbitmq.conf"], files(&plain)["rabbitmq.conf"]);
    assert_eq!(files(&a)["rabbitmq.conf"], files(&b)["rabbitmq.conf"]);
    assert!(!files(&plain).contains_key("kollacfg-perpod.json"));
    let manifest = String::from_utf8(files(&b)["kollacfg-perpod.json"].clone()).unwrap();
    assert!(
        manifest.contains("\"template\": \"{podIP}:5673\""),
        "{manifest}"
    );
    let hashes = [&plain, &a, &b].map(|built| built.rollout_hash.clone().unwrap());
    assert_ne!(hashes[0], hashes[1]);
    assert_ne!(hashes[1], hashes[2]);
    // The KollaConfig winning an item is not listed among the contributing fragments.
    assert_eq!(a.status.contributors, plain.status.contributors);
}

#[test]
fn a_bad_per_pod_template_degrades_the_target_and_writes_nothing() {
    let built = run(
        &with_per_pod("{podAddress}:5672"),
        &fragments(FRAGMENTS),
        Base::Files(base()),
        1,
    );
    assert_eq!(built.output, None);
    assert_eq!(built.rollout_hash, None);
    assert_eq!(built.degraded, Some(Degraded::InvalidBase));
    let degraded = condition(&built.status.conditions, "Degraded");
    assert!(
        degraded
            .message
            .contains("spec.perPod[0].conf.listeners.tcp.1: unknown placeholder {podAddress}"),
        "{}",
        degraded.message
    );
}

const NOVA_TARGET: &str = r#"
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: nova-compute, namespace: openstack, uid: 0c6d1a2e-1111-2222-3333-444455557777, generation: 1}
spec:
  service: nova-compute
  base: {secretRef: {name: nova-compute-kolla}}
  rollout: [{kind: KIND, name: nova-compute}]
"#;

fn nova_base() -> Base {
    Base::Files(BTreeMap::from([(
        "nova.conf".to_string(),
        b"[DEFAULT]\nmy_ip = 10.0.0.21\nhost = compute01\n[vnc]\nserver_listen = 0.0.0.0\n\
          server_proxyclient_address = 10.0.0.21\nnovncproxy_host = 10.0.0.21\n"
            .to_vec(),
    )]))
}

#[test]
fn a_literal_host_value_in_a_daemonset_output_is_a_warning_condition_not_a_failure() {
    let kc = target(&NOVA_TARGET.replace("KIND", "DaemonSet"));
    let first = run(&kc, &[], nova_base(), 100);
    assert!(first.output.is_some(), "a warning does not stop the output");
    assert_eq!(condition(&first.status.conditions, "Ready").status, "True");
    let host = condition(&first.status.conditions, "HostSpecificValue");
    assert_eq!(
        (host.status.as_str(), host.reason.as_str()),
        ("True", "LiteralHostValue")
    );
    assert_eq!(host.last_transition_time, at(100));
    assert_eq!(
        host.message,
        "4 literal per-host value(s) in files every pod of DaemonSet nova-compute reads; set \
         them per pod: nova.conf [DEFAULT] host = \"compute01\" (perPod: [{file: nova.conf, ini: \
         {DEFAULT: {host: \"{nodeName}\"}}}]); nova.conf [DEFAULT] my_ip = \"10.0.0.21\" (perPod: \
         [{file: nova.conf, ini: {DEFAULT: {my_ip: \"{hostIP}\"}}}]); nova.conf [vnc] \
         novncproxy_host = \"10.0.0.21\" (perPod: [{file: nova.conf, ini: {vnc: \
         {novncproxy_host: \"{podIP}\"}}}]); also nova.conf [vnc] server_proxyclient_address"
    );
    // Warned once, on the transition to True.
    let sent = crate::events::notices(&kc, &first, &[], false, &[]);
    let warned: Vec<(&str, &str)> = sent
        .iter()
        .filter(|n| n.warning)
        .map(|n| (n.reason.as_str(), n.note.as_str()))
        .collect();
    assert_eq!(warned, [("LiteralHostValue", host.message.as_str())]);

    // The next pass over the stored status: the same condition, its time kept, no event.
    let mut kc2 = kc.clone();
    kc2.status = Some(first.status.clone());
    let second = run(&kc2, &[], nova_base(), 999);
    assert_eq!(second.status, first.status);
    let sent = crate::events::notices(&kc2, &second, &[], false, &[]);
    assert!(
        sent.iter().all(|n| n.reason != "LiteralHostValue"),
        "{sent:?}"
    );

    // Nothing rendered (the base went missing): the output in place, and what is said of it,
    // stay as they were.
    let missing = Base::Missing {
        kind: "Secret",
        name: "nova-compute-kolla".to_string(),
    };
    let third = run(&kc2, &[], missing, 1500);
    assert_eq!(
        condition(&third.status.conditions, "HostSpecificValue"),
        host
    );

    // Fixed in the base: the condition is gone.
    let clean = Base::Files(BTreeMap::from([(
        "nova.conf".to_string(),
        b"[DEFAULT]\nmy_ip = $my_ip_from_env\n".to_vec(),
    )]));
    let fixed = run(&kc2, &[], clean, 2000);
    assert!(
        !fixed
            .status
            .conditions
            .iter()
            .any(|c| c.type_ == "HostSpecificValue"),
        "{:?}",
        fixed.status.conditions
    );
}

#[test]
fn a_deployment_output_has_no_host_specific_value_condition() {
    let kc = target(&NOVA_TARGET.replace("KIND", "Deployment"));
    let built = run(&kc, &[], nova_base(), 100);
    let types: Vec<&str> = built
        .status
        .conditions
        .iter()
        .map(|c| c.type_.as_str())
        .collect();
    assert_eq!(types, ["Degraded", "Ready"]);
}

#[test]
fn a_versioned_output_is_named_by_its_content_immutable_and_labelled_with_its_target() {
    let kc = target(&TARGET.replace("  rollout:", "  output: {versioned: true}\n  rollout:"));
    let built = run(&kc, &[], Base::Files(base()), 10);
    let output = built.output.expect("an output");
    let hash = files_hash(&output.files());
    assert_eq!(output.name(), format!("rabbitmq-config-{}", &hash[..10]));
    assert_eq!(output.content_hash(), hash);
    let DesiredOutput::Secret(secret) = &output else {
        panic!("not a Secret")
    };
    assert_eq!(secret.immutable, Some(true));
    let labels = secret.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["kollacfg.dev/target"], "rabbitmq");
    assert_eq!(labels["app.kubernetes.io/instance"], "rabbitmq");
    assert_eq!(
        secret.metadata.owner_references.as_ref().unwrap()[0].uid,
        "0c6d1a2e-1111-2222-3333-444455556666"
    );

    // Another content, another version; the stable-named object is what the default writes.
    let mut other = base();
    other.insert("extra.conf".into(), b"x = 1\n".to_vec());
    let second = run(&kc, &[], Base::Files(other), 10).output.unwrap();
    assert_ne!(second.name(), output.name());
    assert!(second.name().starts_with("rabbitmq-config-"));
    let plain = run(&target(TARGET), &[], Base::Files(base()), 10)
        .output
        .unwrap();
    assert_eq!(plain.name(), "rabbitmq-config");
    let DesiredOutput::Secret(plain) = plain else {
        panic!("not a Secret")
    };
    assert_eq!(plain.immutable, None);
    assert!(!plain
        .metadata
        .labels
        .unwrap()
        .contains_key("kollacfg.dev/target"));
}
