//! The API side of a reconcile: reads the base and the stored objects, and writes — only when
//! something differs — the output object, the rollout annotations and the statuses. Every
//! write is a server-side apply by field manager `kollacfg`. Never logs a Secret's value.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kollacfg_api::{
    AnyResource, BaseRef, ConfigOverride, ErlangVmArgs, FragmentStatus, KollaConfig,
    KollaConfigStatus, NovaComputePolicy, NovaVifPolicy, OsloMessagingPolicy, OutputKind,
    RabbitListenerPolicy, RabbitPolicy, RolloutRef, WorkloadKind, WorkloadRollout, API_VERSION,
};
use kube::api::{ApiResource, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::broker::ANNOTATION_PENDING_DELETES;
use crate::build::{stored_files_hash, Base, DesiredOutput, ANNOTATION_CONFIG_HASH, FIELD_MANAGER};
use crate::echoes::Echoes;
use crate::error::{Error, Result};

/// Server-side apply as `kollacfg`, taking over the fields it sets.
fn ssa() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// Reads the base files `spec.base` names; a missing object is [`Base::Missing`].
pub async fn read_base(client: &Client, namespace: &str, kc: &KollaConfig) -> Result<Base> {
    let Some(source) = kc.spec.base.as_ref().and_then(|b| b.source()) else {
        return Ok(Base::Unset);
    };
    let (kind, name) = match source {
        BaseRef::Secret(name) => ("Secret", name),
        BaseRef::ConfigMap(name) => ("ConfigMap", name),
    };
    let fail = |source| Error::ReadBase {
        kind,
        object: format!("{namespace}/{name}"),
        source,
    };
    let files: Option<BTreeMap<String, Vec<u8>>> = match source {
        BaseRef::Secret(_) => Api::<Secret>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(fail)?
            .map(|s| {
                s.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0))
                    .collect()
            }),
        BaseRef::ConfigMap(_) => Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(fail)?
            .map(|c| {
                let text = c
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.into_bytes()));
                let binary = c
                    .binary_data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0));
                text.chain(binary).collect()
            }),
    };
    Ok(match files {
        Some(files) => Base::Files(files),
        None => Base::Missing {
            kind,
            name: name.to_string(),
        },
    })
}

/// Whether the stored output must be (re)written: it is missing, its content hash is not the
/// desired one, its record of policies still to delete from the broker differs, its data was
/// edited (the data's own hash differs), or it lost our labels or owner reference.
pub fn output_needs_write(stored: Option<&DesiredOutput>, desired: &DesiredOutput) -> bool {
    let Some(stored) = stored else { return true };
    let want = desired.metadata();
    let have = stored.metadata();
    let labels_kept = want
        .labels
        .iter()
        .flatten()
        .all(|(k, v)| have.labels.as_ref().and_then(|l| l.get(k)) == Some(v));
    let owner_kept = want.owner_references.iter().flatten().all(|o| {
        have.owner_references
            .iter()
            .flatten()
            .any(|h| h.uid == o.uid && h.controller == o.controller)
    });
    stored.content_hash() != desired.content_hash()
        || stored.annotation(ANNOTATION_PENDING_DELETES)
            != desired.annotation(ANNOTATION_PENDING_DELETES)
        || stored_files_hash(stored) != desired.content_hash()
        || !labels_kept
        || !owner_kept
}

/// Who has the stored output instead of this KollaConfig, when kollacfg must leave it alone:
/// another controller owner (another KollaConfig naming the same output), or none at all and
/// no field written by kollacfg (an object made by hand or by another tool). `None`: it is
/// this KollaConfig's (its owner reference, or kollacfg's own fields if that was removed by
/// hand), and may be written.
pub fn foreign_owner(stored: &ObjectMeta, desired: &ObjectMeta) -> Option<String> {
    let ours = |uid: &str| {
        desired
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.uid == uid)
    };
    let controller = stored
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    match controller {
        Some(owner) if ours(&owner.uid) => None,
        Some(owner) => Some(format!("controlled by {} {}", owner.kind, owner.name)),
        None => {
            let written_by_kollacfg = stored
                .managed_fields
                .iter()
                .flatten()
                .any(|m| m.manager.as_deref() == Some(FIELD_MANAGER));
            (!written_by_kollacfg).then(|| "not written by kollacfg".to_string())
        }
    }
}

