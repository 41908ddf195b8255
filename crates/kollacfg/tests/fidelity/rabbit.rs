//! A private RabbitMQ 3.10 node (Debian's `rabbitmq-server`) booted from rendered kolla files,
//! and the questions the tests ask it. One node at a time (a process-wide lock); the node is
//! stopped and its directory removed when the handle drops, also when a test fails.
//!
//! The rendered files describe a production controller (`rabbit@controller01`, listeners on
//! 10.0.0.11, kolla's paths). The node reads them as they are, followed by a few lines that the
//! harness appends to its own copies of the two files that cannot be handed over untouched.
//! `definitions.json` is never copied: `load_definitions` points at the rendered file.
//!
//! Appended to the copy of the rendered `rabbitmq-env.conf` (a shell fragment: later
//! assignments win):
//! - `NODENAME`/`RABBITMQ_NODENAME=rabbit@localhost`: the rendered name is a production host.
//! - `RABBITMQ_MNESIA_BASE`, `RABBITMQ_LOG_BASE`, `RABBITMQ_PID_FILE`,
//!   `RABBITMQ_ENABLED_PLUGINS_FILE`: private directories owned by `rabbitmq`, instead of
//!   kolla's paths or the system node's.
//! - `RABBITMQ_DIST_PORT`, `ERL_EPMD_PORT` (free ports) and `ERL_EPMD_ADDRESS=127.0.0.1`: a
//!   private port mapper and distribution port on loopback, not the production address.
//! - `RABBITMQ_SERVER_START_ARGS`/`RABBITMQ_CTL_ERL_ARGS` += `-kernel inet_dist_use_interface
//!   {127,0,0,1}`: the distribution listeners of the node and of the CLI bind to loopback. The
//!   rendered `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS` is not touched.
//! - `RABBITMQ_SCHEDULER_BUSY_WAIT_THRESHOLD=medium`: Debian's start script puts `+sbwt none` in
//!   its default server flags; resetting that default to Erlang's own (`medium`) means that a
//!   `-sbwt none` in effect on the command line can only come from the rendered flags.
//!
//! Appended to the copy of the rendered `rabbitmq.conf` (cuttlefish: the last value of a key
//! wins):
//! - `listeners.tcp.1 = 127.0.0.1:<free port>`: the rendered listener is a production address.
//! - `management.listener.ip = 127.0.0.1`, `management.listener.port = <free port>`: likewise.
//! - `load_definitions = <rendered definitions.json>`: the rendered file names kolla's path.
//!
//! And: a private enabled-plugins file with `rabbitmq_management`, as kolla runs RabbitMQ, so
//! that the rendered `management.*` keys are used, not just parsed (hence the loopback
//! `management.listener` lines above); and, when absent, a harmless `/etc/rabbitmq/erl_inetrc`
//! (look names up in the hosts file, then the system resolver), because kolla's
//! `-kernel inetrc '/etc/rabbitmq/erl_inetrc'` in the rendered flags points there. It is left in
//! place afterwards.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::support::{describe, run, tail, TempDir};

/// The node name of every test node.
pub const NODE: &str = "rabbit@localhost";
/// kolla's inetrc path, named by the base's `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS`.
pub const KOLLA_INETRC: &str = "/etc/rabbitmq/erl_inetrc";

const SERVER: &str = "/usr/sbin/rabbitmq-server";
const CTL: &str = "/usr/sbin/rabbitmqctl";
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts `rabbitmq-server` on the node's files in `dir`, its output appended to
/// `dir/server.out`.
fn spawn_server(dir: &Path, env_file: &Path, conf_file: &Path) -> Child {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.out"))
        .expect("server.out");
    Command::new(SERVER)
        .env("RABBITMQ_CONF_ENV_FILE", env_file)
        .env("RABBITMQ_CONFIG_FILE", conf_file)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup server.out"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {SERVER}: {e}"))
}

/// One node at a time: they share the CLI's port range and the system's Erlang cookie (Debian's
/// wrappers run server and CLI as `rabbitmq` through `su`, with its home /var/lib/rabbitmq,
/// where the package put the cookie).
static NODE_LOCK: Mutex<()> = Mutex::new(());

