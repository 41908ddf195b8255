//! The CLI on the shipped seed scenarios: golden output trees, the seeds' expectations, same
//! input → same bytes (document order shuffled, output fed back as base), diff exit codes,
//! all-or-nothing writes.

mod support;

use std::path::Path;

use proptest::prelude::*;
use support::*;

fn golden(scenario: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(scenario)
}

#[test]
fn scenarios_match_golden_trees() {
    for scenario in SCENARIOS {
        let out = tempfile::tempdir().unwrap();
        render_ok(&[&example(scenario)], &example("base"), out.path());
        assert_golden_tree(out.path(), &golden(scenario));
    }
}

#[test]
fn rabbitmq_cpu_seed_fix() {
    let out = tempfile::tempdir().unwrap();
    render_ok(&[&example("rabbitmq-cpu")], &example("base"), out.path());
    let base_json = std::fs::read_to_string(example("base/rabbitmq/definitions.json")).unwrap();
    let json = std::fs::read_to_string(out.path().join("rabbitmq/definitions.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let base: serde_json::Value = serde_json::from_str(&base_json).unwrap();
    let policies = doc["policies"].as_array().unwrap();
    let ha_all: Vec<_> = policies.iter().filter(|p| p["name"] == "ha-all").collect();
    assert_eq!(ha_all.len(), 1);
    assert_eq!(ha_all[0]["pattern"], ".*");
    assert_eq!(ha_all[0]["vhost"], "/");
    assert_eq!(
        ha_all[0]["definition"],
        serde_json::json!({"ha-mode": "exactly", "ha-params": 2})
    );
    for key in ["users", "vhosts", "permissions"] {
        assert_eq!(doc[key], base[key], "{key} changed");
    }
    // Users, hashes and permissions are kept byte for byte, not just as equal JSON.
    let before_policies = |t: &str| t[..t.find("\"policies\"").unwrap()].to_string();
    assert_eq!(before_policies(&json), before_policies(&base_json));
    assert!(base_json.contains("password_hash"));

    let env = std::fs::read_to_string(out.path().join("rabbitmq/rabbitmq-env.conf")).unwrap();
    let line = env
        .lines()
        .find(|l| l.starts_with("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="))
        .unwrap();
    assert_eq!(
        line,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"+sbwt none +sub true -kernel inetrc '/etc/rabbitmq/erl_inetrc'\""
    );
}

#[test]
fn vif_seed_fix_keeps_comments() {
    let out = tempfile::tempdir().unwrap();
    render_ok(&[&example("vif-plugging")], &example("base"), out.path());
    let nova = std::fs::read_to_string(out.path().join("nova-compute/nova.conf")).unwrap();
    let base = std::fs::read_to_string(example("base/nova-compute/nova.conf")).unwrap();
    let default: Vec<&str> = nova
        .lines()
        .skip_while(|l| *l != "[DEFAULT]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .collect();
    assert!(default.contains(&"vif_plugging_is_fatal = false"), "{nova}");
    assert!(default.contains(&"vif_plugging_timeout = 300"), "{nova}");
    // Every base line survives, in order: the output only adds lines.
    let mut out_lines = nova.lines();
    for line in base.lines() {
        assert!(
            out_lines.any(|l| l == line),
            "base line {line:?} lost or reordered"
        );
    }
    assert!(base.lines().any(|l| l.starts_with('#')));
}

#[test]
fn rendering_the_output_again_as_base_changes_nothing() {
    for scenario in SCENARIOS {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        render_ok(&[&example(scenario)], &example("base"), first.path());
        render_ok(&[&example(scenario)], first.path(), second.path());
        assert_eq!(
            read_tree(first.path()),
            read_tree(second.path()),
            "{scenario}"
        );
        let diff = kollacfg([
            "diff".as_ref(),
            "-f".as_ref(),
            example(scenario).as_os_str(),
            "--base".as_ref(),
            first.path().as_os_str(),
        ]);
        assert_eq!(diff.status.code(), Some(0), "{}", stderr(&diff));
        assert!(diff.stdout.is_empty());
    }
}

#[test]
fn diff_shows_changes_and_exits_1() {
    let out = kollacfg([
        "diff".as_ref(),
        "-f".as_ref(),
        example("vif-plugging").as_os_str(),
        "--base".as_ref(),
        example("base").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("--- a/nova-compute/nova.conf\n+++ b/nova-compute/nova.conf\n"));
    assert!(
        text.contains("\n+vif_plugging_is_fatal = false\n"),
        "{text}"
    );
    assert!(text.contains("\n+vif_plugging_timeout = 300\n"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with('-')).count(), 1);
}

#[test]
fn diff_on_error_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: kollacfg.dev/v1alpha1\nkind: Nope\n").unwrap();
    let out = kollacfg(["diff".as_ref(), "-f".as_ref(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_without_base_compares_with_empty_files() {
    let out = kollacfg([
        "diff".as_ref(),
        "-f".as_ref(),
        example("vif-plugging").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("--- /dev/null\n+++ b/nova-compute/nova.conf\n"),
        "{text}"
    );
}

#[test]
fn validate_reports_and_writes_nothing() {
    let out = kollacfg([
        "validate".as_ref(),
        "-f".as_ref(),
        example("large-scale").as_os_str(),
        "--base".as_ref(),
        example("base").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // kolla's bases hold one host's addresses and names, and the targets roll out a DaemonSet
    // and a StatefulSet: warned about (tests/host_values.rs has the details), not refused.
    assert_eq!(
        without_host_values(&stderr(&out), 10),
        "valid: 2 target(s), 3 fragment(s), 4 file(s), 0 conflict(s)\n"
    );
}

/// `stderr` without its `HostSpecificValue` warnings, of which there must be `count`.
fn without_host_values(stderr: &str, count: usize) -> String {
    let (warned, rest): (Vec<&str>, Vec<&str>) = stderr
        .split_inclusive('\n')
        .partition(|l| l.starts_with("warning: ") && l.contains(": HostSpecificValue: "));
    assert_eq!(warned.len(), count, "{stderr}");
    rest.concat()
}

#[test]
fn render_summary_names_counts() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = kollacfg([
        "render".as_ref(),
        "-f".as_ref(),
        example("rabbitmq-cpu").as_os_str(),
        "--base".as_ref(),
        example("base").as_os_str(),
        "--out".as_ref(),
        out_dir.path().as_os_str(),
    ]);
    assert!(out.status.success());
    assert_eq!(
        without_host_values(&stderr(&out), 4),
        "rendered 1 target(s): 3 file(s) written (3 changed), 2 of 2 fragment(s) applied, 0 conflict(s)\n"
    );
}

#[test]
fn crds_prints_every_crd() {
    let out = kollacfg(["crds"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, kollacfg_api::crds_yaml());
    assert_eq!(text.matches("kind: CustomResourceDefinition").count(), 8);
}

#[test]
fn a_write_failure_leaves_nothing_behind() {
    let out = tempfile::tempdir().unwrap();
    // `rabbitmq` is a plain file, so its directory cannot be created; nova-compute (sorted
    // first) is staged before the failure and must be rolled back.
    std::fs::write(out.path().join("rabbitmq"), "in the way").unwrap();
    let result = kollacfg([
        "render".as_ref(),
        "-f".as_ref(),
        example("large-scale").as_os_str(),
        "--base".as_ref(),
        example("base").as_os_str(),
        "--out".as_ref(),
        out.path().as_os_str(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("nothing was written"),
        "{}",
        stderr(&result)
    );
    let left: Vec<String> = read_tree(out.path()).into_keys().collect();
    assert_eq!(left, vec!["rabbitmq".to_string()]);
    assert!(!out.path().join("nova-compute").exists());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// The order of the input documents does not change a single output byte.
    #[test]
    fn shuffled_documents_give_identical_bytes(seed in any::<u64>(), which in 0..SCENARIOS.len()) {
        let scenario = SCENARIOS[which];
        let mut docs = scenario_documents(scenario);
        // Fisher-Yates with a tiny deterministic generator from the seed.
        let mut state = seed | 1;
        for i in (1..docs.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            docs.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("shuffled.yaml");
        std::fs::write(&input, docs.join("---\n")).unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        render_ok(&[&input], &example("base"), &a);
        render_ok(&[&example(scenario)], &example("base"), &b);
        prop_assert_eq!(read_tree(&a), read_tree(&b));
    }
}

#[test]
fn report_names_winners_conflicts_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.yaml");
    let frag = |name: &str, precedence: i32, timeout: i32| {
        format!(
            "apiVersion: kollacfg.dev/v1alpha1\nkind: NovaVifPolicy\nmetadata: {{name: {name}, namespace: ops}}\nspec:\n  kollaConfigRef: {{name: nova}}\n  precedence: {precedence}\n  vifPluggingTimeout: {timeout}\n"
        )
    };
    let docs = [
        "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: nova, namespace: ops}\nspec: {service: nova-compute}\n".to_string(),
        frag("b", 5, 10),
        frag("a", 5, 20),
        frag("low", 0, 30),
    ];
    std::fs::write(&input, docs.join("---\n")).unwrap();
    let out = kollacfg([
        "validate".as_ref(),
        "--report".as_ref(),
        "-f".as_ref(),
        input.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout.clone()).unwrap(),
        "KollaConfig ops/nova (service nova-compute): 1 item(s) from 1 of 3 fragment(s)\n  \
         nova.conf: [DEFAULT] vif_plugging_timeout: NovaVifPolicy/a (spec.vifPluggingTimeout); \
         conflicts with NovaVifPolicy/b; overrides NovaVifPolicy/low\n"
    );
    let err = stderr(&out);
    assert!(err.contains("warning: conflict in nova-compute/nova.conf ([DEFAULT] vif_plugging_timeout): NovaVifPolicy ops/a"), "{err}");
    assert!(
        err.ends_with("valid: 1 target(s), 3 fragment(s), 1 file(s), 1 conflict(s)\n"),
        "{err}"
    );
}

#[test]
fn dash_reads_resources_from_stdin() {
    use std::io::Write;
    let text = std::fs::read_to_string(example("vif-plugging/nova-compute.yaml")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kollacfg"))
        .args(["validate", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // No --base: the deliberate "no base" is said, naming the target.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: KollaConfig openstack/nova-compute: no --base: nova.conf written from the \
         fragments' items alone\nvalid: 1 target(s), 1 fragment(s), 1 file(s), 0 conflict(s)\n"
    );
}

#[test]
fn run_refuses_a_bad_namespace_before_connecting() {
    for bad in ["Openstack", "open_stack", "-x", "a,,b"] {
        let out = kollacfg(["run", &format!("--namespace={bad}")]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is not a namespace name"),
            "{bad}: {stderr}"
        );
    }
}

/// A RabbitPolicy with `absent: true` removes kolla's base `ha-all` from `definitions.json`;
/// every other byte of the base is kept.
#[test]
fn an_absent_policy_removes_the_base_ha_all() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("absent.yaml");
    std::fs::write(
        &input,
        "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
         metadata: {name: rabbitmq, namespace: openstack}\nspec: {service: rabbitmq}\n---\n\
         apiVersion: kollacfg.dev/v1alpha1\nkind: RabbitPolicy\n\
         metadata: {name: no-ha-all, namespace: openstack}\n\
         spec: {kollaConfigRef: {name: rabbitmq}, name: ha-all, absent: true}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    render_ok(&[&input], &example("base"), &out);
    let base = std::fs::read_to_string(example("base/rabbitmq/definitions.json")).unwrap();
    let rendered = std::fs::read_to_string(out.join("rabbitmq/definitions.json")).unwrap();
    let head = &base[..base.find("\"policies\":").unwrap() + "\"policies\":".len()];
    assert_eq!(rendered, format!("{head}[]\n}}\n"));
    // The other two files are the base's, untouched.
    for file in ["rabbitmq.conf", "rabbitmq-env.conf"] {
        assert_eq!(
            std::fs::read(out.join("rabbitmq").join(file)).unwrap(),
            std::fs::read(example("base/rabbitmq").join(file)).unwrap(),
            "{file}"
        );
    }
}
