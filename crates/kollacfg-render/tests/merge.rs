//! Precedence, tie-breaks and conflicts, end to end through `render_target` (DESIGN.md §3).

use std::collections::BTreeMap;

use kollacfg_render::items::ItemValue;
use kollacfg_render::render::render_target;
use kollacfg_render::*;

fn target(service: &str) -> Target {
    Target {
        id: ResourceRef::new("KollaConfig", "openstack", service),
        service: service.into(),
        rabbitmq_version: None,
    }
}

fn vif(name: &str, precedence: i32, timeout: i64) -> Fragment {
    Fragment {
        id: ResourceRef::new("NovaVifPolicy", "openstack", name),
        target: "nova-compute".into(),
        precedence,
        body: FragmentBody::NovaVifPolicy(NovaVifPolicy {
            vif_plugging_is_fatal: None,
            vif_plugging_timeout: Some(timeout),
        }),
    }
}

fn ini_override(name: &str, precedence: i32, key: &str, value: &str) -> Fragment {
    let mut section = BTreeMap::new();
    section.insert(key.to_string(), value.to_string());
    let mut ini = BTreeMap::new();
    ini.insert("DEFAULT".to_string(), section);
    Fragment {
        id: ResourceRef::new("ConfigOverride", "openstack", name),
        target: "nova-compute".into(),
        precedence,
        body: FragmentBody::ConfigOverride(ConfigOverride {
            file: "nova.conf".into(),
            content: OverrideContent::Ini(ini),
        }),
    }
}

fn base() -> BTreeMap<String, Vec<u8>> {
    let mut b = BTreeMap::new();
    b.insert(
        "nova.conf".to_string(),
        b"[DEFAULT]\n# kolla\ndebug = False\n".to_vec(),
    );
    b
}

fn nova(out: &render::TargetOutput) -> String {
    String::from_utf8(out.files["nova.conf"].clone()).unwrap()
}

#[test]
fn highest_precedence_wins() {
    let (a, b) = (vif("a", 0, 100), vif("b", 10, 200));
    let out = render_target(&target("nova-compute"), &[&a, &b], &base()).unwrap();
    assert_eq!(
        nova(&out),
        "[DEFAULT]\n# kolla\ndebug = False\nvif_plugging_timeout = 200\n"
    );
    assert!(out.conflicts.is_empty());
    assert_eq!(out.items[0].winner.name, "b");
    assert_eq!(out.items[0].overridden, vec![a.id.clone()]);
    assert_eq!(out.contributors, vec![b.id.clone()]);
    assert_eq!(out.fragments, vec![a.id.clone(), b.id.clone()]);
}

#[test]
fn tie_goes_to_alphabetically_first_kind_name_and_is_a_conflict() {
    let (a, b) = (
        vif("zeta", 0, 100),
        ini_override("alpha", 0, "vif_plugging_timeout", "300"),
    );
    for order in [[&a, &b], [&b, &a]] {
        let out = render_target(&target("nova-compute"), &order, &base()).unwrap();
        // "ConfigOverride/alpha" sorts before "NovaVifPolicy/zeta".
        assert!(nova(&out).contains("vif_plugging_timeout = 300\n"));
        assert_eq!(out.conflicts.len(), 1);
        let c = &out.conflicts[0];
        assert_eq!(
            (c.winner.name.as_str(), c.loser.name.as_str()),
            ("alpha", "zeta")
        );
        assert_eq!(c.file, "nova.conf");
        assert_eq!(c.item, "[DEFAULT] vif_plugging_timeout");
    }
}

#[test]
fn equal_values_at_equal_precedence_are_not_a_conflict() {
    let (a, b) = (
        vif("a", 3, 300),
        ini_override("b", 3, "vif_plugging_timeout", "300"),
    );
    let out = render_target(&target("nova-compute"), &[&a, &b], &base()).unwrap();
    assert!(out.conflicts.is_empty());
    assert_eq!(out.items[0].winner.kind, "ConfigOverride");
    assert_eq!(out.items[0].overridden.len(), 1);
}

#[test]
fn ties_below_the_winning_precedence_are_overridden_not_conflicting() {
    let (a, b, c) = (vif("a", 0, 1), vif("b", 0, 2), vif("c", 5, 3));
    let out = render_target(&target("nova-compute"), &[&a, &b, &c], &base()).unwrap();
    assert!(out.conflicts.is_empty());
    assert!(nova(&out).contains("vif_plugging_timeout = 3\n"));
}

#[test]
fn a_file_nothing_manages_passes_through_untouched() {
    let mut b = base();
    b.insert("policy.yaml".into(), b"\x00binary? kept: yes\r\n".to_vec());
    let a = vif("a", 0, 100);
    let out = render_target(&target("nova-compute"), &[&a], &b).unwrap();
    assert_eq!(
        out.files["policy.yaml"],
        b"\x00binary? kept: yes\r\n".to_vec()
    );
    assert_eq!(out.files.len(), 2);
}

#[test]
fn no_fragments_means_base_verbatim() {
    let out = render_target(&target("nova-compute"), &[], &base()).unwrap();
    assert_eq!(out.files, base());
    assert!(out.items.is_empty());
}

#[test]
fn a_file_without_base_is_created() {
    let a = vif("a", 0, 100);
    let out = render_target(&target("nova-compute"), &[&a], &BTreeMap::new()).unwrap();
    assert_eq!(nova(&out), "[DEFAULT]\nvif_plugging_timeout = 100\n");
}

