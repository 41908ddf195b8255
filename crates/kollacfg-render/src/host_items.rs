//! The items whose value is one host's own: an address or a name kolla-ansible fills in per host
//! when it renders a service's files. Data only; [`crate::lint`] reads it.
//!
//! The table comes from kolla-ansible's own templates (`ansible/roles/*/templates/*.j2`, release
//! 22.2.0): every setting of the files kollacfg edits (`nova.conf`, neutron's INI files,
//! `rabbitmq-env.conf`, `rabbitmq.conf`) whose value is built from `api_interface_address`,
//! `migration_interface_address`, `tunnel_interface_address`, `ansible_facts.hostname`,
//! `ansible_facts.nodename` or a variable made from them. `tests/tools/kolla-host-items.py`
//! derives that list from the package, and the ignored test `kolla_host_items` fails when it
//! names an item this table lacks. A few rows come from RabbitMQ's documentation instead (the
//! spellings kolla does not use but an operator may): they say so in `source`.

/// A fact of the pod (or of the node it runs on) that a per-pod value is built from, as the
/// placeholder `KollaConfig.spec.perPod` values use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fact {
    /// `{hostIP}`: the node's address, what other hosts reach this one by (advertised addresses).
    HostIp,
    /// `{podIP}`: the pod's own address, the one a server in the pod can bind to (on
    /// `hostNetwork` the same as the node's).
    PodIp,
    /// `{nodeName}`: the node's name, for a service's host name.
    NodeName,
    /// `{podName}`: the pod's name (a StatefulSet pod's stable identity).
    PodName,
}

impl Fact {
    /// The placeholder, e.g. `{hostIP}`.
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::HostIp => "{hostIP}",
            Self::PodIp => "{podIP}",
            Self::NodeName => "{nodeName}",
            Self::PodName => "{podName}",
        }
    }

    /// Whether the fact is an address (so a wildcard or loopback address is not host-specific).
    pub fn is_address(self) -> bool {
        matches!(self, Self::HostIp | Self::PodIp)
    }
}

/// Where a per-host item lives in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemPattern {
    /// `[section] key` of an INI file.
    Ini {
        /// The section (oslo.config group).
        section: &'static str,
        /// The option.
        key: &'static str,
    },
    /// A variable of `rabbitmq-env.conf`.
    Env(&'static str),
    /// A key of `rabbitmq.conf`; a trailing `*` matches any rest (`listeners.tcp.*`).
    Conf(&'static str),
}

/// One per-host item: where it is, which fact its value should be built from, and why it is in
/// the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostItem {
    /// The file name within the target, e.g. `nova.conf`.
    pub file: &'static str,
    /// The item.
    pub item: ItemPattern,
    /// The fact a per-pod value replaces the host's address or name with.
    pub fact: Fact,
    /// Where kolla-ansible (or RabbitMQ's documentation) shows it is per host.
    pub source: &'static str,
}

/// A setting kolla-ansible builds from a host fact that is nevertheless the same value on every
/// pod, with the reason; `kolla_host_items` accepts these candidates without a table row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotHostItem {
    /// The file name.
    pub file: &'static str,
    /// The item, as `tests/tools/kolla-host-items.py` prints it.
    pub item: &'static str,
    /// Why a shared value is right.
    pub reason: &'static str,
}

const fn ini(
    file: &'static str,
    section: &'static str,
    key: &'static str,
    fact: Fact,
    source: &'static str,
) -> HostItem {
    HostItem {
        file,
        item: ItemPattern::Ini { section, key },
        fact,
        source,
    }
}

const fn env(name: &'static str, fact: Fact, source: &'static str) -> HostItem {
    HostItem {
        file: crate::items::RABBITMQ_ENV_CONF,
        item: ItemPattern::Env(name),
        fact,
        source,
    }
}

const fn conf(key: &'static str, fact: Fact, source: &'static str) -> HostItem {
    HostItem {
        file: crate::items::RABBITMQ_CONF,
        item: ItemPattern::Conf(key),
        fact,
        source,
    }
}

use Fact::{HostIp, NodeName, PodIp, PodName};

const NOVA_CELL: &str = "nova-cell/templates/nova.conf.j2";
const NOVA_LIBVIRT: &str = "nova-cell/templates/nova.conf.d/libvirt.conf.j2";
const RABBIT_ENV: &str = "rabbitmq/templates/rabbitmq-env.conf.j2";
const RABBIT_CONF: &str = "rabbitmq/templates/rabbitmq.conf.j2";
const RABBIT_DOCS: &str = "RabbitMQ documentation (not in kolla's template)";

