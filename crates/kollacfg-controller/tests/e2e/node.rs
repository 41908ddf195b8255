//! A one-node cluster whose pods really run: `tests/node/node-up.sh` in a temporary directory
//! (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc and kubelet,
//! all inside a network namespace of their own), stopped by `node-down.sh` when the guard is
//! dropped (also when the test panics; the directory, with every log, is kept then and its path
//! printed). Pods use `hostNetwork: true` and `imagePullPolicy: Never` with the images of
//! `tests/node/node-build.sh`. This module only drives the harness: it never edits what runs.
//! By hand: `KOLLACFG_KUBE_BIN=$(tests/e2e/kube-build.sh)
//! KOLLACFG_NODE_IMAGES=$(tests/node/node-build.sh pause rabbitmq) cargo test -p
//! kollacfg-controller --test e2e node:: -- --include-ignored` (as root).

// The helpers serve the tests that run pods; not every one is used by every test yet.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::cluster::repo;

/// `KOLLACFG_KUBE_BIN` (`tests/e2e/kube-build.sh`, which also builds kubelet and kube-scheduler)
/// and `KOLLACFG_NODE_IMAGES` (`tests/node/node-build.sh`): both are required; a missing one
/// fails the test with the command that makes it.
fn inputs() -> (PathBuf, PathBuf) {
    let var = |name: &str, hint: &str| -> PathBuf {
        let dir = std::env::var_os(name)
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("{name} is not set: export {name}=$({hint})"));
        assert!(dir.is_dir(), "{name}={} is not a directory", dir.display());
        dir
    };
    let bin = var("KOLLACFG_KUBE_BIN", "tests/e2e/kube-build.sh");
    for tool in ["kubelet", "kube-scheduler", "kube-apiserver", "kubectl"] {
        assert!(
            bin.join(tool).is_file(),
            "KOLLACFG_KUBE_BIN={} has no {tool}",
            bin.display()
        );
    }
    let images = var("KOLLACFG_NODE_IMAGES", "tests/node/node-build.sh");
    assert!(
        images.join("images.env").is_file(),
        "KOLLACFG_NODE_IMAGES={} has no images.env",
        images.display()
    );
    (bin, images)
}

/// A running node and its control plane.
pub struct Node {
    /// Held while the node runs (see [`exclusive`]).
    _exclusive: fs::File,
    dir: Option<tempfile::TempDir>,
    /// The images imported: links to a subset of `KOLLACFG_NODE_IMAGES`.
    _images: tempfile::TempDir,
    path: PathBuf,
    env: BTreeMap<String, String>,
}

impl Node {
    /// Starts the node with the pause and RabbitMQ images imported, and waits until it is
    /// Ready.
    pub fn start() -> Self {
        Self::start_with(&["pause", "rabbitmq"])
    }

