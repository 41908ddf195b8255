//! Warnings about a target's rendered files that are not errors: today `HostSpecificValue`, a
//! literal per-host value (an address or a name of one host, see [`crate::host_items`]) in a
//! file that every pod of a DaemonSet or a StatefulSet reads. Pure: files in, warnings out; it
//! never changes a file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::files::ini::IniDocument;
use crate::files::rabbitmq_conf::RabbitConf;
use crate::files::rabbitmq_env::EnvFile;
use crate::host_items::{Fact, HostItem, ItemPattern, HOST_ITEMS};
use crate::issue::printable;
use crate::items::{FileFormat, ItemKey};

/// The workload kinds whose pods all mount one output: a per-host value in it is wrong on every
/// pod but one. A Deployment's pods are interchangeable and are not linted.
pub const PER_POD_KINDS: &[&str] = &["DaemonSet", "StatefulSet"];

/// One item of one file: what a `perPod` entry (or anything else that sets a value per pod)
/// covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemAddress {
    /// The file name within the target, e.g. `nova.conf`.
    pub file: String,
    /// The item: [`ItemKey::Ini`], [`ItemKey::EnvVar`] or [`ItemKey::ConfKey`].
    pub item: ItemKey,
}

/// A workload of `spec.rollout`: its kind (`DaemonSet`, ...) and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload<'a> {
    /// `StatefulSet`, `Deployment` or `DaemonSet`.
    pub kind: &'a str,
    /// `metadata.name`.
    pub name: &'a str,
}

/// A `HostSpecificValue` warning: one host's value in a file every pod reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostValue {
    /// The file name.
    pub file: String,
    /// The item.
    pub item: ItemKey,
    /// The value as written; `None` for an item whose name says it may be secret.
    pub value: Option<String>,
    /// The fact a per-pod value is built from.
    pub fact: Fact,
    /// The `perPod` entry that sets it per pod, as a one-line YAML flow sequence.
    pub per_pod: String,
    /// The workloads whose pods share the file, e.g. `DaemonSet nova-compute`.
    pub shared_by: String,
}

impl HostValue {
    /// `nova.conf [DEFAULT] my_ip`: the file and the item, for short lists.
    pub fn item_text(&self) -> String {
        format!(
            "{} {}",
            printable(&self.file),
            printable(&self.item.to_string())
        )
    }

    /// `nova.conf [DEFAULT] my_ip = "10.0.0.21"`; `(a value)` stands for a value that may be
    /// secret.
    pub fn item_and_value(&self) -> String {
        match &self.value {
            Some(v) => format!("{} = {v:?}", self.item_text()),
            None => format!("{} = (a value)", self.item_text()),
        }
    }
}

impl fmt::Display for HostValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is one host's value, but every pod of {} reads this file; set it per pod with {}",
            self.item_and_value(),
            self.shared_by,
            self.per_pod
        )
    }
}

