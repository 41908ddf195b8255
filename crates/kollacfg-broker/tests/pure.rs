//! Pure tests (no server): comparing policies, planning, reading definitions, error texts, configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

mod fake_broker;

use fake_broker::pol;
use kollacfg_broker::*;

fn def(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}

fn keys(list: &[&str]) -> BTreeSet<PolicyKey> {
    list.iter().map(|n| PolicyKey::new("/", *n)).collect()
}

#[test]
fn same_setting_compares_values_not_spelling() {
    let a = pol(
        "/",
        "a",
        ".*",
        json!({"ha-mode": "exactly", "ha-params": 2}),
    );
    let mut b = pol(
        "other",
        "b",
        ".*",
        json!({"ha-params": 2.0, "ha-mode": "exactly"}),
    );
    assert!(
        a.same_setting(&b),
        "key order and 2 == 2.0 aside; keys not compared"
    );
    b.definition.insert("ha-params".into(), json!(3));
    assert!(!a.same_setting(&b));
    let nested = |v: Value| pol("/", "n", "x", json!({"federation-upstream-set": v}));
    assert!(nested(json!([{"a": 1, "b": 2.0}])).same_setting(&nested(json!([{"b": 2, "a": 1}]))));
    assert!(!nested(json!([1, 2])).same_setting(&nested(json!([2, 1]))));
    for change in [
        |p: &mut Policy| p.pattern = "^x".into(),
        |p: &mut Policy| p.apply_to = "queues".into(),
        |p: &mut Policy| p.priority = 1,
        |p: &mut Policy| {
            p.definition.insert("extra".into(), json!(true));
        },
        |p: &mut Policy| {
            p.definition.insert("ha-mode".into(), json!("all"));
        },
    ] {
        let mut c = a.clone();
        change(&mut c);
        assert!(!a.same_setting(&c), "{c:?}");
        assert!(!c.same_setting(&a));
    }
    assert!(!value_eq(&json!(1), &json!("1")));
    assert!(value_eq(&json!(u64::MAX), &json!(u64::MAX)));
    assert!(!value_eq(&json!(-1), &json!(u64::MAX)));
}

#[test]
fn plan_puts_what_differs_deletes_only_deletable_and_counts() {
    let desired = vec![
        pol("/", "same", ".*", json!({"message-ttl": 5})),
        pol("/", "edited", ".*", json!({"message-ttl": 6})),
        pol("/", "new", ".*", json!({"expires": 1})),
    ];
    let live = vec![
        pol("/", "same", ".*", json!({"message-ttl": 5.0})),
        pol("/", "edited", ".*", json!({"message-ttl": 5})),
        pol("/", "old", "q", json!({})),
        pol("/", "by-hand", "q", json!({})),
    ];
    let p = plan(&desired, &live, &keys(&["old", "never-live", "same"]));
    let put: Vec<String> = p.puts.iter().map(|p| p.key().to_string()).collect();
    assert_eq!(put, ["//edited", "//new"]);
    assert_eq!(p.puts[0].definition, def(json!({"message-ttl": 6})));
    assert_eq!(p.deletes, vec![PolicyKey::new("/", "old")]);
    assert_eq!(p.unmanaged, vec![PolicyKey::new("/", "by-hand")]);
    assert_eq!((p.desired, p.live), (3, 4));
    assert!(!p.is_empty());

    let nothing = plan(&desired, &desired, &BTreeSet::new());
    assert!(nothing.is_empty());
    assert!(nothing.unmanaged.is_empty());
}

#[test]
fn plan_takes_the_last_of_repeated_desired_keys() {
    let desired = vec![
        pol("/", "dup", "first", json!({})),
        pol("/", "dup", "last", json!({})),
    ];
    let p = plan(&desired, &[], &BTreeSet::new());
    assert_eq!(p.desired, 1);
    assert_eq!(p.puts.len(), 1);
    assert_eq!(p.puts[0].pattern, "last");
}

#[test]
fn policy_keys_display_and_sort_by_vhost_then_name() {
    let mut list = [
        PolicyKey::new("nova", "a"),
        PolicyKey::new("/", "z"),
        PolicyKey::new("/", "b"),
    ];
    list.sort();
    let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["//b", "//z", "nova/a"]);
}

