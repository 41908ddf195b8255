//! Classes 5 and 6: identity as the reader sees it, and no value that the reader would take for
//! something else. `$` is escaped for oslo.config; section names oslo.config would fold and keys
//! with control characters are refused; `ConfigOverride.env` takes only the variables RabbitMQ
//! documents for `rabbitmq-env.conf`, never those that change how the start script runs, and no
//! empty value; `extraArgs` are read as Erlang 25 reads its emulator flags; a `rabbitmq-env.conf`
//! base with shell blocks is refused by line; `rabbitmq.conf` keys and values stay within what
//! cuttlefish reads back; policy patterns are checked as Erlang's `re` compiles them.

use std::fs;

use crate::common::*;

fn override_doc(file: &str, body: &str) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\nmetadata: {{name: o, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: {}}}\n  file: {file}\n  {body}\n",
        if file.starts_with("rabbitmq") { "rabbitmq" } else { "nova-compute" }
    )
}

#[test]
fn a_dollar_is_escaped_for_oslo_config() {
    let scene = Scene::new(&[&override_doc(
        "nova.conf",
        "ini: {database: {connection: 'mysql://nova:pa$sword@db/nova'}}",
    )]);
    scene.render_ok();
    let conf = fs::read_to_string(scene.out().join("nova-compute/nova.conf")).unwrap();
    assert!(
        conf.contains("connection = mysql://nova:pa$$sword@db/nova\n"),
        "{conf}"
    );
}

#[test]
fn a_section_oslo_config_folds_is_refused() {
    let scene = Scene::new(&[&override_doc(
        "nova.conf",
        "ini: {OSLO_MESSAGING_RABBIT: {heartbeat_rate: '1'}}",
    )]);
    scene.refused(&[
        "ConfigOverride openstack/o: spec.ini.OSLO_MESSAGING_RABBIT: ",
        "lower case; write [oslo_messaging_rabbit]",
    ]);
}

#[test]
fn a_key_with_a_control_character_is_refused() {
    let scene = Scene::new(&[&override_doc(
        "nova.conf",
        "ini: {DEFAULT: {\"vif_plugging_timeout\\x1f\": '5'}}",
    )]);
    scene.refused(&[
        "ConfigOverride openstack/o: spec.ini.DEFAULT.vif_plugging_timeout\\u{1f}: ",
        "oslo.config strips or misreads",
    ]);
}

#[test]
fn env_variables_that_change_the_start_script_are_refused() {
    for (name, reason) in [
        (
            "RABBITMQ_SERVER_START_ARGS",
            "replaces the arguments the start script passes",
        ),
        (
            "RABBITMQ_SERVER_ERL_ARGS",
            "replaces RabbitMQ's own VM arguments",
        ),
        ("IFS", "not a variable RabbitMQ documents"),
        ("PATH", "not a variable RabbitMQ documents"),
        ("LD_PRELOAD", "not a variable RabbitMQ documents"),
        ("NODENAME", "write RABBITMQ_NODENAME"),
    ] {
        let scene = Scene::new(&[&override_doc(
            "rabbitmq-env.conf",
            &format!("env: {{{name}: x}}"),
        )]);
        scene.refused(&[
            &format!("ConfigOverride openstack/o: spec.env.{name}: "),
            reason,
        ]);
    }
    let scene = Scene::new(&[&override_doc(
        "rabbitmq-env.conf",
        "env: {RABBITMQ_IO_THREAD_POOL_SIZE: '64'}",
    )]);
    scene.render_ok();
    let env = fs::read_to_string(scene.out().join("rabbitmq/rabbitmq-env.conf")).unwrap();
    assert!(env.contains("RABBITMQ_IO_THREAD_POOL_SIZE=64\n"), "{env}");
}

fn erlang_doc(extra_args: &str) -> String {
    format!("apiVersion: kollacfg.dev/v1alpha1\nkind: ErlangVmArgs\nmetadata: {{name: e, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: rabbitmq}}\n  extraArgs: {extra_args}\n")
}

