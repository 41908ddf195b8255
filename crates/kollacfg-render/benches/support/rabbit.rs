//! Case 1: one `rabbitmq` target. The base `definitions.json` is written the way kolla writes it
//! (one object per line) with 1,000 users, 1,000 permissions, a few vhosts and a few existing
//! policies; 10,000 `RabbitPolicy` fragments each set a distinct `(vhost, name)`, some of which
//! replace a base policy in place (kolla's `ha-all` among them).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kollacfg_render::{Fragment, FragmentBody, RabbitPolicy, ResourceRef, Target};
use serde_json::{json, Map, Value};

use super::{base64, Case, Rng};

/// Number of users (and of permissions) in the base.
pub const USERS: usize = 1_000;
/// Number of `RabbitPolicy` fragments.
pub const POLICIES: usize = 10_000;

const NAMESPACE: &str = "openstack";
const VHOSTS: &[&str] = &[
    "/",
    "nova",
    "neutron",
    "cinder",
    "glance",
    "heat",
    "octavia",
    "designate",
    "manila",
    "magnum",
];
const PROJECTS: &[&str] = &[
    "nova",
    "neutron",
    "cinder",
    "glance",
    "heat",
    "octavia",
    "designate",
    "manila",
    "magnum",
    "barbican",
    "ceilometer",
    "ironic",
];
const TAGS: &[&str] = &[
    "administrator",
    "monitoring",
    "management",
    "",
    "policymaker",
    "",
];
const NODES: &[&str] = &[
    "rabbit@controller01",
    "rabbit@controller02",
    "rabbit@controller03",
];

/// Builds case 1.
pub fn case(policies: usize, users: usize) -> Case {
    let mut rng = Rng::new(0x6b6f_6c6c_6163_6667);
    let fragments: Vec<Fragment> = (0..policies).map(|i| fragment(i, &mut rng)).collect();
    let mut base = BTreeMap::new();
    base.insert(
        "definitions.json".to_string(),
        definitions(users, policies, &mut rng).into_bytes(),
    );
    base.insert(
        "rabbitmq.conf".to_string(),
        RABBITMQ_CONF.as_bytes().to_vec(),
    );
    base.insert(
        "rabbitmq-env.conf".to_string(),
        RABBITMQ_ENV_CONF.as_bytes().to_vec(),
    );
    Case {
        name: "rabbitmq",
        target: Target {
            id: ResourceRef::new("KollaConfig", NAMESPACE, "rabbitmq"),
            service: "rabbitmq".into(),
            rabbitmq_version: Some("3.13".into()),
        },
        fragments,
        base,
        file: "definitions.json",
    }
}

/// `(vhost, policy name)` of fragment `i`.
fn policy_key(i: usize) -> (&'static str, String) {
    if i == 0 {
        return ("/", "ha-all".into());
    }
    let vhost = VHOSTS[i % VHOSTS.len()];
    let project = PROJECTS[(i / VHOSTS.len()) % PROJECTS.len()];
    (vhost, format!("{project}-q-{i:05}"))
}

fn pattern(i: usize, project: &str, rng: &mut Rng) -> String {
    let n = 1000 + i;
    match rng.below(7) {
        0 => format!(r"^(?!amq\.).*q-{n}"),
        1 => format!(r"^{project}\.(notifications|versioned_notifications)\.(info|error)-{n}$"),
        2 => format!(r"^(reply|q)_[0-9a-f]{{32}}-{n}$"),
        3 => format!(r"^{project}-(conductor|scheduler|compute)\.q-{n}(_fanout)?"),
        4 => format!(r"^(?!amq\.)(?:{project}|notifications)\..*-{n}$"),
        5 => format!(r"^q-{n}\.[a-z0-9_-]+$"),
        _ => format!(r"^{project}_fanout_[0-9a-f]{{32}}(?<!-dlx)-{n}"),
    }
}

fn fragment(i: usize, rng: &mut Rng) -> Fragment {
    let (vhost, name) = policy_key(i);
    let project = PROJECTS[(i / VHOSTS.len()) % PROJECTS.len()];
    let (pattern, apply_to, definition) = if i == 0 {
        (
            ".*".to_string(),
            "all",
            json!({"ha-mode": "exactly", "ha-params": 2, "ha-sync-mode": "automatic"}),
        )
    } else {
        let pattern = pattern(i, project, rng);
        let length = 1_000 * (1 + rng.below(100));
        let ttl = 60_000 * (1 + rng.below(60));
        let (apply_to, definition) = match rng.below(100) {
            0..=29 => (
                *rng.pick(&["all", "queues", "classic_queues"]),
                json!({"ha-mode": "exactly", "ha-params": 2 + rng.below(2), "ha-sync-mode": "automatic"}),
            ),
            30..=39 => ("all", json!({"ha-mode": "all", "message-ttl": ttl})),
            40..=59 => ("queues", json!({"message-ttl": ttl, "expires": 2 * ttl})),
            60..=74 => (
                "queues",
                json!({"max-length": length, "overflow": "reject-publish"}),
            ),
            75..=84 => (
                "classic_queues",
                json!({"ha-mode": "nodes", "ha-params": [NODES[0], NODES[1 + (i % 2)]], "max-length": length}),
            ),
            85..=94 => (
                "quorum_queues",
                json!({"delivery-limit": 20, "max-length": length, "dead-letter-exchange": format!("dlx-{project}")}),
            ),
            _ => (
                "exchanges",
                json!({"alternate-exchange": format!("ae-{project}")}),
            ),
        };
        (pattern, apply_to, definition)
    };
    let Value::Object(definition) = definition else {
        unreachable!("definitions are objects")
    };
    Fragment {
        id: ResourceRef::new("RabbitPolicy", NAMESPACE, format!("rp-{i:05}")),
        target: "rabbitmq".into(),
        precedence: if i % 50 == 7 { 10 } else { 0 },
        body: FragmentBody::RabbitPolicy(RabbitPolicy {
            vhost: vhost.into(),
            name,
            pattern,
            apply_to: apply_to.into(),
            priority: rng.below(10) as i64,
            definition,
            absent: false,
        }),
    }
}

