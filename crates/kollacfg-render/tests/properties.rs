//! The engine's promises as properties over random fragment sets (DESIGN.md §3): the order of
//! fragments never matters, an output rendered again as the base is unchanged, and every base
//! line that no fragment manages survives in order.

use std::collections::BTreeMap;

use kollacfg_render::render::{render_target, TargetOutput};
use kollacfg_render::*;
use proptest::prelude::*;

const NOVA_BASE: &str = include_str!("../../../examples/base/nova-compute/nova.conf");
const DEFINITIONS_BASE: &str = include_str!("../../../examples/base/rabbitmq/definitions.json");
const ENV_BASE: &str = include_str!("../../../examples/base/rabbitmq/rabbitmq-env.conf");
const CONF_BASE: &str = include_str!("../../../examples/base/rabbitmq/rabbitmq.conf");

fn target(service: &str) -> Target {
    Target {
        id: ResourceRef::new("KollaConfig", "ns", service),
        service: service.into(),
        rabbitmq_version: None,
    }
}

fn frag(kind: &str, name: usize, target: &str, precedence: i32, body: FragmentBody) -> Fragment {
    Fragment {
        id: ResourceRef::new(kind, "ns", format!("f{name}")),
        target: target.into(),
        precedence,
        body,
    }
}

/// A random nova fragment; small value ranges so that items collide and conflicts happen.
fn nova_fragment() -> impl Strategy<Value = (u8, i32, u8, u8)> {
    (0u8..4, 0i32..3, 0u8..3, 0u8..4)
}

fn build_nova(i: usize, (kind, precedence, pick, value): (u8, i32, u8, u8)) -> Fragment {
    let v = value as i64;
    match kind {
        0 => frag(
            "NovaVifPolicy",
            i,
            "nova-compute",
            precedence,
            FragmentBody::NovaVifPolicy(NovaVifPolicy {
                vif_plugging_is_fatal: (pick != 0).then_some(value % 2 == 0),
                vif_plugging_timeout: Some(v * 100),
            }),
        ),
        1 => frag(
            "NovaComputePolicy",
            i,
            "nova-compute",
            precedence,
            FragmentBody::NovaComputePolicy(NovaComputePolicy {
                cpu_allocation_ratio: Some(1.0 + value as f64 / 2.0),
                ram_allocation_ratio: (pick == 1).then_some(1.2),
                max_concurrent_builds: (pick == 2).then_some(v + 1),
                ..Default::default()
            }),
        ),
        2 => frag(
            "OsloMessagingPolicy",
            i,
            "nova-compute",
            precedence,
            FragmentBody::OsloMessagingPolicy(OsloMessagingPolicy {
                heartbeat_timeout_threshold: Some(v * 10),
                heartbeat_rate: Some(v + 1),
                ..Default::default()
            }),
        ),
        _ => {
            let section = ["DEFAULT", "libvirt", "new_section"][pick as usize].to_string();
            let key = ["debug", "cpu_mode", "vif_plugging_timeout", "extra"][value as usize];
            let mut keys = BTreeMap::new();
            keys.insert(key.to_string(), format!("v{value}"));
            let mut ini = BTreeMap::new();
            ini.insert(section, keys);
            frag(
                "ConfigOverride",
                i,
                "nova-compute",
                precedence,
                FragmentBody::ConfigOverride(ConfigOverride {
                    file: "nova.conf".into(),
                    content: OverrideContent::Ini(ini),
                }),
            )
        }
    }
}

fn build_rabbit(i: usize, (kind, precedence, pick, value): (u8, i32, u8, u8)) -> Fragment {
    match kind {
        0 | 1 => {
            let mut definition = serde_json::Map::new();
            definition.insert("message-ttl".into(), (value as i64 * 1000).into());
            if pick == 0 {
                definition.insert("ha-mode".into(), "exactly".into());
                definition.insert("ha-params".into(), (value as i64 + 1).into());
            }
            frag(
                "RabbitPolicy",
                i,
                "rabbitmq",
                precedence,
                FragmentBody::RabbitPolicy(RabbitPolicy {
                    vhost: "/".into(),
                    name: ["ha-all", "ttl", "other"][pick as usize].into(),
                    pattern: "^(?!amq\\.).*".into(),
                    apply_to: "all".into(),
                    priority: value as i64,
                    definition,
                    // Some offers remove the policy instead.
                    absent: value % 4 == 3,
                }),
            )
        }
        2 => frag(
            "ErlangVmArgs",
            i,
            "rabbitmq",
            precedence,
            FragmentBody::ErlangVmArgs(ErlangVmArgs {
                scheduler_busy_wait: Some(["none", "short", "long"][pick as usize].into()),
                scheduler_utilization_balancing: Some(value % 2 == 0),
                async_threads: (pick == 1).then_some(64),
                extra_args: if value == 3 {
                    vec!["+stbt db".into()]
                } else {
                    vec![]
                },
                ..Default::default()
            }),
        ),
        _ => frag(
            "RabbitListenerPolicy",
            i,
            "rabbitmq",
            precedence,
            FragmentBody::RabbitListenerPolicy(RabbitListenerPolicy {
                tcp_keepalive: Some(pick != 0),
                heartbeat_seconds: Some(value as i64 * 30),
            }),
        ),
    }
}

