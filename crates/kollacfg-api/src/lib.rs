//! kollacfg's custom resources (group `kollacfg.dev`, version `v1alpha1`): the types, their
//! CRDs, a loader for YAML streams and the conversion into the engine's input model.
//! No I/O and no API server access: the controller and the CLI do that.

pub mod checks;
pub mod common;
pub mod config_override;
pub mod convert;
pub mod crds;
pub mod erlang_vm_args;
pub mod kolla_config;
pub mod kubectl_yaml;
pub mod load;
pub mod messaging;
pub mod nova;
pub mod per_pod;
pub mod rabbit_policy;
pub mod resource;
pub mod schema;

pub use checks::{check, Violation};
pub use common::*;
pub use config_override::{ConfigOverride, ConfigOverrideSpec};
pub use convert::{host_values, to_fragment, to_per_pod, to_target, DEFAULT_NAMESPACE};
pub use crds::{all_crds, crd_file_name, crd_files, crd_yaml, crds_yaml};
pub use erlang_vm_args::{BusyWait, ErlangVmArgs, ErlangVmArgsSpec};
pub use kolla_config::{
    BaseRef, BaseSource, BrokerStatus, CredentialsSecretRef, FileStatus, KollaConfig,
    KollaConfigSpec, KollaConfigStatus, Management, Output, OutputKind, RabbitmqSettings,
    RolloutPolicy, RolloutRef, RolloutState, SecretKeyRef, WorkloadKind, WorkloadRollout,
    DEFAULT_KEEP_VERSIONS, DEFAULT_PROGRESS_DEADLINE_SECONDS, LABEL_TARGET, VERSION_HASH_DIGITS,
};
pub use load::{parse_all_documents, parse_documents, LoadError};
pub use messaging::{
    OsloMessagingPolicy, OsloMessagingPolicySpec, RabbitListenerPolicy, RabbitListenerPolicySpec,
};
pub use nova::{NovaComputePolicy, NovaComputePolicySpec, NovaVifPolicy, NovaVifPolicySpec};
pub use per_pod::PerPodItem;
pub use rabbit_policy::{ApplyTo, RabbitPolicy, RabbitPolicySpec};
pub use resource::{AnyResource, KINDS};

/// The API group of every kollacfg resource.
pub const GROUP: &str = "kollacfg.dev";
/// The API version of every kollacfg resource.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every kollacfg resource.
pub const API_VERSION: &str = "kollacfg.dev/v1alpha1";
/// The `kubectl get` category grouping all kollacfg kinds.
pub const CATEGORY: &str = "kollacfg";
