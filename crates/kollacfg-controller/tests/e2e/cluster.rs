//! One private cluster per test: `tests/e2e/kube-up.sh` in a temporary directory, stopped by
//! `kube-down.sh` when the guard is dropped (also when the test panics; the directory, with
//! every log, is kept then and its path printed).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether an unset `KOLLACFG_KUBE_BIN` fails these tests (`tests/run` builds the servers and
/// exports it) rather than skipping them with a message on stderr. The tests are `#[ignore]`d,
/// so a plain `cargo test` does not run them.
const KUBE_BIN_REQUIRED: bool = true;

/// The directory of kube-apiserver, kube-controller-manager and kubectl: `KOLLACFG_KUBE_BIN`,
/// from `tests/e2e/kube-build.sh`. `None` (after saying so) when it is unset and not required.
fn kube_bin() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("KOLLACFG_KUBE_BIN") else {
        let hint =
            "KOLLACFG_KUBE_BIN is not set: export KOLLACFG_KUBE_BIN=$(tests/e2e/kube-build.sh)";
        if KUBE_BIN_REQUIRED {
            panic!("{hint}");
        }
        eprintln!("e2e: SKIPPED, no kube-apiserver: {hint}");
        return None;
    };
    let dir = PathBuf::from(dir);
    for tool in ["kube-apiserver", "kube-controller-manager", "kubectl"] {
        assert!(
            dir.join(tool).is_file(),
            "KOLLACFG_KUBE_BIN={} has no {tool}",
            dir.display()
        );
    }
    Some(dir)
}

/// A running cluster.
pub struct Cluster {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    env: BTreeMap<String, String>,
    /// A kube-apiserver this test started again after stopping kube-up's.
    restarted: RefCell<Option<Child>>,
}

impl Cluster {
    /// Starts etcd and kube-apiserver (and kube-controller-manager), installs the CRDs without
    /// their CEL rules, and `deploy/` (the chart's default rendering) with a kubeconfig for
    /// its ServiceAccount, which the controller runs with. `None`: no
    /// servers to run (see [`KUBE_BIN_REQUIRED`]).
    pub fn start(with_controller_manager: bool) -> Option<Self> {
        let bin = kube_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("kollacfg-e2e.")
            .tempdir()
            .expect("a temporary directory");
        let path = dir.path().to_path_buf();
        let out = Command::new("bash")
            .arg(repo().join("tests/e2e/kube-up.sh"))
            .arg(&path)
            .env("KUBE_BIN_DIR", &bin)
            .env(
                "KUBE_UP_CONTROLLER_MANAGER",
                if with_controller_manager { "1" } else { "0" },
            )
            // Should this process die without dropping the guard, kube-down.sh still runs.
            .env("KUBE_UP_WATCH_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .output()
            .expect("running tests/e2e/kube-up.sh");
        let mut cluster = Self {
            dir: Some(dir),
            path,
            env: BTreeMap::new(),
            restarted: RefCell::new(None),
        };
        assert!(
            out.status.success(),
            "kube-up.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.env = parse_env(&fs::read_to_string(cluster.path.join("env")).unwrap());
        cluster.install_crds();
        cluster.install_chart();
        Some(cluster)
    }

    /// The cluster's directory (logs, kubeconfigs).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The admin's kubeconfig.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.path.join("admin.kubeconfig")
    }

    /// The kubeconfig the controller runs with: a token of the chart's ServiceAccount.
    pub fn controller_kubeconfig(&self) -> PathBuf {
        self.path.join("serviceaccount.kubeconfig")
    }

    /// Runs kubectl as the admin.
    pub fn kubectl_raw(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(self.path.join("kubectl"));
        command
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("running kubectl");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .expect("writing to kubectl");
        }
        child.wait_with_output().expect("waiting for kubectl")
    }

