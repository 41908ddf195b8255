//! Versioned outputs (`spec.output.versioned`): each distinct output is an immutable object
//! `<output name>-<10 hex digits of its content hash>`, labelled `kollacfg.dev/target`. This
//! module finds the versions of a target, decides which ones may go (pure), reads what still
//! refers to them (workload templates, ReplicaSets, ControllerRevisions, pods) and deletes the
//! rest.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::apps::v1::{ControllerRevision, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kollacfg_api::{KollaConfig, OutputKind, LABEL_TARGET, VERSION_HASH_DIGITS};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client, ResourceExt};
use serde_json::Value;

use crate::apply::Workload;
use crate::build::DesiredOutput;
use crate::echoes::Echoes;
use crate::error::{Error, Result};

/// One stored version of a target's output.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// The object's name.
    pub name: String,
    /// When it was published: its `kollacfg.dev/published` annotation (nanoseconds), or its
    /// creationTimestamp (whole seconds) without one. The newest are kept.
    pub created: Option<Time>,
    /// The object.
    pub object: DesiredOutput,
}

/// Whether `name` is the name of a version of `kolla_config`'s output:
/// `<output name>-` and ten lowercase hex digits.
pub fn is_version_name(kolla_config: &KollaConfig, name: &str) -> bool {
    let prefix = format!("{}-", kolla_config.output_name());
    name.strip_prefix(&prefix).is_some_and(|digits| {
        digits.len() == VERSION_HASH_DIGITS
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The versions of `kolla_config`'s output in its namespace (by the `kollacfg.dev/target`
/// label and the name's form), newest first.
pub async fn list(client: &Client, kolla_config: &KollaConfig) -> Result<Vec<Version>> {
    let namespace = kolla_config.namespace().unwrap_or_default();
    let target = kolla_config.name_any();
    let params = ListParams::default().labels(&format!("{LABEL_TARGET}={target}"));
    let read = |source| Error::ReadOutput {
        kind: kolla_config.spec.output.kind.as_str(),
        object: format!("{namespace}/{LABEL_TARGET}={target}"),
        source,
    };
    let mut versions: Vec<Version> = match kolla_config.spec.output.kind {
        OutputKind::Secret => Api::<Secret>::namespaced(client.clone(), &namespace)
            .list(&params)
            .await
            .map_err(read)?
            .items
            .into_iter()
            .map(|s| Version {
                name: s.name_any(),
                created: published(&s.metadata),
                object: DesiredOutput::Secret(s),
            })
            .collect(),
        OutputKind::ConfigMap => Api::<ConfigMap>::namespaced(client.clone(), &namespace)
            .list(&params)
            .await
            .map_err(read)?
            .items
            .into_iter()
            .map(|c| Version {
                name: c.name_any(),
                created: published(&c.metadata),
                object: DesiredOutput::ConfigMap(c),
            })
            .collect(),
    };
    versions.retain(|v| is_version_name(kolla_config, &v.name));
    sort_newest_first(&mut versions);
    Ok(versions)
}

/// Annotation on each version: when kollacfg wrote it (RFC 3339, nanoseconds), which orders
/// versions written within one second (creationTimestamp has whole seconds only).
pub const ANNOTATION_PUBLISHED: &str = "kollacfg.dev/published";

/// When a version was published: its [`ANNOTATION_PUBLISHED`], else its creationTimestamp.
fn published(metadata: &kube::api::ObjectMeta) -> Option<Time> {
    metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_PUBLISHED))
        .and_then(|v| v.parse::<k8s_openapi::jiff::Timestamp>().ok())
        .map(Time)
        .or_else(|| metadata.creation_timestamp.clone())
}

/// Newest first; equal times by name, so the order is total.
fn sort_newest_first(versions: &mut [Version]) {
    versions.sort_by(|a, b| {
        let key = |v: &Version| v.created.as_ref().map(|t| t.0);
        key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name))
    });
}

/// The versions that may be deleted: every one but the `keep` newest, `current` and those in
/// `referenced`. `versions` is newest first.
pub fn to_delete(
    versions: &[Version],
    keep: u32,
    current: &str,
    referenced: &BTreeSet<String>,
) -> Vec<String> {
    versions
        .iter()
        .skip(keep as usize)
        .filter(|v| v.name != current && !referenced.contains(&v.name))
        .map(|v| v.name.clone())
        .collect()
}

/// The names of the objects of `kind` that the pod spec `spec` mounts (volumes, projected
/// sources included).
pub fn mounted(spec: &Value, kind: OutputKind, names: &mut BTreeSet<String>) {
    let take = |source: &Value, names: &mut BTreeSet<String>| {
        let name = match kind {
            OutputKind::Secret => &source["secret"]["secretName"],
            OutputKind::ConfigMap => &source["configMap"]["name"],
        };
        if let Some(name) = name.as_str() {
            names.insert(name.to_string());
        }
    };
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        take(volume, names);
        for source in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let projected = match kind {
                OutputKind::Secret => &source["secret"]["name"],
                OutputKind::ConfigMap => &source["configMap"]["name"],
            };
            if let Some(name) = projected.as_str() {
                names.insert(name.to_string());
            }
        }
    }
}

