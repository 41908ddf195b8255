//! The real `kollacfg run`, as a child process with the controller user's kubeconfig, its
//! `/metrics` on a free loopback port and its log in the cluster's directory.
//!
//! The binary: `KOLLACFG_BIN` when set, else `kollacfg` in the target directory of this test
//! executable (`target/<profile>/`, next to `deps/`). `cargo test --workspace` builds it there in
//! the same profile before any test runs, because the `kollacfg` package has integration
//! tests; with `cargo test -p kollacfg-controller`, build it first (`cargo build -p kollacfg`).

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cluster::Cluster;
use crate::wait;

/// The `kollacfg` binary.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("KOLLACFG_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/e2e-<hash> → target/<profile>/kollacfg
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .join("kollacfg");
    assert!(
        bin.is_file(),
        "{} missing: run `cargo build -p kollacfg` (or the workspace's tests), or set KOLLACFG_BIN",
        bin.display()
    );
    bin
}

/// A running `kollacfg run`.
pub struct Controller {
    name: String,
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    /// The network namespace it runs in (the test node's), `None` for the machine's own.
    netns: Option<String>,
}

impl Controller {
    /// Starts `kollacfg run` named `name` (its `POD_NAME`, the Lease identity) with `args`, as
    /// the chart's ServiceAccount, and waits until `/healthz` answers.
    pub fn start(cluster: &Cluster, name: &str, args: &[&str]) -> Self {
        Self::start_as(cluster, name, args, &cluster.controller_kubeconfig())
    }

    /// [`Controller::start`] with the credentials of `kubeconfig`.
    pub fn start_as(cluster: &Cluster, name: &str, args: &[&str], kubeconfig: &Path) -> Self {
        Self::start_in(cluster.dir(), None, name, args, kubeconfig)
    }

    /// [`Controller::start_as`] with its log in `dir`, inside the network namespace `netns`
    /// when given (where the test node's API server is; `/metrics` is read from inside too).
    pub fn start_in(
        dir: &Path,
        netns: Option<&str>,
        name: &str,
        args: &[&str],
        kubeconfig: &Path,
    ) -> Self {
        let port = free_port();
        let log = dir.join(format!("controller-{name}.log"));
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut command = match netns {
            // nsenter execs the program: the child is the controller itself.
            Some(netns) => {
                let mut command = Command::new("nsenter");
                command
                    .arg(format!("--net=/var/run/netns/{netns}"))
                    .arg("--")
                    .arg(binary());
                command
            }
            None => Command::new(binary()),
        };
        command
            .arg("run")
            .arg("--metrics-addr")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            // KOLLACFG_E2E_RUST_LOG: more detail in the controllers' logs when a test fails.
            .env(
                "RUST_LOG",
                std::env::var("KOLLACFG_E2E_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("POD_NAME", name)
            .env_remove("POD_NAMESPACE")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("KOLLACFG_") {
                command.env_remove(key);
            }
        }
        let child = command.spawn().expect("starting kollacfg run");
        let mut controller = Self {
            name: name.to_string(),
            child: Some(child),
            port,
            log,
            netns: netns.map(str::to_string),
        };
        wait::until(
            &format!("controller {name} /healthz"),
            Duration::from_secs(30),
            || {
                controller.assert_running();
                match http_get(netns, port, "/healthz") {
                    Some((200, _)) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        );
        controller
    }

    /// Waits until `/readyz` says every cache is full (a standby replica is ready too).
    pub fn wait_ready(&mut self) {
        let (port, netns) = (self.port, self.netns.clone());
        wait::until(
            &format!("controller {} /readyz", self.name),
            Duration::from_secs(60),
            || {
                self.assert_running();
                match http_get(netns.as_deref(), port, "/readyz") {
                    Some((200, _)) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        );
    }

    /// Panics (with the end of its log) when the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
            panic!(
                "controller {} exited ({status}); log:\n{}",
                self.name,
                tail(&self.log, 40)
            );
        }
    }

    /// `/metrics` as text.
    pub fn metrics(&self) -> String {
        match http_get(self.netns.as_deref(), self.port, "/metrics") {
            Some((200, body)) => body,
            other => panic!("controller {} /metrics: {other:?}", self.name),
        }
    }

    /// The sum of one counter family over all its labels.
    pub fn counter(&self, family: &str) -> u64 {
        self.metrics()
            .lines()
            .filter(|l| {
                l.strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.parse::<f64>().unwrap_or(0.0) as u64)
            .sum()
    }

    /// API writes so far (`kollacfg_api_writes_total`, every kind).
    pub fn writes(&self) -> u64 {
        self.counter("kollacfg_api_writes_total")
    }

    /// Reconciles started so far.
    pub fn reconciles(&self) -> u64 {
        self.counter("kollacfg_reconciles_total")
    }

    /// SIGTERM, then waits (at most 20 s, then SIGKILL) until it has exited.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        for _ in 0..80 {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        eprintln!("e2e: controller {} ignored SIGTERM; killing it", self.name);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "e2e: last lines of controller {} ({}):\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 30)
            );
        }
        self.terminate();
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A loopback port free at this moment.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A plain HTTP/1.0 GET on loopback: status and body, `None` when nothing answers. Inside a
/// network namespace, through curl run there.
fn http_get(netns: Option<&str>, port: u16, path: &str) -> Option<(u16, String)> {
    if let Some(netns) = netns {
        let out = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{netns}"))
            .args(["--", "curl", "-s", "-m", "5", "-w", "\n%{http_code}"])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n')?;
        let status: u16 = code.trim().parse().ok()?;
        return (status != 0).then(|| (status, body.to_string()));
    }
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}
