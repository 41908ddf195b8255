//! Classes 5 and 6: identity as the reader sees it, and no value that the reader would take for
//! something else. `$` is escaped for oslo.config; section names oslo.config would fold and keys
//! with control characters are refused; `ConfigOverride.env` takes only the variables RabbitMQ
//! documents for `rabbitmq-env.conf`, never those that change how the start script runs.

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

/// `+P2048` is `+P 2048` to Erlang: refused, naming the reading, so it cannot slip past the
/// typed `maxProcesses` and its range under another item name.
#[test]
fn a_flag_with_its_value_glued_on_is_refused() {
    let doc = "apiVersion: kollacfg.dev/v1alpha1\nkind: ErlangVmArgs\nmetadata: {name: e, namespace: openstack}\nspec:\n  kollaConfigRef: {name: rabbitmq}\n  extraArgs: ['+P2048']\n";
    let scene = Scene::new(&[doc]);
    scene.refused(&[
        "ErlangVmArgs openstack/e: spec.extraArgs[0]: ",
        "Erlang reads this as \"+P 2048\"",
    ]);
}