    /// Starts the node with these images of `KOLLACFG_NODE_IMAGES` imported (each import costs
    /// seconds, the nova image most), and waits until it is Ready.
    pub fn start_with(names: &[&str]) -> Self {
        let exclusive = exclusive();
        let (bin, all) = inputs();
        let images = tempfile::Builder::new()
            .prefix("kollacfg-node-images.")
            .tempdir()
            .expect("a temporary directory");
        fs::copy(all.join("images.env"), images.path().join("images.env")).unwrap();
        for name in names {
            let archive = all.join(format!("{name}.tar"));
            assert!(
                archive.exists(),
                "KOLLACFG_NODE_IMAGES={} has no {name}.tar: build it with tests/node/node-build.sh {name}",
                all.display()
            );
            std::os::unix::fs::symlink(&archive, images.path().join(format!("{name}.tar")))
                .unwrap();
        }
        // containerd's socket lives under this directory: keep its path short.
        let dir = tempfile::Builder::new()
            .prefix("kollacfg-node.")
            .tempdir_in("/tmp")
            .expect("a temporary directory");
        let path = dir.path().to_path_buf();
        let out = Command::new("bash")
            .arg(repo().join("tests/node/node-up.sh"))
            .arg(&path)
            .env("KUBE_BIN_DIR", &bin)
            .env("NODE_IMAGES_DIR", images.path())
            // Should this process die without dropping the guard, node-down.sh still runs.
            .env("NODE_UP_WATCH_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .output()
            .expect("running tests/node/node-up.sh");
        let mut node = Self {
            _exclusive: exclusive,
            dir: Some(dir),
            _images: images,
            path,
            env: BTreeMap::new(),
        };
        assert!(
            out.status.success(),
            "node-up.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        node.env = serde_json::from_str(&fs::read_to_string(node.path.join("env.json")).unwrap())
            .expect("node-up.sh's env.json: an object of strings");
        node
    }

    /// The node's directory (logs, kubeconfigs, `env`, `env.json`).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// A variable of the node's `env.json` (`NODE_IP`, `NODE_NAME`, `KUBE_API_SERVER`, ...).
    pub fn var(&self, name: &str) -> &str {
        self.env
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in {}/env.json", self.path.display()))
    }

    /// The reference of an image of the set (`pause`, `rabbitmq`, `nova`, `kollacfg`).
    pub fn image(&self, name: &str) -> &str {
        self.var(&format!("NODE_IMAGE_{}", name.to_uppercase()))
    }

    /// A command that runs inside the node's network namespace, where the API server is (for
    /// the controller, or anything else that talks to the cluster).
    pub fn command_inside(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/var/run/netns/{}", self.var("NODE_NETNS")))
            .arg("--")
            .arg(program);
        command
    }

    /// Runs kubectl as the admin (inside the namespace); its output whatever the result.
    pub fn kubectl_raw(&self, args: &[&str]) -> Output {
        Command::new(self.path.join("kubectl"))
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("running kubectl")
    }

    /// Runs kubectl as the admin; panics with its stderr when it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_raw(args);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("kubectl prints UTF-8")
    }

    /// `kubectl apply` of a YAML or JSON stream (kept in the node's directory as
    /// `applied-N.yaml`, for the logs).
    pub fn apply(&self, manifests: &str) {
        let n = fs::read_dir(&self.path).unwrap().count();
        let file = self.path.join(format!("applied-{n}.yaml"));
        fs::write(&file, manifests).unwrap();
        self.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    }

    /// A pod as JSON.
    pub fn pod(&self, namespace: &str, name: &str) -> Value {
        serde_json::from_str(&self.kubectl(&["get", "pod", name, "-n", namespace, "-o", "json"]))
            .expect("a pod as JSON")
    }

    /// Waits until the pod is Running with every container ready; panics, with the pod's
    /// status and events, when it is not within `limit` or when it failed.
    pub fn wait_pod_ready(&self, namespace: &str, name: &str, limit: Duration) -> Value {
        crate::wait::until(&format!("pod {namespace}/{name} ready"), limit, || {
            let out = self.kubectl_raw(&["get", "pod", name, "-n", namespace, "-o", "json"]);
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
            let pod: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
            let phase = pod["status"]["phase"].as_str().unwrap_or("");
            assert!(
                phase != "Failed",
                "pod {namespace}/{name} failed: {}\n{}",
                pod["status"],
                self.kubectl(&["describe", "pod", name, "-n", namespace])
            );
            let ready = pod["status"]["containerStatuses"]
                .as_array()
                .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["ready"] == true));
            if phase == "Running" && ready {
                Ok(pod)
            } else {
                Err(format!("phase {phase:?}, status {}", pod["status"]))
            }
        })
    }

    /// Runs `argv` in a container of the pod (`kubectl exec`); the output whatever the result.
    pub fn exec(&self, namespace: &str, pod: &str, container: &str, argv: &[&str]) -> Output {
        let mut args = vec!["exec", "-n", namespace, pod, "-c", container, "--"];
        args.extend_from_slice(argv);
        self.kubectl_raw(&args)
    }

    /// Runs `argv` in a container of the pod; its stdout, or a panic with its stderr.
    pub fn exec_ok(&self, namespace: &str, pod: &str, container: &str, argv: &[&str]) -> String {
        let out = self.exec(namespace, pod, container, argv);
        assert!(
            out.status.success(),
            "{} in {namespace}/{pod}/{container} failed: {}{}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// A file's bytes, as a container of the pod sees them.
    pub fn read_file(&self, namespace: &str, pod: &str, container: &str, path: &str) -> Vec<u8> {
        let out = self.exec(namespace, pod, container, &["cat", "--", path]);
        assert!(
            out.status.success(),
            "cat {path} in {namespace}/{pod}/{container}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The command lines of every process a container of the pod sees (`ps -eo args`; the
    /// service images carry procps).
    pub fn processes(&self, namespace: &str, pod: &str, container: &str) -> Vec<String> {
        self.exec_ok(
            namespace,
            pod,
            container,
            &["ps", "-eo", "args", "--no-headers"],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// A container's log (`kubectl logs`).
    pub fn logs(&self, namespace: &str, pod: &str, container: &str) -> String {
        self.kubectl(&["logs", "-n", namespace, pod, "-c", container])
    }

    /// Imports one more image archive (`docker save` layout) into the node's containerd.
    pub fn load_image(&self, archive: &Path) {
        let out = Command::new(self.var("NODE_CTR"))
            .args(["images", "import"])
            .arg(archive)
            .stdin(Stdio::null())
            .output()
            .expect("running ctr");
        assert!(
            out.status.success(),
            "ctr images import {}: {}",
            archive.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One test node at a time on this machine, across test threads and processes: every kubelet
/// writes pod logs under /var/log/pods whatever its root directory, and its garbage collection
/// deletes the log directories of pods it does not know, which are another node's. Blocks
/// until no other node runs; the lock goes with the returned file (released on drop, or when
/// the process dies).
fn exclusive() -> fs::File {
    let path = std::env::temp_dir().join("kollacfg-node.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    file
}

impl Drop for Node {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg(repo().join("tests/node/node-down.sh"))
            .arg(&self.path)
            .stdin(Stdio::null())
            .status();
        let stopped = matches!(status, Ok(s) if s.success());
        if !stopped {
            eprintln!(
                "e2e: node-down.sh {} failed: {status:?}",
                self.path.display()
            );
        }
        // Something still mounted under the directory must not be deleted through.
        if std::thread::panicking() || !stopped {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!("e2e: node logs kept in {}", kept.display());
            }
        }
    }
}

/// The node's own smoke pod: a hostNetwork pod with a Secret mounted read-only (0440, readable
/// through the pod's fsGroup) and downward-API env, read back from inside it.
#[test]
#[ignore = "needs the test node: KOLLACFG_KUBE_BIN and KOLLACFG_NODE_IMAGES (see tests/node/README.md)"]
fn pod_on_the_node_sees_its_secret_and_its_facts() {
    let node = Node::start();
    let ip = node.var("NODE_IP").to_string();
    let name = node.var("NODE_NAME").to_string();
    let image = node.image("rabbitmq").to_string();
    node.apply(&format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: node-e2e}}
---
apiVersion: v1
kind: Secret
metadata: {{name: files, namespace: node-e2e}}
stringData:
  app.conf: "[DEFAULT]\nmy_ip = from-the-secret\n"
---
apiVersion: v1
kind: Pod
metadata: {{name: facts, namespace: node-e2e}}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  securityContext: {{fsGroup: 42400}}
  containers:
  - name: main
    image: {image}
    imagePullPolicy: Never
    command: [bash, -c, 'echo "facts $HOST_IP $NODE_NAME $POD_NAME"; exec sleep 3600']
    env:
    - name: HOST_IP
      valueFrom: {{fieldRef: {{fieldPath: status.hostIP}}}}
    - name: NODE_NAME
      valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}
    - name: POD_NAME
      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
    volumeMounts:
    - {{name: files, mountPath: /etc/app, readOnly: true}}
  volumes:
  - name: files
    secret: {{secretName: files, defaultMode: 0440}}
"#
    ));
    let pod = node.wait_pod_ready("node-e2e", "facts", Duration::from_secs(180));
    assert_eq!(pod["status"]["hostIP"], ip.as_str());
    assert_eq!(pod["spec"]["nodeName"], name.as_str());

    assert_eq!(
        node.read_file("node-e2e", "facts", "main", "/etc/app/app.conf"),
        b"[DEFAULT]\nmy_ip = from-the-secret\n"
    );
    assert_eq!(
        node.exec_ok(
            "node-e2e",
            "facts",
            "main",
            &["stat", "-L", "-c", "%a %G", "/etc/app/app.conf"]
        ),
        "440 kolla\n"
    );
    let write = node.exec(
        "node-e2e",
        "facts",
        "main",
        &["bash", "-c", "echo x > /etc/app/new"],
    );
    assert!(!write.status.success(), "the Secret volume was writable");
    assert!(
        String::from_utf8_lossy(&write.stderr).contains("Read-only file system"),
        "{}",
        String::from_utf8_lossy(&write.stderr)
    );

    let env = node.exec_ok("node-e2e", "facts", "main", &["env"]);
    for expected in [
        format!("HOST_IP={ip}"),
        format!("NODE_NAME={name}"),
        "POD_NAME=facts".to_string(),
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} not in:\n{env}"
        );
    }
    assert_eq!(
        node.logs("node-e2e", "facts", "main"),
        format!("facts {ip} {name} facts\n")
    );
    let processes = node.processes("node-e2e", "facts", "main");
    assert!(
        processes.iter().any(|p| p == "sleep 3600"),
        "no sleep among {processes:?}"
    );
}
