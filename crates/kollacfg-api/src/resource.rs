//! `AnyResource`: any one kollacfg resource, whatever its kind, with the accessors the loader,
//! the CLI and the controller share. No parsing and no conversion here.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::{
    ConfigOverride, ErlangVmArgs, KollaConfig, NovaComputePolicy, NovaVifPolicy,
    OsloMessagingPolicy, RabbitListenerPolicy, RabbitPolicy,
};

/// Every kollacfg kind, the target first, then the fragments in the order of DESIGN.md §2.
pub const KINDS: [&str; 8] = [
    "KollaConfig",
    "RabbitPolicy",
    "ErlangVmArgs",
    "NovaVifPolicy",
    "NovaComputePolicy",
    "RabbitListenerPolicy",
    "OsloMessagingPolicy",
    "ConfigOverride",
];

/// One kollacfg resource of any kind. Serializes as the resource itself (with `apiVersion` and
/// `kind`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum AnyResource {
    /// A target.
    KollaConfig(KollaConfig),
    /// A fragment writing a RabbitMQ policy.
    RabbitPolicy(RabbitPolicy),
    /// A fragment writing Erlang emulator flags.
    ErlangVmArgs(ErlangVmArgs),
    /// A fragment writing nova's VIF plugging settings.
    NovaVifPolicy(NovaVifPolicy),
    /// A fragment writing nova's overcommit and build settings.
    NovaComputePolicy(NovaComputePolicy),
    /// A fragment writing RabbitMQ listener settings.
    RabbitListenerPolicy(RabbitListenerPolicy),
    /// A fragment writing oslo.messaging settings.
    OsloMessagingPolicy(OsloMessagingPolicy),
    /// A fragment writing raw items.
    ConfigOverride(ConfigOverride),
}

/// Runs `$body` with `$r` bound to the typed resource, whatever the variant.
macro_rules! with_resource {
    ($any:expr, $r:ident => $body:expr) => {
        match $any {
            AnyResource::KollaConfig($r) => $body,
            AnyResource::RabbitPolicy($r) => $body,
            AnyResource::ErlangVmArgs($r) => $body,
            AnyResource::NovaVifPolicy($r) => $body,
            AnyResource::NovaComputePolicy($r) => $body,
            AnyResource::RabbitListenerPolicy($r) => $body,
            AnyResource::OsloMessagingPolicy($r) => $body,
            AnyResource::ConfigOverride($r) => $body,
        }
    };
}

/// Runs `$body` with `$spec` bound to a fragment's spec; `None` for a KollaConfig.
macro_rules! with_fragment_spec {
    ($any:expr, $spec:ident => $body:expr) => {
        match $any {
            AnyResource::KollaConfig(_) => None,
            AnyResource::RabbitPolicy(r) => Some({
                let $spec = &r.spec;
                $body
            }),
            AnyResource::ErlangVmArgs(r) => Some({
                let $spec = &r.spec;
                $body
            }),
            AnyResource::NovaVifPolicy(r) => Some({
                let $spec = &r.spec;
                $body
            }),
            AnyResource::NovaComputePolicy(r) => Some({
                let $spec = &r.spec;
                $body
            }),
            AnyResource::RabbitListenerPolicy(r) => Some({
                let $spec = &r.spec;
                $body
            }),
            AnyResource::OsloMessagingPolicy(r) => Some({
                let $spec = &r.spec;
                $body
            }),
            AnyResource::ConfigOverride(r) => Some({
                let $spec = &r.spec;
                $body
            }),
        }
    };
}

impl AnyResource {
    /// The kind, e.g. `RabbitPolicy`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::KollaConfig(_) => "KollaConfig",
            Self::RabbitPolicy(_) => "RabbitPolicy",
            Self::ErlangVmArgs(_) => "ErlangVmArgs",
            Self::NovaVifPolicy(_) => "NovaVifPolicy",
            Self::NovaComputePolicy(_) => "NovaComputePolicy",
            Self::RabbitListenerPolicy(_) => "RabbitListenerPolicy",
            Self::OsloMessagingPolicy(_) => "OsloMessagingPolicy",
            Self::ConfigOverride(_) => "ConfigOverride",
        }
    }

    /// The resource's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        with_resource!(self, r => &r.metadata)
    }

    /// Whether this is a fragment (every kind but KollaConfig).
    pub fn is_fragment(&self) -> bool {
        !matches!(self, Self::KollaConfig(_))
    }

    /// A fragment's `spec.kollaConfigRef.name`; `None` for a KollaConfig.
    pub fn kolla_config_ref(&self) -> Option<&str> {
        with_fragment_spec!(self, spec => spec.kolla_config_ref.name.as_str())
    }

    /// A fragment's `spec.precedence`; `None` for a KollaConfig.
    pub fn precedence(&self) -> Option<i32> {
        with_fragment_spec!(self, spec => spec.precedence)
    }
}

macro_rules! impl_from {
    ($($kind:ident),*) => {$(
        impl From<$kind> for AnyResource {
            fn from(resource: $kind) -> Self {
                Self::$kind(resource)
            }
        }
    )*};
}

impl_from!(
    KollaConfig,
    RabbitPolicy,
    ErlangVmArgs,
    NovaVifPolicy,
    NovaComputePolicy,
    RabbitListenerPolicy,
    OsloMessagingPolicy,
    ConfigOverride
);