/// Reads the stored output object. An object of the output's name that kollacfg does not
/// manage for this KollaConfig is an error ([`foreign_owner`]): it is never overwritten.
pub async fn read_output(
    client: &Client,
    desired: &DesiredOutput,
) -> Result<Option<DesiredOutput>> {
    let namespace = desired.metadata().namespace.clone().unwrap_or_default();
    let name = desired.name();
    let kind = desired.kind();
    let object = format!("{namespace}/{name}");
    let read = |source| Error::ReadOutput {
        kind,
        object: object.clone(),
        source,
    };
    let stored = match desired {
        DesiredOutput::Secret(_) => Api::<Secret>::namespaced(client.clone(), &namespace)
            .get_opt(name)
            .await
            .map_err(read)?
            .map(DesiredOutput::Secret),
        DesiredOutput::ConfigMap(_) => Api::<ConfigMap>::namespaced(client.clone(), &namespace)
            .get_opt(name)
            .await
            .map_err(read)?
            .map(DesiredOutput::ConfigMap),
    };
    if let Some(owner) = stored
        .as_ref()
        .and_then(|s| foreign_owner(s.metadata(), desired.metadata()))
    {
        return Err(Error::OutputNotOwned {
            kind,
            object,
            owner,
        });
    }
    Ok(stored)
}

/// Applies `desired` when [`output_needs_write`] says so, given the `stored` object as
/// [`read_output`] returned it. Returns whether it wrote; the write is remembered in `echoes`.
pub async fn write_output(
    client: &Client,
    echoes: &Echoes,
    stored: Option<&DesiredOutput>,
    desired: &DesiredOutput,
) -> Result<bool> {
    if !output_needs_write(stored, desired) {
        return Ok(false);
    }
    let namespace = desired.metadata().namespace.clone().unwrap_or_default();
    let name = desired.name();
    let kind = desired.kind();
    let object = format!("{namespace}/{name}");
    let write = |source| Error::ApplyOutput {
        kind,
        object: object.clone(),
        source,
    };
    let writing = echoes.writing(kind, &namespace, name);
    let written = match desired {
        DesiredOutput::Secret(secret) => Api::<Secret>::namespaced(client.clone(), &namespace)
            .patch(name, &ssa(), &Patch::Apply(secret))
            .await
            .map(|s| s.metadata)
            .map_err(write)?,
        DesiredOutput::ConfigMap(map) => Api::<ConfigMap>::namespaced(client.clone(), &namespace)
            .patch(name, &ssa(), &Patch::Apply(map))
            .await
            .map(|m| m.metadata)
            .map_err(write)?,
    };
    writing.written(&written);
    tracing::info!(
        kind,
        object,
        hash = desired.content_hash(),
        "output written"
    );
    Ok(true)
}

/// Reads the stored output and applies `desired` when it differs ([`read_output`], then
/// [`write_output`]). Returns whether it wrote.
pub async fn apply_output(
    client: &Client,
    echoes: &Echoes,
    desired: &DesiredOutput,
) -> Result<bool> {
    let stored = read_output(client, desired).await?;
    write_output(client, echoes, stored.as_ref(), desired).await
}