/// Every per-host item kollacfg knows, by file.
pub const HOST_ITEMS: &[HostItem] = &[
    // nova.conf, every nova-* service (nova/ and nova-cell/ templates).
    ini("nova.conf", "DEFAULT", "my_ip", HostIp, "nova/templates/nova.conf.j2, nova-cell/templates/nova.conf.j2: my_ip = {{ api_interface_address }}"),
    ini("nova.conf", "DEFAULT", "host", NodeName, "nova-cell/templates/nova.conf.j2: host = {{ ansible_facts.hostname }}_{{ service_name }} (and hostname-ironic)"),
    ini("nova.conf", "vnc", "server_listen", HostIp, NOVA_CELL),
    ini("nova.conf", "vnc", "server_proxyclient_address", HostIp, NOVA_CELL),
    ini("nova.conf", "vnc", "novncproxy_host", PodIp, NOVA_CELL),
    ini("nova.conf", "spice", "server_listen", HostIp, NOVA_CELL),
    ini("nova.conf", "spice", "server_proxyclient_address", HostIp, NOVA_CELL),
    ini("nova.conf", "spice", "html5proxy_host", PodIp, NOVA_CELL),
    ini("nova.conf", "serial_console", "proxyclient_address", HostIp, NOVA_CELL),
    ini("nova.conf", "serial_console", "serialproxy_host", PodIp, NOVA_CELL),
    ini("nova.conf", "libvirt", "live_migration_inbound_addr", HostIp, "nova-cell/templates/nova.conf.d/libvirt.conf.j2: {{ migration_interface_address }} or {{ migration_hostname }} (ansible_facts.nodename)"),
    ini("nova.conf", "libvirt", "connection_uri", HostIp, NOVA_LIBVIRT),
    ini("nova.conf", "ironic", "peer_list", NodeName, "nova-cell/templates/nova.conf.j2: peer_list = {{ host_value }} (hostname-ironic)"),
    ini("nova.conf", "oslo_messaging_rabbit", "hostname", NodeName, "nova-cell/templates/nova.conf.j2: hostname = {{ host_value }}"),
    // neutron
    ini("neutron.conf", "DEFAULT", "bind_host", PodIp, "neutron/templates/neutron.conf.j2: bind_host = {{ api_interface_address }}"),
    ini("neutron.conf", "DEFAULT", "host", NodeName, "neutron/templates/neutron.conf.j2: host = {{ ansible_facts.hostname }}_{{ item }}"),
    ini("openvswitch_agent.ini", "ovs", "local_ip", HostIp, "neutron/templates/openvswitch_agent.ini.j2: local_ip = {{ tunnel_interface_address }}"),
    // rabbitmq-env.conf
    env("RABBITMQ_NODENAME", PodName, "rabbitmq/templates/rabbitmq-env.conf.j2: RABBITMQ_NODENAME=rabbit@{{ ansible_facts.hostname }}"),
    env("NODENAME", PodName, RABBIT_DOCS),
    env("ERL_EPMD_ADDRESS", PodIp, RABBIT_ENV),
    env("RABBITMQ_NODE_IP_ADDRESS", PodIp, RABBIT_DOCS),
    env("NODE_IP_ADDRESS", PodIp, RABBIT_DOCS),
    // rabbitmq.conf
    conf("listeners.tcp.*", PodIp, RABBIT_CONF),
    conf("listeners.ssl.*", PodIp, RABBIT_CONF),
    conf("management.listener.ip", PodIp, RABBIT_CONF),
    conf("management.tcp.ip", PodIp, RABBIT_DOCS),
    conf("management.ssl.ip", PodIp, RABBIT_DOCS),
    conf("prometheus.tcp.ip", PodIp, RABBIT_CONF),
    conf("prometheus.ssl.ip", PodIp, RABBIT_DOCS),
];

/// Candidates `tests/tools/kolla-host-items.py` finds that are not per-host items.
pub const NOT_HOST_ITEMS: &[NotHostItem] = &[
    NotHostItem {
        file: "ovn_agent.ini",
        item: "[ovn] ovn_sb_connection",
        reason: "the host name only seeds the random choice of an OVN relay group; any relay \
                 serves every host",
    },
    NotHostItem {
        file: "neutron_ovn_metadata_agent.ini",
        item: "[ovn] ovn_sb_connection",
        reason: "the host name only seeds the random choice of an OVN relay group; any relay \
                 serves every host",
    },
];

impl ItemPattern {
    /// Whether `key` (a `rabbitmq.conf` key) matches a [`ItemPattern::Conf`] pattern.
    pub fn conf_matches(pattern: &str, key: &str) -> bool {
        match pattern.strip_suffix('*') {
            Some(prefix) => key.len() > prefix.len() && key.starts_with(prefix),
            None => key == pattern,
        }
    }

    /// The item as `tests/tools/kolla-host-items.py` prints it: `[section] key`, `NAME` or
    /// `key`.
    pub fn script_form(&self) -> String {
        match self {
            Self::Ini { section, key } => format!("[{section}] {key}"),
            Self::Env(name) => name.to_string(),
            Self::Conf(key) => key.to_string(),
        }
    }

    /// Whether this pattern covers a candidate printed by the script (a `*` in the candidate
    /// stands for a Jinja expression and matches a `*` pattern).
    pub fn covers_script_item(&self, item: &str) -> bool {
        match self {
            Self::Conf(pattern) => Self::conf_matches(pattern, &item.replace('*', "1")),
            _ => self.script_form() == item,
        }
    }
}