/// The label selector (`k=v,...`) of a workload's `spec.selector.matchLabels`; `None` when it
/// has none (then nothing is listed by it).
pub fn selector(workload: &Value) -> Option<String> {
    let labels = workload["spec"]["selector"]["matchLabels"].as_object()?;
    let pairs: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    (!pairs.is_empty()).then(|| pairs.join(","))
}

/// Everything that still refers to a version, for the rollout workloads of `kolla_config`:
/// their templates, their ReplicaSets and ControllerRevisions (what `kubectl rollout undo`
/// goes back to) and their pods. `workloads` are the workloads as read; `listed`, the pods
/// of some of them already listed in this pass, by `Kind/name` (the others' are listed here).
pub async fn referenced(
    client: &Client,
    kolla_config: &KollaConfig,
    workloads: &[Workload],
    listed: &HashMap<String, Vec<Value>>,
) -> Result<BTreeSet<String>> {
    let namespace = kolla_config.namespace().unwrap_or_default();
    let kind = kolla_config.spec.output.kind;
    let mut names = BTreeSet::new();
    for read in workloads {
        let Some(object) = &read.object else {
            continue;
        };
        let workload = &read.entry;
        mounted(&object["spec"]["template"]["spec"], kind, &mut names);
        let Some(selector) = selector(object) else {
            continue;
        };
        let params = ListParams::default().labels(&selector);
        let failed = |what: &'static str| {
            let object = format!("{namespace}/{}", workload.name);
            move |source| Error::ReadWorkload {
                kind: what,
                object: object.clone(),
                source,
            }
        };
        match listed.get(&read.id()) {
            Some(pods) => {
                for pod in pods {
                    mounted(&pod["spec"], kind, &mut names);
                }
            }
            None => {
                for pod in Api::<Pod>::namespaced(client.clone(), &namespace)
                    .list(&params)
                    .await
                    .map_err(failed("Pod"))?
                {
                    let spec = serde_json::to_value(&pod.spec).unwrap_or_default();
                    mounted(&spec, kind, &mut names);
                }
            }
        }
        match workload.kind {
            kollacfg_api::WorkloadKind::Deployment => {
                for set in Api::<ReplicaSet>::namespaced(client.clone(), &namespace)
                    .list(&params)
                    .await
                    .map_err(failed("ReplicaSet"))?
                {
                    let spec = serde_json::to_value(&set.spec).unwrap_or_default();
                    mounted(&spec["template"]["spec"], kind, &mut names);
                }
            }
            kollacfg_api::WorkloadKind::StatefulSet | kollacfg_api::WorkloadKind::DaemonSet => {
                for revision in Api::<ControllerRevision>::namespaced(client.clone(), &namespace)
                    .list(&params)
                    .await
                    .map_err(failed("ControllerRevision"))?
                {
                    let data = revision.data.0;
                    mounted(&data["spec"]["template"]["spec"], kind, &mut names);
                }
            }
        }
    }
    Ok(names)
}

