//! The pure build step of a reconcile: one KollaConfig, the fragments naming it and its base
//! files in; the desired output object, the rollout hash and every status out. No API calls
//! here, so every byte of it is unit-tested from inline objects.

mod output;
mod status;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kollacfg_api::{to_fragment, to_per_pod, to_target, AnyResource, FragmentStatus, KollaConfig};
use kollacfg_render::items::ItemKey;
use kollacfg_render::render::render_target_per_pod;
use kollacfg_render::{Fragment, ResourceRef};

pub use output::{
    desired_output, stored_files_hash, DesiredOutput, ANNOTATION_CONTENT_HASH, FIELD_MANAGER,
    LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME,
};
pub use status::{fragment_status, orphan_status, target_status, write_failed_status, Rendered};

/// The largest output written: the API server refuses objects over 1 MiB.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// The pod-template annotation that restarts a rollout workload when it changes.
pub const ANNOTATION_CONFIG_HASH: &str = "kollacfg.dev/config-hash";

/// The base files of a KollaConfig, as dereferenced from the cluster.
#[derive(Clone, Debug, PartialEq)]
pub enum Base {
    /// `spec.base` is not set: only the files fragments write are produced.
    Unset,
    /// The base object's files (key → bytes).
    Files(BTreeMap<String, Vec<u8>>),
    /// The base object does not exist: `kind` (`Secret`/`ConfigMap`) and name.
    Missing {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its name, in the KollaConfig's namespace.
        name: String,
    },
}

/// Everything a build needs, already read from the cluster.
pub struct Inputs<'a> {
    /// The KollaConfig being reconciled (its status is the previous status).
    pub kolla_config: &'a KollaConfig,
    /// Every fragment naming it (see [`names_target`]); any order.
    pub fragments: &'a [AnyResource],
    /// Its base files.
    pub base: Base,
    /// The time new condition transitions are stamped with.
    pub now: Time,
}

/// What the build decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Built {
    /// The output object to have in the cluster; `None` keeps the previous output (the render
    /// failed, the base is missing or the result is too large).
    pub output: Option<DesiredOutput>,
    /// The `kollacfg.dev/config-hash` for the rollout workloads; `None` with no output.
    pub rollout_hash: Option<String>,
    /// The KollaConfig's status.
    pub status: kollacfg_api::KollaConfigStatus,
    /// Each fragment's status, sorted by `Kind/name`.
    pub fragments: Vec<(ResourceRef, FragmentStatus)>,
    /// The fragment that decided each policy `(vhost, name)` of definitions.json (`absent`
    /// ones included); empty when nothing was rendered.
    pub policy_winners: BTreeMap<(String, String), ResourceRef>,
    /// The policies that must not exist (`RabbitPolicy.spec.absent` won); empty when nothing
    /// was rendered.
    pub absent_policies: Vec<(String, String)>,
    /// Why nothing was rendered; `None` when the output is current.
    pub degraded: Option<Degraded>,
}

/// Why a KollaConfig is degraded. The variant names are the condition reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Degraded {
    /// One or more fragments were refused by the engine.
    InvalidFragments,
    /// The KollaConfig itself or its base files were refused by the engine.
    InvalidBase,
    /// The base object named by `spec.base` does not exist.
    BaseMissing,
    /// The rendered files are over [`MAX_OUTPUT_BYTES`] (the size is kept).
    OutputTooLarge(usize),
}

impl Degraded {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidFragments => "InvalidFragments",
            Self::InvalidBase => "InvalidBase",
            Self::BaseMissing => "BaseMissing",
            Self::OutputTooLarge(_) => "OutputTooLarge",
        }
    }
}

/// Whether the controller applies `kolla_config`'s policies to the running broker
/// (`spec.rabbitmq.management` is set).
pub fn live_policies(kolla_config: &KollaConfig) -> bool {
    management(kolla_config).is_some()
}

/// `spec.rabbitmq.management`, if set.
pub fn management(kolla_config: &KollaConfig) -> Option<&kollacfg_api::Management> {
    kolla_config
        .spec
        .rabbitmq
        .as_ref()
        .and_then(|r| r.management.as_ref())
}

/// Whether `fragment` names `kolla_config`: a fragment kind, in the same namespace, with
/// `spec.kollaConfigRef.name` equal to its name.
pub fn names_target(kolla_config: &KollaConfig, fragment: &AnyResource) -> bool {
    fragment.is_fragment()
        && fragment.metadata().namespace == kolla_config.metadata.namespace
        && fragment.kolla_config_ref() == kolla_config.metadata.name.as_deref()
}