#[test]
fn policies_are_read_from_a_definitions_file_with_rabbitmqs_defaults() {
    let text = r#"{"users": [{"name": "u", "password_hash": "x"}], "policies": [
        {"vhost": "/", "name": "ha-all", "pattern": ".*", "apply-to": "queues", "definition": {"ha-mode": "all"}, "priority": 2},
        {"vhost": "nova", "name": "bare", "pattern": "^q"}
    ]}"#;
    let list = policies_from_definitions(text).unwrap();
    assert_eq!(
        list,
        vec![
            Policy {
                vhost: "/".into(),
                name: "ha-all".into(),
                pattern: ".*".into(),
                apply_to: "queues".into(),
                priority: 2,
                definition: def(json!({"ha-mode": "all"})),
            },
            Policy {
                vhost: "nova".into(),
                name: "bare".into(),
                pattern: "^q".into(),
                apply_to: "all".into(),
                priority: 0,
                definition: Map::new(),
            },
        ]
    );
    assert_eq!(
        policies_from_definitions("{\"users\": []}").unwrap(),
        vec![]
    );
    for (bad, says) in [
        ("[]", "the top level must be a JSON object"),
        ("{", "invalid JSON"),
        ("{\"policies\": {}}", "\"policies\" must be an array"),
        (
            "{\"policies\": [{\"vhost\": \"/\", \"name\": \"x\"}]}",
            "policies[0]: missing field `pattern`",
        ),
    ] {
        let err = policies_from_definitions(bad).unwrap_err();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn the_put_body_is_rabbitmqs() {
    let mut p = pol("/", "a", ".*", json!({"ha-mode": "all"}));
    p.priority = 4;
    p.apply_to = "queues".into();
    assert_eq!(
        p.put_body(),
        json!({"pattern": ".*", "apply-to": "queues", "priority": 4, "definition": {"ha-mode": "all"}})
    );
}

#[test]
fn broker_reasons_are_unescaped_and_folded() {
    let body = br#"{"error":"bad_request","reason":"Validation failed\n\n&lt;&lt;\"everywhere\"&gt;&gt; is not a valid ha-mode value\n"}"#;
    assert_eq!(
        broker_reason(body),
        "Validation failed: <<\"everywhere\">> is not a valid ha-mode value"
    );
    assert_eq!(broker_reason(b"{\"error\":\"not_json\"}"), "not_json");
    assert_eq!(broker_reason(b"<html>oops</html>"), "<html>oops</html>");
}

fn config(url: &str) -> BrokerConfig {
    BrokerConfig {
        url: url.into(),
        username: "admin".into(),
        password: "hunter2-secret".into(),
        ca_pem: None,
        insecure_skip_tls_verify: false,
        timeout: Duration::from_secs(2),
    }
}

#[test]
fn debug_output_never_shows_the_password() {
    let c = config("http://127.0.0.1:15672");
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    let broker = Broker::new(c).unwrap();
    let shown = format!("{broker:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("http://127.0.0.1:15672"), "{shown}");
}

#[test]
fn bad_urls_and_bad_ca_pem_are_clear_configuration_errors() {
    for (url, says) in [
        ("rabbitmq:15672", "must start with http:// or https://"),
        ("http://", "has no host"),
        ("http://admin:pw@host:15672", "must not carry credentials"),
    ] {
        let err = Broker::new(config(url)).unwrap_err();
        assert_eq!(err.reason(), "BrokerConfig");
        assert!(err.to_string().contains(says), "{url}: {err}");
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
    let mut c = config("https://rabbitmq:15671/");
    c.ca_pem = Some(b"not a certificate".to_vec());
    let err = Broker::new(c).unwrap_err();
    assert_eq!(
        err,
        BrokerError::Config(
            "CA certificate: no PEM certificate (-----BEGIN CERTIFICATE-----) found".into()
        )
    );
    let mut c = config("https://rabbitmq:15671/");
    c.ca_pem = Some(b"-----BEGIN CERTIFICATE-----\nAAAA!!!!\n-----END CERTIFICATE-----\n".to_vec());
    let err = Broker::new(c).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("broker configuration: CA certificate"),
        "{err}"
    );
    let broker = Broker::new(config("https://rabbitmq:15671/prefix/")).unwrap();
    assert_eq!(broker.url(), "https://rabbitmq:15671/prefix");
}

#[test]
fn error_reasons_are_the_condition_reasons() {
    let cases = [
        (BrokerError::Unreachable("x".into()), "BrokerUnreachable"),
        (BrokerError::Unauthorized, "Unauthorized"),
        (
            BrokerError::VhostMissing { vhost: "v".into() },
            "VhostMissing",
        ),
        (
            BrokerError::Rejected {
                status: 400,
                reason: "r".into(),
            },
            "PolicyRejected",
        ),
        (BrokerError::Protocol("p".into()), "BrokerProtocol"),
        (BrokerError::Config("c".into()), "BrokerConfig"),
    ];
    for (error, reason) in cases {
        assert_eq!(error.reason(), reason);
    }
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    (0..2u8, 0..6u8, 0..3u8, 0..3i64, 0..3u8).prop_map(|(vhost, name, pattern, priority, ttl)| {
        let mut p = pol(
            ["/", "nova"][vhost as usize],
            &format!("p{name}"),
            ["a", "b", ".*"][pattern as usize],
            json!({"message-ttl": ttl}),
        );
        p.priority = priority;
        p
    })
}

/// The broker after the plan's writes, as a map.
fn apply(live: &[Policy], plan: &Plan) -> BTreeMap<PolicyKey, Policy> {
    let mut after: BTreeMap<PolicyKey, Policy> =
        live.iter().map(|p| (p.key(), p.clone())).collect();
    for p in &plan.puts {
        after.insert(p.key(), p.clone());
    }
    for k in &plan.deletes {
        after.remove(k);
    }
    after
}

proptest! {
    /// After the writes, every desired policy is live as desired, nothing deletable and
    /// undesired is left, every other live policy is untouched, and planning again finds
    /// nothing to do.
    #[test]
    fn a_plan_converges_in_one_pass(
        desired in prop::collection::vec(arb_policy(), 0..8),
        live in prop::collection::vec(arb_policy(), 0..8),
        deletable_names in prop::collection::btree_set(0..6u8, 0..6),
    ) {
        let deletable: BTreeSet<PolicyKey> = deletable_names
            .iter()
            .map(|n| PolicyKey::new("/", format!("p{n}")))
            .collect();
        let p = plan(&desired, &live, &deletable);
        let wanted: BTreeMap<PolicyKey, &Policy> = desired.iter().map(|p| (p.key(), p)).collect();
        let live_map: BTreeMap<PolicyKey, &Policy> = live.iter().map(|p| (p.key(), p)).collect();
        let after = apply(&live, &p);
        for (key, want) in &wanted {
            prop_assert!(after[key].same_setting(want));
        }
        for (key, was) in &live_map {
            if wanted.contains_key(key) { continue; }
            if deletable.contains(key) {
                prop_assert!(!after.contains_key(key));
            } else {
                prop_assert_eq!(&after[key], *was);
                prop_assert!(p.unmanaged.contains(key));
            }
        }
        // Only what differs is written.
        for put in &p.puts {
            prop_assert!(!live_map.get(&put.key()).is_some_and(|l| l.same_setting(put)));
        }
        let live_after: Vec<Policy> = after.into_values().collect();
        prop_assert!(plan(&desired, &live_after, &deletable).is_empty());
        prop_assert!(p.unmanaged.windows(2).all(|w| w[0] < w[1]));
    }

    /// same_setting is symmetric and ignores definition key order.
    #[test]
    fn same_setting_is_symmetric(a in arb_policy(), b in arb_policy()) {
        prop_assert_eq!(a.same_setting(&b), b.same_setting(&a));
        let mut reversed = a.clone();
        reversed.definition = a.definition.iter().rev().map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert!(a.same_setting(&reversed));
    }
}
