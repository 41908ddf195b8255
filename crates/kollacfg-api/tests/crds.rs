//! The committed `crds/` directory must be exactly what the types generate: no stale, missing
//! or extra file. `KOLLACFG_BLESS=1` rewrites the directory instead of comparing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const REGENERATE: &str = "KOLLACFG_BLESS=1 cargo test -p kollacfg-api --test crds";

fn crds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crds")
}

fn committed() -> BTreeMap<String, String> {
    let Ok(entries) = fs::read_dir(crds_dir()) else {
        return BTreeMap::new();
    };
    entries
        .map(|entry| entry.expect("readable crds/ entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(&path).unwrap_or_default();
            (name, text)
        })
        .collect()
}

fn bless(expected: &BTreeMap<String, String>) {
    let dir = crds_dir();
    fs::create_dir_all(&dir).expect("create crds/");
    for name in committed()
        .keys()
        .filter(|name| !expected.contains_key(*name))
    {
        fs::remove_file(dir.join(name)).expect("remove an extra file from crds/");
    }
    for (name, text) in expected {
        fs::write(dir.join(name), text).expect("write a CRD file");
    }
}

#[test]
fn committed_crds_match_the_types() {
    let expected: BTreeMap<String, String> = kollacfg_api::crd_files().into_iter().collect();
    if std::env::var("KOLLACFG_BLESS").as_deref() == Ok("1") {
        bless(&expected);
    }
    let actual = committed();

    let mut problems = Vec::new();
    for (name, text) in &expected {
        match actual.get(name) {
            None => problems.push(format!("missing: crds/{name}")),
            Some(found) if found != text => problems.push(format!("stale: crds/{name}")),
            Some(_) => {}
        }
    }
    for name in actual.keys().filter(|name| !expected.contains_key(*name)) {
        problems.push(format!("extra: crds/{name} (no kind generates it)"));
    }
    assert!(
        problems.is_empty(),
        "crds/ differs from the generated CRDs:\n  {}\nregenerate with: {REGENERATE}",
        problems.join("\n  ")
    );
}

#[test]
fn one_file_per_kind_named_plural_dot_group() {
    let names: Vec<String> = kollacfg_api::crd_files()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "configoverrides.kollacfg.dev.yaml",
            "erlangvmargs.kollacfg.dev.yaml",
            "kollaconfigs.kollacfg.dev.yaml",
            "novacomputepolicies.kollacfg.dev.yaml",
            "novavifpolicies.kollacfg.dev.yaml",
            "oslomessagingpolicies.kollacfg.dev.yaml",
            "rabbitlistenerpolicies.kollacfg.dev.yaml",
            "rabbitpolicies.kollacfg.dev.yaml",
        ]
    );
}

#[test]
fn the_stream_is_the_files_joined_and_deterministic() {
    let files: Vec<String> = kollacfg_api::crd_files()
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let stream = kollacfg_api::crds_yaml();
    assert_eq!(stream, files.join("---\n"));
    assert_eq!(stream, kollacfg_api::crds_yaml());
    let documents: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&stream)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("each document is YAML"))
        .collect();
    assert_eq!(documents.len(), 8);
    for doc in documents {
        assert_eq!(doc["kind"], "CustomResourceDefinition");
    }
}
