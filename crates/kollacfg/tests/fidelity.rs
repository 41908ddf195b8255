//! Fidelity: the files `kollacfg render` writes for the example scenarios, read by the real
//! programs that read them in production, not by our own parsers.
//!
//! - Every scenario with a `rabbitmq` target boots a private RabbitMQ 3.10 node (Debian's
//!   `rabbitmq-server`) from the rendered `definitions.json`, `rabbitmq-env.conf` and
//!   `rabbitmq.conf` (see `fidelity/rabbit.rs` for the few lines the harness appends and why),
//!   then asks the node what it loaded: policies, users, Erlang flags, listener options.
//! - Every scenario with a `nova-compute` target loads the rendered `nova.conf` with Nova's own
//!   option loader (Debian's `python3-nova`, `fidelity/nova_check.py`) and runs
//!   `oslo-config-validator` over it with nova's option namespaces.
//!
//! The tests that need those packages are ignored by a plain `cargo test`;
//! `cargo test -- --include-ignored` (what `tests/run` does, after installing them) runs them.

#[path = "fidelity/nova.rs"]
mod nova;
#[path = "fidelity/rabbit.rs"]
mod rabbit;
#[path = "fidelity/support.rs"]
mod support;

use std::fs;
use std::path::Path;

use serde_json::json;

use nova::{read_nova_conf, validate_nova_conf, NovaReading};
use rabbit::{emulator_flag_values, has_sequence, Policy, RabbitNode, KOLLA_INETRC};
use support::{render, render_yaml, scenarios, TempDir};

/// The example scenarios and the targets each renders; every one is covered by a fidelity test
/// below (RabbitMQ boot for `rabbitmq`, Nova's loader and validator for `nova-compute`).
const COVERED: &[(&str, &[&str])] = &[
    ("large-scale", &["nova-compute", "rabbitmq"]),
    ("rabbitmq-cpu", &["rabbitmq"]),
    ("vif-plugging", &["nova-compute"]),
];

/// The files kollacfg writes for each kind of target.
fn files_of(service: &str) -> &'static [&'static str] {
    match service {
        "rabbitmq" => &["definitions.json", "rabbitmq-env.conf", "rabbitmq.conf"],
        _ => &["nova.conf"],
    }
}

/// The passwords behind the sha256 hashes of `examples/base/rabbitmq/definitions.json`; the
/// `openstack` one is also in the base `nova.conf`'s `transport_url`.
const OPENSTACK_PASSWORD: &str = "u7WqTn3eKc9LpZr2";
const MONITORING_PASSWORD: &str = "Mh4vXs8RbQ1yNd6F";
/// The base `nova.conf`'s `transport_url`: the three controllers' RabbitMQ, vhost `/`.
const TRANSPORT_URL: &str = "rabbit://openstack:u7WqTn3eKc9LpZr2@10.0.0.11:5672,\
openstack:u7WqTn3eKc9LpZr2@10.0.0.12:5672,openstack:u7WqTn3eKc9LpZr2@10.0.0.13:5672//";

// ---------------------------------------------------------------------------------------------
// Without the real programs: the examples render, and every rendered target is covered here.

#[test]
fn every_scenario_is_covered_by_a_fidelity_test() {
    let covered: Vec<&str> = COVERED.iter().map(|(scenario, _)| *scenario).collect();
    assert_eq!(
        scenarios(),
        covered,
        "examples/ scenarios and the fidelity tests' COVERED table differ: add the new \
         scenario to COVERED and give its targets a fidelity test"
    );
}

