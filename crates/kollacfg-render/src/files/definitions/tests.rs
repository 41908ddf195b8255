//! Byte-exact tests of `definitions.json` reading and policy editing.

use super::*;
use serde_json::json;

mod props;

pub(super) fn policy(vhost: &str, name: &str, pattern: &str, definition: Value) -> Value {
    let Value::Object(definition) = definition else {
        panic!("definition must be an object");
    };
    policy_json(vhost, name, pattern, "all", &definition, 0)
}

fn upserted(base: &str, policies: &[Value]) -> String {
    let mut doc = Definitions::parse(base).expect("base parses");
    doc.upsert_policies(policies);
    doc.render()
}

fn ha_exactly() -> Value {
    policy(
        "/",
        "ha-all",
        ".*",
        json!({"ha-params": 2, "ha-mode": "exactly"}),
    )
}

const KOLLA: &str = r#"{
  "vhosts": [
    {"name": "/"}
  ],
  "users": [
    {"name": "openstack", "password": "s3cr\"et\\]}", "tags": "administrator"},
    {"name": "monitoring", "password_hash": "gk5uS4ZqLr4VBsL7Qw+nZb8eJ1Q0yTfDyy3Bz5yCW3dGJ0Jq", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": "monitoring"}
  ],
  "permissions": [
    {"user": "openstack", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
  ],
  "policies":[
    {"vhost": "/", "name": "ha-all", "pattern": "^(?!(amq\\.)|(.*_fanout_)|(reply_)).*", "apply-to": "all", "definition": {"ha-mode":"all"}, "priority":0}
  ]
}
"#;

#[test]
fn untouched_documents_print_back_byte_for_byte() {
    for text in [
        KOLLA,
        "{}",
        " {\r\n\t\"a\" : [ 1 ,2 ] }\r\n",
        "{\"policies\":[]}",
    ] {
        let doc = Definitions::parse(text).unwrap();
        assert_eq!(doc.render(), text);
        let mut doc = doc;
        doc.upsert_policies(&[]);
        assert_eq!(doc.render(), text, "an empty upsert changes nothing");
    }
    assert_eq!(Definitions::empty().render(), "{}\n");
}

#[test]
fn seed_mirroring_fix() {
    let base = "{\n \"vhosts\": [{\"name\": \"/\"}],\n \"policies\":[\n    {\"vhost\": \"/\", \"name\": \"ha-all\", \"pattern\": \".*\", \"apply-to\": \"all\", \"definition\": {\"ha-mode\":\"all\"}, \"priority\":0}  ]\n}\n";
    let expected = "{\n \"vhosts\": [{\"name\": \"/\"}],\n \"policies\":[\n   {\"vhost\":\"/\",\"name\":\"ha-all\",\"pattern\":\".*\",\"apply-to\":\"all\",\"definition\":{\"ha-mode\":\"exactly\",\"ha-params\":2},\"priority\":0}\n ]\n}\n";
    assert_eq!(upserted(base, &[ha_exactly()]), expected);
    assert_eq!(upserted(expected, &[ha_exactly()]), expected);
}

#[test]
fn kolla_base_keeps_every_other_byte() {
    let ttl = policy(
        "/",
        "ttl",
        "^notifications\\.",
        json!({"message-ttl": 600000}),
    );
    let out = upserted(KOLLA, &[ha_exactly(), ttl]);
    let head = &KOLLA[..KOLLA.find("\"policies\":[").unwrap() + 12];
    let expected = format!(
        "{head}\n    {}\n    {}\n  ]\n}}\n",
        r#"{"vhost":"/","name":"ha-all","pattern":".*","apply-to":"all","definition":{"ha-mode":"exactly","ha-params":2},"priority":0},"#,
        r#"{"vhost":"/","name":"ttl","pattern":"^notifications\\.","apply-to":"all","definition":{"message-ttl":600000},"priority":0}"#,
    );
    assert_eq!(out, expected);
    assert!(out.contains("gk5uS4ZqLr4VBsL7Qw+nZb8eJ1Q0yTfDyy3Bz5yCW3dGJ0Jq"));
}

#[test]
fn unchanged_policies_keep_their_text_and_new_ones_are_appended() {
    let base = "{\n    \"policies\": [{\"vhost\":\"/\",\"name\":\"a\",  \"pattern\":\"]\\\"[\"},\n{ \"name\": \"b\", \"vhost\": \"nova\" }]\n}";
    let c = policy("/", "c", "x", json!({}));
    let out = upserted(base, std::slice::from_ref(&c));
    assert_eq!(
        out,
        "{\n    \"policies\": [\n      {\"vhost\":\"/\",\"name\":\"a\",  \"pattern\":\"]\\\"[\"},\n      { \"name\": \"b\", \"vhost\": \"nova\" },\n      {\"vhost\":\"/\",\"name\":\"c\",\"pattern\":\"x\",\"apply-to\":\"all\",\"definition\":{},\"priority\":0}\n    ]\n}"
    );
    let doc = Definitions::parse(&out).unwrap();
    assert_eq!(doc.policies().len(), 3);
    assert_eq!(doc.policies()[2], c);
}

#[test]
fn replacing_removes_later_duplicates_and_equal_values_change_nothing() {
    let base = r#"{"policies": [
  {"vhost": "/", "name": "ha-all", "pattern": ".*", "definition": {"ha-mode": "all"}},
  {"vhost": "/", "name": "other", "pattern": "q"},
  {"vhost": "/", "name": "ha-all", "pattern": "dup"}
]}"#;
    let out = upserted(base, &[ha_exactly()]);
    assert_eq!(
        out,
        r#"{"policies": [
  {"vhost":"/","name":"ha-all","pattern":".*","apply-to":"all","definition":{"ha-mode":"exactly","ha-params":2},"priority":0},
  {"vhost": "/", "name": "other", "pattern": "q"}
]}"#
    );
    // Same value, other key order and spacing: the text is left alone.
    let spaced = "{\"policies\": [ {\"name\": \"ha-all\", \"vhost\": \"/\", \"priority\": 0, \"apply-to\": \"all\", \"pattern\": \".*\", \"definition\": {\"ha-params\": 2, \"ha-mode\": \"exactly\"}} ]}";
    assert_eq!(upserted(spaced, &[ha_exactly()]), spaced);
}

