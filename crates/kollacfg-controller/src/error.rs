//! The controller's errors: one variant per failure site, each naming the object involved.
//! A variant's name is also its metric label and event reason ([`Error::reason`]).

/// A reconcile failure. All of these are transient as far as the controller knows (the API
/// server refused or was unreachable): the object is retried with a growing delay.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A fragment cache stopped before its first full list (the controller is shutting down).
    #[error("a fragment cache stopped before it was filled")]
    CacheClosed,
    /// The KollaConfig has no namespace (the controller only handles namespaced objects).
    #[error("KollaConfig {0} has no namespace")]
    MissingNamespace(String),
    /// Reading the base Secret or ConfigMap failed (a missing one is not an error).
    #[error("reading base {kind} {object}: {source}")]
    ReadBase {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// The API error.
        source: kube::Error,
    },
    /// Reading the stored output object failed.
    #[error("reading output {kind} {object}: {source}")]
    ReadOutput {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// The API error.
        source: kube::Error,
    },
    /// Server-side apply of the output object failed.
    #[error("applying output {kind} {object}: {source}")]
    ApplyOutput {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// The API error.
        source: kube::Error,
    },
    /// The output's name is taken by an object kollacfg does not manage for this KollaConfig
    /// (made by hand or by another tool, or owned by another KollaConfig): it is left alone.
    #[error(
        "output {kind} {object} exists and is not managed by this KollaConfig ({owner}); \
         delete it or choose another spec.output.name"
    )]
    OutputNotOwned {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// Who has it instead.
        owner: String,
    },
    /// Reading a rollout workload failed (a missing one is not an error).
    #[error("reading rollout {kind} {object}: {source}")]
    ReadWorkload {
        /// `StatefulSet`, `Deployment` or `DaemonSet`.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// The API error.
        source: kube::Error,
    },
    /// Applying the config-hash annotation to a rollout workload failed.
    #[error("annotating rollout {kind} {object}: {source}")]
    AnnotateWorkload {
        /// `StatefulSet`, `Deployment` or `DaemonSet`.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// The API error.
        source: kube::Error,
    },
    /// Writing a KollaConfig's status failed.
    #[error("writing the status of KollaConfig {object}: {source}")]
    WriteTargetStatus {
        /// `namespace/name`.
        object: String,
        /// The API error.
        source: kube::Error,
    },
    /// The whole reconcile took longer than its time limit (an API call hung).
    #[error("the reconcile took longer than {0:?}; abandoned")]
    Timeout(std::time::Duration),
    /// Reading a Secret named by `spec.rabbitmq.management` failed (a missing one is not an
    /// error: it is reported in status).
    #[error("reading Secret {object}: {source}")]
    ReadSecret {
        /// `namespace/name`.
        object: String,
        /// The API error.
        source: kube::Error,
    },
    /// The live broker's policies could not be synced (unreachable, credentials refused or
    /// missing); the output was written. `reason` is the BrokerSynced condition's.
    #[error("syncing the broker of KollaConfig {object}: {message}")]
    BrokerSync {
        /// `namespace/name` of the KollaConfig.
        object: String,
        /// The condition reason (BrokerUnreachable, Unauthorized, ...).
        reason: &'static str,
        /// What went wrong (never a credential).
        message: String,
    },
    /// Writing a fragment's status failed.
    #[error("writing the status of {kind} {object}: {source}")]
    WriteFragmentStatus {
        /// The fragment kind.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// The API error.
        source: kube::Error,
    },
}

impl Error {
    /// The variant's name: the metric label and the event reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::CacheClosed => "CacheClosed",
            Self::MissingNamespace(_) => "MissingNamespace",
            Self::ReadBase { .. } => "ReadBase",
            Self::ReadOutput { .. } => "ReadOutput",
            Self::ApplyOutput { .. } => "ApplyOutput",
            Self::OutputNotOwned { .. } => "OutputNotOwned",
            Self::ReadWorkload { .. } => "ReadWorkload",
            Self::AnnotateWorkload { .. } => "AnnotateWorkload",
            Self::WriteTargetStatus { .. } => "WriteTargetStatus",
            Self::WriteFragmentStatus { .. } => "WriteFragmentStatus",
            Self::Timeout(_) => "Timeout",
            Self::ReadSecret { .. } => "ReadSecret",
            Self::BrokerSync { .. } => "BrokerSync",
        }
    }
}

/// The result of a controller step.
pub type Result<T, E = Error> = std::result::Result<T, E>;