fn rabbit_target() -> Target {
    target("rabbitmq")
}

fn policy(name: &str, precedence: i32, absent: bool) -> Fragment {
    let mut definition = serde_json::Map::new();
    definition.insert("ha-mode".into(), "exactly".into());
    definition.insert("ha-params".into(), 2.into());
    Fragment {
        id: ResourceRef::new("RabbitPolicy", "openstack", name),
        target: "rabbitmq".into(),
        precedence,
        body: FragmentBody::RabbitPolicy(RabbitPolicy {
            vhost: "/".into(),
            name: "ha-all".into(),
            pattern: if absent { String::new() } else { ".*".into() },
            apply_to: "all".into(),
            priority: 0,
            definition: if absent {
                serde_json::Map::new()
            } else {
                definition
            },
            absent,
        }),
    }
}

const KOLLA_DEFINITIONS: &str = "{\n  \"vhosts\": [{\"name\": \"/\"}],\n  \"policies\":[\n    {\"vhost\": \"/\", \"name\": \"ha-all\", \"pattern\": \".*\", \"apply-to\": \"all\", \"definition\": {\"ha-mode\":\"all\"}, \"priority\":0},\n    {\"vhost\": \"/\", \"name\": \"ttl\", \"pattern\": \"^q\", \"apply-to\": \"queues\", \"definition\": {\"message-ttl\":5}, \"priority\":1}\n  ]\n}\n";

fn rabbit_base() -> BTreeMap<String, Vec<u8>> {
    let mut b = BTreeMap::new();
    b.insert(
        "definitions.json".to_string(),
        KOLLA_DEFINITIONS.as_bytes().to_vec(),
    );
    b
}

fn definitions(out: &render::TargetOutput) -> String {
    String::from_utf8(out.files["definitions.json"].clone()).unwrap()
}

#[test]
fn an_absent_policy_removes_the_base_policy_and_is_reported() {
    let gone = policy("drop-ha-all", 0, true);
    let out = render_target(&rabbit_target(), &[&gone], &rabbit_base()).unwrap();
    assert_eq!(
        definitions(&out),
        "{\n  \"vhosts\": [{\"name\": \"/\"}],\n  \"policies\":[\n    {\"vhost\": \"/\", \"name\": \"ttl\", \"pattern\": \"^q\", \"apply-to\": \"queues\", \"definition\": {\"message-ttl\":5}, \"priority\":1}\n  ]\n}\n"
    );
    assert_eq!(
        out.absent_policies(),
        vec![("/".to_string(), "ha-all".to_string())]
    );
    assert_eq!(out.items[0].value, ItemValue::Absent);
    assert_eq!(out.items[0].field, "spec.absent");
    assert_eq!(out.contributors, vec![gone.id.clone()]);
    // Rendering the output again as the base changes nothing.
    let mut again = BTreeMap::new();
    again.insert(
        "definitions.json".to_string(),
        out.files["definitions.json"].clone(),
    );
    let twice = render_target(&rabbit_target(), &[&gone], &again).unwrap();
    assert_eq!(twice.files, out.files);
}

#[test]
fn absent_follows_precedence_and_conflicts_with_a_real_policy_at_the_same_precedence() {
    let (gone, kept) = (policy("a-absent", 0, true), policy("b-exactly", 5, false));
    let out = render_target(&rabbit_target(), &[&gone, &kept], &rabbit_base()).unwrap();
    assert!(definitions(&out).contains(r#"{"vhost":"/","name":"ha-all","pattern":".*","apply-to":"all","definition":{"ha-mode":"exactly","ha-params":2},"priority":0}"#));
    assert!(out.absent_policies().is_empty());
    assert!(out.conflicts.is_empty());

    let (gone, kept) = (policy("a-absent", 9, true), policy("b-exactly", 5, false));
    let out = render_target(&rabbit_target(), &[&gone, &kept], &rabbit_base()).unwrap();
    assert!(!definitions(&out).contains("ha-all"));
    assert_eq!(out.items[0].overridden, vec![kept.id.clone()]);

    // Same precedence: a conflict; the tie goes to the alphabetically first Kind/name.
    let (gone, kept) = (policy("a-absent", 0, true), policy("b-exactly", 0, false));
    for order in [[&gone, &kept], [&kept, &gone]] {
        let out = render_target(&rabbit_target(), &order, &rabbit_base()).unwrap();
        assert!(!definitions(&out).contains("ha-all"));
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(out.conflicts[0].winner, gone.id);
        assert_eq!(out.conflicts[0].loser, kept.id);
    }
    // Two absents agree: no conflict.
    let (a, b) = (policy("a-absent", 0, true), policy("b-absent", 0, true));
    let out = render_target(&rabbit_target(), &[&a, &b], &rabbit_base()).unwrap();
    assert!(out.conflicts.is_empty());
    assert_eq!(out.absent_policies().len(), 1);
}

#[test]
fn an_absent_policy_ignores_its_pattern_and_definition() {
    let mut gone = policy("drop", 0, true);
    if let FragmentBody::RabbitPolicy(p) = &mut gone.body {
        p.pattern = "(unclosed".into();
        p.definition.insert("ha-mode".into(), "everywhere".into());
    }
    let out = render_target(&rabbit_target(), &[&gone], &rabbit_base()).unwrap();
    assert!(!definitions(&out).contains("ha-all"));
}
