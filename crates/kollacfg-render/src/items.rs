//! The unit of merging ("item") and the files items live in.
//!
//! One item is a whole policy `(vhost, name)` in `definitions.json`, one Erlang flag in
//! `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS`, one variable in `rabbitmq-env.conf`, one key in
//! `rabbitmq.conf`, or one `section.key` of an INI file. Items order deterministically
//! (`Ord`), which fixes where new items are written.

use std::fmt;

/// `definitions.json`.
pub const DEFINITIONS_JSON: &str = "definitions.json";
/// `rabbitmq-env.conf`.
pub const RABBITMQ_ENV_CONF: &str = "rabbitmq-env.conf";
/// `rabbitmq.conf`.
pub const RABBITMQ_CONF: &str = "rabbitmq.conf";

/// The formats kollacfg can edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// RabbitMQ definitions (JSON).
    Definitions,
    /// Shell-sourced `rabbitmq-env.conf`.
    RabbitEnv,
    /// New-style `rabbitmq.conf`.
    RabbitConf,
    /// oslo.config INI.
    Ini,
}

impl FileFormat {
    /// The format of a file by its name: the three RabbitMQ files by name, any other file INI.
    pub fn of(file: &str) -> Self {
        match file {
            DEFINITIONS_JSON => Self::Definitions,
            RABBITMQ_ENV_CONF => Self::RabbitEnv,
            RABBITMQ_CONF => Self::RabbitConf,
            _ => Self::Ini,
        }
    }
}

/// One mergeable item of one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKey {
    /// A policy in `definitions.json`.
    Policy {
        /// Virtual host.
        vhost: String,
        /// Policy name.
        name: String,
    },
    /// One Erlang emulator flag, e.g. `+sbwt`.
    ErlFlag(String),
    /// One variable of `rabbitmq-env.conf`.
    EnvVar(String),
    /// One key of `rabbitmq.conf`.
    ConfKey(String),
    /// One `section.key` of an INI file.
    Ini {
        /// Section name.
        section: String,
        /// Option name.
        key: String,
    },
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Policy { vhost, name } => write!(f, "policy {name:?} in vhost {vhost:?}"),
            Self::ErlFlag(flag) => write!(f, "Erlang flag {flag}"),
            Self::EnvVar(name) => write!(f, "variable {name}"),
            Self::ConfKey(key) => write!(f, "key {key}"),
            Self::Ini { section, key } => write!(f, "[{section}] {key}"),
        }
    }
}

/// The value a contribution gives an item.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemValue {
    /// A full policy object as compact JSON, as `files::definitions::policy_text` writes it
    /// (canonical: equal policies have equal text).
    Policy(String),
    /// A policy that must not exist (`RabbitPolicy.spec.absent`).
    Absent,
    /// The arguments of an Erlang flag.
    Flag(Vec<String>),
    /// A scalar written as text.
    Text(String),
}

impl fmt::Display for ItemValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Policy(v) => write!(f, "{v}"),
            Self::Absent => write!(f, "absent"),
            Self::Flag(args) => write!(f, "{}", args.join(" ")),
            Self::Text(t) => write!(f, "{t}"),
        }
    }
}

/// Text that is usually a constant: file names and field paths, shared by thousands of items.
pub type Text = std::borrow::Cow<'static, str>;

/// One fragment's wish for one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// The file of the target the item lives in.
    pub file: Text,
    /// The item.
    pub item: ItemKey,
    /// The value wished for.
    pub value: ItemValue,
    /// The fragment field it comes from, for reports.
    pub field: Text,
}