/// A policy as `rabbitmqctl list_policies` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub vhost: String,
    pub name: String,
    pub pattern: String,
    pub apply_to: String,
    pub definition: serde_json::Value,
    pub priority: i64,
}

/// A running private node. Dropping it stops the node and removes its files.
pub struct RabbitNode {
    child: Option<Child>,
    env_file: PathBuf,
    // Read by `start_again`, which only some of the test binaries sharing this module use.
    #[allow(dead_code)]
    conf_file: PathBuf,
    epmd_port: u16,
    amqp_port: u16,
    management_port: u16,
    dir: TempDir,
    _lock: MutexGuard<'static, ()>,
}

impl RabbitNode {
    /// Boots a node from a rendered `rabbitmq/` directory (`definitions.json`,
    /// `rabbitmq-env.conf`, `rabbitmq.conf`) and waits until it has started.
    pub fn boot(rendered: &Path) -> Self {
        let lock = NODE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        assert_root();
        ensure_kolla_inetrc();

        let dir = TempDir::new("rabbitmq");
        for sub in ["mnesia", "log"] {
            fs::create_dir(dir.path().join(sub)).expect("create node dir");
        }
        let [epmd_port, dist_port, amqp_port, management_port] = free_ports();
        let definitions = rendered.join("definitions.json");
        assert!(definitions.is_file(), "no {}", definitions.display());

        let d = dir.path().display();
        let env_file = dir.path().join("rabbitmq-env.conf");
        let env_additions = format!(
            "NODENAME={NODE}\n\
             RABBITMQ_NODENAME={NODE}\n\
             RABBITMQ_MNESIA_BASE={d}/mnesia\n\
             RABBITMQ_LOG_BASE={d}/log\n\
             RABBITMQ_PID_FILE={d}/rabbit.pid\n\
             RABBITMQ_ENABLED_PLUGINS_FILE={d}/enabled_plugins\n\
             RABBITMQ_DIST_PORT={dist_port}\n\
             export ERL_EPMD_ADDRESS=127.0.0.1\n\
             export ERL_EPMD_PORT={epmd_port}\n\
             RABBITMQ_SERVER_START_ARGS=\"$RABBITMQ_SERVER_START_ARGS -kernel inet_dist_use_interface {{127,0,0,1}}\"\n\
             RABBITMQ_CTL_ERL_ARGS=\"$RABBITMQ_CTL_ERL_ARGS -kernel inet_dist_use_interface {{127,0,0,1}}\"\n\
             RABBITMQ_SCHEDULER_BUSY_WAIT_THRESHOLD=medium\n"
        );
        copy_with_additions(
            &rendered.join("rabbitmq-env.conf"),
            &env_file,
            &env_additions,
        );
        let conf_file = dir.path().join("rabbitmq.conf");
        let conf_additions = format!(
            "listeners.tcp.1 = 127.0.0.1:{amqp_port}\n\
             management.listener.ip = 127.0.0.1\n\
             management.listener.port = {management_port}\n\
             load_definitions = {}\n",
            definitions.display()
        );
        copy_with_additions(&rendered.join("rabbitmq.conf"), &conf_file, &conf_additions);
        fs::write(
            dir.path().join("enabled_plugins"),
            "[rabbitmq_management].\n",
        )
        .expect("write enabled_plugins");

        let chown = run(Command::new("chown")
            .arg("-R")
            .arg("rabbitmq:rabbitmq")
            .arg(dir.path()));
        assert!(chown.status.success(), "chown: {}", describe(&chown));

        let child = spawn_server(dir.path(), &env_file, &conf_file);

        let mut node = RabbitNode {
            child: Some(child),
            env_file,
            conf_file,
            epmd_port,
            amqp_port,
            management_port,
            dir,
            _lock: lock,
        };
        node.wait_until_started();
        node
    }

