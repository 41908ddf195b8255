//! Conversion of custom resources into the engine's input model (`kollacfg_render`), applying
//! the documented defaults. Pure mapping: no validation beyond what the types already carry.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kollacfg_render::{
    self as model, Fragment, FragmentBody, OverrideContent, ResourceRef, Target,
};

use kollacfg_render::lint::{host_specific_values, HostValue, ItemAddress, Workload};
use kollacfg_render::per_pod::per_pod_edits;

use crate::{AnyResource, KollaConfig};

/// The namespace of a resource whose `metadata.namespace` is absent (offline inputs).
pub const DEFAULT_NAMESPACE: &str = "default";

impl AnyResource {
    /// `Kind namespace/name` of the resource; namespace `default` when absent.
    pub fn resource_ref(&self) -> ResourceRef {
        reference(self.kind(), self.metadata())
    }
}

fn reference(kind: &str, meta: &ObjectMeta) -> ResourceRef {
    ResourceRef::new(
        kind,
        meta.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE),
        meta.name.as_deref().unwrap_or_default(),
    )
}

/// The engine's view of a KollaConfig.
pub fn to_target(kolla_config: &KollaConfig) -> Target {
    Target {
        id: reference("KollaConfig", &kolla_config.metadata),
        service: kolla_config.spec.service.clone(),
        rabbitmq_version: kolla_config
            .spec
            .rabbitmq
            .as_ref()
            .and_then(|r| r.version.clone()),
    }
}

