//! Helpers of the hostile-input suite: a scenario laid out in a temporary directory (inputs,
//! `--base`, an output rendered once before), running the binary with a deadline, and the
//! snapshot that proves a refused run changed nothing.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// KollaConfigs for both example services.
pub const TARGETS: &str = "\
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: nova-compute, namespace: openstack}
spec: {service: nova-compute}
---
apiVersion: kollacfg.dev/v1alpha1
kind: KollaConfig
metadata: {name: rabbitmq, namespace: openstack}
spec: {service: rabbitmq}
";

/// A fragment editing `nova.conf`.
pub const VIF: &str = "\
apiVersion: kollacfg.dev/v1alpha1
kind: NovaVifPolicy
metadata: {name: vif, namespace: openstack}
spec:
  kollaConfigRef: {name: nova-compute}
  vifPluggingIsFatal: false
  vifPluggingTimeout: 300
";

/// A fragment editing `rabbitmq.conf`.
pub const LISTENER: &str = "\
apiVersion: kollacfg.dev/v1alpha1
kind: RabbitListenerPolicy
metadata: {name: keepalive, namespace: openstack}
spec:
  kollaConfigRef: {name: rabbitmq}
  tcpKeepalive: true
  heartbeatSeconds: 30
";

/// `examples/base`.
pub fn example_base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/base")
}

/// A scenario in a temporary directory: `input.yaml`, `base/` (a copy of `examples/base`) and
/// `out/`.
pub struct Scene {
    pub dir: tempfile::TempDir,
}

impl Scene {
    /// `input.yaml` holding `TARGETS` and `docs`, a copy of the example base, no output yet.
    pub fn new(docs: &[&str]) -> Self {
        let scene = Scene {
            dir: tempfile::tempdir().unwrap(),
        };
        scene.set_input(docs);
        for service in ["nova-compute", "rabbitmq"] {
            let from = example_base().join(service);
            let to = scene.base().join(service);
            fs::create_dir_all(&to).unwrap();
            for entry in fs::read_dir(&from).unwrap() {
                let path = entry.unwrap().path();
                fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
        scene
    }

    /// Replaces `input.yaml` with `TARGETS` and `docs`.
    pub fn set_input(&self, docs: &[&str]) {
        let mut text = TARGETS.to_string();
        for d in docs {
            text.push_str("---\n");
            text.push_str(d);
        }
        fs::write(self.input(), text).unwrap();
    }

    pub fn input(&self) -> PathBuf {
        self.dir.path().join("input.yaml")
    }

    pub fn base(&self) -> PathBuf {
        self.dir.path().join("base")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `render -f input.yaml --base base --out out` plus `extra`.
    pub fn render_args(&self) -> Vec<OsString> {
        vec![
            "render".into(),
            "-f".into(),
            self.input().into(),
            "--base".into(),
            self.base().into(),
            "--out".into(),
            self.out().into(),
        ]
    }

    /// Renders and asserts success; returns stderr.
    pub fn render_ok(&self) -> String {
        let out = run(&self.render_args());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    }

    /// Renders, asserts exit code 1, every needle in stderr and an output tree unchanged.
    pub fn refused(&self, needles: &[&str]) -> String {
        self.refused_with(&self.render_args(), needles)
    }

    /// Runs `args`, asserts exit code 1, every needle in stderr and an output tree unchanged.
    pub fn refused_with(&self, args: &[OsString], needles: &[&str]) -> String {
        let before = snapshot(&self.out());
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "expected exit 1:\n{err}");
        for needle in needles {
            assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
        }
        assert_eq!(snapshot(&self.out()), before, "the output changed:\n{err}");
        err
    }
}

/// Every entry under `root`, hidden ones too, without following links: kind, mode, content
/// (a link's target).
pub fn snapshot(root: &Path) -> BTreeMap<String, (String, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (String, u32, Vec<u8>)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let mode = meta.permissions().mode() & 0o7777;
        let t = meta.file_type();
        if t.is_symlink() {
            let target = fs::read_link(&path).unwrap();
            out.insert(
                rel,
                (
                    "link".into(),
                    0,
                    target.as_os_str().as_encoded_bytes().to_vec(),
                ),
            );
        } else if t.is_dir() {
            out.insert(rel, ("dir".into(), mode, Vec::new()));
            walk(root, &path, out);
        } else if t.is_file() {
            out.insert(rel, ("file".into(), mode, fs::read(&path).unwrap()));
        } else {
            out.insert(rel, ("special".into(), mode, Vec::new()));
        }
    }
}

/// The binary.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kollacfg"))
}

/// How long any run may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Runs the binary with `args` and no stdin; a run past `DEADLINE` is killed and fails the test.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    finish(spawn(args, Stdio::piped()))
}

/// Starts the binary with `args`, no stdin, `stdout`, and stderr piped.
pub fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S], stdout: Stdio) -> Child {
    command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` at most `DEADLINE`, killing it and failing the test past that.
pub fn finish(mut child: Child) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "kollacfg hung (killed after {DEADLINE:?}):\n{}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The signal that ended a process, if one did.
pub fn signal(status: &ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

/// Asserts that a run ended by itself: no panic (101), no abort (134 / SIGABRT), no SIGSEGV.
pub fn assert_no_crash(out: &Output) {
    assert_eq!(
        signal(&out.status),
        None,
        "killed by a signal:\n{}",
        stderr(out)
    );
    assert_ne!(out.status.code(), Some(101), "panicked:\n{}", stderr(out));
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
}

/// Makes a FIFO at `path` (with `mkfifo`).
pub fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}
