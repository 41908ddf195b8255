//! Golden-file assertions shared by the render crate's integration tests.
//!
//! `assert_golden(path, actual)` compares `actual` with the bytes stored at `path`. With
//! `KOLLACFG_BLESS=1` in the environment it writes `actual` there instead (re-blessing).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The directory holding this crate's golden files.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The case directories of one format under the golden dir, sorted by name (at least three).
pub fn cases(format: &str) -> Vec<PathBuf> {
    let dir = golden_dir().join(format);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("read golden dir").path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 3,
        "expected at least 3 cases in {}",
        dir.display()
    );
    cases
}

/// Reads a text file, naming it on failure.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts that `actual` equals the golden file at `path` byte for byte, or re-blesses it.
pub fn assert_golden(path: &Path, actual: &str) {
    if std::env::var_os("KOLLACFG_BLESS").is_some_and(|v| v == "1") {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create golden dir");
        }
        std::fs::write(path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "golden file {} unreadable ({e}); run with KOLLACFG_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let mut msg = format!(
            "output differs from golden file {} (KOLLACFG_BLESS=1 re-blesses it)\n",
            path.display()
        );
        for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
            if e != a {
                msg.push_str(&format!(
                    "first difference at line {}:\n- {e}\n+ {a}\n",
                    i + 1
                ));
                break;
            }
        }
        msg.push_str(&format!(
            "expected {} bytes, got {} bytes",
            expected.len(),
            actual.len()
        ));
        panic!("{msg}");
    }
}
