//! Property tests: the promises of `definitions.json` editing, stated over generated documents
//! with arbitrary formatting and strings full of quotes, backslashes and brackets.

use super::super::*;
use super::policy;
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z\"\\\\\\[\\]{}:,é\n ]{0,8}".prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_\"\\]]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn policy_value() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["/", "nova"][..]),
        prop::sample::select(&["ha-all", "ttl", "q\"]"][..]),
        "[a-z.*^\\[\\]\"\\\\]{0,6}",
        prop::sample::select(&[0u8, 1, 2][..]),
    )
        .prop_map(|(vhost, name, pattern, kind)| {
            let definition = match kind {
                0 => serde_json::json!({"ha-mode": "all"}),
                1 => serde_json::json!({"ha-mode": "exactly", "ha-params": 2}),
                _ => serde_json::json!({"message-ttl": 600000}),
            };
            policy(vhost, name, &pattern, definition)
        })
}

fn text_of(value: &Value, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(value).unwrap()
    } else {
        value.to_string()
    }
}

const KEYS: &[&str] = &[
    "users",
    "vhosts",
    "permissions",
    "queues",
    "x-custom",
    "parameters",
];
const SPACING: &[&str] = &["", " ", "\n  ", "\n    ", "\r\n\t"];

/// A definitions document in some formatting, and its policies in order.
fn document() -> impl Strategy<Value = (String, Vec<Value>)> {
    (
        prop::collection::vec(
            (prop::sample::select(KEYS), json_value(), any::<bool>()),
            0..4,
        ),
        prop::option::of(prop::collection::vec((policy_value(), any::<bool>()), 0..4)),
        any::<prop::sample::Index>(),
        prop::sample::select(SPACING),
        prop::sample::select(SPACING),
        any::<bool>(),
    )
        .prop_map(|(members, policies, at, ws, inner_ws, final_nl)| {
            let mut texts: Vec<String> = members
                .iter()
                .map(|(k, v, pretty)| format!("\"{k}\":{ws}{}", text_of(v, *pretty)))
                .collect();
            let mut values = Vec::new();
            if let Some(policies) = policies {
                let elements: Vec<String> = policies
                    .iter()
                    .map(|(p, pretty)| text_of(p, *pretty))
                    .collect();
                values = policies.into_iter().map(|(p, _)| p).collect();
                let array = format!(
                    "[{inner_ws}{}{inner_ws}]",
                    elements.join(&format!(",{inner_ws}"))
                );
                texts.insert(at.index(texts.len() + 1), format!("\"policies\": {array}"));
            }
            let end = if ws.contains('\n') { "\n" } else { "" };
            let nl = if final_nl { "\n" } else { "" };
            let text = format!("{{{ws}{}{end}}}{nl}", texts.join(&format!(",{ws}")));
            (text, values)
        })
}

/// What the policies must be after `upserts`, by the contract's plain words.
fn model(mut policies: Vec<Value>, upserts: &[Value]) -> Vec<Value> {
    for u in upserts {
        let key = key_of(u);
        match policies.iter().position(|p| key_of(p) == key) {
            Some(first) => {
                policies[first] = u.clone();
                let mut i = 0;
                policies.retain(|p| {
                    i += 1;
                    i - 1 <= first || key_of(p) != key
                });
            }
            None => policies.push(u.clone()),
        }
    }
    policies
}

fn without_policies(text: &str) -> Value {
    let mut value: Value = serde_json::from_str(text).unwrap();
    value.as_object_mut().unwrap().shift_remove("policies");
    value
}

fn policies_span(text: &str) -> Option<Range<usize>> {
    let top = scan::top_object(text).unwrap();
    let found = top.members.into_iter().find(|m| m.key == "policies");
    found.map(|m| m.value)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn policy_edits_keep_their_promises(
        (base, policies) in document(),
        upserts in prop::collection::vec(policy_value(), 0..4),
    ) {
        let doc = Definitions::parse(&base).unwrap();
        prop_assert_eq!(doc.render(), base.clone(), "round trip");
        prop_assert_eq!(doc.policies(), policies.clone());

        let mut once = doc.clone();
        once.upsert_policies(&upserts);
        let out = once.render();
        once.upsert_policies(&upserts);
        prop_assert_eq!(once.render(), out.clone(), "twice in one document");

        let mut again = Definitions::parse(&out).unwrap();
        prop_assert_eq!(again.policies(), model(policies, &upserts));
        again.upsert_policies(&upserts);
        prop_assert_eq!(again.render(), out.clone(), "render, parse, same upsert");

        prop_assert_eq!(without_policies(&out), without_policies(&base));
        match (policies_span(&base), policies_span(&out)) {
            (Some(b), Some(o)) => {
                prop_assert_eq!(&out[..o.start], &base[..b.start]);
                prop_assert_eq!(&out[o.end..], &base[b.end..]);
            }
            (None, Some(_)) => {
                let top = scan::top_object(&base).unwrap();
                let split = top.members.last().map_or(top.open + 1, |m| m.value.end);
                prop_assert!(out.starts_with(&base[..split]));
                prop_assert!(out.ends_with(&base[top.close..]));
            }
            (None, None) => prop_assert_eq!(&out, &base),
            (Some(_), None) => prop_assert!(false, "policies disappeared"),
        }
    }
}
