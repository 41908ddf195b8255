//! `kollacfg broker diff|sync` against a real RabbitMQ 3.10 node (Debian's `rabbitmq-server`,
//! the fidelity harness's private node with `rabbitmq_management` on a loopback port). One node
//! for the whole sequence: it boots from kolla's base files (`ha-all` = `{"ha-mode":"all"}`),
//! then the seed scenario is synced, an edited scenario, a deleted policy with `--prune`, an
//! `absent` policy; after each step `rabbitmqctl list_policies` must show exactly the desired
//! set. A policy made by hand stays until `--prune`; a missing vhost fails that policy only;
//! a wrong password is an error saying unauthorized.
//!
//! Ignored by a plain `cargo test` (it needs root and `rabbitmq-server`);
//! `cargo test -p kollacfg --test broker -- --include-ignored` runs it.

#[allow(dead_code)]
#[path = "fidelity/rabbit.rs"]
mod rabbit;
#[allow(dead_code)]
#[path = "fidelity/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use rabbit::RabbitNode;
use support::{describe, examples_dir, run, TempDir};

/// The management user the tests create: tag `policymaker`, no rights on messages.
const USER: &str = "kollacfg";
const PASSWORD: &str = "pm-Xq81vLr7Tz";

/// A policy as the node lists it: pattern, apply-to, priority, definition.
type Setting = (String, String, i64, Value);

fn setting(pattern: &str, apply_to: &str, priority: i64, definition: Value) -> Setting {
    (pattern.into(), apply_to.into(), priority, definition)
}

/// The policies of vhost `/` on the node, by name.
fn live(node: &RabbitNode) -> BTreeMap<String, Setting> {
    node.policies()
        .into_iter()
        .map(|p| (p.name, (p.pattern, p.apply_to, p.priority, p.definition)))
        .collect()
}

struct Session {
    node: RabbitNode,
    dir: TempDir,
    password_file: PathBuf,
}

impl Session {
    /// `kollacfg broker ACTION -f examples/rabbitmq-cpu -f EXTRA... --base examples/base
    /// --url ... --user ... --password-file ... ARGS...`.
    fn broker(&self, action: &str, extra: &[&Path], args: &[&str]) -> Output {
        self.broker_with(action, extra, args, &self.password_file)
    }

    fn broker_with(&self, action: &str, extra: &[&Path], args: &[&str], password: &Path) -> Output {
        let examples = examples_dir();
        let mut command = Command::new(env!("CARGO_BIN_EXE_kollacfg"));
        command
            .args(["broker", action, "-f"])
            .arg(examples.join("rabbitmq-cpu"));
        for path in extra {
            command.arg("-f").arg(path);
        }
        command
            .arg("--base")
            .arg(examples.join("base"))
            .args([
                "--url",
                &format!("http://127.0.0.1:{}", self.node.management_port()),
                "--user",
                USER,
            ])
            .arg("--password-file")
            .arg(password)
            .args(args);
        let output = run(&mut command);
        let all = format!("{}{}", stdout(&output), stderr(&output));
        assert!(!all.contains(PASSWORD), "the password was printed:\n{all}");
        output
    }

