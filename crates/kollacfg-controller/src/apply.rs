//! The API side of a reconcile: reads the base and the stored objects, and writes — only when
//! something differs — the output object, the rollout annotations and the statuses. Every
//! write is a server-side apply by field manager `kollacfg`. Never logs a Secret's value.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kollacfg_api::{
    AnyResource, BaseRef, ConfigOverride, ErlangVmArgs, FragmentStatus, KollaConfig,
    KollaConfigStatus, NovaComputePolicy, NovaVifPolicy, OsloMessagingPolicy, RabbitListenerPolicy,
    RabbitPolicy, RolloutRef, WorkloadKind, API_VERSION,
};
use kube::api::{ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::broker::ANNOTATION_PENDING_DELETES;
use crate::build::{stored_files_hash, Base, DesiredOutput, ANNOTATION_CONFIG_HASH, FIELD_MANAGER};
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
/// [`read_output`] returned it. Returns whether it wrote.
pub async fn write_output(
    client: &Client,
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
    match desired {
        DesiredOutput::Secret(secret) => Api::<Secret>::namespaced(client.clone(), &namespace)
            .patch(name, &ssa(), &Patch::Apply(secret))
            .await
            .map(drop)
            .map_err(write)?,
        DesiredOutput::ConfigMap(map) => Api::<ConfigMap>::namespaced(client.clone(), &namespace)
            .patch(name, &ssa(), &Patch::Apply(map))
            .await
            .map(drop)
            .map_err(write)?,
    }
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
pub async fn apply_output(client: &Client, desired: &DesiredOutput) -> Result<bool> {
    let stored = read_output(client, desired).await?;
    write_output(client, stored.as_ref(), desired).await
}

fn workload_api(client: &Client, namespace: &str, kind: WorkloadKind) -> Api<DynamicObject> {
    let resource = match kind {
        WorkloadKind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        WorkloadKind::Deployment => ApiResource::erase::<Deployment>(&()),
        WorkloadKind::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// Sets `kollacfg.dev/config-hash` on each workload's pod template where it differs, as an
/// apply that sets nothing else (so kollacfg owns only that annotation). A workload that does
/// not exist is skipped with a warning. Returns the `Kind/name` of each one annotated.
pub async fn annotate_workloads(
    client: &Client,
    namespace: &str,
    rollout: &[RolloutRef],
    hash: &str,
) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for workload in rollout {
        let kind = workload.kind.as_str();
        let object = format!("{namespace}/{}", workload.name);
        let api = workload_api(client, namespace, workload.kind);
        let current = api
            .get_opt(&workload.name)
            .await
            .map_err(|source| Error::ReadWorkload {
                kind,
                object: object.clone(),
                source,
            })?;
        let Some(current) = current else {
            tracing::warn!(kind, object, "rollout workload not found; skipped");
            continue;
        };
        let annotation = current.data["spec"]["template"]["metadata"]["annotations"]
            [ANNOTATION_CONFIG_HASH]
            .as_str();
        if annotation == Some(hash) {
            continue;
        }
        let patch = json!({
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": workload.name, "namespace": namespace},
            "spec": {"template": {"metadata": {"annotations": {ANNOTATION_CONFIG_HASH: hash}}}},
        });
        api.patch(&workload.name, &ssa(), &Patch::Apply(patch))
            .await
            .map_err(|source| Error::AnnotateWorkload {
                kind,
                object: object.clone(),
                source,
            })?;
        tracing::info!(kind, object, hash, "rollout annotated");
        written.push(format!("{kind}/{}", workload.name));
    }
    Ok(written)
}

/// Writes the KollaConfig's status when it differs from the stored one. Returns whether it
/// wrote.
pub async fn write_target_status(
    client: &Client,
    kc: &KollaConfig,
    status: &KollaConfigStatus,
) -> Result<bool> {
    if kc.status.as_ref() == Some(status) {
        return Ok(false);
    }
    let namespace = kc.metadata.namespace.clone().unwrap_or_default();
    let name = kc.metadata.name.clone().unwrap_or_default();
    let body = json!({"apiVersion": API_VERSION, "kind": "KollaConfig", "status": status});
    Api::<KollaConfig>::namespaced(client.clone(), &namespace)
        .patch_status(&name, &ssa(), &Patch::Apply(body))
        .await
        .map_err(|source| Error::WriteTargetStatus {
            object: format!("{namespace}/{name}"),
            source,
        })?;
    Ok(true)
}

/// Writes a fragment's status when it differs from the stored one. Returns whether it wrote.
pub async fn write_fragment_status(
    client: &Client,
    fragment: &AnyResource,
    status: &FragmentStatus,
) -> Result<bool> {
    if crate::build::stored_fragment_status(fragment) == Some(status) {
        return Ok(false);
    }
    let kind = fragment.kind();
    let namespace = fragment.metadata().namespace.clone().unwrap_or_default();
    let name = fragment.metadata().name.clone().unwrap_or_default();
    let body = json!({"apiVersion": API_VERSION, "kind": kind, "status": status});
    let (params, patch) = (ssa(), Patch::Apply(body));
    let sent;
    macro_rules! send {
        ($($kind:ident => $field:ident),*) => {
            sent = match fragment {
                AnyResource::KollaConfig(_) => return Ok(false),
                $(AnyResource::$kind(_) => Api::<$kind>::namespaced(client.clone(), &namespace)
                    .patch_status(&name, &params, &patch)
                    .await
                    .map(drop),)*
            }
        };
    }
    // One list of fragment kinds for the whole crate.
    crate::stores::for_fragment_kinds!(send);
    sent.map_err(|source| Error::WriteFragmentStatus {
        kind,
        object: format!("{namespace}/{name}"),
        source,
    })?;
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