fn workload_api(client: &Client, namespace: &str, kind: WorkloadKind) -> Api<DynamicObject> {
    let resource = match kind {
        WorkloadKind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        WorkloadKind::Deployment => ApiResource::erase::<Deployment>(&()),
        WorkloadKind::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// What a rollout pass is to set on the workloads.
#[derive(Clone, Copy, Debug)]
pub struct RolloutPlan<'a> {
    /// The `kollacfg.dev/config-hash` the templates must carry.
    pub hash: &'a str,
    /// With `spec.output.versioned`: the version the templates' volumes are pointed at, and
    /// the output's kind (a `secret` or a `configMap` volume).
    pub version: Option<(&'a str, OutputKind)>,
    /// What was rolled out last time (`status.rollout`).
    pub previous: &'a [WorkloadRollout],
    /// The KollaConfig (whose version names are recognised, whose rollout may be paused).
    pub target: &'a KollaConfig,
}

/// What to do with one rollout workload, decided from the workload as read (pure).
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// It does not exist.
    Missing,
    /// Its template carries the current hash (and version): follow its progress.
    Current {
        /// The version its template mounts (versioned mode).
        mounted: Option<String>,
    },
    /// Rolled back by hand after kollacfg rolled the current hash out to it: left alone.
    RolledBack {
        /// The version its template mounts.
        mounted: Option<String>,
    },
    /// `spec.rolloutPolicy.paused`: its template stays on an older output.
    Held {
        /// The version its template mounts (versioned mode).
        mounted: Option<String>,
    },
    /// Its template is to be moved to the current hash (and version).
    Move {
        /// The volume to point at the version: (volume name, version, output kind).
        volume: Option<(String, String, OutputKind)>,
        /// The version its template mounts now (versioned mode).
        mounted: Option<String>,
    },
}

/// One rollout workload as read: its entry, the object (`None`: not found) and the step
/// decided for it.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The `spec.rollout` entry.
    pub entry: RolloutRef,
    /// The workload as read, as JSON.
    pub object: Option<serde_json::Value>,
    /// What to do with it.
    pub step: Step,
}

impl Workload {
    /// `Kind/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.entry.kind.as_str(), self.entry.name)
    }
}

/// What a rollout pass did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RolloutOutcome {
    /// `Kind/name` of each workload whose template was changed.
    pub annotated: Vec<String>,
}

/// The volume named `volume` in a pod template's spec, if it is a volume of `kind`'s output
/// (`secret.secretName` or `configMap.name`); returns the name it mounts.
pub fn template_volume<'a>(
    template_spec: &'a serde_json::Value,
    volume: &str,
    kind: OutputKind,
) -> Option<Option<&'a str>> {
    let found = template_spec["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == volume)?;
    let source = match kind {
        OutputKind::Secret => &found["secret"],
        OutputKind::ConfigMap => &found["configMap"],
    };
    if !source.is_object() {
        return None;
    }
    let name = match kind {
        OutputKind::Secret => &source["secretName"],
        OutputKind::ConfigMap => &source["name"],
    };
    Some(name.as_str())
}

/// The server-side apply body of a rollout: the config-hash annotation and, in versioned mode,
/// the volume's object name. Nothing else, so kollacfg owns only those fields.
pub fn rollout_patch(
    kind: &str,
    name: &str,
    namespace: &str,
    hash: &str,
    volume: Option<(&str, &str, OutputKind)>,
) -> serde_json::Value {
    let mut template = json!({"metadata": {"annotations": {ANNOTATION_CONFIG_HASH: hash}}});
    if let Some((volume, version, kind)) = volume {
        let source = match kind {
            OutputKind::Secret => json!({"name": volume, "secret": {"secretName": version}}),
            OutputKind::ConfigMap => json!({"name": volume, "configMap": {"name": version}}),
        };
        template["spec"] = json!({"volumes": [source]});
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": template},
    })
}

/// Reads each workload of `rollout` (a workload that does not exist is `None`).
pub async fn read_workloads(
    client: &Client,
    namespace: &str,
    rollout: &[RolloutRef],
) -> Result<Vec<(RolloutRef, Option<serde_json::Value>)>> {
    let mut read = Vec::with_capacity(rollout.len());
    for workload in rollout {
        let kind = workload.kind.as_str();
        let current = workload_api(client, namespace, workload.kind)
            .get_opt(&workload.name)
            .await
            .map_err(|source| Error::ReadWorkload {
                kind,
                object: format!("{namespace}/{}", workload.name),
                source,
            })?;
        let object = current.map(|c| serde_json::to_value(&c).unwrap_or_default());
        read.push((workload.clone(), object));
    }
    Ok(read)
}