/// The `HostSpecificValue` warnings of a KollaConfig's rendered `files`: literal per-host
/// values in a target whose `spec.rollout` has a DaemonSet or a StatefulSet
/// ([`kollacfg_render::lint::host_specific_values`]). The same answer offline and in a cluster.
pub fn host_values(
    kolla_config: &KollaConfig,
    files: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Vec<HostValue> {
    let rollout: Vec<Workload<'_>> = kolla_config
        .spec
        .rollout
        .iter()
        .map(|r| Workload {
            kind: r.kind.as_str(),
            name: &r.name,
        })
        .collect();
    // Items set per pod (spec.perPod) are not literal: they go in `covered`. (An invalid
    // perPod is reported by the render; it covers nothing here.)
    let covered: Vec<ItemAddress> =
        per_pod_edits(&to_target(kolla_config), &to_per_pod(kolla_config))
            .map(|edits| {
                edits
                    .into_iter()
                    .map(|(edit, _)| ItemAddress {
                        file: edit.file,
                        item: edit.item,
                    })
                    .collect()
            })
            .unwrap_or_default();
    host_specific_values(files, &rollout, &covered)
}

/// The engine's view of a fragment; `None` for a KollaConfig.
///
/// Applies the defaults: policy name = `metadata.name`, an absent policy's missing pattern and
/// definition empty (the engine ignores them) (vhost `/`, `applyTo: all`, priority 0
/// and precedence 0 are already filled in by deserialization). The resource is expected to
/// satisfy its CRD (the API server or [`crate::checks::check`] made sure): a ConfigOverride
/// with several forms keeps the first of `ini`, `conf`, `env`, and one with none sets nothing.
pub fn to_fragment(resource: &AnyResource) -> Option<Fragment> {
    let id = resource.resource_ref();
    let body = match resource {
        AnyResource::KollaConfig(_) => return None,
        AnyResource::RabbitPolicy(p) => {
            let s = &p.spec;
            FragmentBody::RabbitPolicy(model::RabbitPolicy {
                vhost: s.vhost.clone(),
                name: s.name.clone().unwrap_or_else(|| id.name.clone()),
                pattern: s.pattern.clone().unwrap_or_default(),
                apply_to: s.apply_to.as_str().to_string(),
                priority: s.priority,
                definition: s.definition.clone().unwrap_or_default(),
                absent: s.absent,
            })
        }
        AnyResource::ErlangVmArgs(e) => {
            let s = &e.spec;
            let text = |b: Option<crate::BusyWait>| b.map(|b| b.as_str().to_string());
            FragmentBody::ErlangVmArgs(model::ErlangVmArgs {
                scheduler_busy_wait: text(s.scheduler_busy_wait),
                dirty_cpu_scheduler_busy_wait: text(s.dirty_cpu_scheduler_busy_wait),
                dirty_io_scheduler_busy_wait: text(s.dirty_io_scheduler_busy_wait),
                scheduler_utilization_balancing: s.scheduler_utilization_balancing,
                schedulers: s.schedulers.clone(),
                async_threads: s.async_threads,
                max_processes: s.max_processes,
                dist_buffer_busy_limit_kb: s.dist_buffer_busy_limit_kb,
                extra_args: s.extra_args.clone(),
            })
        }
        AnyResource::NovaVifPolicy(v) => FragmentBody::NovaVifPolicy(model::NovaVifPolicy {
            vif_plugging_is_fatal: v.spec.vif_plugging_is_fatal,
            vif_plugging_timeout: v.spec.vif_plugging_timeout,
        }),
        AnyResource::NovaComputePolicy(c) => {
            let s = &c.spec;
            FragmentBody::NovaComputePolicy(model::NovaComputePolicy {
                cpu_allocation_ratio: s.cpu_allocation_ratio,
                ram_allocation_ratio: s.ram_allocation_ratio,
                disk_allocation_ratio: s.disk_allocation_ratio,
                reserved_host_memory_mb: s.reserved_host_memory_mb,
                max_concurrent_builds: s.max_concurrent_builds,
            })
        }
        AnyResource::RabbitListenerPolicy(l) => {
            FragmentBody::RabbitListenerPolicy(model::RabbitListenerPolicy {
                tcp_keepalive: l.spec.tcp_keepalive,
                heartbeat_seconds: l.spec.heartbeat_seconds,
            })
        }
        AnyResource::OsloMessagingPolicy(o) => {
            let s = &o.spec;
            FragmentBody::OsloMessagingPolicy(model::OsloMessagingPolicy {
                heartbeat_timeout_threshold: s.heartbeat_timeout_threshold,
                heartbeat_rate: s.heartbeat_rate,
                rabbit_quorum_queue: s.rabbit_quorum_queue,
                rabbit_transient_quorum_queue: s.rabbit_transient_quorum_queue,
            })
        }
        AnyResource::ConfigOverride(o) => {
            let s = &o.spec;
            FragmentBody::ConfigOverride(model::ConfigOverride {
                file: s.file.clone(),
                content: override_content(&s.ini, &s.conf, &s.env),
            })
        }
    };
    Some(Fragment {
        target: resource.kolla_config_ref()?.to_string(),
        precedence: resource.precedence()?,
        id,
        body,
    })
}

/// The engine's view of a KollaConfig's `spec.perPod`: each item as the raw override it is
/// (its values are templates; the engine checks and fills them).
pub fn to_per_pod(kolla_config: &KollaConfig) -> Vec<model::ConfigOverride> {
    kolla_config
        .spec
        .per_pod
        .iter()
        .map(|item| model::ConfigOverride {
            file: item.file.clone(),
            content: override_content(&item.ini, &item.conf, &item.env),
        })
        .collect()
}

type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// The one form a ConfigOverride (or a perPod item) sets (see [`to_fragment`] for invalid
/// specs).
fn override_content(
    ini: &Option<Ini>,
    conf: &Option<BTreeMap<String, String>>,
    env: &Option<BTreeMap<String, String>>,
) -> OverrideContent {
    if let Some(ini) = ini {
        OverrideContent::Ini(ini.clone())
    } else if let Some(conf) = conf {
        OverrideContent::Conf(conf.clone())
    } else if let Some(env) = env {
        OverrideContent::Env(env.clone())
    } else {
        OverrideContent::Ini(Default::default())
    }
}
