//! The write promises, with faults injected at every write and every rename: a failed write
//! leaves the tree exactly as it was; a crash leaves every file old or new, and the next run
//! repairs the tree.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use proptest::prelude::*;

use super::*;

/// Every entry under `root` (directories too, hidden files too): kind, mode and bytes.
fn snapshot(root: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (char, u32, Vec<u8>)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel, ('d', mode, Vec::new()));
                walk(root, &path, out);
            } else {
                out.insert(rel, ('f', mode, fs::read(&path).unwrap()));
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// One file of a case: where it goes, what was there before, what is written.
#[derive(Debug, Clone)]
struct Case {
    service: usize,
    name: usize,
    before: Option<(Vec<u8>, u32)>,
    after: Vec<u8>,
    mode: u32,
}

const SERVICES: &[&str] = &["nova-compute", "rabbitmq"];
const NAMES: &[&str] = &["nova.conf", "rabbitmq.conf", "definitions.json"];

fn case() -> impl Strategy<Value = Case> {
    let mode = prop_oneof![Just(0o600u32), Just(0o640), Just(0o644), Just(0o400)];
    (
        0..SERVICES.len(),
        0..NAMES.len(),
        proptest::option::of((proptest::collection::vec(any::<u8>(), 0..40), mode.clone())),
        proptest::collection::vec(any::<u8>(), 0..40),
        mode,
    )
        .prop_map(|(service, name, before, after, mode)| Case {
            service,
            name,
            before,
            after,
            mode,
        })
}

fn cases() -> impl Strategy<Value = Vec<Case>> {
    proptest::collection::vec(case(), 1..6).prop_map(|mut v| {
        v.sort_by_key(|c| (c.service, c.name));
        v.dedup_by_key(|c| (c.service, c.name));
        v
    })
}

/// Lays out the "before" tree under `out` (`out` itself exists only when `out_exists`).
fn lay_out(out: &Path, cases: &[Case], out_exists: bool) {
    if out_exists {
        fs::create_dir_all(out).unwrap();
    }
    for c in cases {
        if let Some((bytes, mode)) = &c.before {
            let dir = out.join(SERVICES[c.service]);
            fs::create_dir_all(&dir).unwrap();
            let path = dir.join(NAMES[c.name]);
            fs::write(&path, bytes).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
        }
    }
}

fn new_files(cases: &[Case]) -> Vec<NewFile<'_>> {
    cases
        .iter()
        .map(|c| NewFile {
            service: SERVICES[c.service],
            name: NAMES[c.name],
            bytes: &c.after,
            mode: c.mode,
        })
        .collect()
}

/// The tree a successful run leaves: the "before" tree with every file replaced.
fn expected_after(out: &Path, cases: &[Case]) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    let scratch = tempfile::tempdir().unwrap();
    let want = scratch.path().join("out");
    lay_out(&want, cases, true);
    for c in cases {
        let dir = want.join(SERVICES[c.service]);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(NAMES[c.name]);
        fs::write(&path, &c.after).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(c.mode)).unwrap();
    }
    let _ = out;
    snapshot(&want)
}

/// Runs a write that injects `inject` at the `k`-th step; returns whether any step was `k`.
fn write_with_fault(out: &Path, cases: &[Case], k: usize, inject: Inject) -> (bool, bool) {
    let mut seen = 0;
    let mut hit = false;
    let result = write_files(out, &new_files(cases), &mut |_| {
        seen += 1;
        if seen - 1 == k {
            hit = true;
            inject
        } else {
            Inject::Proceed
        }
    });
    (hit, result.is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A fault at any write or rename leaves the tree byte for byte (and mode for mode) as it
    /// was, with no temporary left and no directory created.
    #[test]
    fn a_failed_write_changes_nothing(cases in cases(), out_exists in any::<bool>()) {
        let mut k = 0;
        loop {
            let root = tempfile::tempdir().unwrap();
            let out = root.path().join("out");
            lay_out(&out, &cases, out_exists);
            let before = snapshot(root.path());
            let (hit, ok) = write_with_fault(&out, &cases, k, Inject::Fail);
            if !hit {
                prop_assert!(ok);
                prop_assert_eq!(snapshot(&out), expected_after(&out, &cases));
                break;
            }
            prop_assert!(!ok, "fault {} did not fail the write", k);
            prop_assert_eq!(snapshot(root.path()), before, "fault at step {}", k);
            k += 1;
        }
        // Every file is staged (one step each) and renamed (one step each).
        prop_assert_eq!(k, 2 * cases.len());
    }

    /// A crash before any write or rename leaves every destination either old or new (never
    /// torn), and the next run leaves exactly the new tree with no leftovers.
    #[test]
    fn a_crash_leaves_old_or_new_and_the_next_run_repairs(cases in cases()) {
        for k in 0..2 * cases.len() {
            let root = tempfile::tempdir().unwrap();
            let out = root.path().join("out");
            lay_out(&out, &cases, true);
            let (hit, _) = write_with_fault(&out, &cases, k, Inject::Crash);
            prop_assert!(hit);
            for c in &cases {
                let path = out.join(SERVICES[c.service]).join(NAMES[c.name]);
                match fs::read(&path) {
                    Ok(now) => prop_assert!(
                        now == c.after || c.before.as_ref().is_some_and(|(b, _)| *b == now),
                        "{} is neither old nor new", path.display()
                    ),
                    Err(_) => prop_assert!(c.before.is_none()),
                }
            }
            write_files(&out, &new_files(&cases), &mut |_| Inject::Proceed).unwrap();
            prop_assert_eq!(snapshot(&out), expected_after(&out, &cases), "after crash at {}", k);
        }
    }
}

#[test]
fn a_new_file_is_0640_and_a_base_mode_is_kept() {
    let root = tempfile::tempdir().unwrap();
    let files = [
        NewFile {
            service: "nova-compute",
            name: "nova.conf",
            bytes: b"[DEFAULT]\n",
            mode: 0o600,
        },
        NewFile {
            service: "nova-compute",
            name: "extra.conf",
            bytes: b"[DEFAULT]\n",
            mode: NEW_FILE_MODE,
        },
    ];
    write_files(root.path(), &files, &mut |_| Inject::Proceed).unwrap();
    let mode = |n: &str| {
        fs::metadata(root.path().join("nova-compute").join(n))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("nova.conf"), 0o600);
    assert_eq!(mode("extra.conf"), 0o640);
}

#[test]
fn names_leaving_the_output_directory_are_refused() {
    let root = tempfile::tempdir().unwrap();
    for (service, name) in [("..", "x.conf"), ("nova", "../x.conf"), ("nova", "")] {
        let files = [NewFile {
            service,
            name,
            bytes: b"",
            mode: 0o640,
        }];
        let err = write_files(root.path(), &files, &mut |_| Inject::Proceed).unwrap_err();
        assert!(err.contains("not a plain file name"), "{err}");
    }
    assert!(snapshot(root.path()).is_empty());
}
