//! Byte-exact tests of `rabbitmq-env.conf` reading and editing, checked against /bin/sh where
//! the shell's reading is the point.

use super::*;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

mod props;

/// Sources `text` with /bin/sh and returns what `$var` holds afterwards.
pub(super) fn sh_value(text: &str, var: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "kollacfg-env-test-{}-{}.conf",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, text).expect("write temp file");
    let out = Command::new("/bin/sh")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg("-c")
        .arg(format!(". \"$1\"; printf %s \"${var}\""))
        .arg("sh")
        .arg(&path)
        .output()
        .expect("run /bin/sh");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "sh failed on {text:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub(super) fn flag(name: &str, args: &[&str]) -> ErlFlag {
    ErlFlag {
        name: name.to_string(),
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}

fn busy_wait_flags() -> Vec<ErlFlag> {
    vec![flag("+sbwt", &["none"]), flag("+sub", &["true"])]
}

fn edited(base: &str, flags: &[ErlFlag]) -> String {
    let mut env = EnvFile::parse(base).expect("base parses");
    env.set_erl_flags(flags).expect("flags apply");
    env.render()
}

const SEED_BEFORE: &str = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"-pa /usr/lib/rabbitmq/lib/rabbitmq_server-3.6/plugins/rabbitmq_clusterer-3.6.x.ez/rabbitmq_clusterer-3.6.x-667f92b0/ebin\"\n";
const SEED_AFTER: &str = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwt none +sub true -pa /usr/lib/rabbitmq/lib/rabbitmq_server-3.6/plugins/rabbitmq_clusterer-3.6.x.ez/rabbitmq_clusterer-3.6.x-667f92b0/ebin\"\n";

const KOLLA: &str = "RABBITMQ_NODENAME=rabbit@controller-1\n\
RABBITMQ_LOG_BASE=/var/log/kolla/rabbitmq\n\
RABBITMQ_DIST_PORT=25672\n\
RABBITMQ_PID_FILE=/var/lib/rabbitmq/mnesia/rabbitmq.pid\n\
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"-kernel inetrc '/etc/rabbitmq/erl_inetrc'\"\n\
RABBITMQ_CTL_ERL_ARGS=\"-proto_dist inet_tcp\"\n\
export ERL_EPMD_ADDRESS=10.0.0.11\n\
export ERL_EPMD_PORT=4369\n\
export ERL_INETRC=/etc/rabbitmq/erl_inetrc\n";

#[test]
fn untouched_files_print_back_byte_for_byte() {
    for text in [
        "",
        "\n\n",
        KOLLA,
        SEED_BEFORE,
        "A=1\r\nB='two words'\r\n",
        "A=1\nB=2",
        "# comment with 'quote\n  export  X=\"a\nb\" # spans lines\nif [ -n \"$X\" ]; then\n  Y=1\nfi\n",
        "X=a\\\nb\nZ=$(echo \"(x)\")\n",
        "X=`date`\nW=${HOME:-'}'}\n",
    ] {
        let env = EnvFile::parse(text).expect("parses");
        assert_eq!(env.render(), text);
    }
    assert_eq!(EnvFile::empty().render(), "");
}

#[test]
fn get_decodes_quoting_like_the_shell() {
    let text =
        "A=plain\nB='single $x \"q\"'\nC=\"dq \\\" \\\\ \\$ \\` \\n\"\nD=con'cat'\"en\"ated\n\
E=back\\ slash\n  export F=exported # a comment\nG=a#b\nH=\nA=last\nI=\"multi\nline\"\n";
    let env = EnvFile::parse(text).unwrap();
    let expected = [
        ("A", "last"),
        ("B", "single $x \"q\""),
        ("C", "dq \" \\ $ ` \\n"),
        ("D", "concatenated"),
        ("E", "back slash"),
        ("F", "exported"),
        ("G", "a#b"),
        ("H", ""),
        ("I", "multi\nline"),
    ];
    for (name, value) in expected {
        assert_eq!(env.get(name).as_deref(), Some(value), "{name}");
        assert_eq!(sh_value(text, name), value, "sh reads {name}");
    }
    assert_eq!(env.get("MISSING"), None);
    assert_eq!(env.get("expor"), None);
}

#[test]
fn lines_that_are_not_plain_assignments_are_not_variables() {
    let env = EnvFile::parse("A=1 command\nB=1; C=2\nexport D\necho E=1\n").unwrap();
    for name in ["A", "B", "C", "D", "E"] {
        assert_eq!(env.get(name), None, "{name}");
    }
}

