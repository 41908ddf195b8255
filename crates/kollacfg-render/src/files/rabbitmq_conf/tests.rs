//! Tests of the `rabbitmq.conf` editor: byte-exact edits, every parse error, and properties over
//! generated documents.

use super::*;
use proptest::prelude::*;
use proptest::sample::select;

fn parse(text: &str) -> RabbitConf {
    RabbitConf::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn edited(text: &str, key: &str, value: &str) -> String {
    let mut conf = parse(text);
    conf.set(key, value);
    conf.render()
}

fn parse_error(text: &str) -> (usize, String) {
    let err = RabbitConf::parse(text).expect_err("should not parse");
    (err.line, err.message)
}

const MESSY: &str = "# rabbitmq.conf\r\n\
    listeners.tcp.1=10.0.0.1:5672\r\n\
    \t  # indented comment\n\
    \x20 \n\
    include conf.d/*.conf\n\
    cluster_partition_handling   =\tpause_minority  \n\
    \tmanagement.listener.port = 15672\r\n\
    heartbeat = 60 # inline\n\
    heartbeat = 30";

#[test]
fn messy_document_round_trips() {
    assert_eq!(parse(MESSY).render(), MESSY);
}

#[test]
fn empty_document() {
    assert_eq!(RabbitConf::empty().render(), "");
    assert_eq!(parse(""), RabbitConf::empty());
    let mut conf = RabbitConf::empty();
    conf.set("heartbeat", "600");
    assert_eq!(conf.render(), "heartbeat = 600\n");
}

#[test]
fn get_reads_the_last_setting_as_written() {
    let conf = parse(MESSY);
    assert_eq!(conf.get("heartbeat").as_deref(), Some("30"));
    assert_eq!(
        conf.get("cluster_partition_handling").as_deref(),
        Some("pause_minority")
    );
    assert_eq!(
        conf.get("management.listener.port").as_deref(),
        Some("15672")
    );
    assert_eq!(
        conf.get("listeners.tcp.1").as_deref(),
        Some("10.0.0.1:5672")
    );
    assert_eq!(conf.get("include"), None);
    assert_eq!(conf.get("missing"), None);
    let conf = parse("heartbeat = 60 # inline\ndefault_pass = 'a b'\n");
    assert_eq!(conf.get("heartbeat").as_deref(), Some("60 # inline"));
    assert_eq!(conf.get("default_pass").as_deref(), Some("'a b'"));
}

#[test]
fn set_replaces_the_first_setting_and_drops_the_others() {
    assert_eq!(
        edited(MESSY, "heartbeat", "600"),
        "# rabbitmq.conf\r\n\
         listeners.tcp.1=10.0.0.1:5672\r\n\
         \t  # indented comment\n\
         \x20 \n\
         include conf.d/*.conf\n\
         cluster_partition_handling   =\tpause_minority  \n\
         \tmanagement.listener.port = 15672\r\n\
         heartbeat = 600\n"
    );
    assert_eq!(
        edited("a = 1\r\n# keep\r\na = 2\r\nb = 3\r\na = 4\r\n", "a", "5"),
        "a = 5\n# keep\r\nb = 3\r\n"
    );
}

#[test]
fn set_keeps_a_line_that_already_holds_the_value() {
    assert_eq!(
        edited(
            "\tcluster_partition_handling=autoheal\r\nx = 1\ncluster_partition_handling = ignore",
            "cluster_partition_handling",
            "autoheal"
        ),
        "\tcluster_partition_handling=autoheal\r\nx = 1\n"
    );
    assert_eq!(edited("heartbeat=60", "heartbeat", "60"), "heartbeat=60");
}

#[test]
fn set_appends_a_missing_key() {
    assert_eq!(
        edited(
            "# c\r\nheartbeat = 60\r\n",
            "tcp_listen_options.keepalive",
            "true"
        ),
        "# c\r\nheartbeat = 60\r\ntcp_listen_options.keepalive = true\n"
    );
    assert_eq!(
        edited("heartbeat = 60", "tcp_listen_options.keepalive", "true"),
        "heartbeat = 60\ntcp_listen_options.keepalive = true\n"
    );
    assert_eq!(edited("# only", "a", "b c"), "# only\na = b c\n");
}

#[test]
fn set_twice_is_set_once() {
    let mut once = parse("a = 1\na = 2\n");
    once.set("a", "3");
    once.set("b", "4");
    let mut twice = once.clone();
    twice.set("a", "3");
    twice.set("b", "4");
    assert_eq!(twice.render(), once.render());
    assert_eq!(once.render(), "a = 3\nb = 4\n");
}

#[test]
fn parse_errors_name_the_line() {
    let no_equals =
        "expected `key = value`, a comment or a blank line, but found no `=` after the key";
    assert_eq!(parse_error("heartbeat 60\n"), (1, no_equals.to_owned()));
    assert_eq!(parse_error("# c\n\nheartbeat\n"), (3, no_equals.to_owned()));
    assert_eq!(
        parse_error("a = 1\r\nlisteners.tcp.1 10 = x\r\n"),
        (2, no_equals.to_owned())
    );
    assert_eq!(parse_error("include\n"), (1, no_equals.to_owned()));
    assert_eq!(
        parse_error("a = 1\n{rabbit, []}."),
        (2, no_equals.to_owned())
    );

    let no_key = "setting has an empty key before `=`";
    assert_eq!(parse_error("= 60\n"), (1, no_key.to_owned()));
    assert_eq!(parse_error("a = 1\n  \t=60"), (2, no_key.to_owned()));

    assert_eq!(
        parse_error("a = 1\nheartbeat =\n"),
        (2, "setting `heartbeat` has an empty value".to_owned())
    );
    assert_eq!(
        parse_error("a = 1\n\nb=  \t\r\n"),
        (3, "setting `b` has an empty value".to_owned())
    );
}

#[test]
fn parse_error_display_never_quotes_the_line() {
    let err = RabbitConf::parse("default_user guest\ndefault_pass s3cr3t\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1: expected `key = value`, a comment or a blank line, but found no `=` after the key"
    );
    let err = RabbitConf::parse("x = 1\ndefault_pass s3cr3t\n").unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
}

// ---- properties over generated documents -------------------------------------------------

const KEYS: &[&str] = &[
    "heartbeat",
    "listeners.tcp.1",
    "tcp_listen_options.keepalive",
    "a",
];

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ \t]{0,3}",
        "[ \t]{0,2}#[ a-z=#]{0,8}",
        "[ \t]{0,2}include[ \t]{1,2}conf\\.d/[a-z*]{1,4}\\.conf",
        (
            "[ \t]{0,2}",
            select(KEYS),
            "[ \t]{0,2}",
            "[ \t]{0,2}",
            "[a-z0-9:/.@#=][a-z0-9:/.@# =]{0,8}",
            "[ \t]{0,2}"
        )
            .prop_map(|(w0, k, w1, w2, v, w3)| format!("{w0}{k}{w1}={w2}{v}{w3}")),
    ]
}