/// Erlang splits a flag with its value glued on as erts does (`+P2048` is `+P 2048`,
/// `+sbwtnone` is `+sbwt none`, `+S4:4` is `+S 4:4`): a typed flag in any spelling is refused
/// (by the CRD's rule, checked offline too), so it cannot slip past the typed kinds and their
/// ranges under another item name; an untyped one is refused by the engine with the spelling to
/// write.
#[test]
fn a_flag_with_its_value_glued_on_is_refused() {
    for arg in [
        "+P2048",
        "+sbwtnone",
        "+sbwtdcpuvery_long",
        "+S4:4",
        "+subtrue",
        "+zdbbl1024",
    ] {
        let scene = Scene::new(&[&erlang_doc(&format!("['{arg}']"))]);
        scene.refused(&[
            "(ErlangVmArgs openstack/e): spec.extraArgs: ",
            "also with a value glued on (Erlang reads +P2048 as +P 2048)",
        ]);
    }
    for (arg, reading) in [("+stbtdb", "+stbt db"), ("+MBasaobf", "+MBas aobf")] {
        let scene = Scene::new(&[&erlang_doc(&format!("['{arg}']"))]);
        scene.refused(&[
            "ErlangVmArgs openstack/e: spec.extraArgs[0]: ",
            &format!("Erlang reads this as \"{reading}\""),
            "write the flag and its value separated by a space",
        ]);
    }
}

/// A flag Erlang 25 does not have, a flag without the value it needs, a value after a flag
/// that takes none, a value the flag does not take: each stops the VM (or hands it a stray
/// argument) and is refused, naming the flag.
#[test]
fn flags_that_stop_the_vm_are_refused() {
    for (arg, reason) in [
        ("+foo", "+foo is not an emulator flag of Erlang 25"),
        ("+V", "+V is not an emulator flag of Erlang 25"),
        ("+stbt", "+stbt needs a value"),
        ("+d x", "+d takes no value"),
        ("+stbt bogus", "+stbt: \"bogus\" is not one of u, ns"),
        (
            "+Q 1023",
            "+Q: \"1023\" is not a decimal integer in 1024..=134217727",
        ),
        (
            "+hmqd off_heap on_heap",
            "one flag per entry, with at most one value",
        ),
    ] {
        let scene = Scene::new(&[&erlang_doc(&format!("['{arg}']"))]);
        scene.refused(&["ErlangVmArgs openstack/e: spec.extraArgs[0]: ", reason]);
    }
}