/// Decides the step of each workload as read (pure), and collects the warnings about the
/// rollout entries: a workload not found; in versioned mode an entry without a volume or
/// whose volume its template lacks.
pub fn plan_steps(
    read: Vec<(RolloutRef, Option<serde_json::Value>)>,
    plan: &RolloutPlan<'_>,
    warnings: &mut Vec<String>,
) -> Vec<Workload> {
    read.into_iter()
        .map(|(entry, object)| {
            let step = step(&entry, object.as_ref(), plan, warnings);
            Workload {
                entry,
                object,
                step,
            }
        })
        .collect()
}

fn step(
    workload: &RolloutRef,
    object: Option<&serde_json::Value>,
    plan: &RolloutPlan<'_>,
    warnings: &mut Vec<String>,
) -> Step {
    let kind = workload.kind.as_str();
    let id = format!("{kind}/{}", workload.name);
    let Some(data) = object else {
        warnings.push(format!("{id} not found"));
        return Step::Missing;
    };
    let template = &data["spec"]["template"];
    let annotation = template["metadata"]["annotations"][ANNOTATION_CONFIG_HASH].as_str();
    // Versioned mode: the volume to point, and the version its template mounts now.
    let mut volume = None;
    let mut mounted = None;
    if let Some((version, output_kind)) = plan.version {
        match &workload.volume {
            None => warnings.push(format!(
                "{id} has no volume: its pods mount no version of the output"
            )),
            Some(name) => match template_volume(&template["spec"], name, output_kind) {
                None => warnings.push(format!(
                    "{id}: its pod template has no {} volume named {name}",
                    if output_kind == OutputKind::Secret {
                        "secret"
                    } else {
                        "configMap"
                    }
                )),
                Some(now) => {
                    mounted = now.map(str::to_string);
                    volume = Some((name.clone(), version.to_string(), output_kind));
                }
            },
        }
    }
    let on_a_version = mounted
        .as_deref()
        .is_some_and(|m| crate::versions::is_version_name(plan.target, m));
    if annotation == Some(plan.hash) && (volume.is_none() || on_a_version) {
        return Step::Current { mounted };
    }
    let previous = plan
        .previous
        .iter()
        .find(|r| r.kind == kind && r.name == workload.name);
    let rolled_back = plan.version.is_some()
        && annotation.is_some()
        && on_a_version
        && previous.is_some_and(|p| p.config_hash.as_deref() == Some(plan.hash));
    if rolled_back {
        return Step::RolledBack { mounted };
    }
    if plan.target.spec.paused() {
        return Step::Held { mounted };
    }
    Step::Move { volume, mounted }
}

/// Whether some workload's template is to change (a restart is coming).
pub fn restart_due(workloads: &[Workload]) -> bool {
    workloads
        .iter()
        .any(|w| matches!(w.step, Step::Move { .. }))
}

/// Moves each workload whose step is [`Step::Move`]: sets `kollacfg.dev/config-hash` on its
/// pod template (and, in versioned mode, points the entry's volume at the new version), as an
/// apply that sets nothing else. Returns what was done; the records are the caller's. Each
/// write is remembered in `echoes`.
pub async fn move_workloads(
    client: &Client,
    echoes: &Echoes,
    namespace: &str,
    workloads: &[Workload],
    plan: &RolloutPlan<'_>,
) -> Result<RolloutOutcome> {
    let mut outcome = RolloutOutcome::default();
    for workload in workloads {
        let kind = workload.entry.kind.as_str();
        let name = &workload.entry.name;
        let object = format!("{namespace}/{name}");
        match &workload.step {
            Step::Missing => tracing::warn!(kind, object, "rollout workload not found; skipped"),
            Step::RolledBack { .. } => {
                tracing::info!(kind, object, "rolled back by hand; left on its version");
            }
            Step::Current { .. } | Step::Held { .. } => {}
            Step::Move { volume, .. } => {
                let volume = volume
                    .as_ref()
                    .map(|(v, version, k)| (v.as_str(), version.as_str(), *k));
                let patch = rollout_patch(kind, name, namespace, plan.hash, volume);
                let writing = echoes.writing(kind, namespace, name);
                let moved = workload_api(client, namespace, workload.entry.kind)
                    .patch(name, &ssa(), &Patch::Apply(patch))
                    .await
                    .map_err(|source| Error::AnnotateWorkload {
                        kind,
                        object: object.clone(),
                        source,
                    })?;
                writing.written(&moved.metadata);
                let version = volume.map(|(_, v, _)| v);
                tracing::info!(kind, object, hash = plan.hash, version, "rollout started");
                outcome.annotated.push(workload.id());
            }
        }
    }
    Ok(outcome)
}

