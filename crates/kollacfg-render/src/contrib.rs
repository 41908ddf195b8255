//! Turns one fragment into the items it writes, after checking every value. A fragment whose
//! kind writes a file its target does not have is refused here.
//!
//! Files by service: `rabbitmq` has `definitions.json`, `rabbitmq-env.conf`, `rabbitmq.conf`;
//! an OpenStack service `<project>-*` has its oslo file `<project>.conf` (`nova-compute` →
//! `nova.conf`); any service may carry further INI `*.conf` files through `ConfigOverride`.

use crate::files::definitions::policy_text;
use crate::issue::Issue;
use crate::items::{
    Contribution, ItemKey, ItemValue, Text, DEFINITIONS_JSON, RABBITMQ_CONF, RABBITMQ_ENV_CONF,
};
use crate::model::*;
use crate::validate;

/// The kolla service directory of RabbitMQ.
pub const RABBITMQ_SERVICE: &str = "rabbitmq";

const OSLO_PROJECTS: &[&str] = &[
    "aodh",
    "barbican",
    "blazar",
    "ceilometer",
    "cinder",
    "cloudkitty",
    "designate",
    "glance",
    "heat",
    "ironic",
    "keystone",
    "magnum",
    "manila",
    "masakari",
    "mistral",
    "neutron",
    "nova",
    "octavia",
    "placement",
    "senlin",
    "tacker",
    "trove",
    "watcher",
    "zun",
];

/// The oslo.config file of an OpenStack service (`nova-compute` → `nova.conf`), if it has one.
pub fn oslo_file(service: &str) -> Option<String> {
    let project = service.split('-').next()?;
    OSLO_PROJECTS
        .contains(&project)
        .then(|| format!("{project}.conf"))
}

/// Collects the items of one fragment aimed at `target`, or every problem found in it.
pub fn contributions(
    fragment: &Fragment,
    target: &Target,
    version: Option<(u32, u32)>,
) -> Result<Vec<Contribution>, Vec<Issue>> {
    let mut c = Collector {
        id: &fragment.id,
        out: Vec::new(),
        issues: Vec::new(),
    };
    let service = target.service.as_str();
    let is_rabbitmq = service == RABBITMQ_SERVICE;
    let is_nova = service == "nova" || service.starts_with("nova-");
    let needs = |c: &mut Collector, ok: bool, file: &str| {
        if !ok {
            c.issue(
                "spec.kollaConfigRef.name",
                format!(
                    "{} writes {file}, which {} (service {service}) does not have",
                    fragment.body.kind(),
                    target.id
                ),
            );
        }
        ok
    };
    match &fragment.body {
        FragmentBody::RabbitPolicy(p) => {
            if needs(&mut c, is_rabbitmq, DEFINITIONS_JSON) {
                rabbit_policy(&mut c, p, version);
            }
        }
        FragmentBody::ErlangVmArgs(e) => {
            if needs(&mut c, is_rabbitmq, RABBITMQ_ENV_CONF) {
                erlang(&mut c, e);
            }
        }
        FragmentBody::RabbitListenerPolicy(l) => {
            if needs(&mut c, is_rabbitmq, RABBITMQ_CONF) {
                let any = l.tcp_keepalive.is_some() || l.heartbeat_seconds.is_some();
                c.require_any(any);
                if let Some(v) = l.tcp_keepalive {
                    c.conf(
                        "spec.tcpKeepalive",
                        "tcp_listen_options.keepalive",
                        v.to_string(),
                    );
                }
                if let Some(v) = l.heartbeat_seconds {
                    if c.check("spec.heartbeatSeconds", validate::in_range(v, 0, i64::MAX)) {
                        c.conf("spec.heartbeatSeconds", "heartbeat", v.to_string());
                    }
                }
            }
        }
        FragmentBody::NovaVifPolicy(v) => {
            if needs(&mut c, is_nova, "nova.conf") {
                c.require_any(
                    v.vif_plugging_is_fatal.is_some() || v.vif_plugging_timeout.is_some(),
                );
                c.ini_bool(
                    "nova.conf",
                    "DEFAULT",
                    "spec.vifPluggingIsFatal",
                    "vif_plugging_is_fatal",
                    v.vif_plugging_is_fatal,
                );
                c.ini_int(
                    "nova.conf",
                    "DEFAULT",
                    "spec.vifPluggingTimeout",
                    "vif_plugging_timeout",
                    v.vif_plugging_timeout,
                    0,
                    i64::MAX,
                );
            }
        }
        FragmentBody::NovaComputePolicy(n) => {
            if needs(&mut c, is_nova, "nova.conf") {
                let ratios = [
                    (
                        "spec.cpuAllocationRatio",
                        "cpu_allocation_ratio",
                        n.cpu_allocation_ratio,
                    ),
                    (
                        "spec.ramAllocationRatio",
                        "ram_allocation_ratio",
                        n.ram_allocation_ratio,
                    ),
                    (
                        "spec.diskAllocationRatio",
                        "disk_allocation_ratio",
                        n.disk_allocation_ratio,
                    ),
                ];
                c.require_any(
                    ratios.iter().any(|r| r.2.is_some())
                        || n.reserved_host_memory_mb.is_some()
                        || n.max_concurrent_builds.is_some(),
                );
                for (field, key, value) in ratios {
                    if let Some(v) = value {
                        if c.check(field, validate::ratio(v)) {
                            c.ini("nova.conf", "DEFAULT", field, key, format_float(v));
                        }
                    }
                }
                c.ini_int(
                    "nova.conf",
                    "DEFAULT",
                    "spec.reservedHostMemoryMb",
                    "reserved_host_memory_mb",
                    n.reserved_host_memory_mb,
                    0,
                    i64::MAX,
                );
                c.ini_int(
                    "nova.conf",
                    "DEFAULT",
                    "spec.maxConcurrentBuilds",
                    "max_concurrent_builds",
                    n.max_concurrent_builds,
                    0,
                    i64::MAX,
                );
            }
        }
        FragmentBody::OsloMessagingPolicy(o) => {
            let file = oslo_file(service);
            if needs(&mut c, file.is_some(), "an oslo.config file") {
                let file = file.unwrap_or_default();
                let s = "oslo_messaging_rabbit";
                c.require_any(
                    o.heartbeat_timeout_threshold.is_some()
                        || o.heartbeat_rate.is_some()
                        || o.rabbit_quorum_queue.is_some()
                        || o.rabbit_transient_quorum_queue.is_some(),
                );
                c.ini_int(
                    file.clone(),
                    s,
                    "spec.heartbeatTimeoutThreshold",
                    "heartbeat_timeout_threshold",
                    o.heartbeat_timeout_threshold,
                    0,
                    i64::MAX,
                );
                c.ini_int(
                    file.clone(),
                    s,
                    "spec.heartbeatRate",
                    "heartbeat_rate",
                    o.heartbeat_rate,
                    1,
                    i64::MAX,
                );
                c.ini_bool(
                    file.clone(),
                    s,
                    "spec.rabbitQuorumQueue",
                    "rabbit_quorum_queue",
                    o.rabbit_quorum_queue,
                );
                c.ini_bool(
                    file.clone(),
                    s,
                    "spec.rabbitTransientQuorumQueue",
                    "rabbit_transient_quorum_queue",
                    o.rabbit_transient_quorum_queue,
                );
            }
        }
        FragmentBody::ConfigOverride(o) => config_override(
            &mut c,
            o,
            is_rabbitmq,
            "spec",
            &mut |_, v| Ok(v.to_string()),
        ),
    }
    if c.issues.is_empty() {
        Ok(c.out)
    } else {
        Err(c.issues)
    }
}

