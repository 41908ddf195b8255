//! Tests of the oslo.config INI editor: byte-exact edits, every parse error, and properties over
//! generated documents.

use super::*;
use proptest::prelude::*;
use proptest::sample::select;

fn parse(text: &str) -> IniDocument {
    IniDocument::parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

fn edited(text: &str, section: &str, key: &str, value: &str) -> String {
    let mut doc = parse(text);
    doc.set(section, key, value);
    doc.render()
}

fn parse_error(text: &str) -> (usize, String) {
    let err = IniDocument::parse(text).expect_err("should not parse");
    (err.line, err.message)
}

const MESSY: &str = "# nova.conf\r\n\
    ; old-style comment\n\
    [DEFAULT]\r\n\
    debug=False\r\n\
    \tlog_dir   :   /var/log/kolla/nova  \n\
    \n\
    [pci]\n\
    alias = {\"name\": \"a\"}\n\
    \x20 {\"continued\": true}\n\
    alias = {\"name\": \"b\"}\n\
    [DEFAULT]   \n\
    my_ip = 10.0.0.1";

#[test]
fn messy_document_round_trips() {
    // `\tlog_dir` follows an assignment, so it is a continuation of `debug`.
    assert_eq!(parse(MESSY).render(), MESSY);
}

#[test]
fn empty_document() {
    assert_eq!(IniDocument::empty().render(), "");
    assert_eq!(parse("").render(), "");
    assert_eq!(parse(""), IniDocument::empty());
    let mut doc = IniDocument::empty();
    doc.set("DEFAULT", "debug", "true");
    assert_eq!(doc.render(), "[DEFAULT]\ndebug = true\n");
}

#[test]
fn get_reads_every_block_and_joins_continuations() {
    let doc = parse(MESSY);
    assert_eq!(
        doc.get("DEFAULT", "debug"),
        vec!["False\nlog_dir   :   /var/log/kolla/nova"]
    );
    assert_eq!(doc.get("DEFAULT", "my_ip"), vec!["10.0.0.1"]);
    assert_eq!(
        doc.get("pci", "alias"),
        vec![
            "{\"name\": \"a\"}\n{\"continued\": true}",
            "{\"name\": \"b\"}"
        ]
    );
    assert!(doc.get("DEFAULT", "alias").is_empty());
    assert!(doc.get("nope", "debug").is_empty());
}

#[test]
fn get_splits_at_the_first_separator_and_keeps_quotes() {
    let doc = parse(
        "[database]\nconnection = mysql+pymysql://nova:pw@db/nova\nx: a=b\nq = \"quoted\"\n\
         empty =\nlater =\n  one\n  two\n",
    );
    assert_eq!(
        doc.get("database", "connection"),
        vec!["mysql+pymysql://nova:pw@db/nova"]
    );
    assert_eq!(doc.get("database", "x"), vec!["a=b"]);
    assert_eq!(doc.get("database", "q"), vec!["\"quoted\""]);
    assert_eq!(doc.get("database", "empty"), vec![""]);
    assert_eq!(doc.get("database", "later"), vec!["\none\ntwo"]);
}

#[test]
fn indented_comment_after_an_assignment_is_a_continuation() {
    let text = "[DEFAULT]\na = 1\n  # not a comment\nb = 2\n";
    assert_eq!(parse(text).get("DEFAULT", "a"), vec!["1\n# not a comment"]);
    assert_eq!(
        edited(text, "DEFAULT", "a", "3"),
        "[DEFAULT]\na = 3\nb = 2\n"
    );
}

#[test]
fn set_replaces_the_first_occurrence_and_drops_the_others() {
    let text = "[DEFAULT]\r\n\
                # first\r\n\
                cpu_allocation_ratio=4.0\r\n\
                debug = true\r\n\
                [libvirt]\r\n\
                cpu_allocation_ratio = 9.0\r\n\
                [DEFAULT]\r\n\
                cpu_allocation_ratio = 8.0\r\n\
                \x20  continued\r\n\
                # last\r\n";
    assert_eq!(
        edited(text, "DEFAULT", "cpu_allocation_ratio", "2.0"),
        "[DEFAULT]\r\n\
         # first\r\n\
         cpu_allocation_ratio = 2.0\n\
         debug = true\r\n\
         [libvirt]\r\n\
         cpu_allocation_ratio = 9.0\r\n\
         [DEFAULT]\r\n\
         # last\r\n"
    );
}

#[test]
fn set_replaces_continuation_lines() {
    let text = "[pci]\nalias =\n  {\"a\": 1}\n  {\"b\": 2}\n# tail\n";
    assert_eq!(
        edited(text, "pci", "alias", "{}"),
        "[pci]\nalias = {}\n# tail\n"
    );
}

#[test]
fn set_keeps_a_line_that_already_holds_the_value() {
    let text = "[DEFAULT]\ndebug=true\ndebug = false\nx = 1";
    assert_eq!(
        edited(text, "DEFAULT", "debug", "true"),
        "[DEFAULT]\ndebug=true\nx = 1"
    );
    let text = "[DEFAULT]\ndebug  :  true";
    assert_eq!(edited(text, "DEFAULT", "debug", "true"), text);
}

#[test]
fn set_inserts_after_the_last_assignment_of_the_last_block() {
    let text = "[DEFAULT]\n\
                a = 1\n\
                [api]\n\
                b = 2\n\
                [DEFAULT]\n\
                # about c\n\
                c = 3\n\
                \x20 more\n\
                \n\
                # trailing comment\n\
                [api]\n";
    assert_eq!(
        edited(text, "DEFAULT", "vif_plugging_timeout", "300"),
        "[DEFAULT]\n\
         a = 1\n\
         [api]\n\
         b = 2\n\
         [DEFAULT]\n\
         # about c\n\
         c = 3\n\
         \x20 more\n\
         vif_plugging_timeout = 300\n\
         \n\
         # trailing comment\n\
         [api]\n"
    );
}

#[test]
fn set_inserts_right_after_the_header_of_an_empty_last_block() {
    let text = "[api]\nb = 2\n\n[api]\n# nothing here yet\n\n[DEFAULT]\n";
    assert_eq!(
        edited(text, "api", "c", "3"),
        "[api]\nb = 2\n\n[api]\nc = 3\n# nothing here yet\n\n[DEFAULT]\n"
    );
}

#[test]
fn set_terminates_an_unterminated_last_line_before_adding_after_it() {
    assert_eq!(
        edited("[DEFAULT]", "DEFAULT", "a", "1"),
        "[DEFAULT]\na = 1\n"
    );
    assert_eq!(
        edited("[DEFAULT]\r\nb = 2", "DEFAULT", "a", "1"),
        "[DEFAULT]\r\nb = 2\na = 1\n"
    );
    assert_eq!(
        edited("[DEFAULT]\nb = 2", "api", "a", "1"),
        "[DEFAULT]\nb = 2\n\n[api]\na = 1\n"
    );
    assert_eq!(
        edited("# only a comment", "api", "a", "1"),
        "# only a comment\n\n[api]\na = 1\n"
    );
}

#[test]
fn set_appends_a_missing_section() {
    let text = "[DEFAULT]\r\ndebug = true\r\n";
    assert_eq!(
        edited(text, "oslo_messaging_rabbit", "heartbeat_rate", "3"),
        "[DEFAULT]\r\ndebug = true\r\n\n[oslo_messaging_rabbit]\nheartbeat_rate = 3\n"
    );
    // No second blank line when the file already ends with one.
    assert_eq!(
        edited("[DEFAULT]\n\n", "api", "a", "1"),
        "[DEFAULT]\n\n[api]\na = 1\n"
    );
    // Section names match exactly.
    assert_eq!(
        edited("[default]\na = 1\n", "DEFAULT", "a", "1"),
        "[default]\na = 1\n\n[DEFAULT]\na = 1\n"
    );
}

#[test]
fn set_touches_only_its_own_section() {
    let text = "[DEFAULT]\ntransport_url = rabbit://a\n\
                [oslo_messaging_notifications]\ntransport_url = rabbit://b\n";
    assert_eq!(
        edited(text, "DEFAULT", "transport_url", "rabbit://c"),
        "[DEFAULT]\ntransport_url = rabbit://c\n\
         [oslo_messaging_notifications]\ntransport_url = rabbit://b\n"
    );
}

#[test]
fn multi_valued_keys_of_other_names_survive() {
    let text = "[pci]\nalias = a\nalias = b\npassthrough_whitelist = x\n";
    let mut doc = parse(text);
    doc.set("pci", "report_in_placement", "true");
    assert_eq!(
        doc.render(),
        "[pci]\nalias = a\nalias = b\npassthrough_whitelist = x\nreport_in_placement = true\n"
    );
    assert_eq!(doc.get("pci", "alias"), vec!["a", "b"]);
}

#[test]
fn set_twice_is_set_once() {
    let text = "[DEFAULT]\na = 1\na = 2\n";
    let mut once = parse(text);
    once.set("DEFAULT", "a", "3");
    once.set("x", "y", "z");
    let mut twice = once.clone();
    twice.set("DEFAULT", "a", "3");
    twice.set("x", "y", "z");
    assert_eq!(twice.render(), once.render());
    assert_eq!(once.render(), "[DEFAULT]\na = 3\n\n[x]\ny = z\n");
}

/// Applies `edits` with `set_all`, checks that the result is exactly what calling `set` for each
/// in turn gives, and returns it.
fn batched(text: &str, edits: &[(&str, &str, &str)]) -> String {
    let mut sequential = parse(text);
    for &(section, key, value) in edits {
        sequential.set(section, key, value);
    }
    let mut batch = parse(text);
    batch.set_all(edits.iter().copied());
    assert_eq!(
        batch.render(),
        sequential.render(),
        "{text:?} with {edits:?}"
    );
    assert_eq!(batch, sequential, "{text:?} with {edits:?}");
    batch.render()
}

#[test]
fn set_all_without_edits_changes_nothing() {
    assert_eq!(batched(MESSY, &[]), MESSY);
    assert_eq!(batched("", &[]), "");
}

#[test]
fn set_all_on_a_messy_document() {
    assert_eq!(
        batched(
            MESSY,
            &[
                ("DEFAULT", "my_ip", "10.0.0.2"),
                ("pci", "alias", "{}"),
                ("api", "x", "1"),
                ("DEFAULT", "debug", "True"),
                ("DEFAULT", "new", "n"),
                ("pci", "alias", "{\"name\": \"b\"}"),
                ("api", "y", "2"),
                ("libvirt", "z", "3"),
                ("api", "x", "4"),
            ],
        ),
        "# nova.conf\r\n\
         ; old-style comment\n\
         [DEFAULT]\r\n\
         debug = True\n\
         \n\
         [pci]\n\
         alias = {\"name\": \"b\"}\n\
         [DEFAULT]   \n\
         my_ip = 10.0.0.2\n\
         new = n\n\
         \n\
         [api]\n\
         x = 4\n\
         y = 2\n\
         \n\
         [libvirt]\n\
         z = 3\n"
    );
}

#[test]
fn set_all_last_value_wins_and_equal_values_keep_the_line() {
    let text = "[DEFAULT]\ndebug=true\ndebug = false\nx : 1\n";
    // Every edit repeats the value the first line holds: it stays as written.
    assert_eq!(
        batched(
            text,
            &[("DEFAULT", "debug", "true"), ("DEFAULT", "debug", "true")]
        ),
        "[DEFAULT]\ndebug=true\nx : 1\n"
    );
    // Changed and changed back: rewritten, like two `set` calls do.
    assert_eq!(
        batched(text, &[("DEFAULT", "x", "2"), ("DEFAULT", "x", "1")]),
        "[DEFAULT]\ndebug=true\ndebug = false\nx = 1\n"
    );
    assert_eq!(
        batched(
            text,
            &[
                ("DEFAULT", "y", "1"),
                ("DEFAULT", "y", "2"),
                ("DEFAULT", "y", "3")
            ]
        ),
        "[DEFAULT]\ndebug=true\ndebug = false\nx : 1\ny = 3\n"
    );
}

#[test]
fn set_all_inserts_where_the_document_stands_at_that_edit() {
    let text = "[a]\nx = 1\ny = 2\n# c\nx = 3\n# d\n";
    // `x = 3` is gone before `z` comes: `z` follows `y`.
    assert_eq!(
        batched(text, &[("a", "x", "9"), ("a", "z", "1")]),
        "[a]\nx = 9\ny = 2\nz = 1\n# c\n# d\n"
    );
    // `z` comes first, after `x = 3`, and stays there when `x = 3` goes.
    assert_eq!(
        batched(text, &[("a", "z", "1"), ("a", "x", "9")]),
        "[a]\nx = 9\ny = 2\n# c\nz = 1\n# d\n"
    );
    // Every assignment of the last block gone: after its header.
    assert_eq!(
        batched(
            "[a]\nx = 1\n[b]\n[a]\n# c\nx = 2\n",
            &[("a", "x", "9"), ("a", "z", "1"), ("a", "w", "2")]
        ),
        "[a]\nx = 9\n[b]\n[a]\nz = 1\nw = 2\n# c\n"
    );
}

#[test]
fn set_all_without_a_final_newline() {
    assert_eq!(
        batched(
            "[DEFAULT]\nb = 2",
            &[("api", "a", "1"), ("DEFAULT", "c", "3")]
        ),
        "[DEFAULT]\nb = 2\nc = 3\n\n[api]\na = 1\n"
    );
    assert_eq!(
        batched(
            "[DEFAULT]\nb = 2",
            &[("DEFAULT", "b", "2"), ("DEFAULT", "c", "3")]
        ),
        "[DEFAULT]\nb = 2\nc = 3\n"
    );
    assert_eq!(
        batched("[DEFAULT]\r\nb = 2", &[("DEFAULT", "b", "2")]),
        "[DEFAULT]\r\nb = 2"
    );
    // The unterminated last line is removed before a section is appended: the blank line
    // before it is the last line, so no second one is added.
    let text = "[DEFAULT]\na = 1\n\na = 2";
    assert_eq!(
        batched(text, &[("DEFAULT", "a", "5"), ("new", "x", "1")]),
        "[DEFAULT]\na = 5\n\n[new]\nx = 1\n"
    );
    // Appended first, while `a = 2` still ends the document; then removed.
    assert_eq!(
        batched(text, &[("new", "x", "1"), ("DEFAULT", "a", "5")]),
        "[DEFAULT]\na = 5\n\n\n[new]\nx = 1\n"
    );
    // `z` goes after `x = 2`, which is then removed: the blank line before them is the last
    // original line, but `z` ends the document when the section is appended.
    assert_eq!(
        batched(
            "[a]\nx = 1\n\nx = 2",
            &[("a", "z", "1"), ("a", "x", "9"), ("new", "q", "1")]
        ),
        "[a]\nx = 9\n\nz = 1\n\n[new]\nq = 1\n"
    );
    // An assignment added by the batch ends the document when the section is appended.
    assert_eq!(
        batched(
            "[a]\n\n[b]\nx = 1\n",
            &[("b", "x", "2"), ("b", "y", "3"), ("c", "z", "4")]
        ),
        "[a]\n\n[b]\nx = 2\ny = 3\n\n[c]\nz = 4\n"
    );
}

#[test]
fn set_all_adds_several_sections_in_edit_order() {
    assert_eq!(
        batched(
            "",
            &[
                ("DEFAULT", "debug", "true"),
                ("api", "a", "1"),
                ("DEFAULT", "x", "y"),
                ("api", "a", "2"),
            ]
        ),
        "[DEFAULT]\ndebug = true\nx = y\n\n[api]\na = 2\n"
    );
}

#[test]
fn set_all_keeps_keys_of_the_same_name_apart() {
    let text = "[DEFAULT]\ntransport_url = a\n[notifications]\ntransport_url = b\n\
                [DEFAULT]\ntransport_url = c\n";
    assert_eq!(
        batched(
            text,
            &[
                ("notifications", "transport_url", "d"),
                ("DEFAULT", "transport_url", "e"),
                ("other", "transport_url", "f"),
            ]
        ),
        "[DEFAULT]\ntransport_url = e\n[notifications]\ntransport_url = d\n[DEFAULT]\n\
         \n[other]\ntransport_url = f\n"
    );
}

#[test]
fn parse_errors_name_the_line() {
    let continuation = "indented line continues no `key = value` assignment (a blank line, a \
                        comment or a section header ends a value)";
    assert_eq!(
        parse_error("  debug = true\n"),
        (1, continuation.to_owned())
    );
    assert_eq!(
        parse_error("[DEFAULT]\n\tdebug = true\n"),
        (2, continuation.to_owned())
    );
    assert_eq!(
        parse_error("[DEFAULT]\na = 1\n\n  more\n"),
        (4, continuation.to_owned())
    );
    assert_eq!(
        parse_error("[DEFAULT]\na = 1\n# c\n  more\n"),
        (4, continuation.to_owned())
    );
    assert_eq!(
        parse_error("[DEFAULT]\na = 1\n   \n  more\n"),
        (4, continuation.to_owned())
    );

    let unterminated = "section header must end with `]`".to_owned();
    assert_eq!(parse_error("[DEFAULT\n"), (1, unterminated.clone()));
    assert_eq!(
        parse_error("# c\r\n[DEFAULT] # comment\r\n"),
        (2, unterminated.clone())
    );
    assert_eq!(parse_error("["), (1, unterminated));
    assert_eq!(
        parse_error("[a]\n[]\n"),
        (2, "section header `[]` has no name".to_owned())
    );

    let nonsense = "expected `key = value`, a `[section]` header or a comment, but found no `=` \
                    or `:`";
    assert_eq!(
        parse_error("[DEFAULT]\ndebug true\n"),
        (2, nonsense.to_owned())
    );
    assert_eq!(parse_error("[DEFAULT]\n\n\nfoo"), (4, nonsense.to_owned()));

    assert_eq!(
        parse_error("[DEFAULT]\n= 1\n"),
        (2, "assignment has an empty key".to_owned())
    );
    assert_eq!(parse_error("[DEFAULT]\n :x\n").0, 2);
    assert_eq!(
        parse_error("[DEFAULT]\n:x\n"),
        (2, "assignment has an empty key".to_owned())
    );

    assert_eq!(
        parse_error("# top\n\ndebug = true\n[DEFAULT]\n"),
        (
            3,
            "`debug` is assigned before the first `[section]` header".to_owned()
        )
    );
}

#[test]
fn parse_error_display_never_quotes_the_line() {
    let err = IniDocument::parse("[DEFAULT]\npassword s3cr3t\n").unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"));
    assert_eq!(
        err.to_string(),
        "line 2: expected `key = value`, a `[section]` header or a comment, but found no `=` or \
         `:`"
    );
}

// ---- properties over generated documents -------------------------------------------------

const SECTIONS: &[&str] = &["DEFAULT", "oslo_messaging_rabbit", "pci"];
const KEYS: &[&str] = &["debug", "transport_url", "alias", "a"];

#[derive(Debug, Clone)]
enum Spec {
    Trivia(String),
    Header(String),
    Assign(String),
    Continuation(String),
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        "[ \t]{0,3}".prop_map(Spec::Trivia),
        "[#;][ a-z#;=:\\[\\]]{0,8}".prop_map(Spec::Trivia),
        (select(SECTIONS), "[ \t]{0,2}").prop_map(|(s, w)| Spec::Header(format!("[{s}]{w}"))),
        (
            select(KEYS),
            "[ \t]{0,2}",
            select(&["=", ":"][..]),
            "[ \t]{0,2}",
            "[a-z0-9:/=#; ]{0,8}"
        )
            .prop_map(|(k, w1, sep, w2, v)| Spec::Assign(format!("{k}{w1}{sep}{w2}{v}"))),
        ("[ \t]{1,3}", "[a-z0-9#;=\\[]{1,6}[ \t]?")
            .prop_map(|(w, t)| Spec::Continuation(format!("{w}{t}"))),
    ]
}

