//! Writes a case to disk: as JSON for the Python reference, and as resource YAML plus a
//! `--base` tree for `kollacfg render`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use kollacfg_render::{Fragment, FragmentBody, OverrideContent, Target};
use serde_json::{json, Map, Value};

use super::Case;

const API_VERSION: &str = "kollacfg.dev/v1alpha1";

/// The KollaConfig as a resource.
pub fn target_resource(target: &Target) -> Value {
    let mut spec = json!({ "service": target.service });
    if let Some(version) = &target.rabbitmq_version {
        spec["rabbitmq"] = json!({ "version": version });
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "KollaConfig",
        "metadata": { "name": target.id.name, "namespace": target.id.namespace },
        "spec": spec,
    })
}

/// A fragment as a resource, field names as the CRDs spell them.
pub fn fragment_resource(fragment: &Fragment) -> Value {
    let mut spec = Map::new();
    spec.insert("kollaConfigRef".into(), json!({ "name": fragment.target }));
    if fragment.precedence != 0 {
        spec.insert("precedence".into(), fragment.precedence.into());
    }
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            spec.insert(key.into(), value);
        }
    };
    match &fragment.body {
        FragmentBody::RabbitPolicy(p) => {
            put("vhost", Some(p.vhost.as_str().into()));
            put("name", Some(p.name.as_str().into()));
            put("pattern", Some(p.pattern.as_str().into()));
            put("applyTo", Some(p.apply_to.as_str().into()));
            put("priority", Some(p.priority.into()));
            put("definition", Some(Value::Object(p.definition.clone())));
        }
        FragmentBody::NovaComputePolicy(n) => {
            put(
                "cpuAllocationRatio",
                n.cpu_allocation_ratio.map(Value::from),
            );
            put(
                "ramAllocationRatio",
                n.ram_allocation_ratio.map(Value::from),
            );
            put(
                "diskAllocationRatio",
                n.disk_allocation_ratio.map(Value::from),
            );
            put(
                "reservedHostMemoryMb",
                n.reserved_host_memory_mb.map(Value::from),
            );
            put(
                "maxConcurrentBuilds",
                n.max_concurrent_builds.map(Value::from),
            );
        }
        FragmentBody::NovaVifPolicy(v) => {
            put(
                "vifPluggingIsFatal",
                v.vif_plugging_is_fatal.map(Value::from),
            );
            put(
                "vifPluggingTimeout",
                v.vif_plugging_timeout.map(Value::from),
            );
        }
        FragmentBody::OsloMessagingPolicy(o) => {
            put(
                "heartbeatTimeoutThreshold",
                o.heartbeat_timeout_threshold.map(Value::from),
            );
            put("heartbeatRate", o.heartbeat_rate.map(Value::from));
            put("rabbitQuorumQueue", o.rabbit_quorum_queue.map(Value::from));
            put(
                "rabbitTransientQuorumQueue",
                o.rabbit_transient_quorum_queue.map(Value::from),
            );
        }
        FragmentBody::ConfigOverride(c) => {
            put("file", Some(c.file.as_str().into()));
            let (form, content) = match &c.content {
                OverrideContent::Ini(sections) => ("ini", json!(sections)),
                OverrideContent::Conf(keys) => ("conf", json!(keys)),
                OverrideContent::Env(vars) => ("env", json!(vars)),
            };
            put(form, Some(content));
        }
        other => panic!("the benchmark does not generate {}", other.kind()),
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": fragment.body.kind(),
        "metadata": { "name": fragment.id.name, "namespace": fragment.id.namespace },
        "spec": spec,
    })
}

/// Inputs of the Python reference: `target.json`, `fragments.json` (a list of resources) and
/// `base/<file>`.
pub fn reference_inputs(case: &Case, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir.join("base"))?;
    for (name, bytes) in &case.base {
        fs::write(dir.join("base").join(name), bytes)?;
    }
    let fragments: Vec<Value> = case.fragments.iter().map(fragment_resource).collect();
    fs::write(
        dir.join("target.json"),
        serde_json::to_vec(&target_resource(&case.target))?,
    )?;
    fs::write(dir.join("fragments.json"), serde_json::to_vec(&fragments)?)?;
    Ok(())
}

/// How the fragments' YAML is laid out for the CLI.
#[derive(Debug, Clone, Copy)]
pub enum Layout {
    /// One multi-document file holding every fragment.
    Stream,
    /// One file per fragment.
    FilePerResource,
}

/// Inputs of `kollacfg render`: `resources/` (the KollaConfig and the fragments as YAML) and
/// `base/<service>/<file>`.
pub fn cli_inputs(case: &Case, dir: &Path, layout: Layout) -> io::Result<()> {
    let resources = dir.join("resources");
    fs::create_dir_all(&resources)?;
    let service_dir = dir.join("base").join(&case.target.service);
    fs::create_dir_all(&service_dir)?;
    for (name, bytes) in &case.base {
        fs::write(service_dir.join(name), bytes)?;
    }
    fs::write(
        resources.join("kollaconfig.yaml"),
        yaml_document(&target_resource(&case.target)),
    )?;
    match layout {
        Layout::Stream => {
            let mut text = String::new();
            for fragment in &case.fragments {
                text.push_str("---\n");
                text.push_str(&yaml_document(&fragment_resource(fragment)));
            }
            fs::write(resources.join("fragments.yaml"), text)?;
        }
        Layout::FilePerResource => {
            let sub = resources.join("fragments");
            fs::create_dir_all(&sub)?;
            for fragment in &case.fragments {
                fs::write(
                    sub.join(format!("{}.yaml", fragment.id.name)),
                    yaml_document(&fragment_resource(fragment)),
                )?;
            }
        }
    }
    Ok(())
}

/// Block-style YAML of a resource: mappings as blocks, strings single-quoted.
pub fn yaml_document(value: &Value) -> String {
    let mut out = String::new();
    yaml_map_body(
        value.as_object().expect("a resource is a mapping"),
        0,
        &mut out,
    );
    out
}

fn yaml_map_body(map: &Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        let pad = " ".repeat(indent);
        let key = yaml_key(key);
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                let _ = writeln!(out, "{pad}{key}:");
                yaml_map_body(inner, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(is_scalar) => {
                let _ = writeln!(out, "{pad}{key}:");
                for item in items {
                    let _ = writeln!(out, "{pad}- {}", yaml_scalar(item));
                }
            }
            Value::Object(_) | Value::Array(_) => {
                // Empty or nested collections: JSON flow style is valid YAML.
                let _ = writeln!(out, "{pad}{key}: {value}");
            }
            scalar => {
                let _ = writeln!(out, "{pad}{key}: {}", yaml_scalar(scalar));
            }
        }
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

fn yaml_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        key.to_string()
    } else {
        single_quoted(key)
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::String(s) if plain_string(s) => s.clone(),
        Value::String(s) => single_quoted(s),
        other => other.to_string(),
    }
}

/// Whether a string can be written unquoted and still read back as the same string.
fn plain_string(s: &str) -> bool {
    s == "/"
        || (s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@'))
            && !matches!(
                s.to_ascii_lowercase().as_str(),
                "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
            ))
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
