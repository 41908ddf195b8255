//! One test per validation rule and per malformed base file: `kollacfg render` must exit 1,
//! print a message naming the input file, the resource, the field and the reason, and write
//! nothing at all.

mod support;

use std::path::Path;

use support::*;

const TARGETS: &str = "\
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: rabbitmq, namespace: openstack}
spec: {service: rabbitmq}
---
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: nova-compute, namespace: openstack}
spec: {service: nova-compute}
";

/// Renders TARGETS plus `fragment` (a YAML document) over `base` and asserts the failure.
fn refused_with_base(fragment: &str, base: Option<&Path>, expected: &[&str]) {
    refused_in(TARGETS, fragment, base, expected);
}

/// Renders `targets` plus `fragment` over `base` and asserts the failure.
fn refused_in(targets: &str, fragment: &str, base: Option<&Path>, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.yaml");
    std::fs::write(&input, format!("{targets}---\n{fragment}")).unwrap();
    let out = dir.path().join("out");
    let mut args: Vec<std::ffi::OsString> =
        vec!["render".into(), "-f".into(), input.clone().into()];
    if let Some(base) = base {
        args.extend(["--base".into(), base.into()]);
    }
    args.extend(["--out".into(), out.clone().into()]);
    let result = kollacfg(&args);
    let err = stderr(&result);
    assert_eq!(
        result.status.code(),
        Some(1),
        "expected failure, got:\n{err}"
    );
    assert!(
        err.contains(&format!("{}: ", input.display())),
        "message does not name the input file:\n{err}"
    );
    for needle in expected {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!out.exists(), "something was written to {}", out.display());
}

fn refused(fragment: &str, expected: &[&str]) {
    refused_with_base(fragment, None, expected);
}

fn policy(spec: &str) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: RabbitPolicy\nmetadata: {{name: p, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: rabbitmq}}\n{spec}"
    )
}

fn erlang(spec: &str) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: ErlangVmArgs\nmetadata: {{name: e, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: rabbitmq}}\n{spec}"
    )
}

fn fragment(kind: &str, target: &str, spec: &str) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: x, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: {target}}}\n{spec}"
    )
}

// --- RabbitPolicy ---

#[test]
fn policy_pattern_must_compile() {
    refused(
        &policy("  pattern: \"(unclosed\"\n  definition: {message-ttl: 1000}\n"),
        &["RabbitPolicy openstack/p: spec.pattern: pattern \"(unclosed\" does not compile"],
    );
}