    /// Runs kubectl as the admin; panics with its stderr when it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_in(args, None)
    }

    /// Runs kubectl as the admin with `input` on stdin; panics when it fails.
    pub fn kubectl_in(&self, args: &[&str], input: Option<&str>) -> String {
        let out = self.kubectl_raw(args, input);
        assert!(
            out.status.success(),
            "kubectl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            input.map(|i| format!("\ninput:\n{i}")).unwrap_or_default()
        );
        String::from_utf8(out.stdout).expect("kubectl prints UTF-8")
    }

    /// `kubectl apply -f -` of a YAML or JSON stream.
    pub fn apply(&self, manifests: &str) {
        self.kubectl_in(&["apply", "-f", "-"], Some(manifests));
    }

    /// One object as JSON, or `None` when it does not exist. Other errors are returned.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<Value>, String> {
        let out = self.kubectl_raw(&["get", kind, name, "-n", namespace, "-o", "json"], None);
        if out.status.success() {
            return serde_json::from_slice(&out.stdout)
                .map(Some)
                .map_err(|e| e.to_string());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("NotFound") || stderr.contains("not found") {
            Ok(None)
        } else {
            Err(format!("kubectl get {kind} {name}: {stderr}"))
        }
    }

    /// Every object of `kind` (all namespaces) as JSON.
    pub fn list(&self, kind: &str) -> Value {
        serde_json::from_str(&self.kubectl(&["get", kind, "-A", "-o", "json"])).unwrap()
    }

    /// The objects of `kind` in `namespace` (those matching the label `selector`, when given).
    pub fn list_in(&self, kind: &str, namespace: &str, selector: Option<&str>) -> Vec<Value> {
        let mut args = vec!["get", kind, "-n", namespace, "-o", "json"];
        if let Some(selector) = selector {
            args.extend(["-l", selector]);
        }
        let list: Value = serde_json::from_str(&self.kubectl(&args)).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// The CRDs of `crds/` without their CEL rules (which this 1.20 server refuses), as one
    /// YAML stream.
    pub fn stripped_crds() -> String {
        let mut crds: Vec<PathBuf> = fs::read_dir(repo().join("crds"))
            .expect("crds/")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        crds.sort();
        assert!(!crds.is_empty(), "no CRDs in crds/");
        let mut stripped = String::new();
        for crd in crds {
            let out = Command::new("/usr/bin/python3")
                .arg(repo().join("tests/e2e/strip-cel.py"))
                .stdin(fs::File::open(&crd).unwrap())
                .output()
                .expect("running strip-cel.py");
            assert!(
                out.status.success(),
                "strip-cel.py < {}: {}",
                crd.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            stripped.push_str("---\n");
            stripped.push_str(&String::from_utf8(out.stdout).unwrap());
        }
        stripped
    }

    fn install_crds(&self) {
        let stripped = Self::stripped_crds();
        self.kubectl_in(
            &[
                "apply",
                "--server-side",
                "--field-manager",
                "e2e",
                "-f",
                "-",
            ],
            Some(&stripped),
        );
        self.wait_crds_established();
    }

    /// Waits until every CRD is established (serves its kind).
    pub fn wait_crds_established(&self) {
        self.kubectl(&[
            "wait",
            "--for",
            "condition=established",
            "--timeout",
            "60s",
            "crd",
            "--all",
        ]);
    }

    /// Installs `deploy/` (`kubectl apply -k`: the Helm chart's default rendering, with its
    /// Namespace, ServiceAccount, RBAC, Service and Deployment; no pod ever runs, as there is
    /// no kubelet) and writes `serviceaccount.kubeconfig` with a token of the chart's
    /// ServiceAccount `kollacfg-system/kollacfg` (TokenRequest API): the controller runs with
    /// exactly the chart's RBAC, nothing else.
    fn install_chart(&self) {
        let deploy = repo().join("deploy");
        self.kubectl(&["apply", "-k", deploy.to_str().unwrap()]);
        self.service_account_kubeconfig(
            "kollacfg-system",
            "kollacfg",
            &self.controller_kubeconfig(),
        );
        // Sanity: the ServiceAccount is not an admin.
        assert_eq!(
            self.can_i(&["delete", "namespaces"]).trim(),
            "no",
            "the chart's ServiceAccount may delete namespaces"
        );
    }

    /// Writes `kubeconfig` with a token of the ServiceAccount `namespace/name` (TokenRequest
    /// API, valid for a day).
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str, kubeconfig: &Path) {
        let request = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":86400}}"#;
        let request_file = self
            .path
            .join(format!("token-request-{namespace}-{name}.json"));
        fs::write(&request_file, request).unwrap();
        let response = self.kubectl(&[
            "create",
            "--raw",
            &format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"),
            "-f",
            request_file.to_str().unwrap(),
        ]);
        let response: Value = serde_json::from_str(&response).expect("a TokenRequest as JSON");
        let token = response["status"]["token"]
            .as_str()
            .expect("the TokenRequest's status.token");
        let server = &self.env["KUBE_API_SERVER"];
        fs::write(
            kubeconfig,
            format!(
                "apiVersion: v1
kind: Config
clusters:
- name: kollacfg-e2e
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
users:
- name: {name}
  user:
    token: {token}
contexts:
- name: {name}@kollacfg-e2e
  context:
    cluster: kollacfg-e2e
    user: {name}
current-context: {name}@kollacfg-e2e
"
            ),
        )
        .unwrap();
    }

    /// `kubectl auth can-i ARGS` as the controller (the chart's ServiceAccount): its stdout,
    /// whatever the answer.
    pub fn can_i(&self, args: &[&str]) -> String {
        self.can_i_with(&self.controller_kubeconfig(), args)
    }

    /// `kubectl auth can-i ARGS` with `kubeconfig`: its stdout, whatever the answer.
    pub fn can_i_with(&self, kubeconfig: &Path, args: &[&str]) -> String {
        let out = Command::new(self.path.join("kubectl"))
            .args(["auth", "can-i"])
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).expect("kubectl prints UTF-8")
    }

    /// Stops kube-apiserver alone (SIGTERM), keeps it down for `down`, then starts it again with
    /// the same command line (so the same port, certificates and etcd) and waits until it
    /// answers `/readyz`.
    pub fn restart_apiserver(&self, down: Duration) {
        let pid_file = self.path.join("kube-apiserver.pid");
        let pid: u32 = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).expect("kube-apiserver runs");
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let stopped = Instant::now();
        if let Some(mut child) = self.restarted.borrow_mut().take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        } else {
            // SIGTERM; kube-apiserver 1.20 may then hang on its open watches: SIGKILL after
            // 10 s (as kube-down.sh does after its grace period).
            for signal in ["-TERM", "-KILL"] {
                let _ = Command::new("kill")
                    .arg(signal)
                    .arg(pid.to_string())
                    .status();
                let deadline = Instant::now() + Duration::from_secs(10);
                while !process_gone(pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(100));
                }
                if process_gone(pid) {
                    break;
                }
            }
            assert!(
                process_gone(pid),
                "kube-apiserver (pid {pid}) survived SIGKILL"
            );
        }
        eprintln!("e2e: kube-apiserver stopped after {:?}", stopped.elapsed());
        if let Some(rest) = down.checked_sub(stopped.elapsed()) {
            std::thread::sleep(rest);
        }
        let log = fs::OpenOptions::new()
            .append(true)
            .open(self.path.join("kube-apiserver.log"))
            .unwrap();
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting kube-apiserver again");
        fs::write(&pid_file, format!("{}\n", child.id())).unwrap();
        *self.restarted.borrow_mut() = Some(child);
        eprintln!(
            "e2e: kube-apiserver started again after {:?}",
            stopped.elapsed()
        );
        crate::wait::until("kube-apiserver /readyz", Duration::from_secs(90), || {
            let out = self.kubectl_raw(&["get", "--raw", "/readyz"], None);
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        });
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg(repo().join("tests/e2e/kube-down.sh"))
            .arg(&self.path)
            .stdin(Stdio::null())
            .status();
        if let Some(mut child) = self.restarted.get_mut().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "e2e: kube-down.sh {} failed: {status:?}",
                self.path.display()
            );
        }
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!("e2e: cluster logs kept in {}", kept.display());
            }
        }
    }
}

fn process_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie (state Z) has exited.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// `KEY=value` lines of kube-up.sh's env file (values as `printf %q` writes them).
fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim_matches('\'').replace('\\', "");
            (k.to_string(), v)
        })
        .collect()
}