struct Collector<'a> {
    id: &'a ResourceRef,
    out: Vec<Contribution>,
    issues: Vec<Issue>,
}

impl Collector<'_> {
    fn issue(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.issues.push(Issue::new(self.id, field, reason));
    }

    fn check(&mut self, field: &str, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => true,
            Err(reason) => {
                self.issue(field, reason);
                false
            }
        }
    }

    fn require_any(&mut self, any: bool) {
        if !any {
            self.issue("spec", "sets nothing: set at least one field");
        }
    }

    fn push(
        &mut self,
        file: impl Into<Text>,
        field: impl Into<Text>,
        item: ItemKey,
        value: ItemValue,
    ) {
        self.out.push(Contribution {
            file: file.into(),
            item,
            value,
            field: field.into(),
        });
    }

    fn conf(&mut self, field: impl Into<Text>, key: &str, value: String) {
        self.push(
            RABBITMQ_CONF,
            field,
            ItemKey::ConfKey(key.into()),
            ItemValue::Text(value),
        );
    }

    fn ini(
        &mut self,
        file: impl Into<Text>,
        section: &str,
        field: impl Into<Text>,
        key: &str,
        value: String,
    ) {
        let item = ItemKey::Ini {
            section: section.into(),
            key: key.into(),
        };
        self.push(file, field, item, ItemValue::Text(value));
    }

    fn ini_bool(
        &mut self,
        file: impl Into<Text>,
        section: &str,
        field: &'static str,
        key: &str,
        value: Option<bool>,
    ) {
        if let Some(v) = value {
            self.ini(file, section, field, key, v.to_string());
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn ini_int(
        &mut self,
        file: impl Into<Text>,
        section: &str,
        field: &'static str,
        key: &str,
        value: Option<i64>,
        min: i64,
        max: i64,
    ) {
        if let Some(v) = value {
            if self.check(field, validate::in_range(v, min, max)) {
                self.ini(file, section, field, key, v.to_string());
            }
        }
    }

    fn flag(&mut self, field: impl Into<Text>, flag: &str, args: Vec<String>) {
        self.push(
            RABBITMQ_ENV_CONF,
            field,
            ItemKey::ErlFlag(flag.into()),
            ItemValue::Flag(args),
        );
    }
}

fn rabbit_policy(c: &mut Collector, p: &RabbitPolicy, version: Option<(u32, u32)>) {
    for (field, value) in [("spec.vhost", &p.vhost), ("spec.name", &p.name)] {
        if value.is_empty() {
            c.issue(field, "must not be empty");
        } else {
            c.check(field, validate::single_line(value));
        }
    }
    let item = ItemKey::Policy {
        vhost: p.vhost.clone(),
        name: p.name.clone(),
    };
    if p.absent {
        // The policy's settings are ignored: only its key matters.
        if c.issues.is_empty() {
            c.push(DEFINITIONS_JSON, "spec.absent", item, ItemValue::Absent);
        }
        return;
    }
    c.check("spec.pattern", validate::policy_pattern(&p.pattern));
    let apply_ok = c.check(
        "spec.applyTo",
        validate::one_of(&p.apply_to, validate::APPLY_TO),
    );
    if apply_ok {
        for (key, reason) in validate::policy_definition(&p.definition, &p.apply_to, version) {
            let field = if key.is_empty() {
                "spec.definition".to_string()
            } else {
                format!("spec.definition.{key}")
            };
            c.issue(field, reason);
        }
    }
    if c.issues.is_empty() {
        let value = policy_text(
            &p.vhost,
            &p.name,
            &p.pattern,
            &p.apply_to,
            &p.definition,
            p.priority,
        );
        c.push(DEFINITIONS_JSON, "spec", item, ItemValue::Policy(value));
    }
}

fn erlang(c: &mut Collector, e: &ErlangVmArgs) {
    let busy = [
        ("+sbwt", "spec.schedulerBusyWait", &e.scheduler_busy_wait),
        (
            "+sbwtdcpu",
            "spec.dirtyCpuSchedulerBusyWait",
            &e.dirty_cpu_scheduler_busy_wait,
        ),
        (
            "+sbwtdio",
            "spec.dirtyIoSchedulerBusyWait",
            &e.dirty_io_scheduler_busy_wait,
        ),
    ];
    let ints = [
        ("+A", "spec.asyncThreads", e.async_threads, 1, 1024),
        (
            "+P",
            "spec.maxProcesses",
            e.max_processes,
            1024,
            134_217_727,
        ),
        (
            "+zdbbl",
            "spec.distBufferBusyLimitKb",
            e.dist_buffer_busy_limit_kb,
            1,
            2_097_151,
        ),
    ];
    c.require_any(
        busy.iter().any(|b| b.2.is_some())
            || ints.iter().any(|i| i.2.is_some())
            || e.scheduler_utilization_balancing.is_some()
            || e.schedulers.is_some()
            || !e.extra_args.is_empty(),
    );
    for (flag, field, value) in busy {
        if let Some(v) = value {
            if c.check(field, validate::one_of(v, validate::BUSY_WAIT)) {
                c.flag(field, flag, vec![v.clone()]);
            }
        }
    }
    if let Some(v) = e.scheduler_utilization_balancing {
        c.flag(
            "spec.schedulerUtilizationBalancing",
            "+sub",
            vec![v.to_string()],
        );
    }
    if let Some(v) = &e.schedulers {
        if c.check("spec.schedulers", validate::schedulers(v)) {
            c.flag("spec.schedulers", "+S", vec![v.clone()]);
        }
    }
    for (flag, field, value, min, max) in ints {
        if let Some(v) = value {
            if c.check(field, validate::in_range(v, min, max)) {
                c.flag(field, flag, vec![v.to_string()]);
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, entry) in e.extra_args.iter().enumerate() {
        let field = format!("spec.extraArgs[{i}]");
        match validate::extra_arg(entry) {
            Err(reason) => c.issue(&field, reason),
            Ok((flag, args)) => {
                if !seen.insert(flag.clone()) {
                    c.issue(&field, format!("{flag} is given more than once"));
                } else {
                    c.flag(field.clone(), &flag, args);
                }
            }
        }
    }
}

/// The items of one raw override addressed as a `ConfigOverride` addresses them: a
/// `ConfigOverride`'s spec, or one entry of a KollaConfig's `spec.perPod`. Fields are named
/// under `at` (`spec`, `spec.perPod[0]`); each value goes through `value_of(field, value)`
/// (a per-pod template is filled in there) before it is checked, so a template is held to
/// exactly the checks of a literal value.
pub(crate) fn raw_items(
    id: &ResourceRef,
    o: &ConfigOverride,
    is_rabbitmq: bool,
    at: &str,
    value_of: &mut dyn FnMut(&str, &str) -> Result<String, String>,
) -> Result<Vec<Contribution>, Vec<Issue>> {
    let mut c = Collector {
        id,
        out: Vec::new(),
        issues: Vec::new(),
    };
    config_override(&mut c, o, is_rabbitmq, at, value_of);
    if c.issues.is_empty() {
        Ok(c.out)
    } else {
        Err(c.issues)
    }
}

fn config_override(
    c: &mut Collector,
    o: &ConfigOverride,
    is_rabbitmq: bool,
    at: &str,
    value_of: &mut dyn FnMut(&str, &str) -> Result<String, String>,
) {
    let file_field = format!("{at}.file");
    if !c.check(&file_field, validate::file_name(&o.file)) {
        return;
    }
    let mut value_at = |c: &mut Collector, field: &str, raw: &str| match value_of(field, raw) {
        Ok(value) => Some(value),
        Err(reason) => {
            c.issue(field, reason);
            None
        }
    };
    let file = o.file.as_str();
    match (&o.content, file) {
        (_, DEFINITIONS_JSON) => {
            c.issue(
                file_field,
                "definitions.json is written by RabbitPolicy, not ConfigOverride",
            );
        }
        (OverrideContent::Env(vars), RABBITMQ_ENV_CONF) if is_rabbitmq => {
            for (name, value) in vars {
                let field = format!("{at}.env.{name}");
                if name == crate::files::rabbitmq_env::ERL_ARGS_VAR
                    || name == crate::files::rabbitmq_env::ERL_ARGS_VAR_UNPREFIXED
                {
                    c.issue(field, format!("{name} is merged flag by flag: set it with ErlangVmArgs (extraArgs for untyped flags)"));
                } else if c.check(&field, validate::rabbitmq_env_var(name)) {
                    let Some(value) = value_at(c, &field, value) else {
                        continue;
                    };
                    if c.check(&field, validate::shell_safe(&value))
                        && c.check(&field, validate::env_value_set(name, &value))
                    {
                        c.push(
                            file.to_string(),
                            field.clone(),
                            ItemKey::EnvVar(name.clone()),
                            ItemValue::Text(value),
                        );
                    }
                }
            }
        }
        (OverrideContent::Conf(keys), RABBITMQ_CONF) if is_rabbitmq => {
            for (key, value) in keys {
                let field = format!("{at}.conf.{key}");
                if c.check(&field, validate::conf_key(key)) {
                    let Some(value) = value_at(c, &field, value) else {
                        continue;
                    };
                    if c.check(&field, validate::conf_value(&value)) {
                        c.push(
                            file.to_string(),
                            field.clone(),
                            ItemKey::ConfKey(key.clone()),
                            ItemValue::Text(value),
                        );
                    }
                }
            }
        }
        (OverrideContent::Ini(sections), f)
            if f != RABBITMQ_ENV_CONF && f != RABBITMQ_CONF && f.ends_with(".conf") =>
        {
            for (section, keys) in sections {
                if !c.check(
                    &format!("{at}.ini.{section}"),
                    validate::ini_name("section", section),
                ) {
                    continue;
                }
                for (key, value) in keys {
                    let field = format!("{at}.ini.{section}.{key}");
                    if !c.check(&field, validate::ini_name("key", key)) {
                        continue;
                    }
                    let Some(value) = value_at(c, &field, value) else {
                        continue;
                    };
                    if c.check(&field, validate::ini_value(&value)) {
                        // oslo.config interpolates `$name`; `$$` reads back as one `$`.
                        let value = value.replace('$', "$$");
                        c.ini(file.to_string(), section, field.clone(), key, value);
                    }
                }
            }
        }
        (content, _) => {
            let form = match content {
                OverrideContent::Ini(_) => "ini",
                OverrideContent::Conf(_) => "conf",
                OverrideContent::Env(_) => "env",
            };
            let reason = match file {
                RABBITMQ_ENV_CONF if is_rabbitmq => format!("{file} takes env (got {form})"),
                RABBITMQ_CONF if is_rabbitmq => format!("{file} takes conf (got {form})"),
                RABBITMQ_ENV_CONF | RABBITMQ_CONF => {
                    format!("{file} belongs to the rabbitmq service, not this target")
                }
                f if f.ends_with(".conf") => format!("{file} takes ini (got {form})"),
                _ => format!("{file}: only *.conf files can be overridden"),
            };
            c.issue(format!("{at}.{form}"), reason);
        }
    }
}

/// Formats a float the way nova.conf writes ratios: always with a decimal point (`2.0`, `1.2`).
pub fn format_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}