#[test]
fn missing_policies_become_the_last_member() {
    let base = "{\n  \"users\": [{\"name\": \"guest\", \"password_hash\": \"abc+/=\"}],\n  \"x-unknown\": {\"policies\": \"not this one\"}\n}\n";
    let out = upserted(base, &[ha_exactly()]);
    assert_eq!(
        out,
        "{\n  \"users\": [{\"name\": \"guest\", \"password_hash\": \"abc+/=\"}],\n  \"x-unknown\": {\"policies\": \"not this one\"},\n  \"policies\": [\n    {\"vhost\":\"/\",\"name\":\"ha-all\",\"pattern\":\".*\",\"apply-to\":\"all\",\"definition\":{\"ha-mode\":\"exactly\",\"ha-params\":2},\"priority\":0}\n  ]\n}\n"
    );
    assert_eq!(upserted(&out, &[ha_exactly()]), out);
}

#[test]
fn empty_base_and_empty_objects_get_a_fresh_member() {
    let mut doc = Definitions::empty();
    doc.upsert_policies(&[ha_exactly()]);
    let expected = "{\n  \"policies\": [\n    {\"vhost\":\"/\",\"name\":\"ha-all\",\"pattern\":\".*\",\"apply-to\":\"all\",\"definition\":{\"ha-mode\":\"exactly\",\"ha-params\":2},\"priority\":0}\n  ]\n}\n";
    assert_eq!(doc.render(), expected);
    assert_eq!(upserted("{}\n", &[ha_exactly()]), expected);
    assert_eq!(
        upserted("{\n}", &[ha_exactly()]),
        &expected[..expected.len() - 1]
    );
}

#[test]
fn crlf_documents_stay_crlf() {
    let base = "{\r\n  \"vhosts\": []\r\n}\r\n";
    let out = upserted(base, &[policy("/", "p", "x", json!({}))]);
    assert_eq!(
        out,
        "{\r\n  \"vhosts\": [],\r\n  \"policies\": [\r\n    {\"vhost\":\"/\",\"name\":\"p\",\"pattern\":\"x\",\"apply-to\":\"all\",\"definition\":{},\"priority\":0}\r\n  ]\r\n}\r\n"
    );
}

#[test]
fn strings_that_look_like_structure_do_not_confuse_the_scanner() {
    let base = r#"{"a\"policies": "\"policies\": [", "b": ["]", "}\\", "\\\""], "policies": [{"vhost": "/", "name": "n\"]}", "pattern": "[{"}], "z": 1}"#;
    let doc = Definitions::parse(base).unwrap();
    assert_eq!(doc.policies().len(), 1);
    assert_eq!(doc.policies()[0]["name"], "n\"]}");
    let out = upserted(base, &[policy("/", "new", "y", json!({}))]);
    assert_eq!(
        out,
        r#"{"a\"policies": "\"policies\": [", "b": ["]", "}\\", "\\\""], "policies": [
  {"vhost": "/", "name": "n\"]}", "pattern": "[{"},
  {"vhost":"/","name":"new","pattern":"y","apply-to":"all","definition":{},"priority":0}
], "z": 1}"#
    );
}