#[test]
fn unterminated_quotes_name_the_line() {
    let cases = [
        ("A=1\nB=\"open\nC=3\n", 2, "unterminated double quote"),
        ("A=1\n\necho it's\n", 3, "unterminated single quote"),
        ("X=$(echo\n", 1, "unterminated `$(`"),
        ("X=`date\n", 1, "unterminated backquote"),
    ];
    for (text, line, what) in cases {
        let err = EnvFile::parse(text).expect_err("must fail");
        assert_eq!(err.line, line, "{text:?}");
        assert_eq!(
            err.message,
            format!("{what} (the shell would fail to source this file)")
        );
    }
}

#[test]
fn expansions_are_refused_for_that_variable_only() {
    let text = "A=ok\nRABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+A $THREADS\"\nB=`hostname`\nC=~/x\n";
    let mut env = EnvFile::parse(text).unwrap();
    assert_eq!(env.get("A").as_deref(), Some("ok"));
    assert_eq!(env.get(ERL_ARGS_VAR), None);
    let err = env.try_get(ERL_ARGS_VAR).unwrap_err();
    assert_eq!(err.line, 2);
    assert_eq!(
        err.message,
        "the value of RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS uses `$` expansion, so it cannot be \
         read or edited safely; write it with literal text only"
    );
    assert_eq!(env.erl_args().unwrap_err(), err);
    assert_eq!(env.set_erl_flags(&busy_wait_flags()).unwrap_err(), err);
    let b = env.try_get("B").unwrap_err();
    assert_eq!((b.line, b.message.contains("backquotes")), (3, true));
    let c = env.try_get("C").unwrap_err();
    assert_eq!((c.line, c.message.contains("tilde")), (4, true));
    assert_eq!(env.render(), text, "failed edits change nothing");
    env.set_erl_flags(&[]).expect("empty flags are a no-op");
    env.set("B", "fixed");
    assert_eq!(env.try_get("B").unwrap().as_deref(), Some("fixed"));
}

#[test]
fn set_rewrites_the_last_assignment_in_place() {
    let mut env = EnvFile::parse("A=1\n# keep me\n  export A='old value' # tuned\nB=2\n").unwrap();
    env.set("A", "new");
    assert_eq!(env.render(), "# keep me\n  export A=new # tuned\nB=2\n");
    env.set("A", "two words");
    assert_eq!(
        env.render(),
        "# keep me\n  export A=\"two words\" # tuned\nB=2\n"
    );
    assert_eq!(env.get("A").as_deref(), Some("two words"));
    env.set("C", "rabbit@host-1");
    assert_eq!(
        env.render(),
        "# keep me\n  export A=\"two words\" # tuned\nB=2\nC=rabbit@host-1\n"
    );
}

#[test]
fn set_appends_after_an_unterminated_last_line_keeping_crlf() {
    let mut env = EnvFile::parse("A=1\r\nB=2").unwrap();
    env.set("C", "3");
    assert_eq!(env.render(), "A=1\r\nB=2\r\nC=3\r\n");
    env.set("B", "x y");
    assert_eq!(env.render(), "A=1\r\nB=\"x y\"\r\nC=3\r\n");

    let mut env = EnvFile::parse("A=a\\").unwrap();
    env.set("B", "b");
    assert_eq!(env.render(), "A=a\\\n\nB=b\n");
    assert_eq!(sh_value(&env.render(), "B"), "b");

    let mut env = EnvFile::empty();
    env.set("A", "");
    assert_eq!(env.render(), "A=\n");
}

#[test]
fn seed_busy_wait_fix() {
    assert_eq!(edited(SEED_BEFORE, &busy_wait_flags()), SEED_AFTER);
    assert_eq!(edited(SEED_AFTER, &busy_wait_flags()), SEED_AFTER);
}

#[test]
fn kolla_inetrc_argument_is_kept_as_one_word() {
    let env = EnvFile::parse(KOLLA).unwrap();
    assert_eq!(
        env.erl_args().unwrap(),
        ["-kernel", "inetrc", "'/etc/rabbitmq/erl_inetrc'"]
    );
    let out = edited(KOLLA, &busy_wait_flags());
    let expected = KOLLA.replace(
        "ERL_ARGS=\"-kernel",
        "ERL_ARGS=\"+sbwt none +sub true -kernel",
    );
    assert_eq!(out, expected);
    assert_eq!(
        sh_value(&out, ERL_ARGS_VAR),
        "+sbwt none +sub true -kernel inetrc '/etc/rabbitmq/erl_inetrc'"
    );
}