/// Accepted flags are written as given; a base that spells a typed flag glued (`+sbwtvery_long`)
/// has it replaced by the typed field's value, not left behind to win.
#[test]
fn accepted_flags_are_written_and_glued_base_flags_replaced() {
    let doc = format!(
        "{}  schedulerBusyWait: none\n",
        erlang_doc("['+stbt db', '+MBas ageffcbf', '+d']")
    );
    let scene = Scene::new(&[&doc]);
    fs::write(
        scene.base().join("rabbitmq/rabbitmq-env.conf"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwtvery_long -kernel inetrc '/etc/rabbitmq/erl_inetrc'\"\n",
    )
    .unwrap();
    scene.render_ok();
    let env = fs::read_to_string(scene.out().join("rabbitmq/rabbitmq-env.conf")).unwrap();
    assert_eq!(
        env,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+MBas ageffcbf +d +stbt db +sbwt none -kernel inetrc '/etc/rabbitmq/erl_inetrc'\"\n"
    );
}

/// `rabbitmq.conf` keys are cuttlefish words joined by single dots, and values printable
/// Latin-1: anything else is refused, naming the key, instead of a file RabbitMQ refuses at
/// boot. (`accepted_rabbitmq_conf_values_boot_in_rabbitmq` in fidelity.rs boots what is
/// accepted.)
#[test]
fn rabbitmq_conf_keys_and_values_cuttlefish_refuses_are_refused() {
    for (entry, field, reason) in [
        (
            "{'cluster_name!': x}",
            "spec.conf.cluster_name!: ",
            "contains !: a rabbitmq.conf key is words",
        ),
        (
            "{'listeners.tcp.a/b': '5672'}",
            "spec.conf.listeners.tcp.a/b: ",
            "contains /",
        ),
        ("{'log..file': x}", "spec.conf.log..file: ", "an empty word"),
        (
            "{'log\\.file': x}",
            "spec.conf.log\\.file: ",
            "contains \\\\",
        ),
        (
            "{cluster_name: \"\\u03a9mega\"}",
            "spec.conf.cluster_name: ",
            "contains \\u{3a9}, outside the printable Latin-1",
        ),
        (
            "{cluster_name: \"a\\u0007b\"}",
            "spec.conf.cluster_name: ",
            "contains \\u{7}, outside the printable Latin-1",
        ),
        ("{cluster_name: 'a#b'}", "spec.conf.cluster_name: ", "'#'"),
    ] {
        let scene = Scene::new(&[&override_doc("rabbitmq.conf", &format!("conf: {entry}"))]);
        scene.refused(&[&format!("ConfigOverride openstack/o: {field}"), reason]);
    }
}

/// An empty `RABBITMQ_X` reads as unset to rabbitmq-env, which then uses `X`: refused.
#[test]
fn an_empty_env_value_is_refused() {
    let scene = Scene::new(&[&override_doc(
        "rabbitmq-env.conf",
        "env: {RABBITMQ_NODENAME: ''}",
    )]);
    scene.refused(&[
        "ConfigOverride openstack/o: spec.env.RABBITMQ_NODENAME: ",
        "an empty RABBITMQ_NODENAME reads as unset (rabbitmq-env then uses NODENAME",
    ]);
}

/// A `rabbitmq-env.conf` base with a heredoc, a function, an `if` block, a continuation or a
/// command substitution is not edited as if every line were a live assignment: refused, naming
/// the file and the line. Left alone (no fragment edits it), it passes through byte for byte.
#[test]
fn shell_blocks_in_a_rabbitmq_env_base_are_refused_by_line() {
    let erlang = erlang_doc("['+stbt db']");
    for (block, line, what) in [
        (
            "if [ -f /etc/x ]; then\n  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+A 8\"\nfi\n",
            2,
            "a shell block (`if`)",
        ),
        ("cat <<EOF >/tmp/x\nA=1\nEOF\n", 2, "a heredoc"),
        ("setup() {\n  A=1\n}\n", 2, "a function definition"),
        ("A=one\\\ntwo\n", 2, "a line continuation"),
        ("A=$(hostname)\n", 2, "a command substitution"),
    ] {
        let scene = Scene::new(&[&erlang]);
        let env = scene.base().join("rabbitmq/rabbitmq-env.conf");
        fs::write(
            &env,
            format!("# kolla\n{block}RABBITMQ_NODENAME=rabbit@a\n"),
        )
        .unwrap();
        scene.refused(&[
            "KollaConfig openstack/rabbitmq: base rabbitmq-env.conf: ",
            &format!("rabbitmq-env.conf line {line}: {what}"),
            "which assignments are live cannot be known",
        ]);
        scene.set_input(&[LISTENER]);
        scene.render_ok();
        let out = fs::read(scene.out().join("rabbitmq/rabbitmq-env.conf")).unwrap();
        assert_eq!(out, fs::read(&env).unwrap());
    }
}

fn policy_doc(pattern: &str) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: RabbitPolicy\nmetadata: {{name: p, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: rabbitmq}}\n  pattern: {}\n  definition: {{max-length: 10}}\n",
        serde_json::to_string(pattern).unwrap()
    )
}

/// Policy patterns are checked as Erlang's `re` compiles them (RabbitMQ's import of the whole
/// file fails at boot on one it refuses); what `re` takes, literal braces included, passes.
#[test]
fn policy_patterns_erlang_re_refuses_are_refused() {
    for (pattern, reason) in [
        ("a{70000}", "number too big in {} quantifier"),
        ("(a)\\2", "reference to non-existent subpattern"),
        ("[[:foo:]]", "unknown POSIX class name"),
        ("(?<=a+)b", "lookbehind assertion is not fixed length"),
        ("\\p{Xx}", "unknown property name"),
        ("^*", "nothing to repeat"),
        ("\\U", "PCRE does not support"),
        ("(?<n>a)(?<n>b)", "two named subpatterns have the same name"),
    ] {
        let scene = Scene::new(&[&policy_doc(pattern)]);
        scene.refused(&[
            "RabbitPolicy openstack/p: spec.pattern: ",
            "does not compile in Erlang's re",
            reason,
        ]);
    }
    let scene = Scene::new(&[&policy_doc("^q\\.x{a}|\\Qa.b\\E|(?i)ab{")]);
    scene.render_ok();
}