    /// Starts a node stopped by [`RabbitNode::stop_server`] again on the same files and data
    /// (its policies persist; it imports its definitions file again at boot, as a restarted
    /// RabbitMQ does) and waits until it has started.
    #[allow(dead_code)]
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the node is running");
        self.child = Some(spawn_server(
            self.dir.path(),
            &self.env_file,
            &self.conf_file,
        ));
        self.wait_until_started();
    }

    /// Stops the server process (`rabbitmqctl stop`, then a kill after STOP_TIMEOUT).
    pub fn stop_server(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.ctl_quiet(&["stop"]);
            let stopping = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if stopping.elapsed() > STOP_TIMEOUT {
                    eprintln!("node did not stop within {STOP_TIMEOUT:?}; killing it");
                    if let Some((pid, _)) = self.beam_process() {
                        let _ = Command::new("kill").args(["-KILL", &pid]).status();
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                sleep(Duration::from_millis(200));
            }
        }
    }

    fn wait_until_started(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "rabbitmq-server exited during boot ({status})\n{}",
                    self.diagnostics()
                );
            }
            if self
                .ctl_quiet(&["await_startup", "--timeout", "5"])
                .is_some_and(|o| o.status.success())
            {
                return;
            }
            if started.elapsed() > BOOT_TIMEOUT {
                panic!(
                    "node did not start within {BOOT_TIMEOUT:?}\n{}",
                    self.diagnostics()
                );
            }
            sleep(Duration::from_secs(1));
        }
    }

    /// The port of the node's AMQP listener.
    pub fn amqp_port(&self) -> u16 {
        self.amqp_port
    }

    /// The port of the node's management API (HTTP, on 127.0.0.1); `tests/broker.rs` talks
    /// to it.
    #[allow(dead_code)]
    pub fn management_port(&self) -> u16 {
        self.management_port
    }

    /// `rabbitmqctl -q -n rabbit@localhost ARGS...` with the node's env file; panics with the
    /// command's output when it fails.
    pub fn ctl(&self, args: &[&str]) -> String {
        let output = run(&mut self.ctl_command(args));
        assert!(
            output.status.success(),
            "rabbitmqctl {args:?} failed:\n{}",
            describe(&output)
        );
        String::from_utf8(output.stdout).expect("rabbitmqctl output is UTF-8")
    }

    /// `rabbitmqctl eval EXPR`, trimmed.
    pub fn eval(&self, expr: &str) -> String {
        self.ctl(&["eval", expr]).trim().to_string()
    }

    /// The policies of vhost `/`.
    pub fn policies(&self) -> Vec<Policy> {
        let json = self.ctl(&["list_policies", "-p", "/", "--formatter", "json"]);
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        rows.iter()
            .map(|row| {
                let text = |key: &str| {
                    row[key]
                        .as_str()
                        .unwrap_or_else(|| panic!("{key} in {row}"))
                        .to_string()
                };
                // The CLI prints the definition as a JSON document inside a string.
                let definition = serde_json::from_str(&text("definition")).expect("definition");
                Policy {
                    vhost: text("vhost"),
                    name: text("name"),
                    pattern: text("pattern"),
                    apply_to: text("apply-to"),
                    definition,
                    priority: row["priority"].as_i64().expect("priority"),
                }
            })
            .collect()
    }

    /// The users and their tags, sorted by name.
    pub fn users(&self) -> Vec<(String, Vec<String>)> {
        let json = self.ctl(&["list_users", "--formatter", "json"]);
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let mut users: Vec<(String, Vec<String>)> = rows
            .iter()
            .map(|row| {
                let tags = row["tags"]
                    .as_array()
                    .expect("tags")
                    .iter()
                    .map(|t| t.as_str().expect("tag").to_string())
                    .collect();
                (row["user"].as_str().expect("user").to_string(), tags)
            })
            .collect();
        users.sort();
        users
    }

    /// Whether the broker accepts this password for this user (checks the stored hash).
    pub fn authenticates(&self, user: &str, password: &str) -> bool {
        run(&mut self.ctl_command(&["authenticate_user", user, password]))
            .status
            .success()
    }

    /// The `beam.smp` command line of this node, from `ps -eo pid,args`, split on whitespace.
    pub fn beam_args(&self) -> Vec<String> {
        let (_, args) = self
            .beam_process()
            .unwrap_or_else(|| panic!("no beam.smp process for this node\n{}", self.diagnostics()));
        args.split_whitespace().map(str::to_string).collect()
    }

    fn beam_process(&self) -> Option<(String, String)> {
        let marker = format!(" -epmd_port {} ", self.epmd_port);
        let ps = Command::new("ps")
            .args(["-eo", "pid=,args="])
            .output()
            .ok()?;
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            .find_map(|line| {
                let (pid, args) = line.trim_start().split_once(' ')?;
                (args.contains("beam.smp") && args.contains(&marker))
                    .then(|| (pid.to_string(), args.to_string()))
            })
    }

    fn ctl_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CTL);
        command
            .args(["-q", "-n", NODE])
            .args(args)
            .env("RABBITMQ_CONF_ENV_FILE", &self.env_file)
            .stdin(Stdio::null());
        command
    }

    /// Like `ctl`, for teardown and polling: never panics.
    fn ctl_quiet(&self, args: &[&str]) -> Option<Output> {
        self.ctl_command(args).output().ok()
    }

    fn diagnostics(&self) -> String {
        format!(
            "--- rabbitmq-server output (tail)\n{}\n--- {NODE}.log (tail)\n{}",
            tail(&self.dir.path().join("server.out"), 40),
            tail(&self.dir.path().join(format!("log/{NODE}.log")), 40)
        )
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.diagnostics());
        }
        self.stop_server();
        // The node started a port mapper on its private port; stop that one.
        let _ = Command::new("epmd")
            .args(["-port", &self.epmd_port.to_string(), "-kill"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The values a repeated emulator flag (`-sbwt`, `-sub`, ...) takes on a `beam.smp` command
/// line, in order; the emulator applies the last one. Emulator flags come before the first `--`.
pub fn emulator_flag_values<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    let emulator = args
        .iter()
        .position(|a| a == "--")
        .map_or(args, |end| &args[..end]);
    emulator
        .windows(2)
        .filter(|pair| pair[0] == flag)
        .map(|pair| pair[1].as_str())
        .collect()
}

/// Whether `args` holds `wanted` as consecutive arguments.
pub fn has_sequence(args: &[String], wanted: &[&str]) -> bool {
    args.windows(wanted.len())
        .any(|w| w.iter().zip(wanted).all(|(a, b)| a == b))
}

fn assert_root() {
    let id = run(Command::new("id").arg("-u"));
    assert_eq!(
        String::from_utf8_lossy(&id.stdout).trim(),
        "0",
        "the RabbitMQ fidelity tests run as root (rabbitmq-server switches to the rabbitmq user)"
    );
}

/// kolla mounts its `erl_inetrc` at this path; the test machine has none. A harmless one: the
/// hosts file first, then the system resolver. An existing file is left alone.
fn ensure_kolla_inetrc() {
    let path = Path::new(KOLLA_INETRC);
    if !path.exists() {
        fs::write(
            path,
            "%% Stand-in for kolla's erl_inetrc, created by kollacfg's fidelity tests.\n\
             {lookup, [file, native]}.\n\
             {hosts_file, \"/etc/hosts\"}.\n",
        )
        .unwrap_or_else(|e| panic!("cannot create {KOLLA_INETRC}: {e}"));
    }
}

/// `from` followed by `additions` (after a marker comment), written to `to`; asserts that the
/// copy starts with the rendered bytes unchanged.
fn copy_with_additions(from: &Path, to: &Path, additions: &str) {
    let rendered = fs::read_to_string(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    let mut text = rendered.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(
        "\n# ---- appended by kollacfg's fidelity harness: a private node on loopback ----\n",
    );
    text.push_str(additions);
    assert!(text.starts_with(&rendered));
    fs::write(to, text).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
}

/// Four distinct free TCP ports on 127.0.0.1.
fn free_ports() -> [u16; 4] {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect();
    [ports[0], ports[1], ports[2], ports[3]]
}
