//! Shared helpers for the CLI's integration tests: run the built binary, read trees, compare
//! against golden files (`KOLLACFG_BLESS=1` re-blesses them).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `examples/<name>`.
pub fn example(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

/// The seed scenarios shipped in `examples/`.
pub const SCENARIOS: &[&str] = &["rabbitmq-cpu", "large-scale", "vif-plugging"];

/// Runs `kollacfg` with `args`.
pub fn kollacfg<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_kollacfg"))
        .args(args)
        .output()
        .expect("run kollacfg")
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Renders `inputs` with `base` into `out`, asserting success.
pub fn render_ok(inputs: &[&Path], base: &Path, out: &Path) {
    let mut args: Vec<std::ffi::OsString> = vec!["render".into()];
    for i in inputs {
        args.push("-f".into());
        args.push(i.into());
    }
    args.extend(["--base".into(), base.into(), "--out".into(), out.into()]);
    let result = kollacfg(&args);
    assert!(
        result.status.success(),
        "render failed: {}",
        stderr(&result)
    );
}

/// Every file under `dir`, by relative path, with its bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read(&path).expect("read file"));
        }
    }
}

/// Compares the tree at `actual` with the golden tree at `golden`, file by file and byte for
/// byte; `KOLLACFG_BLESS=1` replaces the golden tree instead.
pub fn assert_golden_tree(actual: &Path, golden: &Path) {
    let got = read_tree(actual);
    if std::env::var_os("KOLLACFG_BLESS").is_some_and(|v| v == "1") {
        let _ = std::fs::remove_dir_all(golden);
        for (rel, bytes) in &got {
            let dest = golden.join(rel);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(dest, bytes).unwrap();
        }
        return;
    }
    let want = read_tree(golden);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "files rendered differ from golden tree {} (KOLLACFG_BLESS=1 re-blesses)",
        golden.display()
    );
    for (rel, bytes) in &got {
        assert!(
            bytes == &want[rel],
            "{rel} differs from golden {} (KOLLACFG_BLESS=1 re-blesses):\n--- golden\n{}\n--- rendered\n{}",
            golden.join(rel).display(),
            String::from_utf8_lossy(&want[rel]),
            String::from_utf8_lossy(bytes)
        );
    }
}

/// Splits a multi-document YAML text into its documents (without separators).
pub fn documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let last = docs.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    docs.into_iter()
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

/// Every YAML document of a scenario directory, in file order.
pub fn scenario_documents(name: &str) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(example(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| documents(&std::fs::read_to_string(f).unwrap()))
        .collect()
}