/// The pods of `workload` (by its selector), as JSON; none without a selector.
pub async fn workload_pods(
    client: &Client,
    namespace: &str,
    workload: &Workload,
) -> Result<Vec<serde_json::Value>> {
    let Some(selector) = workload.object.as_ref().and_then(crate::versions::selector) else {
        return Ok(Vec::new());
    };
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| Error::ReadWorkload {
            kind: "Pod",
            object: format!("{namespace}/{}", workload.entry.name),
            source,
        })?;
    Ok(pods
        .items
        .iter()
        .map(|p| serde_json::to_value(p).unwrap_or_default())
        .collect())
}

/// Writes the KollaConfig's status when it differs from the stored one. Returns whether it
/// wrote; the write is remembered in `echoes`.
pub async fn write_target_status(
    client: &Client,
    echoes: &Echoes,
    kc: &KollaConfig,
    status: &KollaConfigStatus,
) -> Result<bool> {
    if kc
        .status
        .as_ref()
        .is_some_and(|stored| status.same_as(stored))
    {
        return Ok(false);
    }
    let namespace = kc.metadata.namespace.clone().unwrap_or_default();
    let name = kc.metadata.name.clone().unwrap_or_default();
    let body = json!({"apiVersion": API_VERSION, "kind": "KollaConfig", "status": status});
    let writing = echoes.writing("KollaConfig", &namespace, &name);
    let written = Api::<KollaConfig>::namespaced(client.clone(), &namespace)
        .patch_status(&name, &ssa(), &Patch::Apply(body))
        .await
        .map_err(|source| Error::WriteTargetStatus {
            object: format!("{namespace}/{name}"),
            source,
        })?;
    writing.written(&written.metadata);
    Ok(true)
}