/// Documents RabbitMQ's parser accepts (inline comments aside), with mixed line ends and an
/// optional final newline.
fn document() -> impl Strategy<Value = String> {
    let eol = select(&["\n", "\r\n"][..]);
    (
        proptest::collection::vec((line(), eol), 0..30),
        any::<bool>(),
    )
        .prop_map(|(lines, final_eol)| {
            let count = lines.len();
            let mut out = String::new();
            for (i, (text, eol)) in lines.into_iter().enumerate() {
                out.push_str(&text);
                if i + 1 < count || final_eol {
                    out.push_str(eol);
                }
            }
            out
        })
}

fn edit() -> impl Strategy<Value = (&'static str, String)> {
    (
        select(&["heartbeat", "a", "cluster_partition_handling"][..]),
        "[a-z0-9:/.]([a-z0-9:/. ]{0,6}[a-z0-9])?",
    )
}

/// Texts of the lines that are not settings of `key`.
fn unmanaged(conf: &RabbitConf, key: &str) -> Vec<String> {
    conf.lines
        .iter()
        .filter(|line| !matches!(line, Line::Setting { key: k, .. } if k == key))
        .map(|line| line.text().to_owned())
        .collect()
}

proptest! {
    #[test]
    fn prop_round_trip(text in document()) {
        prop_assert_eq!(parse(&text).render(), text);
    }

    #[test]
    fn prop_set_is_idempotent(text in document(), edits in proptest::collection::vec(edit(), 1..5)) {
        let mut conf = parse(&text);
        for (k, v) in &edits {
            conf.set(k, v);
            let once = conf.render();
            conf.set(k, v);
            prop_assert_eq!(conf.render(), once);
        }
        let first = conf.render();

        let mut again = parse(&first);
        prop_assert_eq!(again.render(), first.clone());
        for (k, v) in &edits {
            again.set(k, v);
        }
        prop_assert_eq!(again.render(), first);

        for (k, _) in &edits {
            let last = edits.iter().rev().find(|(k2, _)| k2 == k).unwrap();
            prop_assert_eq!(conf.get(k), Some(last.1.clone()));
        }
    }

    #[test]
    fn prop_unmanaged_lines_survive(text in document(), (k, v) in edit()) {
        let before = unmanaged(&parse(&text), k);
        let after_conf = parse(&edited(&text, k, &v));
        let after = unmanaged(&after_conf, k);

        prop_assert_eq!(after.len(), before.len());
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            if i + 1 == before.len() && !b.ends_with('\n') {
                prop_assert!(a == b || *a == format!("{b}\n"), "{a:?} vs {b:?}");
            } else {
                prop_assert_eq!(a, b);
            }
        }
        let settings = after_conf
            .lines
            .iter()
            .filter(|line| matches!(line, Line::Setting { key: k2, .. } if k2 == k))
            .count();
        prop_assert_eq!(settings, 1);
        prop_assert_eq!(after_conf.get(k), Some(v));
    }
}
