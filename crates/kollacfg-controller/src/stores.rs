//! The caches a reconcile reads: one reflector store per fragment kind, and the mappers that
//! turn a watched object (fragment, base or output) into the KollaConfigs to reconcile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kollacfg_api::{
    AnyResource, BaseRef, ConfigOverride, ErlangVmArgs, KollaConfig, NovaComputePolicy,
    NovaVifPolicy, OsloMessagingPolicy, RabbitListenerPolicy, RabbitPolicy, WorkloadKind,
    API_VERSION,
};
use kube::runtime::reflector::store::{Writer, WriterDropped};
use kube::runtime::reflector::{store, ObjectRef, Store};
use kube::ResourceExt;

/// Invokes `$m!` with the list of fragment kinds and their store field names.
macro_rules! for_fragment_kinds {
    ($m:ident) => {
        $m!(
            RabbitPolicy => rabbit_policies,
            ErlangVmArgs => erlang_vm_args,
            NovaVifPolicy => nova_vif_policies,
            NovaComputePolicy => nova_compute_policies,
            RabbitListenerPolicy => rabbit_listener_policies,
            OsloMessagingPolicy => oslo_messaging_policies,
            ConfigOverride => config_overrides
        );
    };
}
pub(crate) use for_fragment_kinds;

macro_rules! define_stores {
    ($($kind:ident => $field:ident),*) => {
        /// One reflector store per fragment kind. A store is read only once it is ready (its
        /// first full list arrived), so a reconcile never sees a partial list.
        #[derive(Clone)]
        pub struct Stores {
            $(
                #[doc = concat!("Every ", stringify!($kind), " in scope.")]
                pub $field: Store<$kind>,
            )*
        }

        /// The writing halves of [`Stores`], fed by the watchers (or by tests).
        pub struct Writers {
            $(
                #[doc = concat!("Feeds [`Stores::", stringify!($field), "`].")]
                pub $field: Writer<$kind>,
            )*
        }

        impl Stores {
            /// Empty stores and their writers.
            pub fn new() -> (Self, Writers) {
                $(let $field = store::<$kind>();)*
                (
                    Self { $($field: $field.0,)* },
                    Writers { $($field: $field.1,)* },
                )
            }

            /// Every fragment, of any kind, naming `kc` (same namespace, `kollaConfigRef`).
            pub fn fragments_for(&self, kc: &KollaConfig) -> Vec<AnyResource> {
                let namespace = kc.metadata.namespace.as_deref();
                let name = kc.metadata.name.as_deref().unwrap_or_default();
                self.fragments_where(|ns, target| target == name && ns == namespace)
            }

            /// The fragments, of any kind, for which `keep(namespace, kollaConfigRef)` holds;
            /// only those are copied out of the caches.
            pub fn fragments_where(
                &self,
                keep: impl Fn(Option<&str>, &str) -> bool,
            ) -> Vec<AnyResource> {
                let mut out = Vec::new();
                $(
                    out.extend(
                        self.$field
                            .state()
                            .iter()
                            .filter(|f| {
                                keep(f.metadata.namespace.as_deref(), &f.spec.kolla_config_ref.name)
                            })
                            .map(|f| AnyResource::from((**f).clone())),
                    );
                )*
                out
            }

            /// Resolves once every store has had its first full list.
            pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
                $(self.$field.wait_until_ready().await?;)*
                Ok(())
            }
        }
    };
}
for_fragment_kinds!(define_stores);

/// Remembers which KollaConfig each fragment last named, so that a fragment moved from one
/// target to another re-renders both.
#[derive(Clone, Default)]
pub struct TargetMemory(Arc<Mutex<HashMap<FragmentKey, String>>>);

/// A fragment's kind, namespace and name.
type FragmentKey = (String, String, String);

impl TargetMemory {
    /// The KollaConfigs to reconcile for a changed (or deleted) fragment: the one it names now
    /// and the one it named before, if different.
    pub fn targets_of(&self, fragment: &AnyResource) -> Vec<ObjectRef<KollaConfig>> {
        let Some(target) = fragment.kolla_config_ref() else {
            return Vec::new();
        };
        let meta = fragment.metadata();
        let namespace = meta.namespace.clone().unwrap_or_default();
        let key = (
            fragment.kind().to_string(),
            namespace.clone(),
            meta.name.clone().unwrap_or_default(),
        );
        let before = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, target.to_string());
        let mut out = vec![ObjectRef::new(target).within(&namespace)];
        if let Some(before) = before.filter(|b| b != target) {
            out.push(ObjectRef::new(&before).within(&namespace));
        }
        out
    }
}

/// The KollaConfigs a Secret or ConfigMap concerns: its controlling KollaConfig (it is an
/// output), every KollaConfig whose `spec.base` names it (it is a base), and every KollaConfig
/// whose output it would be (an object in the way of an output, see `OutputNotOwned`: its
/// deletion lets the output be written at once).
pub fn related_kolla_configs<K: ResourceExt>(
    kolla_configs: &Store<KollaConfig>,
    kind: &str,
    object: &K,
) -> Vec<ObjectRef<KollaConfig>> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let mut out: Vec<ObjectRef<KollaConfig>> = object
        .owner_references()
        .iter()
        .filter(|o| {
            o.controller == Some(true) && o.kind == "KollaConfig" && o.api_version == API_VERSION
        })
        .map(|o| ObjectRef::new(&o.name).within(&namespace))
        .collect();
    out.extend(
        kolla_configs
            .state()
            .iter()
            .filter(|kc| {
                kc.metadata.namespace.as_deref() == Some(namespace.as_str())
                    && match kc.spec.base.as_ref().and_then(|b| b.source()) {
                        Some(BaseRef::Secret(base)) => kind == "Secret" && base == name,
                        Some(BaseRef::ConfigMap(base)) => kind == "ConfigMap" && base == name,
                        None => false,
                    }
                    || (kc.spec.output.kind.as_str() == kind && kc.output_name() == name)
            })
            .map(|kc| ObjectRef::from_obj(&**kc)),
    );
    out
}