#[test]
fn examples_render_the_covered_targets() {
    for (scenario, services) in COVERED {
        let out = render(scenario);
        let mut rendered: Vec<String> = fs::read_dir(out.path())
            .expect("read render output")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        rendered.sort();
        assert_eq!(
            &rendered, services,
            "targets rendered for examples/{scenario}"
        );
        for service in *services {
            for file in files_of(service) {
                let path = out.path().join(service).join(file);
                assert!(
                    path.is_file(),
                    "{scenario}: {} not rendered",
                    path.display()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ 3.10: what the node loads from the rendered files.

/// The base's users survive with their password hashes: the broker authenticates both with the
/// passwords the hashes were made from, and refuses a wrong one.
fn assert_base_users(node: &RabbitNode) {
    assert_eq!(
        node.users(),
        vec![
            ("monitoring".to_string(), vec!["monitoring".to_string()]),
            ("openstack".to_string(), vec!["administrator".to_string()]),
        ]
    );
    assert!(node.authenticates("openstack", OPENSTACK_PASSWORD));
    assert!(node.authenticates("monitoring", MONITORING_PASSWORD));
    assert!(!node.authenticates("openstack", "not-the-password"));
}

/// kolla's own flag survives in the rendered `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS`, reaches the
/// VM's command line and the kernel application's environment.
fn assert_kolla_inetrc(node: &RabbitNode, beam: &[String]) {
    let quoted = format!("'{KOLLA_INETRC}'");
    assert!(
        has_sequence(beam, &["-kernel", "inetrc", &quoted]),
        "kolla's -kernel inetrc flag missing from beam.smp's command line: {beam:?}"
    );
    assert_eq!(
        node.eval("application:get_env(kernel, inetrc)."),
        format!("{{ok,'{KOLLA_INETRC}'}}")
    );
}

/// The node loaded exactly the policies the rendered `definitions.json` declares.
fn assert_policies_as_rendered(node: &RabbitNode, rendered: &Path) {
    let path = rendered.join("definitions.json");
    let text = fs::read_to_string(&path).expect("read rendered definitions.json");
    let document: serde_json::Value = serde_json::from_str(&text).expect("definitions.json");
    let mut declared: Vec<Policy> = document["policies"]
        .as_array()
        .expect("policies[]")
        .iter()
        .map(|p| {
            let text = |key: &str| p[key].as_str().expect(key).to_string();
            Policy {
                vhost: text("vhost"),
                name: text("name"),
                pattern: text("pattern"),
                apply_to: p["apply-to"].as_str().unwrap_or("all").to_string(),
                definition: p["definition"].clone(),
                priority: p["priority"].as_i64().unwrap_or(0),
            }
        })
        .collect();
    declared.sort_by(|a, b| a.name.cmp(&b.name));
    let mut loaded = node.policies();
    loaded.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        loaded,
        declared,
        "policies loaded vs declared in {}",
        path.display()
    );
}

/// The node listens where the harness put it: proof that the appended lines, not the rendered
/// production address, decide the listener (and that the rest of the file was accepted).
fn assert_private_listener(node: &RabbitNode) {
    assert_eq!(
        node.eval("application:get_env(rabbit, tcp_listeners)."),
        format!("{{ok,[{{\"127.0.0.1\",{}}}]}}", node.amqp_port())
    );
}

#[test]
#[ignore = "needs rabbitmq-server and python3-nova (tests/run installs them)"]
fn rabbitmq_cpu_loads_in_rabbitmq() {
    let out = render("rabbitmq-cpu");
    let rendered = out.path().join("rabbitmq");
    let node = RabbitNode::boot(&rendered);
    assert_private_listener(&node);
    assert_policies_as_rendered(&node, &rendered);

    // The policy (vhost /, ha-all) replaced as a whole: mirrored to exactly two nodes.
    assert_eq!(
        node.policies(),
        vec![Policy {
            vhost: "/".into(),
            name: "ha-all".into(),
            pattern: ".*".into(),
            apply_to: "all".into(),
            definition: json!({"ha-mode": "exactly", "ha-params": 2}),
            priority: 0,
        }]
    );
    assert_base_users(&node);

    // +sbwt none +sub true, rendered into RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS, are the flags in
    // effect (the emulator applies the last of a repeated flag; the harness resets the start
    // script's own default to medium, so `none` can only come from the rendered file).
    let beam = node.beam_args();
    assert_eq!(
        emulator_flag_values(&beam, "-sbwt").last(),
        Some(&"none"),
        "{beam:?}"
    );
    assert_eq!(
        emulator_flag_values(&beam, "-sub"),
        vec!["true"],
        "{beam:?}"
    );
    assert_kolla_inetrc(&node, &beam);

    // No listener fragment in this scenario: RabbitMQ's defaults.
    let listen_options = node.eval("application:get_env(rabbit, tcp_listen_options).");
    assert!(!listen_options.contains("keepalive"), "{listen_options}");
    assert_eq!(
        node.eval("application:get_env(rabbit, heartbeat)."),
        "{ok,60}"
    );
}

#[test]
#[ignore = "needs rabbitmq-server and python3-nova (tests/run installs them)"]
fn large_scale_rabbitmq_loads_in_rabbitmq() {
    let out = render("large-scale");
    let rendered = out.path().join("rabbitmq");
    let node = RabbitNode::boot(&rendered);
    assert_private_listener(&node);
    assert_policies_as_rendered(&node, &rendered);

    // TCP keepalive on the AMQP listener, and the 30 s heartbeat the broker proposes.
    let listen_options = node.eval("application:get_env(rabbit, tcp_listen_options).");
    assert!(
        listen_options.contains("{keepalive,true}"),
        "{listen_options}"
    );
    assert_eq!(
        node.eval("application:get_env(rabbit, heartbeat)."),
        "{ok,30}"
    );

    // Nothing else changed: the base's policy and users as they were.
    assert_eq!(
        node.policies(),
        vec![Policy {
            vhost: "/".into(),
            name: "ha-all".into(),
            pattern: ".*".into(),
            apply_to: "all".into(),
            definition: json!({"ha-mode": "all"}),
            priority: 0,
        }]
    );
    assert_base_users(&node);

    // No ErlangVmArgs here: the start script's default (reset to medium by the harness) is in
    // effect, no +sub, and kolla's inetrc flag passed through.
    let beam = node.beam_args();
    assert_eq!(
        emulator_flag_values(&beam, "-sbwt").last(),
        Some(&"medium"),
        "{beam:?}"
    );
    assert!(emulator_flag_values(&beam, "-sub").is_empty(), "{beam:?}");
    assert_kolla_inetrc(&node, &beam);
}

// ---------------------------------------------------------------------------------------------
// nova-compute: Nova's own loader and oslo-config-validator.

/// The options of the base `nova.conf` the tests read back, with the ones each scenario sets.
const BASE_OPTIONS: &[&str] = &[
    "DEFAULT.debug",
    "DEFAULT.log_dir",
    "DEFAULT.state_path",
    "DEFAULT.my_ip",
    "DEFAULT.transport_url",
    "oslo_messaging_rabbit.amqp_durable_queues",
    "oslo_messaging_notifications.driver",
    "libvirt.virt_type",
];

/// The base's own settings survive the render.
fn assert_base_nova_values(reading: &NovaReading) {
    reading.assert_from_file("DEFAULT.debug", json!(false));
    reading.assert_from_file("DEFAULT.log_dir", json!("/var/log/kolla/nova"));
    reading.assert_from_file("DEFAULT.state_path", json!("/var/lib/nova"));
    reading.assert_from_file("DEFAULT.my_ip", json!("10.0.0.21"));
    reading.assert_from_file("DEFAULT.transport_url", json!(TRANSPORT_URL));
    reading.assert_from_file("oslo_messaging_rabbit.amqp_durable_queues", json!(false));
    reading.assert_from_file("oslo_messaging_notifications.driver", json!(["noop"]));
    reading.assert_from_file("libvirt.virt_type", json!("kvm"));
}

/// Reads `BASE_OPTIONS` plus `extra` from a rendered nova.conf, panicking on a loader error.
fn read_rendered_nova(conf: &Path, extra: &[&str]) -> NovaReading {
    let options: Vec<&str> = BASE_OPTIONS.iter().chain(extra).copied().collect();
    read_nova_conf(conf, &options)
        .unwrap_or_else(|e| panic!("Nova's loader refused {}: {e:?}", conf.display()))
}

fn assert_validates(conf: &Path) {
    let (passed, printed) = validate_nova_conf(conf);
    assert!(
        passed && !printed.contains("not part of the sample config"),
        "oslo-config-validator on {}:\n{printed}",
        conf.display()
    );
}

#[test]
#[ignore = "needs rabbitmq-server and python3-nova (tests/run installs them)"]
fn large_scale_nova_conf_loads_in_nova() {
    let out = render("large-scale");
    let conf = out.path().join("nova-compute/nova.conf");
    let reading = read_rendered_nova(
        &conf,
        &[
            "DEFAULT.ram_allocation_ratio",
            "DEFAULT.cpu_allocation_ratio",
            "DEFAULT.max_concurrent_builds",
            "oslo_messaging_rabbit.heartbeat_timeout_threshold",
            "oslo_messaging_rabbit.heartbeat_rate",
            "DEFAULT.vif_plugging_is_fatal",
        ],
    );
    reading.assert_from_file("DEFAULT.ram_allocation_ratio", json!(1.2));
    reading.assert_from_file("DEFAULT.cpu_allocation_ratio", json!(2.0));
    reading.assert_from_file("DEFAULT.max_concurrent_builds", json!(4));
    reading.assert_from_file(
        "oslo_messaging_rabbit.heartbeat_timeout_threshold",
        json!(30),
    );
    reading.assert_from_file("oslo_messaging_rabbit.heartbeat_rate", json!(3));
    assert_base_nova_values(&reading);
    // The base's commented-out line stays a comment here.
    reading.assert_default("DEFAULT.vif_plugging_is_fatal");
    assert_validates(&conf);
}

#[test]
#[ignore = "needs rabbitmq-server and python3-nova (tests/run installs them)"]
fn vif_plugging_nova_conf_loads_in_nova() {
    let out = render("vif-plugging");
    let conf = out.path().join("nova-compute/nova.conf");
    let reading = read_rendered_nova(
        &conf,
        &[
            "DEFAULT.vif_plugging_is_fatal",
            "DEFAULT.vif_plugging_timeout",
            "DEFAULT.ram_allocation_ratio",
        ],
    );
    reading.assert_from_file("DEFAULT.vif_plugging_is_fatal", json!(false));
    // 300 is also Nova's default: the source check proves the rendered file sets it.
    reading.assert_from_file("DEFAULT.vif_plugging_timeout", json!(300));
    assert_base_nova_values(&reading);
    reading.assert_default("DEFAULT.ram_allocation_ratio");
    assert_validates(&conf);
}

#[test]
#[ignore = "needs rabbitmq-server and python3-nova (tests/run installs them)"]
fn base_nova_conf_is_what_nova_expects() {
    let conf = support::examples_dir().join("base/nova-compute/nova.conf");
    let reading = read_rendered_nova(&conf, &["DEFAULT.vif_plugging_is_fatal"]);
    assert_base_nova_values(&reading);
    reading.assert_default("DEFAULT.vif_plugging_is_fatal");
    assert_validates(&conf);
}

#[test]
#[ignore = "needs rabbitmq-server and python3-nova (tests/run installs them)"]
fn nova_checks_refuse_bad_files() {
    let dir = TempDir::new("nova-bad");

    // A value out of range: Nova's loader refuses it, as nova-compute would at start.
    let negative = dir.path().join("negative-timeout.conf");
    fs::write(&negative, "[DEFAULT]\nvif_plugging_timeout = -5\n").expect("write");
    let error = read_nova_conf(&negative, &["DEFAULT.vif_plugging_timeout"])
        .expect_err("vif_plugging_timeout = -5 must be refused");
    assert_eq!(error.kind, "ConfigFileValueError", "{error:?}");
    assert_eq!(
        error.option.as_deref(),
        Some("DEFAULT.vif_plugging_timeout")
    );
    assert!(
        error
            .message
            .contains("Should be greater than or equal to 0"),
        "{error:?}"
    );

    // A wrong type.
    let not_a_bool = dir.path().join("not-a-bool.conf");
    fs::write(
        &not_a_bool,
        "[DEFAULT]\nvif_plugging_is_fatal = sometimes\n",
    )
    .expect("write");
    let error = read_nova_conf(&not_a_bool, &["DEFAULT.vif_plugging_is_fatal"])
        .expect_err("a non-boolean must be refused");
    assert_eq!(error.kind, "ConfigFileValueError", "{error:?}");

    // A misspelt option: the loader ignores it, the validator names it.
    let typo = dir.path().join("typo.conf");
    fs::write(&typo, "[DEFAULT]\nvif_pluging_timeout = 300\n").expect("write");
    let (passed, printed) = validate_nova_conf(&typo);
    assert!(
        !passed,
        "the validator must fail on an unknown option:\n{printed}"
    );
    assert!(
        printed.contains("DEFAULT/vif_pluging_timeout is not part of the sample config"),
        "{printed}"
    );
}

/// A `$` in a ConfigOverride value reads back from Nova's loader as the very value given:
/// kollacfg writes `$$`, which oslo.config reads as one `$` (a lone `$name` would be an
/// interpolation of another option).
#[test]
#[ignore = "needs rabbitmq-server and python3-nova (tests/run installs them)"]
fn a_dollar_in_an_ini_value_reads_back_in_nova() {
    let dir = TempDir::new("dollar");
    let input = dir.path().join("input.yaml");
    let meant = "mysql+pymysql://nova:pa$word${x}@db/nova";
    fs::write(
        &input,
        format!(
            "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {{name: nova-compute}}\nspec: {{service: nova-compute}}\n---\napiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\nmetadata: {{name: db}}\nspec:\n  kollaConfigRef: {{name: nova-compute}}\n  file: nova.conf\n  ini: {{database: {{connection: '{meant}'}}}}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_kollacfg"))
        .arg("render")
        .arg("-f")
        .arg(&input)
        .arg("--base")
        .arg(support::examples_dir().join("base"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let conf = out.join("nova-compute/nova.conf");
    let reading = read_rendered_nova(&conf, &["database.connection"]);
    reading.assert_from_file("database.connection", json!(meant));
}

/// Values of the `rabbitmq.conf` keys below: between them every printable ASCII character the
/// validator accepts (all but `#`, `'` and `"`), inner spaces and Latin-1 letters.
const CONF_VALUES: &[(&str, &str)] = &[
    (
        "cluster_name",
        "Kolla cloud: a-b_c.d/e\\f!$%&()*+,;<=>?@[]^`{|}~",
    ),
    ("default_vhost", "vh\u{f4}st \u{ff}-\u{df}\u{a1}\u{e9}"),
    ("default_permissions.configure", "^(\u{e9}|\u{fc})\\.x$"),
    ("default_permissions.read", ".*"),
    ("default_permissions.write", "a b"),
];

/// The bytes RabbitMQ holds for the application environment term `expr` (a string or binary).
fn env_bytes(node: &RabbitNode, expr: &str) -> Vec<u8> {
    let out = node.eval(&format!(
        "lists:flatten(io_lib:format(\"~w\", [binary_to_list(iolist_to_binary({expr}))]))."
    ));
    out.trim_matches(|c| c == '"' || c == '[' || c == ']')
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|n| n.parse().unwrap_or_else(|_| panic!("{out}")))
        .collect()
}

/// What `rabbitmq.conf` validation accepts boots RabbitMQ 3.10 and reads back as written: one
/// boot for the whole batch of keys and values (cuttlefish refuses the file on the first bad
/// one, so a single boot proves them all). Values are read back as RabbitMQ holds them, in
/// Latin-1; a key with `-` and `_` in a wildcard word names the cluster node it sets.
#[test]
#[ignore = "needs rabbitmq-server and python3-nova (tests/run installs them)"]
fn accepted_rabbitmq_conf_values_boot_in_rabbitmq() {
    let node_key = "cluster_formation.classic_config.nodes.Az-09_x";
    let mut conf = format!("      {node_key}: rabbit@localhost\n");
    for (key, value) in CONF_VALUES {
        kollacfg_render::validate::conf_key(key).expect("key accepted");
        kollacfg_render::validate::conf_value(value).expect("value accepted");
        let quoted = serde_json::to_string(value).unwrap();
        conf.push_str(&format!("      {key}: {quoted}\n"));
    }
    let yaml = format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {{name: rabbitmq, namespace: openstack}}\nspec: {{service: rabbitmq}}\n---\n\
         apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\nmetadata: {{name: conf, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: rabbitmq}}\n  file: rabbitmq.conf\n  conf:\n{conf}"
    );
    let out = render_yaml("conf-values", &yaml);
    let rendered = out.path().join("rabbitmq");
    let node = RabbitNode::boot(&rendered);
    let latin1 = |v: &str| {
        v.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap())
            .collect::<Vec<u8>>()
    };
    let get = |key: &str| format!("element(2, application:get_env(rabbit, {key}))");
    assert_eq!(
        env_bytes(&node, &get("cluster_name")),
        latin1(CONF_VALUES[0].1)
    );
    assert_eq!(
        env_bytes(&node, &get("default_vhost")),
        latin1(CONF_VALUES[1].1)
    );
    for (n, (_, value)) in CONF_VALUES[2..].iter().enumerate() {
        let term = format!("lists:nth({}, {})", n + 1, get("default_permissions"));
        assert_eq!(env_bytes(&node, &term), latin1(value), "{value}");
    }
    let nodes = node.eval("element(1, element(2, application:get_env(rabbit, cluster_nodes))).");
    assert!(nodes.contains("rabbit@localhost"), "{nodes}");
}