/// Documents oslo.config accepts, with mixed line ends and an optional final newline.
fn document() -> impl Strategy<Value = String> {
    let line = (spec(), select(&["\n", "\r\n"][..]));
    (proptest::collection::vec(line, 0..40), any::<bool>()).prop_map(|(specs, final_eol)| {
        let mut lines: Vec<(String, &str)> = Vec::new();
        let (mut in_section, mut can_continue) = (false, false);
        for (spec, eol) in specs {
            match spec {
                Spec::Trivia(text) => {
                    can_continue = false;
                    lines.push((text, eol));
                }
                Spec::Header(text) => {
                    (in_section, can_continue) = (true, false);
                    lines.push((text, eol));
                }
                Spec::Assign(text) => {
                    if !in_section {
                        lines.push(("[DEFAULT]".to_owned(), eol));
                        in_section = true;
                    }
                    can_continue = true;
                    lines.push((text, eol));
                }
                Spec::Continuation(text) if can_continue => lines.push((text, eol)),
                Spec::Continuation(_) => {}
            }
        }
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

fn edit() -> impl Strategy<Value = (&'static str, &'static str, String)> {
    (
        select(&["DEFAULT", "oslo_messaging_rabbit", "pci", "new_section"][..]),
        select(KEYS),
        "[a-z0-9:/=]{1,6}",
    )
}

/// Edits for batches: sections that exist in generated documents or not, keys that collide,
/// and values that often repeat one another.
fn batch_edit() -> impl Strategy<Value = (&'static str, &'static str, String)> {
    (
        select(&["DEFAULT", "oslo_messaging_rabbit", "pci", "new_a", "new_b"][..]),
        select(&["debug", "transport_url", "alias", "a", "b", "c"][..]),
        prop_oneof![
            select(&["1", "a", "x=y"][..]).prop_map(str::to_owned),
            "[a-z0-9:/=]{1,6}",
        ],
    )
}

/// Generated documents, half of them followed by blank lines and assignments of repeated keys:
/// a document that ends with assignments a batch removes is where the order of its removals,
/// insertions and appended sections matters most.
fn batch_document() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just(None),
        (select(KEYS), "[a-z0-9]{0,3}").prop_map(|(k, v)| Some(format!("{k} = {v}"))),
    ];
    let tail = (
        proptest::option::of(select(SECTIONS)),
        proptest::collection::vec(line, 1..6),
        any::<bool>(),
    );
    prop_oneof![
        document(),
        (document(), tail).prop_map(|(mut text, (header, lines, final_eol))| {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            let in_section = parse(&text)
                .items
                .iter()
                .any(|item| matches!(item, Item::Header { .. }));
            let header = header.or((!in_section).then_some("DEFAULT"));
            let lines = header
                .map(|section| format!("[{section}]"))
                .into_iter()
                .chain(lines.into_iter().map(Option::unwrap_or_default));
            text.push_str(&lines.collect::<Vec<_>>().join("\n"));
            if final_eol {
                text.push('\n');
            }
            text
        }),
    ]
}

/// A generated document with a list of edits, some of which give an assignment of the document
/// the value it already holds.
fn document_and_edits() -> impl Strategy<Value = (String, Vec<(String, String, String)>)> {
    batch_document().prop_flat_map(|text| {
        let doc = parse(&text);
        let mut section = String::new();
        let mut existing = Vec::new();
        for item in &doc.items {
            match item {
                Item::Header { name, .. } => section.clone_from(name),
                Item::Entry { key, value, .. } if !value.contains('\n') => {
                    existing.push((section.clone(), key.clone(), value.clone()));
                }
                _ => {}
            }
        }
        let fresh = batch_edit().prop_map(|(s, k, v)| (s.to_owned(), k.to_owned(), v));
        let edit = if existing.is_empty() {
            fresh.boxed()
        } else {
            prop_oneof![3 => fresh, 1 => select(existing)].boxed()
        };
        (Just(text), proptest::collection::vec(edit, 0..30))
    })
}

/// Texts of the items that are not assignments of `section.key`.
fn unmanaged(doc: &IniDocument, section: &str, key: &str) -> Vec<String> {
    let managed: Vec<usize> = doc.entries(section, key).collect();
    doc.items
        .iter()
        .enumerate()
        .filter(|(i, _)| !managed.contains(i))
        .map(|(_, item)| item.text().to_owned())
        .collect()
}

proptest! {
    #[test]
    fn prop_round_trip(text in document()) {
        prop_assert_eq!(parse(&text).render(), text);
    }

    #[test]
    fn prop_set_is_idempotent(text in document(), edits in proptest::collection::vec(edit(), 1..5)) {
        let mut doc = parse(&text);
        for (s, k, v) in &edits {
            doc.set(s, k, v);
            let once = doc.render();
            doc.set(s, k, v);
            prop_assert_eq!(doc.render(), once);
        }
        let first = doc.render();

        let mut again = parse(&first);
        prop_assert_eq!(again.render(), first.clone());
        for (s, k, v) in &edits {
            again.set(s, k, v);
        }
        prop_assert_eq!(again.render(), first);

        for (s, k, _) in &edits {
            let last = edits.iter().rev().find(|(s2, k2, _)| s2 == s && k2 == k).unwrap();
            prop_assert_eq!(doc.get(s, k), vec![last.2.clone()]);
        }
    }

    #[test]
    fn prop_unmanaged_lines_survive(text in document(), (s, k, v) in edit()) {
        let before_doc = parse(&text);
        let had_section = before_doc.insertion_point(s).is_some();
        let before = unmanaged(&before_doc, s, k);
        let after_doc = parse(&edited(&text, s, k, &v));
        let after = unmanaged(&after_doc, s, k);

        prop_assert!(after.len() >= before.len());
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            if i + 1 == before.len() && !b.ends_with('\n') {
                prop_assert!(a == b || *a == format!("{b}\n"), "{a:?} vs {b:?}");
            } else {
                prop_assert_eq!(a, b);
            }
        }
        let tail = &after[before.len()..];
        let header = format!("[{s}]\n");
        if had_section {
            prop_assert!(tail.is_empty(), "{tail:?}");
        } else {
            prop_assert!(tail == [header.clone()] || tail == ["\n".to_owned(), header], "{tail:?}");
        }
        prop_assert_eq!(after_doc.get(s, k), vec![v]);
    }
}

proptest! {
    // More cases than the default: some orders of removals, insertions and appended sections
    // take a document ending in a particular way and several edits in a particular order.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn prop_set_all_is_sequential_set((text, edits) in document_and_edits()) {
        let mut sequential = parse(&text);
        for (s, k, v) in &edits {
            sequential.set(s, k, v);
        }
        let mut batch = parse(&text);
        batch.set_all(edits.iter().map(|(s, k, v)| (s.as_str(), k.as_str(), v.as_str())));
        prop_assert_eq!(batch.render(), sequential.render());
        prop_assert_eq!(batch, sequential);
    }
}