/// One JSON object on one line, the way kolla's template writes them: `{"k": v, "k2": v2}`.
fn line_object(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (n, (key, value)) in fields.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}: {}", Value::from(*key), line_value(value));
    }
    out.push('}');
    out
}

fn line_value(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let fields: Vec<(&str, Value)> =
                map.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            line_object(&fields)
        }
        other => other.to_string(),
    }
}

fn definitions(users: usize, policies: usize, rng: &mut Rng) -> String {
    let mut user_lines = Vec::with_capacity(users);
    let mut permission_lines = Vec::with_capacity(users);
    for u in 0..users {
        let name = match u {
            0 => "openstack".to_string(),
            1 => "monitoring".to_string(),
            _ => format!("{}-{u:04}", PROJECTS[u % PROJECTS.len()]),
        };
        let salted_hash: Vec<u8> = (0..36).map(|_| rng.next_u64() as u8).collect();
        user_lines.push(line_object(&[
            ("name", Value::from(name.as_str())),
            ("password_hash", Value::from(base64(&salted_hash))),
            (
                "hashing_algorithm",
                Value::from("rabbit_password_hashing_sha256"),
            ),
            ("tags", Value::from(*rng.pick(TAGS))),
        ]));
        let vhost = VHOSTS[u % VHOSTS.len()];
        let (configure, write, read) = match u % 4 {
            0 => (".*", ".*", ".*"),
            1 => ("^$", "^$", ".*"),
            2 => ("^(q-|reply_).*", "^(q-|reply_|amq\\.default).*", ".*"),
            _ => (
                "^notifications\\..*",
                "^notifications\\..*",
                "^notifications\\..*",
            ),
        };
        permission_lines.push(line_object(&[
            ("user", Value::from(name.as_str())),
            ("vhost", Value::from(vhost)),
            ("configure", Value::from(configure)),
            ("write", Value::from(write)),
            ("read", Value::from(read)),
        ]));
    }
    let vhost_lines: Vec<String> = VHOSTS
        .iter()
        .map(|v| line_object(&[("name", Value::from(*v))]))
        .collect();
    // Existing policies: kolla's `ha-all` (fragment 0 replaces it), every 200th fragment's
    // policy with an older definition (replaced in place), and a few that no fragment touches.
    let mut policy_lines = vec![policy_line("/", "ha-all", ".*", json!({"ha-mode": "all"}))];
    for i in (200..policies).step_by(200) {
        let (vhost, name) = policy_key(i);
        policy_lines.push(policy_line(
            vhost,
            &name,
            &format!("^{name}$"),
            json!({"ha-mode": "all"}),
        ));
    }
    for (n, vhost) in VHOSTS.iter().enumerate().take(5) {
        policy_lines.push(policy_line(
            vhost,
            &format!("kept-{n}"),
            "^kept\\.",
            json!({"expires": 3_600_000}),
        ));
    }
    let section = |name: &str, lines: &[String]| {
        let mut s = format!("  \"{name}\": [\n");
        for (n, line) in lines.iter().enumerate() {
            s.push_str("    ");
            s.push_str(line);
            s.push_str(if n + 1 < lines.len() { ",\n" } else { "\n" });
        }
        s.push_str("  ]");
        s
    };
    format!(
        "{{\n{},\n{},\n{},\n{}\n}}\n",
        section("vhosts", &vhost_lines),
        section("users", &user_lines),
        section("permissions", &permission_lines),
        section("policies", &policy_lines),
    )
}

fn policy_line(vhost: &str, name: &str, pattern: &str, definition: Value) -> String {
    let mut fields: Map<String, Value> = Map::new();
    fields.insert("vhost".into(), vhost.into());
    fields.insert("name".into(), name.into());
    fields.insert("pattern".into(), pattern.into());
    fields.insert("apply-to".into(), "all".into());
    fields.insert("definition".into(), definition);
    fields.insert("priority".into(), 0.into());
    line_value(&Value::Object(fields))
}

const RABBITMQ_CONF: &str = "\
# RabbitMQ server configuration for the kolla \"rabbitmq\" container.
listeners.tcp.1 = 10.0.0.11:5672
vm_memory_high_watermark.relative = 0.4
disk_free_limit.absolute = 50MB
cluster_partition_handling = pause_minority
management.listener.ip = 10.0.0.11
management.listener.port = 15672
load_definitions = /etc/rabbitmq/definitions.json
cluster_formation.peer_discovery_backend = rabbit_peer_discovery_classic_config
cluster_formation.classic_config.nodes.1 = rabbit@controller01
cluster_formation.classic_config.nodes.2 = rabbit@controller02
cluster_formation.classic_config.nodes.3 = rabbit@controller03
";

const RABBITMQ_ENV_CONF: &str = "\
RABBITMQ_NODENAME=rabbit@controller01
RABBITMQ_LOG_BASE=/var/log/kolla/rabbitmq
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=\"-kernel inetrc '/etc/rabbitmq/erl_inetrc'\"
RABBITMQ_CTL_ERL_ARGS=\"-kernel inetrc '/etc/rabbitmq/erl_inetrc'\"
export ERL_EPMD_ADDRESS=10.0.0.11
";