#[test]
fn present_flags_are_replaced_in_place_and_deduplicated() {
    let base = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+S 2:2 +sbwt very_long -pa /a /b +sbwt short +A 64\"\n";
    let out = edited(base, &[flag("+sbwt", &["none"]), flag("+P", &["2000000"])]);
    assert_eq!(
        out,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+P 2000000 +S 2:2 +sbwt none -pa /a /b +A 64\"\n"
    );
    // A flag given twice: the last one given wins, once.
    let out = edited("", &[flag("+S", &["2:2"]), flag("+S", &["4:4"])]);
    assert_eq!(out, "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+S 4:4\"\n");
}

/// A base that spells a flag with its value glued on (`+sbwtnone`, `+P2048`) holds the same
/// flag to Erlang: it is replaced, not left behind to win over the edit.
#[test]
fn glued_base_flags_are_the_same_flag() {
    let base = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwtvery_long +P2048 +stbtdb\"\n";
    let out = edited(base, &[flag("+sbwt", &["none"]), flag("+P", &["4096"])]);
    assert_eq!(
        out,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwt none +P 4096 +stbtdb\"\n"
    );
}

#[test]
fn unprefixed_and_exported_variables_keep_their_spelling() {
    let base = "# kolla\nexport SERVER_ADDITIONAL_ERL_ARGS='-kernel inetrc \"/etc/rabbitmq/erl_inetrc\"'\n";
    let out = edited(base, &busy_wait_flags());
    assert_eq!(
        out,
        "# kolla\nexport SERVER_ADDITIONAL_ERL_ARGS=\"+sbwt none +sub true -kernel inetrc \\\"/etc/rabbitmq/erl_inetrc\\\"\"\n"
    );
    assert_eq!(
        sh_value(&out, ERL_ARGS_VAR_UNPREFIXED),
        "+sbwt none +sub true -kernel inetrc \"/etc/rabbitmq/erl_inetrc\""
    );
}

#[test]
fn prefixed_variable_wins_and_unprefixed_is_left_alone() {
    let base = "SERVER_ADDITIONAL_ERL_ARGS=\"+K true\"\nRABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+A 128\"\nSERVER_ADDITIONAL_ERL_ARGS=\"+K false\"\n";
    let env = EnvFile::parse(base).unwrap();
    assert_eq!(env.erl_args().unwrap(), ["+A", "128"]);
    assert_eq!(
        edited(base, &busy_wait_flags()),
        "SERVER_ADDITIONAL_ERL_ARGS=\"+K true\"\nRABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwt none +sub true +A 128\"\nSERVER_ADDITIONAL_ERL_ARGS=\"+K false\"\n"
    );
}

#[test]
fn earlier_assignments_of_the_edited_variable_are_dropped() {
    let base = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"-pa /old\"\nA=1\nRABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"-kernel inetrc '/etc/rabbitmq/erl_inetrc'\"\n";
    assert_eq!(
        edited(base, &[flag("+sbwt", &["none"])]),
        "A=1\nRABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwt none -kernel inetrc '/etc/rabbitmq/erl_inetrc'\"\n"
    );
}

#[test]
fn missing_variable_is_appended_and_empty_flags_change_nothing() {
    assert_eq!(
        edited("A=1", &busy_wait_flags()),
        "A=1\nRABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwt none +sub true\"\n"
    );
    assert_eq!(edited("A=1", &[]), "A=1");
    assert_eq!(edited(KOLLA, &[]), KOLLA);
    assert!(EnvFile::empty().erl_args().unwrap().is_empty());
}

#[test]
fn words_before_the_first_flag_stay_first() {
    let base = "SERVER_ADDITIONAL_ERL_ARGS=\"stray 'a b' +sbwt long\"\n";
    let env = EnvFile::parse(base).unwrap();
    assert_eq!(env.erl_args().unwrap(), ["stray", "'a b'", "+sbwt", "long"]);
    assert_eq!(
        edited(base, &[flag("+sbwt", &["none"]), flag("+sub", &["true"])]),
        "SERVER_ADDITIONAL_ERL_ARGS=\"stray 'a b' +sub true +sbwt none\"\n"
    );
}