/// Total size of a file set: names plus contents.
pub fn output_size(files: &BTreeMap<String, Vec<u8>>) -> usize {
    files.iter().map(|(n, c)| n.len() + c.len()).sum()
}

/// Runs the build: dereferenced inputs → desired objects and statuses.
pub fn build(inputs: &Inputs<'_>) -> Built {
    let kc = inputs.kolla_config;
    let target = to_target(kc);
    let converted: Vec<(&AnyResource, Fragment)> = inputs
        .fragments
        .iter()
        .filter_map(|r| to_fragment(r).map(|f| (r, f)))
        .collect();
    let refs: Vec<&Fragment> = converted.iter().map(|(_, f)| f).collect();
    let per_pod = to_per_pod(kc);
    let rendered = match &inputs.base {
        Base::Missing { kind, name } => Rendered::BaseMissing {
            kind,
            name: name.clone(),
        },
        Base::Unset => render(&target, &per_pod, &refs, &BTreeMap::new()),
        Base::Files(files) => render(&target, &per_pod, &refs, files),
    };
    let (output, rollout_hash) = match &rendered {
        Rendered::Ok(out) if output_size(&out.files) <= MAX_OUTPUT_BYTES => (
            Some(desired_output(kc, &out.files)),
            Some(crate::hash::rollout_hash(&out.files, live_policies(kc))),
        ),
        _ => (None, None),
    };
    let status = target_status(kc, &rendered, &inputs.now);
    let mut fragments: Vec<(ResourceRef, FragmentStatus)> = converted
        .iter()
        .map(|(resource, f)| {
            let previous = fragment_previous(resource);
            let generation = resource.metadata().generation;
            (
                f.id.clone(),
                fragment_status(&f.id, kc, &rendered, previous, generation, &inputs.now),
            )
        })
        .collect();
    fragments.sort_by(|a, b| (&a.0.kind, &a.0.name).cmp(&(&b.0.kind, &b.0.name)));
    let (policy_winners, absent_policies) = match &rendered {
        Rendered::Ok(out) => (
            out.items
                .iter()
                .filter_map(|item| match &item.item {
                    ItemKey::Policy { vhost, name } => {
                        Some(((vhost.clone(), name.clone()), item.winner.clone()))
                    }
                    _ => None,
                })
                .collect(),
            out.absent_policies(),
        ),
        _ => (BTreeMap::new(), Vec::new()),
    };
    Built {
        output,
        rollout_hash,
        status,
        fragments,
        policy_winners,
        absent_policies,
        degraded: rendered.degraded(),
    }
}

fn render(
    target: &kollacfg_render::Target,
    per_pod: &[kollacfg_render::ConfigOverride],
    fragments: &[&Fragment],
    base: &BTreeMap<String, Vec<u8>>,
) -> Rendered {
    match render_target_per_pod(target, per_pod, fragments, base) {
        Ok(out) => {
            let size = output_size(&out.files);
            if size > MAX_OUTPUT_BYTES {
                Rendered::TooLarge(Box::new(out), size)
            } else {
                Rendered::Ok(Box::new(out))
            }
        }
        Err(issues) => Rendered::Invalid(issues),
    }
}

/// A fragment's stored conditions, the previous state for [`fragment_status`].
pub fn fragment_previous(resource: &AnyResource) -> &[Condition] {
    stored_fragment_status(resource).map_or(&[], |s| s.conditions.as_slice())
}

/// A fragment's stored status, to compare with the desired one before writing.
pub fn stored_fragment_status(resource: &AnyResource) -> Option<&FragmentStatus> {
    match resource {
        AnyResource::KollaConfig(_) => None,
        AnyResource::RabbitPolicy(r) => r.status.as_ref(),
        AnyResource::ErlangVmArgs(r) => r.status.as_ref(),
        AnyResource::NovaVifPolicy(r) => r.status.as_ref(),
        AnyResource::NovaComputePolicy(r) => r.status.as_ref(),
        AnyResource::RabbitListenerPolicy(r) => r.status.as_ref(),
        AnyResource::OsloMessagingPolicy(r) => r.status.as_ref(),
        AnyResource::ConfigOverride(r) => r.status.as_ref(),
    }
}