/// Deletes each version in `names` (a version already gone counts as deleted). Returns the
/// names deleted. Each object found and deleted at once is remembered in `echoes`: the
/// watch's delete event is its echo.
pub async fn delete(
    client: &Client,
    echoes: &Echoes,
    kolla_config: &KollaConfig,
    names: &[String],
) -> Result<Vec<String>> {
    let namespace = kolla_config.namespace().unwrap_or_default();
    let kind = kolla_config.spec.output.kind.as_str();
    let mut deleted = Vec::new();
    for name in names {
        let writing = echoes.writing(kind, &namespace, name);
        let result = match kolla_config.spec.output.kind {
            OutputKind::Secret => Api::<Secret>::namespaced(client.clone(), &namespace)
                .delete(name, &DeleteParams::default())
                .await
                .map(|answer| answer.is_right()),
            OutputKind::ConfigMap => Api::<ConfigMap>::namespaced(client.clone(), &namespace)
                .delete(name, &DeleteParams::default())
                .await
                .map(|answer| answer.is_right()),
        };
        match result {
            // Gone at once (the answer is a Status).
            Ok(true) => writing.deleted(),
            // Deletion under way (finalizers): the object is still there.
            Ok(false) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => {
                return Err(Error::ApplyOutput {
                    kind,
                    object: format!("{namespace}/{name}"),
                    source,
                })
            }
        }
        tracing::info!(
            kind,
            object = format!("{namespace}/{name}"),
            "old version deleted"
        );
        deleted.push(name.clone());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    fn kc(output: Value) -> KollaConfig {
        serde_json::from_value(json!({
            "apiVersion": "kollacfg.dev/v1alpha1",
            "kind": "KollaConfig",
            "metadata": {"name": "rabbitmq", "namespace": "openstack"},
            "spec": {"service": "rabbitmq", "output": output}
        }))
        .unwrap()
    }

    fn version(name: &str, second: i64) -> Version {
        Version {
            name: name.to_string(),
            created: Some(Time(Timestamp::from_second(second).unwrap())),
            object: DesiredOutput::Secret(Secret::default()),
        }
    }

    #[test]
    fn version_names_are_the_output_name_and_ten_hex_digits() {
        let kc = kc(json!({"versioned": true}));
        assert!(is_version_name(&kc, "rabbitmq-config-0123456789"));
        assert!(is_version_name(&kc, "rabbitmq-config-abcdefabcd"));
        assert!(!is_version_name(&kc, "rabbitmq-config"));
        assert!(!is_version_name(&kc, "rabbitmq-config-012345678"));
        assert!(!is_version_name(&kc, "rabbitmq-config-0123456789a"));
        assert!(!is_version_name(&kc, "rabbitmq-config-ABCDEF0123"));
        assert!(!is_version_name(&kc, "other-config-0123456789"));
        let named = self::kc(json!({"versioned": true, "name": "rmq"}));
        assert!(is_version_name(&named, "rmq-fedcba9876"));
        assert_eq!(named.version_name(&"f".repeat(64)), "rmq-ffffffffff");
    }

    #[test]
    fn versions_written_within_one_second_are_ordered_by_their_published_annotation() {
        let meta = |published: Option<&str>| -> kube::api::ObjectMeta {
            serde_json::from_value(json!({
                "creationTimestamp": "2026-12-03T12:42:25Z",
                "annotations": published
                    .map_or(json!({}), |p| json!({ ANNOTATION_PUBLISHED: p })),
            }))
            .unwrap()
        };
        let at = |text: &str| Some(Time(text.parse().unwrap()));
        assert_eq!(
            published(&meta(Some("2026-12-03T12:42:25.9Z"))),
            at("2026-12-03T12:42:25.9Z")
        );
        assert_eq!(published(&meta(None)), at("2026-12-03T12:42:25Z"));
        assert_eq!(
            published(&meta(Some("not a time"))),
            at("2026-12-03T12:42:25Z")
        );
        // Same second: the later-published one is newer whatever the names say.
        let mut versions = [("c-aaaaaaaaaa", "25.2"), ("c-0000000000", "25.7")]
            .map(|(name, at)| {
                let mut v = version(name, 0);
                v.created = Some(Time(format!("2026-12-03T12:42:{at}Z").parse().unwrap()));
                v
            })
            .to_vec();
        sort_newest_first(&mut versions);
        assert_eq!(versions[0].name, "c-0000000000");
    }

    #[test]
    fn the_newest_the_current_and_the_referenced_are_kept() {
        let mut versions = vec![
            version("c-0000000001", 1),
            version("c-0000000005", 5),
            version("c-0000000003", 3),
            version("c-0000000004", 4),
            version("c-0000000002", 2),
        ];
        sort_newest_first(&mut versions);
        let names: Vec<&str> = versions.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "c-0000000005",
                "c-0000000004",
                "c-0000000003",
                "c-0000000002",
                "c-0000000001"
            ]
        );
        let none = BTreeSet::new();
        assert_eq!(
            to_delete(&versions, 3, "c-0000000005", &none),
            ["c-0000000002", "c-0000000001"]
        );
        // A rollback made an old version current again; a ReplicaSet still names another.
        let referenced = BTreeSet::from(["c-0000000002".to_string()]);
        assert_eq!(
            to_delete(&versions, 2, "c-0000000001", &referenced),
            ["c-0000000003"]
        );
        assert!(to_delete(&versions, 5, "c-0000000005", &none).is_empty());
        assert_eq!(
            to_delete(&versions, 1, "c-0000000005", &none),
            [
                "c-0000000004",
                "c-0000000003",
                "c-0000000002",
                "c-0000000001"
            ]
        );
    }

    #[test]
    fn mounted_reads_secret_and_config_map_volumes_and_projections() {
        let spec = json!({"volumes": [
            {"name": "a", "secret": {"secretName": "s1"}},
            {"name": "b", "configMap": {"name": "m1"}},
            {"name": "c", "projected": {"sources": [
                {"secret": {"name": "s2"}}, {"configMap": {"name": "m2"}}
            ]}},
            {"name": "d", "emptyDir": {}}
        ]});
        let mut secrets = BTreeSet::new();
        mounted(&spec, OutputKind::Secret, &mut secrets);
        assert_eq!(
            secrets,
            BTreeSet::from(["s1".to_string(), "s2".to_string()])
        );
        let mut maps = BTreeSet::new();
        mounted(&spec, OutputKind::ConfigMap, &mut maps);
        assert_eq!(maps, BTreeSet::from(["m1".to_string(), "m2".to_string()]));
    }

    #[test]
    fn selector_is_the_match_labels() {
        let workload =
            json!({"spec": {"selector": {"matchLabels": {"app": "rabbitmq", "tier": "mq"}}}});
        assert_eq!(selector(&workload).as_deref(), Some("app=rabbitmq,tier=mq"));
        assert_eq!(selector(&json!({"spec": {}})), None);
    }
}
