//! What the tests compare: the offline render of a set of manifests, the files an output
//! object holds on the server, conditions, workloads.

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use serde_json::{json, Value};

use crate::cluster::{repo, Cluster};
use crate::controller;

/// File name → bytes.
pub type Files = BTreeMap<String, Vec<u8>>;

/// `kollacfg render -f <manifests> --base examples/base --out ...`: service → files.
pub fn render_offline(manifests: &str) -> BTreeMap<String, Files> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.yaml");
    fs::write(&input, manifests).unwrap();
    render_path(&input)
}

/// `kollacfg render -f PATH --base examples/base --out ...`: service → files.
pub fn render_path(path: &std::path::Path) -> BTreeMap<String, Files> {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = Command::new(controller::binary())
        .arg("render")
        .arg("-f")
        .arg(path)
        .arg("--base")
        .arg(repo().join("examples/base"))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("running kollacfg render");
    assert!(
        out.status.success(),
        "kollacfg render -f {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut services = BTreeMap::new();
    for service in fs::read_dir(&out_dir).unwrap() {
        let service = service.unwrap();
        let mut files = Files::new();
        for file in fs::read_dir(service.path()).unwrap() {
            let file = file.unwrap();
            files.insert(
                file.file_name().to_string_lossy().into_owned(),
                fs::read(file.path()).unwrap(),
            );
        }
        services.insert(service.file_name().to_string_lossy().into_owned(), files);
    }
    services
}

/// The files of an output Secret (`data`, base64) or ConfigMap (`data` and `binaryData`).
pub fn object_files(object: &Value) -> Files {
    let mut files = Files::new();
    let secret = object["kind"] == "Secret";
    if let Some(data) = object["data"].as_object() {
        for (name, value) in data {
            let text = value.as_str().unwrap_or_default();
            let bytes = if secret {
                base64_decode(text)
            } else {
                text.as_bytes().to_vec()
            };
            files.insert(name.clone(), bytes);
        }
    }
    if let Some(data) = object["binaryData"].as_object() {
        for (name, value) in data {
            files.insert(
                name.clone(),
                base64_decode(value.as_str().unwrap_or_default()),
            );
        }
    }
    files
}

/// A short, readable account of how two file sets differ.
pub fn describe_difference(want: &Files, got: &Files) -> String {
    let mut out = Vec::new();
    for name in want
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (want.get(name), got.get(name)) {
            (Some(w), Some(g)) if w == g => {}
            (Some(w), Some(g)) => out.push(format!(
                "{name}: differs; want:\n{}\n--- got:\n{}",
                String::from_utf8_lossy(w),
                String::from_utf8_lossy(g)
            )),
            (Some(_), None) => out.push(format!("{name}: missing")),
            (None, Some(_)) => out.push(format!("{name}: unexpected")),
            (None, None) => {}
        }
    }
    out.join("\n")
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        if byte == b'=' {
            break;
        }
        let Some(value) = ALPHABET.iter().position(|&c| c == byte) else {
            continue;
        };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// The condition of `type_` in `object.status.conditions`.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Whether `object`'s condition `type_` is `True` and describes its current generation.
pub fn condition_true(object: &Value, type_: &str) -> bool {
    let current = object["status"]["observedGeneration"] == object["metadata"]["generation"];
    current && condition(object, type_).is_some_and(|c| c["status"] == "True")
}

/// The Secret that volume `volume` of a pod, or of a workload's pod template, mounts.
pub fn volume_secret(object: &Value, volume: &str) -> Option<String> {
    let spec = if object["spec"]["template"].is_object() {
        &object["spec"]["template"]["spec"]
    } else {
        &object["spec"]
    };
    spec["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == volume)?["secret"]["secretName"]
        .as_str()
        .map(str::to_string)
}

/// A workload of `kind` named `name`: one replica of an image that is never pulled (no kubelet).
/// With `mount` = (volume, secret): a Secret volume of that name, mounted where kolla reads its
/// files.
pub fn workload(kind: &str, namespace: &str, name: &str, mount: Option<(&str, &str)>) -> String {
    let mut spec = json!({
        "replicas": 1,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": "registry.invalid/pause:1"}]}
        }
    });
    if let Some((volume, secret)) = mount {
        let pod = &mut spec["template"]["spec"];
        pod["containers"][0]["volumeMounts"] =
            json!([{"name": volume, "mountPath": "/var/lib/kolla/config_files"}]);
        pod["volumes"] = json!([{"name": volume, "secret": {"secretName": secret}}]);
    }
    match kind {
        "StatefulSet" => spec["serviceName"] = json!(name),
        "DaemonSet" => {
            spec.as_object_mut().unwrap().remove("replicas");
        }
        _ => {}
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec
    })
    .to_string()
}

/// The `kollacfg.dev/config-hash` pod-template annotation of a workload, if any.
pub fn config_hash(workload: &Value) -> Option<String> {
    workload["spec"]["template"]["metadata"]["annotations"]["kollacfg.dev/config-hash"]
        .as_str()
        .map(str::to_string)
}

/// Waits until the output `kind`/`name` in `namespace` holds exactly `want`; returns it.
pub fn wait_output(
    cluster: &Cluster,
    kind: &str,
    namespace: &str,
    name: &str,
    want: &Files,
) -> Value {
    crate::wait::until(
        &format!("{kind} {namespace}/{name} to equal the offline render"),
        std::time::Duration::from_secs(60),
        || match cluster.get(kind, namespace, name)? {
            None => Err("not found".into()),
            Some(object) => {
                let got = object_files(&object);
                if &got == want {
                    Ok(object)
                } else {
                    Err(describe_difference(want, &got))
                }
            }
        },
    )
}
