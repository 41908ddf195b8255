//! Runs the Python reference (`bench/reference.py`) on inputs written by [`super::emit`]: once
//! timing itself in-process (interpreter start and input loading excluded), and several times
//! as a whole process timed from here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::timing::Stats;

/// What one case's reference run gave.
pub struct Reference {
    /// In-process render times (the reference's own clock).
    pub in_process: Stats,
    /// Whole-process wall times: start, load, one render, write, exit.
    pub whole_process: Stats,
    /// The file it rendered.
    pub output: Vec<u8>,
}

/// `bench/reference.py` in the repository.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/reference.py")
}

/// The interpreter's version line, or `None` when `python3` cannot be run.
pub fn version() -> Option<String> {
    let out = Command::new("python3").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs the reference for `case` (`rabbitmq` or `nova`) on `inputs`.
pub fn run(
    case: &str,
    inputs: &Path,
    iterations: usize,
    processes: usize,
) -> Result<Reference, String> {
    let output = inputs.join("reference-output");
    let run = |iterations: usize, warmup: usize| {
        let started = Instant::now();
        let result = Command::new("python3")
            .arg(script())
            .args(["--case", case, "--inputs"])
            .arg(inputs)
            .args(["--out"])
            .arg(&output)
            .args(["--iterations", &iterations.to_string()])
            .args(["--warmup", &warmup.to_string()])
            .output()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        let elapsed = started.elapsed();
        if !result.status.success() {
            return Err(format!(
                "reference failed ({}): {}",
                result.status,
                String::from_utf8_lossy(&result.stderr)
            ));
        }
        Ok((
            elapsed,
            String::from_utf8_lossy(&result.stdout).into_owned(),
        ))
    };
    let (_, report) = run(iterations, 2)?;
    let samples = parse_samples(&report)?;
    let mut walls = Vec::with_capacity(processes);
    for _ in 0..processes.max(1) {
        walls.push(run(1, 0)?.0);
    }
    Ok(Reference {
        in_process: Stats::from_secs(&samples),
        whole_process: Stats::of(walls),
        output: std::fs::read(&output).map_err(|e| format!("reference output: {e}"))?,
    })
}

/// The reference prints one JSON object whose `samples` are the timed runs in seconds.
fn parse_samples(report: &str) -> Result<Vec<f64>, String> {
    let value: serde_json::Value = serde_json::from_str(report.trim())
        .map_err(|e| format!("unreadable reference report ({e}): {report}"))?;
    value["samples"]
        .as_array()
        .and_then(|a| a.iter().map(serde_json::Value::as_f64).collect())
        .ok_or_else(|| format!("reference report without samples: {report}"))
}