/// The KollaConfigs whose `spec.rollout` names workload `kind`/`object` (same namespace): a
/// workload that appears after its KollaConfig, or whose rollout moves, is looked at at once.
pub fn rolled_out_by<K: ResourceExt>(
    kolla_configs: &Store<KollaConfig>,
    kind: WorkloadKind,
    object: &K,
) -> Vec<ObjectRef<KollaConfig>> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    kolla_configs
        .state()
        .iter()
        .filter(|kc| {
            kc.metadata.namespace.as_deref() == Some(namespace.as_str())
                && kc
                    .spec
                    .rollout
                    .iter()
                    .any(|r| r.kind == kind && r.name == name)
        })
        .map(|kc| ObjectRef::from_obj(&**kc))
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Secret;
    use kollacfg_api::parse_documents;
    use kube::core::PartialObjectMeta;
    use kube::runtime::watcher::Event;
    use serde_json::json;

    use super::*;

    fn kolla_configs(yaml: &str) -> Store<KollaConfig> {
        let (reader, mut writer) = store::<KollaConfig>();
        for r in parse_documents(yaml).unwrap() {
            if let AnyResource::KollaConfig(kc) = r {
                writer.apply_watcher_event(&Event::Apply(kc));
            }
        }
        reader
    }

    #[test]
    fn a_secret_maps_to_its_owner_and_to_the_targets_using_it_as_base() {
        let store = kolla_configs(
            "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
             metadata: {name: rabbitmq, namespace: openstack}\n\
             spec: {service: rabbitmq, base: {secretRef: {name: kolla-files}}}\n---\n\
             apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
             metadata: {name: elsewhere, namespace: other}\n\
             spec: {service: rabbitmq, base: {secretRef: {name: kolla-files}}}\n---\n\
             apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
             metadata: {name: from-map, namespace: openstack}\n\
             spec: {service: rabbitmq, base: {configMapRef: {name: kolla-files}}}\n",
        );
        let base: Secret = serde_json::from_value(json!({
            "metadata": {"name": "kolla-files", "namespace": "openstack"}}))
        .unwrap();
        assert_eq!(
            related_kolla_configs(&store, "Secret", &base),
            [ObjectRef::new("rabbitmq").within("openstack")]
        );
        let output: Secret = serde_json::from_value(json!({
            "metadata": {"name": "nova-config", "namespace": "openstack",
                "ownerReferences": [{"apiVersion": "kollacfg.dev/v1alpha1", "kind": "KollaConfig",
                    "name": "nova", "uid": "u", "controller": true}]}}))
        .unwrap();
        assert_eq!(
            related_kolla_configs(&store, "Secret", &output),
            [ObjectRef::new("nova").within("openstack")]
        );
        // An object in the way of an output (metadata only, as the controller watches them):
        // rabbitmq's output is the Secret rabbitmq-config (the default kind and name).
        let in_the_way: PartialObjectMeta<Secret> = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "rabbitmq-config", "namespace": "openstack"}}))
        .unwrap();
        assert_eq!(
            related_kolla_configs(&store, "Secret", &in_the_way),
            [ObjectRef::new("rabbitmq").within("openstack")]
        );
        assert!(related_kolla_configs(&store, "ConfigMap", &in_the_way).is_empty());
    }

    #[test]
    fn a_workload_maps_to_the_targets_that_roll_it_out() {
        let store = kolla_configs(
            "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
             metadata: {name: rabbitmq, namespace: openstack}\n\
             spec: {service: rabbitmq, rollout: [{kind: StatefulSet, name: rabbitmq}]}\n---\n\
             apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
             metadata: {name: rabbitmq, namespace: other}\n\
             spec: {service: rabbitmq, rollout: [{kind: StatefulSet, name: rabbitmq}]}\n---\n\
             apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\n\
             metadata: {name: api, namespace: openstack}\n\
             spec: {service: nova-api, rollout: [{kind: Deployment, name: rabbitmq}]}\n",
        );
        let workload: PartialObjectMeta<k8s_openapi::api::apps::v1::StatefulSet> =
            serde_json::from_value(json!({
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "rabbitmq", "namespace": "openstack"}}))
            .unwrap();
        assert_eq!(
            rolled_out_by(&store, WorkloadKind::StatefulSet, &workload),
            [ObjectRef::new("rabbitmq").within("openstack")]
        );
        assert_eq!(
            rolled_out_by(&store, WorkloadKind::Deployment, &workload),
            [ObjectRef::new("api").within("openstack")]
        );
        assert!(rolled_out_by(&store, WorkloadKind::DaemonSet, &workload).is_empty());
    }

    #[test]
    fn a_fragment_moved_to_another_target_reconciles_both() {
        let memory = TargetMemory::default();
        let fragment = |target: &str| {
            parse_documents(&format!(
                "apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\n\
                 metadata: {{name: o, namespace: ns}}\n\
                 spec: {{kollaConfigRef: {{name: {target}}}, file: nova.conf, ini: {{}}}}\n"
            ))
            .unwrap()
            .remove(0)
        };
        assert_eq!(
            memory.targets_of(&fragment("a")),
            [ObjectRef::new("a").within("ns")]
        );
        assert_eq!(
            memory.targets_of(&fragment("a")),
            [ObjectRef::new("a").within("ns")]
        );
        assert_eq!(
            memory.targets_of(&fragment("b")),
            [
                ObjectRef::new("b").within("ns"),
                ObjectRef::new("a").within("ns")
            ]
        );
    }
}