/// Every listed per-host item (see [`HOST_ITEMS`]) that holds a literal value in `files`, for a
/// target rolled out to `rollout`; items in `covered` (set per pod already) are skipped.
/// Nothing when no workload of `rollout` is a DaemonSet or a StatefulSet. Sorted by file, then
/// item. A file that does not parse is skipped (rendering reports it).
pub fn host_specific_values(
    files: &BTreeMap<String, Vec<u8>>,
    rollout: &[Workload<'_>],
    covered: &[ItemAddress],
) -> Vec<HostValue> {
    let shared: Vec<String> = rollout
        .iter()
        .filter(|w| PER_POD_KINDS.contains(&w.kind))
        .map(|w| format!("{} {}", w.kind, printable(w.name)))
        .collect();
    if shared.is_empty() {
        return Vec::new();
    }
    let shared_by = shared.join(", ");
    let mut found = Vec::new();
    for (file, bytes) in files {
        let rows: Vec<&HostItem> = HOST_ITEMS.iter().filter(|r| r.file == file).collect();
        if rows.is_empty() {
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        for (item, value, fact) in literal_items(file, text, &rows) {
            let address = ItemAddress {
                file: file.clone(),
                item,
            };
            if covered.contains(&address) || !is_host_specific(&value, fact) {
                continue;
            }
            let per_pod = per_pod_entry(file, &address.item, &fix_value(&value, fact));
            let value = (!may_be_secret(&address.item)).then_some(value);
            found.push(HostValue {
                file: address.file,
                item: address.item,
                value,
                fact,
                per_pod,
                shared_by: shared_by.clone(),
            });
        }
    }
    found.sort_by(|a, b| (&a.file, &a.item).cmp(&(&b.file, &b.item)));
    found
}

/// The value each listed item of one file holds (the one its reader applies), with its fact.
fn literal_items(file: &str, text: &str, rows: &[&HostItem]) -> Vec<(ItemKey, String, Fact)> {
    let mut out = Vec::new();
    match FileFormat::of(file) {
        FileFormat::Ini => {
            let Ok(doc) = IniDocument::parse(text) else {
                return out;
            };
            for row in rows {
                if let ItemPattern::Ini { section, key } = row.item {
                    // oslo.config applies the last value of a single-valued option.
                    if let Some(value) = doc.get(section, key).pop() {
                        let value = unquote(value.trim());
                        // `$name` is oslo.config's reference to another option, not a literal.
                        if !value.contains('$') {
                            let item = ItemKey::Ini {
                                section: section.into(),
                                key: key.into(),
                            };
                            out.push((item, value.to_string(), row.fact));
                        }
                    }
                }
            }
        }
        FileFormat::RabbitEnv => {
            let Ok(doc) = EnvFile::parse(text) else {
                return out;
            };
            for row in rows {
                // A value using `$`, backquotes or `~` is computed by the shell: no literal.
                if let ItemPattern::Env(name) = row.item {
                    if let Some(value) = doc.get(name) {
                        out.push((ItemKey::EnvVar(name.into()), value, row.fact));
                    }
                }
            }
        }
        FileFormat::RabbitConf => {
            let Ok(doc) = RabbitConf::parse(text) else {
                return out;
            };
            let mut last: BTreeMap<&str, &str> = BTreeMap::new();
            for (key, value) in doc.settings() {
                last.insert(key, value);
            }
            for (key, value) in last {
                let row = rows.iter().find(|r| match r.item {
                    ItemPattern::Conf(pattern) => ItemPattern::conf_matches(pattern, key),
                    _ => false,
                });
                if let Some(row) = row {
                    let value = unquote(value).to_string();
                    out.push((ItemKey::ConfKey(key.into()), value, row.fact));
                }
            }
        }
        FileFormat::Definitions => {}
    }
    out
}

/// `value` without one pair of matching surrounding quotes (as oslo.config and RabbitMQ read it).
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

/// The placeholders of `perPod` values: a value holding one is a template, not a literal.
const PLACEHOLDERS: &[&str] = &[
    "{nodeName}",
    "{hostIP}",
    "{podIP}",
    "{podName}",
    "{podNamespace}",
];

/// Whether `value` names one host: not empty, not a template, and for an address not a port
/// alone, a wildcard (`0.0.0.0`, `::`) or a loopback address, which are the same on every host.
fn is_host_specific(value: &str, fact: Fact) -> bool {
    if value.is_empty() || PLACEHOLDERS.iter().any(|p| value.contains(p)) {
        return false;
    }
    if !fact.is_address() {
        return true;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) || value.starts_with(":::") {
        return false; // `listeners.tcp.default = 5672`; RabbitMQ's `:::5672` is every address
    }
    let (_, host, _) = split_host(value);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.is_empty() || bare.eq_ignore_ascii_case("localhost") {
        return false;
    }
    match bare.parse::<IpAddr>() {
        Ok(ip) => !(ip.is_unspecified() || ip.is_loopback()),
        Err(_) => true,
    }
}

/// Splits `value` into what comes before the host, the host, and what follows it:
/// `qemu+tcp://10.0.0.21/system`, `rabbit@node1`, `10.0.0.11:5672`, `[fd00::1]:5672`, or a
/// bare address or name.
fn split_host(value: &str) -> (&str, &str, &str) {
    let start = match value.find("://") {
        Some(i) => i + 3,
        None => value.rfind('@').map_or(0, |i| i + 1),
    };
    let rest = &value[start..];
    let len = if rest.starts_with('[') {
        rest.find(']').map_or(rest.len(), |i| i + 1)
    } else {
        let end = rest.find('/').unwrap_or(rest.len());
        let part = &rest[..end];
        if part.matches(':').count() >= 2 {
            end // a bare IPv6 address
        } else {
            part.find(':').unwrap_or(end)
        }
    };
    (&value[..start], &rest[..len], &rest[len..])
}

/// The per-pod value for `value`: its host part replaced by the fact's placeholder.
fn fix_value(value: &str, fact: Fact) -> String {
    let (before, _, after) = split_host(value);
    format!("{before}{}{after}", fact.placeholder())
}

/// Whether an item's name says its value may be a credential (never printed).
fn may_be_secret(item: &ItemKey) -> bool {
    let name = match item {
        ItemKey::Ini { key, .. } => key,
        ItemKey::EnvVar(name) | ItemKey::ConfKey(name) => name,
        _ => return false,
    }
    .to_ascii_lowercase();
    ["password", "secret", "token", "passwd", "credential"]
        .iter()
        .any(|w| name.contains(w))
}

/// `perPod: [{file: F, ini: {S: {K: "V"}}}]` (or `env: {K: "V"}`, `conf: {K: "V"}`).
fn per_pod_entry(file: &str, item: &ItemKey, value: &str) -> String {
    let value = yaml_quoted(value);
    let body = match item {
        ItemKey::Ini { section, key } => {
            format!(
                "ini: {{{}: {{{}: {value}}}}}",
                yaml_key(section),
                yaml_key(key)
            )
        }
        ItemKey::EnvVar(name) => format!("env: {{{}: {value}}}", yaml_key(name)),
        ItemKey::ConfKey(key) => format!("conf: {{{}: {value}}}", yaml_key(key)),
        _ => String::new(),
    };
    format!("perPod: [{{file: {}, {body}}}]", yaml_key(file))
}

/// A YAML flow-mapping key: plain when it is only letters, digits, `_`, `.` and `-`.
fn yaml_key(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !text.starts_with(['-', '.']);
    if plain {
        text.to_string()
    } else {
        yaml_quoted(text)
    }
}

/// A YAML double-quoted scalar.
fn yaml_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