    /// Writes a YAML file of fragments for the `rabbitmq` KollaConfig of the seed scenario.
    fn fragments(&self, name: &str, yaml: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, yaml).expect("write fragments");
        path
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

fn assert_code(output: &Output, expected: i32, step: &str) {
    assert_eq!(code(output), expected, "{step}:\n{}", describe(output));
}

/// One RabbitPolicy document for the seed scenario's KollaConfig.
fn policy_yaml(resource: &str, spec: &str) -> String {
    format!(
        "---\napiVersion: kollacfg.dev/v1alpha1\nkind: RabbitPolicy\n\
         metadata: {{name: {resource}, namespace: openstack}}\n\
         spec:\n  kollaConfigRef: {{name: rabbitmq}}\n{spec}"
    )
}

/// A policy made by hand, which kollacfg never published.
fn set_by_hand(node: &RabbitNode) {
    let definition = r#"{"max-length":10}"#;
    node.ctl(&["set_policy", "-p", "/", "by-hand", "^hand\\.", definition]);
}

fn boot() -> Session {
    // The node boots from kolla's base files: kolla's ha-all = {"ha-mode":"all"} is live.
    let dir = TempDir::new("broker");
    let base = dir.path().join("base");
    fs::create_dir(&base).expect("mkdir");
    for file in ["definitions.json", "rabbitmq-env.conf", "rabbitmq.conf"] {
        fs::copy(
            examples_dir().join("base/rabbitmq").join(file),
            base.join(file),
        )
        .expect("copy");
    }
    let node = RabbitNode::boot(&base);
    node.ctl(&["add_user", USER, PASSWORD]);
    node.ctl(&["set_user_tags", USER, "policymaker"]);
    node.ctl(&["set_permissions", "-p", "/", USER, "^$", "^$", "^$"]);
    let password_file = dir.path().join("password");
    fs::write(&password_file, format!("{PASSWORD}\n")).expect("write password");
    Session {
        node,
        dir,
        password_file,
    }
}

#[test]
#[ignore = "needs root and Debian's rabbitmq-server; run with --include-ignored"]
fn broker_diff_and_sync_against_a_real_rabbitmq() {
    let s = boot();
    let kolla_ha_all = setting(".*", "all", 0, json!({"ha-mode": "all"}));
    let seed_ha_all = setting(
        ".*",
        "all",
        0,
        json!({"ha-mode": "exactly", "ha-params": 2}),
    );
    let by_hand = setting("^hand\\.", "all", 0, json!({"max-length": 10}));
    set_by_hand(&s.node);
    assert_eq!(
        live(&s.node),
        BTreeMap::from([
            ("by-hand".to_string(), by_hand.clone()),
            ("ha-all".to_string(), kolla_ha_all)
        ])
    );

    // 1. The seed scenario: diff shows one change and exits 1; sync applies it; diff exits 0.
    let diff = s.broker("diff", &[], &[]);
    assert_code(&diff, 1, "diff before the first sync");
    assert!(
        stdout(&diff).contains(
            "PUT //ha-all (changed): pattern \".*\", apply-to all, priority 0, \
             definition {\"ha-mode\":\"exactly\",\"ha-params\":2}"
        ),
        "{}",
        stdout(&diff)
    );
    assert!(stdout(&diff).contains("unmanaged, left alone: //by-hand"));
    assert_eq!(
        live(&s.node)["ha-all"].3,
        json!({"ha-mode": "all"}),
        "diff wrote nothing"
    );
    let sync = s.broker("sync", &[], &[]);
    assert_code(&sync, 0, "first sync");
    assert!(stdout(&sync).contains("put //ha-all"), "{}", stdout(&sync));
    assert!(stdout(&sync).contains(": 1 put, 0 deleted, 0 refused, 1 unmanaged left alone"));
    assert_eq!(
        live(&s.node),
        BTreeMap::from([
            ("by-hand".to_string(), by_hand.clone()),
            ("ha-all".to_string(), seed_ha_all.clone())
        ])
    );
    let diff = s.broker("diff", &[], &[]);
    assert_code(&diff, 0, "diff after the sync");
    assert!(stdout(&diff).contains(": 1 desired, 2 live: 0 to put, 0 to delete"));

    // 2. An edited scenario: ha-all replaced at a higher precedence, a new policy.
    let edit = policy_yaml(
        "ha-all-synced",
        "  precedence: 10\n  name: ha-all\n  pattern: '.*'\n  \
         definition: {ha-mode: exactly, ha-params: 2, ha-sync-mode: automatic}\n",
    );
    let ttl = policy_yaml(
        "notifications-ttl",
        "  pattern: '^notifications\\.'\n  applyTo: queues\n  priority: 1\n  \
         definition: {message-ttl: 600000}\n",
    );
    let edited = s.fragments("edited.yaml", &format!("{edit}{ttl}"));
    let sync = s.broker("sync", &[&edited], &[]);
    assert_code(&sync, 0, "sync of the edited scenario");
    let synced_ha_all = setting(
        ".*",
        "all",
        0,
        json!({"ha-mode": "exactly", "ha-params": 2, "ha-sync-mode": "automatic"}),
    );
    let ttl_setting = setting(
        "^notifications\\.",
        "queues",
        1,
        json!({"message-ttl": 600000}),
    );
    assert_eq!(
        live(&s.node),
        BTreeMap::from([
            ("by-hand".to_string(), by_hand.clone()),
            ("ha-all".to_string(), synced_ha_all.clone()),
            ("notifications-ttl".to_string(), ttl_setting)
        ])
    );
    assert_code(&s.broker("diff", &[&edited], &[]), 0, "diff after the edit");

    // 3. A deleted policy: without --prune nothing is deleted (kollacfg offline has no record
    // of what it published); with --prune it goes, and so does the policy made by hand.
    let fewer = s.fragments("fewer.yaml", &edit);
    let diff = s.broker("diff", &[&fewer], &[]);
    assert_code(&diff, 0, "diff without --prune");
    assert!(stdout(&diff).contains("unmanaged, left alone: //by-hand, //notifications-ttl"));
    let diff = s.broker("diff", &[&fewer], &["--prune"]);
    assert_code(&diff, 1, "diff with --prune");
    assert!(stdout(&diff).contains("DELETE //by-hand (not desired, --prune)\nDELETE //notifications-ttl (not desired, --prune)\n"));
    assert_eq!(live(&s.node).len(), 3, "diff deleted nothing");
    let sync = s.broker("sync", &[&fewer], &["--prune"]);
    assert_code(&sync, 0, "sync with --prune");
    let out = stdout(&sync);
    let listed = out.find("DELETE //notifications-ttl").expect("listed");
    let deleted = out.find("deleted //notifications-ttl").expect("deleted");
    assert!(listed < deleted, "listed before it is deleted:\n{out}");
    assert_eq!(
        live(&s.node),
        BTreeMap::from([("ha-all".to_string(), synced_ha_all)])
    );

    // 4. absent: kolla's ha-all must not exist; it is deleted without --prune.
    set_by_hand(&s.node);
    let [absent, expiry] = [
        (
            "no-ha-all",
            "  precedence: 100\n  name: ha-all\n  absent: true\n",
        ),
        (
            "reply-expiry",
            "  pattern: '^reply_'\n  applyTo: queues\n  definition: {expires: 3600000}\n",
        ),
    ]
    .map(|(resource, spec)| policy_yaml(resource, spec));
    let gone = s.fragments("absent.yaml", &format!("{absent}{expiry}"));
    let diff = s.broker("diff", &[&gone], &[]);
    assert_code(&diff, 1, "diff with absent");
    assert!(
        stdout(&diff).contains("DELETE //ha-all (absent)"),
        "{}",
        stdout(&diff)
    );
    let sync = s.broker("sync", &[&gone], &[]);
    assert_code(&sync, 0, "sync with absent");
    assert!(stdout(&sync).contains(": 1 put, 1 deleted, 0 refused, 1 unmanaged left alone"));
    assert_eq!(
        live(&s.node),
        BTreeMap::from([
            ("by-hand".to_string(), by_hand),
            (
                "reply-expiry".to_string(),
                setting("^reply_", "queues", 0, json!({"expires": 3600000}))
            )
        ])
    );
    assert_code(&s.broker("diff", &[&gone], &[]), 0, "diff after absent");

    // 5. A vhost that does not exist fails that policy only, in the broker's words; exit 1.
    let [nova, other] = [
        ("nova-ttl", "  vhost: nova\n  pattern: '.*'\n"),
        ("other-ttl", "  pattern: '^other'\n"),
    ]
    .map(|(resource, spec)| {
        policy_yaml(
            resource,
            &format!("{spec}  definition: {{message-ttl: 1000}}\n"),
        )
    });
    let missing = s.fragments("missing-vhost.yaml", &format!("{absent}{nova}{other}"));
    let sync = s.broker("sync", &[&missing], &[]);
    assert_code(&sync, 1, "sync with a missing vhost");
    assert!(
        stderr(&sync)
            .contains("error: RabbitPolicy openstack/nova-ttl: policy nova/nova-ttl: vhost \"nova\" does not exist on the broker"),
        "{}",
        stderr(&sync)
    );
    assert!(stdout(&sync).contains("put //other-ttl"));
    assert!(live(&s.node).contains_key("other-ttl"));

    // 6. A wrong password: exit 2, unauthorized, nothing written.
    let wrong = s.dir.path().join("wrong-password");
    fs::write(&wrong, "not-the-password\n").unwrap();
    let before = live(&s.node);
    let sync = s.broker_with("sync", &[&edited], &[], &wrong);
    assert_code(&sync, 2, "sync with a wrong password");
    assert!(stderr(&sync).contains("unauthorized"), "{}", stderr(&sync));
    assert!(!stderr(&sync).contains("not-the-password"));
    assert_eq!(live(&s.node), before);
}

// ---------------------------------------------------------------------------------------------
// Without a broker: usage, target selection and unreachable brokers.

/// `kollacfg broker ARGS...`.
fn kollacfg(args: &[&std::ffi::OsStr]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_kollacfg"))
        .arg("broker")
        .args(args))
}