#[test]
fn unbalanced_quote_inside_the_value_is_an_error() {
    let base = "A=1\nRABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"-kernel inetrc '/etc/x\"\n";
    let mut env = EnvFile::parse(base).unwrap();
    let err = env.set_erl_flags(&busy_wait_flags()).unwrap_err();
    assert_eq!(err.line, 2);
    assert_eq!(
        err.message,
        "unterminated single quote inside the value of RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"
    );
}

#[test]
fn tricky_words_survive_a_shell_round_trip() {
    let base = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-eval \"io:format(\\\"$HOME ~p`x`\\\")\" -pa \\\\srv'\n";
    let env = EnvFile::parse(base).unwrap();
    let before = env.erl_args().unwrap();
    assert_eq!(
        before,
        [
            "-eval",
            "\"io:format(\\\"$HOME ~p`x`\\\")\"",
            "-pa",
            "\\\\srv"
        ]
    );
    let out = edited(base, &busy_wait_flags());
    assert_eq!(
        out,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwt none +sub true -eval \\\"io:format(\\\\\\\"\\$HOME ~p\\`x\\`\\\\\\\")\\\" -pa \\\\\\\\srv\"\n"
    );
    assert_eq!(
        sh_value(&out, ERL_ARGS_VAR),
        format!("+sbwt none +sub true {}", before.join(" "))
    );
    assert_eq!(
        EnvFile::parse(&out).unwrap().erl_args().unwrap()[4..],
        before
    );
}

#[test]
fn shell_blocks_are_not_edited_blind() {
    let refused = [
        ("A=1\ncat <<EOF\nRABBITMQ_NODENAME=x\nEOF\n", 2, "a heredoc"),
        (
            "f() {\n  RABBITMQ_NODENAME=x\n}\n",
            1,
            "a function definition",
        ),
        (
            "if [ -n \"$X\" ]; then\n  RABBITMQ_NODENAME=x\nfi\n",
            1,
            "a shell block (`if`)",
        ),
        ("case $X in\n a) Y=1;;\nesac\n", 1, "a shell block (`case`)"),
        (
            "for i in 1 2; do\n  Y=$i\ndone\n",
            1,
            "a shell block (`for`)",
        ),
        ("while false; do :; done\n", 1, "a shell block (`while`)"),
        ("# x\nA=one\\\ntwo\n", 2, "a line continuation"),
        ("A=$(hostname)\n", 1, "a command substitution"),
        ("A=\"`hostname`\"\n", 1, "a command substitution"),
        ("ulimit -n 65536\n", 1, "a command"),
        ("A=1; B=2\n", 1, "a command"),
    ];
    for (text, line, what) in refused {
        let env = EnvFile::parse(text).expect("parses");
        let err = env.check_editable().expect_err(text);
        assert_eq!(err.line, line, "{text:?}");
        assert!(err.message.starts_with(what), "{text:?}: {}", err.message);
    }
    for text in [
        KOLLA,
        SEED_BEFORE,
        "",
        "# it's a comment with $(x) and <<EOF\nA='$(not run)' # c\nexport A B\nC=\"it's\"\n",
    ] {
        assert!(
            EnvFile::parse(text).unwrap().check_editable().is_ok(),
            "{text:?}"
        );
    }
}

/// `RABBITMQ_X` and `X` are one variable to rabbitmq-env (`X` is read only when `RABBITMQ_X`
/// is empty): setting one spelling leaves the file holding it once.
#[test]
fn prefixed_and_short_spellings_fold() {
    let base = "NODENAME=rabbit@a\nRABBITMQ_NODENAME=rabbit@b\nexport NODENAME\n";
    let mut env = EnvFile::parse(base).unwrap();
    env.set("RABBITMQ_NODENAME", "rabbit@c");
    let out = env.render();
    assert_eq!(out, "RABBITMQ_NODENAME=rabbit@c\nexport NODENAME\n");
    assert_eq!(sh_value(&out, "NODENAME"), "");
    // An empty prefixed Erlang-arguments variable yields to the short one, which is edited.
    let base = "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\nSERVER_ADDITIONAL_ERL_ARGS=\"+A 8\"\n";
    let out = edited(base, &[flag("+P", &["4096"])]);
    assert_eq!(
        out,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\nSERVER_ADDITIONAL_ERL_ARGS=\"+P 4096 +A 8\"\n"
    );
}