fn nova_base() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([("nova.conf".to_string(), NOVA_BASE.as_bytes().to_vec())])
}

fn rabbit_base() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        (
            "definitions.json".to_string(),
            DEFINITIONS_BASE.as_bytes().to_vec(),
        ),
        (
            "rabbitmq-env.conf".to_string(),
            ENV_BASE.as_bytes().to_vec(),
        ),
        ("rabbitmq.conf".to_string(), CONF_BASE.as_bytes().to_vec()),
    ])
}

fn render(t: &Target, frags: &[Fragment], base: &BTreeMap<String, Vec<u8>>) -> TargetOutput {
    let refs: Vec<&Fragment> = frags.iter().collect();
    render_target(t, &refs, base).expect("valid fragments render")
}

fn check_invariants(
    t: &Target,
    frags: Vec<Fragment>,
    base: BTreeMap<String, Vec<u8>>,
    rotate: usize,
) -> Result<(), TestCaseError> {
    let first = render(t, &frags, &base);
    // Order does not matter.
    let mut reordered = frags.clone();
    reordered.reverse();
    let len = reordered.len().max(1);
    reordered.rotate_left(rotate % len);
    prop_assert_eq!(&render(t, &reordered, &base).files, &first.files);
    // Rendering the output again as the base changes nothing.
    let second = render(t, &frags, &first.files);
    prop_assert_eq!(&second.files, &first.files);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn nova_target_invariants(specs in prop::collection::vec(nova_fragment(), 0..12), rotate in 0usize..12) {
        let frags: Vec<Fragment> = specs.into_iter().enumerate().map(|(i, s)| build_nova(i, s)).collect();
        let t = target("nova-compute");
        let out = render(&t, &frags, &nova_base());
        // Every base line that is not a managed key survives, in order.
        let managed: Vec<String> = out.items.iter().filter_map(|i| match &i.item {
            items::ItemKey::Ini { key, .. } => Some(key.clone()),
            _ => None,
        }).collect();
        let text = String::from_utf8(out.files["nova.conf"].clone()).unwrap();
        let mut lines = text.lines();
        for line in NOVA_BASE.lines() {
            let key = line.split('=').next().unwrap_or_default().trim();
            if managed.iter().any(|m| m == key) {
                continue;
            }
            prop_assert!(lines.any(|l| l == line), "base line {:?} lost", line);
        }
        check_invariants(&t, frags, nova_base(), rotate)?;
    }

    #[test]
    fn rabbitmq_target_invariants(specs in prop::collection::vec(nova_fragment(), 0..12), rotate in 0usize..12) {
        let frags: Vec<Fragment> = specs.into_iter().enumerate().map(|(i, s)| build_rabbit(i, s)).collect();
        let t = target("rabbitmq");
        let out = render(&t, &frags, &rabbit_base());
        // Users, vhosts and permissions are kept byte for byte.
        let json = String::from_utf8(out.files["definitions.json"].clone()).unwrap();
        let head = |t: &str| t[..t.find("\"policies\"").unwrap()].to_string();
        prop_assert_eq!(head(&json), head(DEFINITIONS_BASE));
        // kolla's inetrc flag stays in the Erlang arguments.
        let env = String::from_utf8(out.files["rabbitmq-env.conf"].clone()).unwrap();
        prop_assert!(env.contains("-kernel inetrc '/etc/rabbitmq/erl_inetrc'"));
        check_invariants(&t, frags, rabbit_base(), rotate)?;
    }
}
