//! The CRDs' CEL rules, evaluated in Rust for inputs that never meet an API server (the CLI
//! reads files). Each check reports the same message as its CEL rule; a test holds both sides
//! to the same verdicts. OpenAPI constraints (ranges, patterns) are the engine's to re-check.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::config_override::{
    ENV_NO_ERL_ARGS, OVERRIDE_CONF_FILE, OVERRIDE_ENV_FILE, OVERRIDE_EXACTLY_ONE,
    OVERRIDE_INI_FILE, OVERRIDE_NOT_DEFINITIONS,
};
use crate::erlang_vm_args::{ERLANG_AT_LEAST_ONE, EXTRA_ARGS_NOT_TYPED, TYPED_FLAGS};
use crate::kolla_config::{BASE_EXACTLY_ONE, CA_NEEDS_HTTPS, INSECURE_NEEDS_HTTPS};
use crate::messaging::{OSLO_MESSAGING_AT_LEAST_ONE, RABBIT_LISTENER_AT_LEAST_ONE};
use crate::nova::{NOVA_COMPUTE_AT_LEAST_ONE, NOVA_VIF_AT_LEAST_ONE};
use crate::rabbit_policy::{
    HA_ALL_NO_PARAMS, HA_KEYS_NEED_MODE, HA_MODE_VALUES, HA_PARAMS_REQUIRED,
    POLICY_NEEDS_PATTERN_AND_DEFINITION,
};
use crate::schema::CelRule;
use crate::AnyResource;

/// A rule a resource breaks: where, and the rule's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The field the rule is attached to, e.g. `spec.definition`.
    pub field: String,
    /// The rule's message, as `kubectl apply` would print it.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Collects violations in rule order.
struct Report(Vec<Violation>);

impl Report {
    fn require(&mut self, ok: bool, field: &str, rule: CelRule) {
        if !ok {
            self.0.push(Violation {
                field: field.to_string(),
                message: rule.message.to_string(),
            });
        }
    }
}

/// Evaluates every CEL rule of the resource's CRD; an empty list means the resource passes.
pub fn check(resource: &AnyResource) -> Vec<Violation> {
    let mut report = Report(Vec::new());
    let r = &mut report;
    match resource {
        AnyResource::KollaConfig(kc) => {
            if let Some(base) = &kc.spec.base {
                let ok = base.secret_ref.is_some() != base.config_map_ref.is_some();
                r.require(ok, "spec.base", BASE_EXACTLY_ONE);
            }
            for (i, item) in kc.spec.per_pod.iter().enumerate() {
                let at = format!("spec.perPod[{i}]");
                let (conf, env) = (item.conf.as_ref(), item.env.as_ref());
                raw_override(r, &at, &item.file, item.ini.is_some(), conf, env);
            }
            if let Some(m) = kc
                .spec
                .rabbitmq
                .as_ref()
                .and_then(|r| r.management.as_ref())
            {
                let https = m.url.starts_with("https://");
                let field = "spec.rabbitmq.management";
                r.require(m.ca_secret_ref.is_none() || https, field, CA_NEEDS_HTTPS);
                r.require(
                    !m.insecure_skip_tls_verify || https,
                    field,
                    INSECURE_NEEDS_HTTPS,
                );
            }
        }
        AnyResource::RabbitPolicy(p) => {
            let s = &p.spec;
            let ok = s.absent || (s.pattern.is_some() && s.definition.is_some());
            r.require(ok, "spec", POLICY_NEEDS_PATTERN_AND_DEFINITION);
            if let Some(definition) = &s.definition {
                policy_definition(r, definition);
            }
        }
        AnyResource::ErlangVmArgs(e) => {
            let s = &e.spec;
            let any = s.scheduler_busy_wait.is_some()
                || s.dirty_cpu_scheduler_busy_wait.is_some()
                || s.dirty_io_scheduler_busy_wait.is_some()
                || s.scheduler_utilization_balancing.is_some()
                || s.schedulers.is_some()
                || s.async_threads.is_some()
                || s.max_processes.is_some()
                || s.dist_buffer_busy_limit_kb.is_some()
                || !s.extra_args.is_empty();
            r.require(any, "spec", ERLANG_AT_LEAST_ONE);
            // As the CEL rule: a typed flag, also with its value glued on (`+P2048`).
            let typed = s.extra_args.iter().any(|arg| {
                TYPED_FLAGS.iter().any(|flag| match arg.strip_prefix(flag) {
                    Some(rest) if *flag == "+S" => !rest.starts_with(['P', 'D']),
                    Some(_) => true,
                    None => false,
                })
            });
            r.require(!typed, "spec.extraArgs", EXTRA_ARGS_NOT_TYPED);
        }
        AnyResource::NovaVifPolicy(v) => {
            let s = &v.spec;
            let any = s.vif_plugging_is_fatal.is_some() || s.vif_plugging_timeout.is_some();
            r.require(any, "spec", NOVA_VIF_AT_LEAST_ONE);
        }
        AnyResource::NovaComputePolicy(c) => {
            let s = &c.spec;
            let any = s.cpu_allocation_ratio.is_some()
                || s.ram_allocation_ratio.is_some()
                || s.disk_allocation_ratio.is_some()
                || s.reserved_host_memory_mb.is_some()
                || s.max_concurrent_builds.is_some();
            r.require(any, "spec", NOVA_COMPUTE_AT_LEAST_ONE);
        }
        AnyResource::RabbitListenerPolicy(l) => {
            let s = &l.spec;
            let any = s.tcp_keepalive.is_some() || s.heartbeat_seconds.is_some();
            r.require(any, "spec", RABBIT_LISTENER_AT_LEAST_ONE);
        }
        AnyResource::OsloMessagingPolicy(o) => {
            let s = &o.spec;
            let any = s.heartbeat_timeout_threshold.is_some()
                || s.heartbeat_rate.is_some()
                || s.rabbit_quorum_queue.is_some()
                || s.rabbit_transient_quorum_queue.is_some();
            r.require(any, "spec", OSLO_MESSAGING_AT_LEAST_ONE);
        }
        AnyResource::ConfigOverride(o) => {
            let s = &o.spec;
            raw_override(
                r,
                "spec",
                &s.file,
                s.ini.is_some(),
                s.conf.as_ref(),
                s.env.as_ref(),
            );
        }
    }
    report.0
}