/// Writes a fragment's status when it differs from the stored one. Returns whether it wrote;
/// the write is remembered in `echoes`.
pub async fn write_fragment_status(
    client: &Client,
    echoes: &Echoes,
    fragment: &AnyResource,
    status: &FragmentStatus,
) -> Result<bool> {
    if crate::build::stored_fragment_status(fragment).is_some_and(|stored| status.same_as(stored)) {
        return Ok(false);
    }
    let kind = fragment.kind();
    let namespace = fragment.metadata().namespace.clone().unwrap_or_default();
    let name = fragment.metadata().name.clone().unwrap_or_default();
    let body = json!({"apiVersion": API_VERSION, "kind": kind, "status": status});
    let (params, patch) = (ssa(), Patch::Apply(body));
    let writing = echoes.writing(kind, &namespace, &name);
    let sent;
    macro_rules! send {
        ($($kind:ident => $field:ident),*) => {
            sent = match fragment {
                AnyResource::KollaConfig(_) => return Ok(false),
                $(AnyResource::$kind(_) => Api::<$kind>::namespaced(client.clone(), &namespace)
                    .patch_status(&name, &params, &patch)
                    .await
                    .map(|written| written.metadata),)*
            }
        };
    }
    // One list of fragment kinds for the whole crate.
    crate::stores::for_fragment_kinds!(send);
    let written = sent.map_err(|source| Error::WriteFragmentStatus {
        kind,
        object: format!("{namespace}/{name}"),
        source,
    })?;
    writing.written(&written);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(value: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_outputs_of_this_kolla_config_are_written() {
        let desired = meta(json!({"name": "out", "ownerReferences": [
            {"apiVersion": "kollacfg.dev/v1alpha1", "kind": "KollaConfig", "name": "rabbitmq",
             "uid": "uid-1", "controller": true}]}));
        let owned_by = |uid: &str, controller: bool| {
            meta(json!({"name": "out", "ownerReferences": [
                {"apiVersion": "kollacfg.dev/v1alpha1", "kind": "KollaConfig", "name": "x",
                 "uid": uid, "controller": controller}]}))
        };
        let written_by = |manager: &str| {
            meta(json!({"name": "out", "managedFields": [
                {"manager": manager, "operation": "Apply", "apiVersion": "v1"}]}))
        };
        assert_eq!(foreign_owner(&owned_by("uid-1", true), &desired), None);
        assert_eq!(
            foreign_owner(&owned_by("uid-2", true), &desired),
            Some("controlled by KollaConfig x".into())
        );
        // An owner reference removed by hand: kollacfg's own fields still mark it as ours.
        assert_eq!(foreign_owner(&written_by("kollacfg"), &desired), None);
        assert_eq!(
            foreign_owner(&written_by("kubectl-create"), &desired),
            Some("not written by kollacfg".into())
        );
        // A non-controller owner does not make it ours.
        assert_eq!(
            foreign_owner(&owned_by("uid-3", false), &desired),
            Some("not written by kollacfg".into())
        );
        assert_eq!(
            foreign_owner(&meta(json!({"name": "out"})), &desired),
            Some("not written by kollacfg".into())
        );
    }
}

#[cfg(test)]
mod rollout_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rollout_patch_sets_the_hash_and_only_the_volume_source_name() {
        assert_eq!(
            rollout_patch("DaemonSet", "nova-compute", "openstack", "abc", None),
            json!({
                "apiVersion": "apps/v1", "kind": "DaemonSet",
                "metadata": {"name": "nova-compute", "namespace": "openstack"},
                "spec": {"template": {"metadata": {"annotations": {
                    "kollacfg.dev/config-hash": "abc"}}}}
            })
        );
        assert_eq!(
            rollout_patch(
                "StatefulSet",
                "rabbitmq",
                "openstack",
                "abc",
                Some(("shared", "rabbitmq-config-0123456789", OutputKind::Secret))
            )["spec"]["template"]["spec"],
            json!({"volumes": [{"name": "shared",
                                "secret": {"secretName": "rabbitmq-config-0123456789"}}]})
        );
        assert_eq!(
            rollout_patch(
                "Deployment",
                "api",
                "openstack",
                "abc",
                Some(("files", "api-config-0123456789", OutputKind::ConfigMap))
            )["spec"]["template"]["spec"],
            json!({"volumes": [{"name": "files",
                                "configMap": {"name": "api-config-0123456789"}}]})
        );
    }

    #[test]
    fn template_volume_finds_the_named_volume_of_the_output_kind() {
        let spec = json!({"volumes": [
            {"name": "shared", "secret": {"secretName": "rabbitmq-config", "defaultMode": 288}},
            {"name": "files", "configMap": {"name": "m"}},
            {"name": "scratch", "emptyDir": {}}
        ]});
        assert_eq!(
            template_volume(&spec, "shared", OutputKind::Secret),
            Some(Some("rabbitmq-config"))
        );
        assert_eq!(
            template_volume(&spec, "shared", OutputKind::ConfigMap),
            None
        );
        assert_eq!(
            template_volume(&spec, "files", OutputKind::ConfigMap),
            Some(Some("m"))
        );
        assert_eq!(template_volume(&spec, "scratch", OutputKind::Secret), None);
        assert_eq!(template_volume(&spec, "missing", OutputKind::Secret), None);
        assert_eq!(
            template_volume(&json!({}), "shared", OutputKind::Secret),
            None
        );
    }
}
