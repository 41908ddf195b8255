//! Shared plumbing of the fidelity tests: where the examples are, private temporary
//! directories, rendering a scenario with the built `kollacfg` binary, running a command.
//! Nothing here knows RabbitMQ or Nova.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .canonicalize()
        .expect("examples/ next to crates/")
}

/// The render scenarios under `examples/` (every directory but `base` and `kolla-delivery`),
/// sorted.
pub fn scenarios() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(examples_dir())
        .expect("read examples/")
        .map(|entry| entry.expect("examples/ entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        // base/ is the kolla files; kolla-delivery/ is a delivery pattern (its workloads are no
        // kollacfg input), proven on the real node by the controller's e2e/delivery.rs.
        .filter(|name| name != "base" && name != "kolla-delivery")
        .collect();
    names.sort();
    names
}

/// A directory under the system temp dir, removed with everything in it on drop (kept when
/// `KOLLACFG_FIDELITY_KEEP=1`, for a post-mortem). Mode 0755, so that the `rabbitmq` user can
/// read what the tests put there even under a strict umask.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/kollacfg-fidelity-<label>-<pid>-<n>`.
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "kollacfg-fidelity-{label}-{}-{n}",
            std::process::id()
        ));
        if path.exists() {
            fs::remove_dir_all(&path).expect("remove a stale temp dir");
        }
        fs::create_dir_all(&path).expect("create temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("KOLLACFG_FIDELITY_KEEP").is_some_and(|v| v == "1") {
            eprintln!("kept {}", self.path.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Renders `examples/<scenario>` over `examples/base` with the built binary:
/// `kollacfg render -f examples/<scenario> --base examples/base --out <temp dir>`.
/// The returned directory holds `<service>/<file>` for every target of the scenario.
pub fn render(scenario: &str) -> TempDir {
    render_path(scenario, &examples_dir().join(scenario))
}

/// Renders the resources in `yaml` over `examples/base`, like [`render`].
// Used by some of the test binaries sharing this module only.
#[allow(dead_code)]
pub fn render_yaml(label: &str, yaml: &str) -> TempDir {
    let input = TempDir::new(&format!("input-{label}"));
    let file = input.path().join("input.yaml");
    fs::write(&file, yaml).expect("write input.yaml");
    render_path(label, &file)
}

fn render_path(scenario: &str, input: &Path) -> TempDir {
    let out = TempDir::new(&format!("render-{scenario}"));
    let examples = examples_dir();
    // Known at compile time in the kollacfg package's tests only (other packages share this
    // module for its node harness and never render through it).
    let Some(binary) = option_env!("CARGO_BIN_EXE_kollacfg") else {
        panic!("render() needs the kollacfg package's binary");
    };
    let output = run(Command::new(binary)
        .arg("render")
        .arg("-f")
        .arg(input)
        .arg("--base")
        .arg(examples.join("base"))
        .arg("--out")
        .arg(out.path()));
    assert!(
        output.status.success(),
        "kollacfg render of {scenario} failed ({}):\n{}",
        output.status,
        describe(&output)
    );
    // The node runs as `rabbitmq`: make every rendered directory readable by it.
    for entry in walk(out.path()) {
        if entry.is_dir() {
            fs::set_permissions(&entry, fs::Permissions::from_mode(0o755)).expect("chmod");
        } else {
            fs::set_permissions(&entry, fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
    out
}

/// Every path below `dir` (not `dir` itself), depth first.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            paths.extend(walk(&path));
        }
        paths.push(path);
    }
    paths
}

/// Runs `command` to completion, capturing its output; panics only when it cannot start.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// A command's exit status, stdout and stderr, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The last `lines` lines of a text file, or a note saying it could not be read.
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}