/// The rules on items addressed as a ConfigOverride addresses them (its spec, or a KollaConfig's
/// `spec.perPod[i]`), the node being at `at`.
fn raw_override(
    r: &mut Report,
    at: &str,
    file: &str,
    ini: bool,
    conf: Option<&BTreeMap<String, String>>,
    env: Option<&BTreeMap<String, String>>,
) {
    let count = [ini, conf.is_some(), env.is_some()]
        .iter()
        .filter(|set| **set)
        .count();
    r.require(count == 1, at, OVERRIDE_EXACTLY_ONE);
    let file_field = format!("{at}.file");
    r.require(
        file != "definitions.json",
        &file_field,
        OVERRIDE_NOT_DEFINITIONS,
    );
    let env_ok = env.is_none() || file == "rabbitmq-env.conf";
    r.require(env_ok, &file_field, OVERRIDE_ENV_FILE);
    let conf_ok = conf.is_none() || file == "rabbitmq.conf";
    r.require(conf_ok, &file_field, OVERRIDE_CONF_FILE);
    let ini_ok =
        !ini || (file.ends_with(".conf") && file != "rabbitmq.conf" && file != "rabbitmq-env.conf");
    r.require(ini_ok, &file_field, OVERRIDE_INI_FILE);
    if let Some(env) = env {
        let ok = !env.contains_key("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS")
            && !env.contains_key("SERVER_ADDITIONAL_ERL_ARGS");
        r.require(ok, &format!("{at}.env"), ENV_NO_ERL_ARGS);
    }
}

/// The classic-mirroring rules on a RabbitPolicy's `definition`.
fn policy_definition(r: &mut Report, definition: &Map<String, Value>) {
    const FIELD: &str = "spec.definition";
    let mode = definition.get("ha-mode");
    let mode_str = mode.and_then(Value::as_str);
    let has_params = definition.contains_key("ha-params");

    let mode_ok = mode.is_none() || matches!(mode_str, Some("all" | "exactly" | "nodes"));
    r.require(mode_ok, FIELD, HA_MODE_VALUES);

    let needs_params = matches!(mode_str, Some("exactly" | "nodes"));
    r.require(!needs_params || has_params, FIELD, HA_PARAMS_REQUIRED);

    r.require(
        !(has_params && mode_str == Some("all")),
        FIELD,
        HA_ALL_NO_PARAMS,
    );

    const NEED_MODE: [&str; 5] = [
        "ha-params",
        "ha-sync-mode",
        "ha-sync-batch-size",
        "ha-promote-on-shutdown",
        "ha-promote-on-failure",
    ];
    let orphan = mode.is_none() && NEED_MODE.iter().any(|key| definition.contains_key(*key));
    r.require(!orphan, FIELD, HA_KEYS_NEED_MODE);
}