#[test]
fn parse_errors_name_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "{\n  \"users\": [,]\n}",
            2,
            "invalid JSON: expected value (column 13)",
        ),
        (
            "{\"a\": 1",
            1,
            "invalid JSON: EOF while parsing an object (column 7)",
        ),
        (
            "\n\n[1]",
            3,
            "the top level must be a JSON object, not an array",
        ),
        (
            "{\n\"policies\":\n {}}",
            3,
            "\"policies\" must be an array, not an object",
        ),
        (
            "{\"policies\": [\n{\"vhost\": \"/\", \"name\": \"a\"},\n \"ha-all\"]}",
            3,
            "policies[1] must be an object, not a string",
        ),
        (
            "{\"policies\": [{\"name\": \"a\"}]}",
            1,
            "policies[0] has no \"vhost\"",
        ),
        (
            "{\"policies\": [{\"vhost\": \"/\", \"name\": 7}]}",
            1,
            "policies[0].name must be a string, not a number",
        ),
        (
            "{\"policies\": [],\n \"policies\": []}",
            2,
            "duplicate top-level key \"policies\"",
        ),
    ];
    for (text, line, message) in cases {
        let err = Definitions::parse(text).expect_err(text);
        assert_eq!(
            (err.line, err.message.as_str()),
            (*line, *message),
            "{text}"
        );
    }
}

#[test]
fn policy_json_has_rabbitmq_export_order_and_sorted_definition() {
    let mut definition = Map::new();
    definition.insert("ha-sync-mode".into(), json!("automatic"));
    definition.insert("ha-params".into(), json!(2));
    definition.insert("ha-mode".into(), json!("exactly"));
    let value = policy_json("/", "ha-two", "^(?!amq\\.).*", "queues", &definition, 5);
    assert_eq!(
        value.to_string(),
        r#"{"vhost":"/","name":"ha-two","pattern":"^(?!amq\\.).*","apply-to":"queues","definition":{"ha-mode":"exactly","ha-params":2,"ha-sync-mode":"automatic"},"priority":5}"#
    );
}

#[test]
fn policy_text_is_policy_json_compact() {
    let definition: Map<String, Value> = serde_json::from_str(
        r#"{"max-length": 5, "ha-params": ["rabbit@b", "rabbit@a"], "ha-mode": "nodes", "x": {"b": 1, "a": [{"d": 1, "c": 2}]}}"#,
    )
    .unwrap();
    let text = policy_text("/", "n", "^(?!amq\\.).*", "queues", &definition, 7);
    assert_eq!(
        text,
        policy_json("/", "n", "^(?!amq\\.).*", "queues", &definition, 7).to_string()
    );
    assert_eq!(
        text,
        r#"{"vhost":"/","name":"n","pattern":"^(?!amq\\.).*","apply-to":"queues","definition":{"ha-mode":"nodes","ha-params":["rabbit@b","rabbit@a"],"max-length":5,"x":{"a":[{"c":2,"d":1}],"b":1}},"priority":7}"#
    );
}

#[test]
fn removing_policies_drops_every_copy_and_keeps_the_rest_byte_for_byte() {
    let base = r#"{"policies": [
  {"vhost": "/", "name": "ha-all", "pattern": ".*", "definition": {"ha-mode": "all"}},
  {"vhost": "/", "name": "other", "pattern": "q"},
  {"vhost": "nova", "name": "ha-all", "pattern": "kept: other vhost"},
  {"vhost": "/", "name": "ha-all", "pattern": "dup"}
]}"#;
    let mut doc = Definitions::parse(base).unwrap();
    doc.remove_policies(&[("/", "ha-all"), ("/", "not-there")]);
    assert_eq!(
        doc.render(),
        r#"{"policies": [
  {"vhost": "/", "name": "other", "pattern": "q"},
  {"vhost": "nova", "name": "ha-all", "pattern": "kept: other vhost"}
]}"#
    );
}

#[test]
fn removing_the_last_policy_leaves_an_empty_array_and_a_missing_key_changes_nothing() {
    let mut doc = Definitions::parse(KOLLA).unwrap();
    doc.remove_policies(&[("/", "ha-all")]);
    let out = doc.render();
    let expected = format!(
        "{}[]\n}}\n",
        &KOLLA[..KOLLA.find("\"policies\":").unwrap() + 11]
    );
    assert_eq!(out, expected);
    for text in [KOLLA, "{}", "{\"users\": []}\n"] {
        let mut doc = Definitions::parse(text).unwrap();
        doc.remove_policies(&[("/", "absent-anyway")]);
        doc.remove_policies(&[]);
        assert_eq!(doc.render(), text, "nothing to remove: the text is kept");
    }
}