/// A URL on which nothing listens (a port that was free a moment ago).
fn nobody() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

#[test]
fn broker_usage_errors_exit_2() {
    let examples = examples_dir().join("rabbitmq-cpu");
    let missing_url = kollacfg(&["sync".as_ref(), "-f".as_ref(), examples.as_os_str()]);
    assert_code(&missing_url, 2, "no --url");
    assert!(
        stderr(&missing_url).contains("--url"),
        "{}",
        stderr(&missing_url)
    );
    assert_code(&kollacfg(&["apply".as_ref()]), 2, "unknown action");
}

#[test]
fn several_rabbitmq_targets_need_target_and_errors_never_show_the_password() {
    let dir = TempDir::new("broker-cli");
    let input = dir.path().join("two.yaml");
    let kc = |name: &str| {
        format!(
            "---\napiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
             metadata: {{name: {name}, namespace: openstack}}\nspec: {{service: rabbitmq}}\n"
        )
    };
    fs::write(&input, format!("{}{}", kc("a"), kc("b"))).unwrap();
    let password = dir.path().join("password");
    fs::write(&password, "p4ssw0rd-never-shown\n").unwrap();
    let url = nobody();
    let args = |extra: &[&str]| -> Output {
        let mut all: Vec<&std::ffi::OsStr> = vec![
            "diff".as_ref(),
            "-f".as_ref(),
            input.as_os_str(),
            "--url".as_ref(),
            url.as_ref(),
            "--user".as_ref(),
            "admin".as_ref(),
            "--password-file".as_ref(),
            password.as_os_str(),
        ];
        all.extend(extra.iter().map(std::ffi::OsStr::new));
        let output = kollacfg(&all);
        assert!(!stderr(&output).contains("p4ssw0rd"), "{}", stderr(&output));
        output
    };
    let out = args(&[]);
    assert_code(&out, 2, "two rabbitmq targets");
    assert!(
        stderr(&out).contains(
            "several rabbitmq KollaConfigs in the input (KollaConfig openstack/a, \
             KollaConfig openstack/b): pick one with --target NAME"
        ),
        "{}",
        stderr(&out)
    );
    let out = args(&["--target", "openstack/b"]);
    assert_code(&out, 2, "--target picks one; the broker is down");
    assert!(
        stderr(&out).contains(&format!(
            "error: {url}: broker unreachable: GET {url}/api/policies"
        )),
        "{}",
        stderr(&out)
    );
    let out = args(&["--target", "c"]);
    assert_code(&out, 2, "--target names nothing");
    assert!(stderr(&out).contains("--target c: no KollaConfig of that name in the input"));

    fs::remove_file(&password).unwrap();
    let out = args(&["--target", "a"]);
    assert_code(&out, 2, "no password file");
    assert!(stderr(&out).contains("--password-file"), "{}", stderr(&out));
}
