//! Precedence, tie-breaks and conflicts, end to end through `render_target` (DESIGN.md §3).

use std::collections::BTreeMap;

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