#[test]
fn policy_pattern_lookahead_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ok.yaml");
    let doc = policy("  pattern: '^(?!amq\\.).*'\n  definition: {message-ttl: 1000}\n");
    std::fs::write(&input, format!("{TARGETS}---\n{doc}")).unwrap();
    let out = dir.path().join("out");
    render_ok(&[&input], &example("base"), &out);
    let json = std::fs::read_to_string(out.join("rabbitmq/definitions.json")).unwrap();
    assert!(json.contains(r#""pattern":"^(?!amq\\.).*""#), "{json}");
}

#[test]
fn policy_ha_params_required_for_exactly() {
    refused(
        &policy("  pattern: '.*'\n  definition: {ha-mode: exactly}\n"),
        &[
            "RabbitPolicy openstack/p",
            "spec.definition",
            "ha-params is required",
        ],
    );
}

#[test]
fn policy_ha_params_must_be_positive_for_exactly() {
    refused(
        &policy("  pattern: '.*'\n  definition: {ha-mode: exactly, ha-params: 0}\n"),
        &["RabbitPolicy openstack/p: spec.definition.ha-params: 0 must be an integer >= 1"],
    );
}

#[test]
fn policy_ha_params_must_list_nodes_for_nodes() {
    refused(
        &policy("  pattern: '.*'\n  definition: {ha-mode: nodes, ha-params: 2}\n"),
        &["RabbitPolicy openstack/p: spec.definition.ha-params: 2 must be a non-empty list of node names"],
    );
}

#[test]
fn policy_ha_keys_refused_on_rabbitmq_4() {
    let rabbitmq4 = TARGETS.replace(
        "spec: {service: rabbitmq}",
        "spec: {service: rabbitmq, rabbitmq: {version: \"4.0\"}}",
    );
    refused_in(
        &rabbitmq4,
        &policy("  pattern: '.*'\n  definition: {ha-mode: exactly, ha-params: 2}\n"),
        None,
        &["RabbitPolicy openstack/p: spec.definition.ha-mode: classic queue mirroring (ha-*) was removed in RabbitMQ 4.0"],
    );
}

#[test]
fn policy_ha_keys_refused_on_quorum_queues() {
    refused(
        &policy("  pattern: '.*'\n  applyTo: quorum_queues\n  definition: {ha-mode: all}\n"),
        &["RabbitPolicy openstack/p: spec.definition.ha-mode: \"ha-mode\" does not apply to applyTo: quorum_queues"],
    );
}

#[test]
fn policy_ha_keys_refused_on_streams() {
    refused(
        &policy("  pattern: '.*'\n  applyTo: streams\n  definition: {ha-mode: all}\n"),
        &["spec.definition.ha-mode: \"ha-mode\" does not apply to applyTo: streams"],
    );
}

#[test]
fn policy_message_ttl_must_be_non_negative() {
    refused(
        &policy("  pattern: '.*'\n  definition: {message-ttl: -1}\n"),
        &["RabbitPolicy openstack/p: spec.definition.message-ttl: -1 must be a non-negative integer"],
    );
}

#[test]
fn policy_expires_must_be_an_integer() {
    refused(
        &policy("  pattern: '.*'\n  definition: {expires: soon}\n"),
        &["spec.definition.expires: \"soon\" must be a non-negative integer"],
    );
}

#[test]
fn policy_max_length_must_be_non_negative() {
    refused(
        &policy("  pattern: '.*'\n  definition: {max-length: -5}\n"),
        &["spec.definition.max-length: -5 must be a non-negative integer"],
    );
}

#[test]
fn policy_overflow_values() {
    refused(
        &policy("  pattern: '.*'\n  definition: {overflow: drop-tail}\n"),
        &["spec.definition.overflow: \"drop-tail\" is not one of drop-head, reject-publish, reject-publish-dlx"],
    );
}

#[test]
fn policy_unknown_key_refused() {
    refused(
        &policy("  pattern: '.*'\n  definition: {ha-mdoe: all}\n"),
        &["spec.definition.ha-mdoe: unknown policy key \"ha-mdoe\""],
    );
}

#[test]
fn policy_vhost_newline_refused() {
    refused(
        &policy("  vhost: \"a\\nb\"\n  pattern: '.*'\n  definition: {message-ttl: 1}\n"),
        &["RabbitPolicy openstack/p: spec.vhost: value contains a newline"],
    );
}

// --- ErlangVmArgs ---

#[test]
fn erlang_async_threads_range() {
    refused(
        &erlang("  asyncThreads: 2000\n"),
        &["ErlangVmArgs openstack/e", "spec.asyncThreads"],
    );
}

#[test]
fn erlang_max_processes_range() {
    refused(
        &erlang("  maxProcesses: 100\n"),
        &["ErlangVmArgs openstack/e", "spec.maxProcesses"],
    );
}

#[test]
fn erlang_schedulers_form() {
    refused(
        &erlang("  schedulers: \"4\"\n"),
        &["ErlangVmArgs openstack/e", "spec.schedulers"],
    );
}

#[test]
fn erlang_schedulers_online_not_above_total() {
    refused(
        &erlang("  schedulers: \"2:4\"\n"),
        &["ErlangVmArgs openstack/e: spec.schedulers: \"2:4\": schedulers must be 1..=1024 and online schedulers 1..=schedulers"],
    );
}

#[test]
fn erlang_busy_wait_enum() {
    refused(
        &erlang("  schedulerBusyWait: sometimes\n"),
        &[
            "ErlangVmArgs openstack/e",
            "spec.schedulerBusyWait",
            "sometimes",
        ],
    );
}

#[test]
fn erlang_extra_args_shell_metacharacters() {
    refused(
        &erlang("  extraArgs: [\"+K true;reboot\"]\n"),
        &["ErlangVmArgs openstack/e", "spec.extraArgs", "';'"],
    );
}

#[test]
fn erlang_extra_args_typed_flag() {
    refused(
        &erlang("  extraArgs: [\"+sbwt none\"]\n"),
        &[
            "ErlangVmArgs openstack/e",
            "spec.extraArgs",
            "schedulerBusyWait",
        ],
    );
}

#[test]
fn erlang_extra_args_must_be_emulator_flags() {
    refused(
        &erlang("  extraArgs: [\"-pa /opt/x\"]\n"),
        &["ErlangVmArgs openstack/e", "spec.extraArgs"],
    );
}

// --- Nova, listener, oslo ---

#[test]
fn nova_vif_timeout_non_negative() {
    refused(
        &fragment(
            "NovaVifPolicy",
            "nova-compute",
            "  vifPluggingTimeout: -5\n",
        ),
        &["NovaVifPolicy openstack/x", "spec.vifPluggingTimeout"],
    );
}

#[test]
fn nova_ratio_non_negative() {
    refused(
        &fragment(
            "NovaComputePolicy",
            "nova-compute",
            "  cpuAllocationRatio: -1.5\n",
        ),
        &["NovaComputePolicy openstack/x", "spec.cpuAllocationRatio"],
    );
}

#[test]
fn nova_kind_on_rabbitmq_target_refused() {
    refused(
        &fragment("NovaVifPolicy", "rabbitmq", "  vifPluggingIsFatal: false\n"),
        &["NovaVifPolicy openstack/x: spec.kollaConfigRef.name: NovaVifPolicy writes nova.conf, which KollaConfig openstack/rabbitmq (service rabbitmq) does not have"],
    );
}

#[test]
fn rabbit_kind_on_nova_target_refused() {
    refused(
        &fragment("RabbitListenerPolicy", "nova-compute", "  tcpKeepalive: true\n"),
        &["RabbitListenerPolicy openstack/x: spec.kollaConfigRef.name: RabbitListenerPolicy writes rabbitmq.conf, which KollaConfig openstack/nova-compute (service nova-compute) does not have"],
    );
}

#[test]
fn oslo_heartbeat_rate_positive() {
    refused(
        &fragment(
            "OsloMessagingPolicy",
            "nova-compute",
            "  heartbeatRate: 0\n",
        ),
        &["OsloMessagingPolicy openstack/x", "spec.heartbeatRate"],
    );
}

#[test]
fn unknown_target_refused() {
    refused(
        &fragment("NovaVifPolicy", "nova-api", "  vifPluggingIsFatal: false\n"),
        &["NovaVifPolicy openstack/x: spec.kollaConfigRef.name: no KollaConfig named \"nova-api\" in namespace \"openstack\""],
    );
}

#[test]
fn unknown_field_refused() {
    refused(
        &fragment("NovaVifPolicy", "nova-compute", "  vifPlugingTimeout: 5\n"),
        &["NovaVifPolicy openstack/x", "vifPlugingTimeout"],
    );
}

// --- ConfigOverride: injection and the escape hatch's limits ---

#[test]
fn override_ini_newline_injection() {
    refused(
        &fragment(
            "ConfigOverride",
            "nova-compute",
            "  file: nova.conf\n  ini: {DEFAULT: {debug: \"true\\n[evil]\\nx = 1\"}}\n",
        ),
        &["ConfigOverride openstack/x: spec.ini.DEFAULT.debug: value contains a newline"],
    );
}

#[test]
fn override_nul_refused() {
    refused(
        &fragment(
            "ConfigOverride",
            "nova-compute",
            "  file: nova.conf\n  ini: {DEFAULT: {debug: \"tr\\0ue\"}}\n",
        ),
        &["ConfigOverride openstack/x: spec.ini.DEFAULT.debug: value contains a NUL byte"],
    );
}

#[test]
fn override_env_shell_metacharacters() {
    refused(
        &fragment(
            "ConfigOverride",
            "rabbitmq",
            "  file: rabbitmq-env.conf\n  env: {RABBITMQ_NODENAME: \"rabbit@$(reboot)\"}\n",
        ),
        &["ConfigOverride openstack/x: spec.env.RABBITMQ_NODENAME: value contains '$', a shell metacharacter"],
    );
}

#[test]
fn override_env_cannot_set_erl_args_whole() {
    refused(
        &fragment(
            "ConfigOverride",
            "rabbitmq",
            "  file: rabbitmq-env.conf\n  env: {RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: \"+sbwt none\"}\n",
        ),
        &["ConfigOverride openstack/x", "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"],
    );
}

#[test]
fn override_definitions_refused() {
    refused(
        &fragment(
            "ConfigOverride",
            "rabbitmq",
            "  file: definitions.json\n  conf: {a: b}\n",
        ),
        &["ConfigOverride openstack/x", "definitions.json"],
    );
}

#[test]
fn override_path_traversal_refused() {
    refused(
        &fragment(
            "ConfigOverride",
            "nova-compute",
            "  file: ../../etc/passwd.conf\n  ini: {DEFAULT: {a: b}}\n",
        ),
        &["ConfigOverride openstack/x", "spec.file"],
    );
}

#[test]
fn invalid_rabbitmq_version_refused() {
    let doc = "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: bad, namespace: openstack}\nspec: {service: other, rabbitmq: {version: four}}\n";
    refused(
        doc,
        &["KollaConfig openstack/bad", "spec.rabbitmq.version", "four"],
    );
}

#[test]
fn strict_conflict_fails_and_writes_nothing() {
    let a = fragment(
        "NovaVifPolicy",
        "nova-compute",
        "  vifPluggingTimeout: 10\n",
    );
    let b = a.replace("name: x,", "name: z,").replace(": 10", ": 20");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.yaml");
    std::fs::write(&input, format!("{TARGETS}---\n{a}---\n{b}")).unwrap();
    let out = dir.path().join("out");
    let run = |strict: bool| {
        let mut args: Vec<std::ffi::OsString> = vec![
            "render".into(),
            "-f".into(),
            input.clone().into(),
            "--out".into(),
            out.clone().into(),
        ];
        if strict {
            args.push("--strict".into());
        }
        kollacfg(&args)
    };
    let strict = run(true);
    assert_eq!(strict.status.code(), Some(1));
    let err = stderr(&strict);
    assert!(err.contains("error: conflict in nova-compute/nova.conf ([DEFAULT] vif_plugging_timeout): NovaVifPolicy openstack/x"), "{err}");
    assert!(err.contains("and NovaVifPolicy openstack/z"), "{err}");
    assert!(!out.exists());
    let lenient = run(false);
    assert_eq!(lenient.status.code(), Some(0));
    assert!(stderr(&lenient).contains("warning: conflict in nova-compute/nova.conf"));
    let nova = std::fs::read_to_string(out.join("nova-compute/nova.conf")).unwrap();
    assert_eq!(nova, "[DEFAULT]\nvif_plugging_timeout = 10\n");
}

// --- Malformed base files ---

fn with_broken_base(service: &str, file: &str, content: &str, fragment: &str, expected: &[&str]) {
    let base = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(base.path().join(service)).unwrap();
    std::fs::write(base.path().join(service).join(file), content).unwrap();
    refused_with_base(fragment, Some(base.path()), expected);
}

#[test]
fn broken_base_definitions_json() {
    with_broken_base(
        "rabbitmq",
        "definitions.json",
        "{\"users\": [\n  {\"name\": \"openstack\",}\n]}\n",
        &policy("  pattern: '.*'\n  definition: {message-ttl: 1}\n"),
        &["KollaConfig openstack/rabbitmq: base definitions.json: definitions.json does not parse: line 2"],
    );
}

#[test]
fn broken_base_rabbitmq_env_conf() {
    with_broken_base(
        "rabbitmq",
        "rabbitmq-env.conf",
        "RABBITMQ_NODENAME=rabbit@a\nRABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"-kernel inetrc '/x'\n",
        &erlang("  schedulerBusyWait: none\n"),
        &["KollaConfig openstack/rabbitmq: base rabbitmq-env.conf: rabbitmq-env.conf does not parse: line 2"],
    );
}

#[test]
fn base_rabbitmq_env_conf_with_expansion_is_not_edited() {
    with_broken_base(
        "rabbitmq",
        "rabbitmq-env.conf",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"$EXTRA -kernel inetrc '/x'\"\n",
        &erlang("  schedulerBusyWait: none\n"),
        &["KollaConfig openstack/rabbitmq: base rabbitmq-env.conf: rabbitmq-env.conf does not parse: line 1"],
    );
}

#[test]
fn broken_base_rabbitmq_conf() {
    with_broken_base(
        "rabbitmq",
        "rabbitmq.conf",
        "listeners.tcp.1 = 0.0.0.0:5672\nthis is not a setting\n",
        &fragment("RabbitListenerPolicy", "rabbitmq", "  tcpKeepalive: true\n"),
        &["KollaConfig openstack/rabbitmq: base rabbitmq.conf: rabbitmq.conf does not parse: line 2"],
    );
}

#[test]
fn broken_base_nova_conf() {
    with_broken_base(
        "nova-compute",
        "nova.conf",
        "debug = true\n[DEFAULT]\n",
        &fragment(
            "NovaVifPolicy",
            "nova-compute",
            "  vifPluggingIsFatal: false\n",
        ),
        &["KollaConfig openstack/nova-compute: base nova.conf: nova.conf does not parse: line 1"],
    );
}

#[test]
fn override_ini_quoted_value_refused() {
    refused(
        &fragment(
            "ConfigOverride",
            "nova-compute",
            "  file: nova.conf\n  ini: {DEFAULT: {my_ip: \"'10.0.0.1'\"}}\n",
        ),
        &["ConfigOverride openstack/x: spec.ini.DEFAULT.my_ip: value is wrapped in quotes, which oslo.config strips"],
    );
}

#[test]
fn override_conf_hash_refused() {
    refused(
        &fragment(
            "ConfigOverride",
            "rabbitmq",
            "  file: rabbitmq.conf\n  conf: {default_pass: \"abc#def\"}\n",
        ),
        &["ConfigOverride openstack/x: spec.conf.default_pass: value contains '#'"],
    );
}

#[test]
fn override_form_must_fit_the_file() {
    refused(
        &fragment(
            "ConfigOverride",
            "rabbitmq",
            "  file: rabbitmq.conf\n  env: {A: b}\n",
        ),
        &["ConfigOverride openstack/x"],
    );
    refused(
        &fragment(
            "ConfigOverride",
            "nova-compute",
            "  file: rabbitmq.conf\n  conf: {a: b}\n",
        ),
        &["ConfigOverride openstack/x: spec.conf: rabbitmq.conf belongs to the rabbitmq service, not this target"],
    );
    refused(
        &fragment(
            "ConfigOverride",
            "nova-compute",
            "  file: policy.yaml\n  ini: {DEFAULT: {a: b}}\n",
        ),
        &["ConfigOverride openstack/x"],
    );
}
