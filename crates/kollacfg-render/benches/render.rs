//! Render benchmark: `cargo bench -p kollacfg-render --bench render`.
//!
//! Case 1: one `rabbitmq` target, a base `definitions.json` with 1,000 users and 1,000
//! permissions, and 10,000 `RabbitPolicy` fragments. Case 2: a `nova-compute` target with a
//! ~2,000-line `nova.conf` and 200 fragments. Each case is timed (validate + merge + render +
//! re-parse, i.e. `render::render_target`) against a floor that only parses and prints the same
//! output bytes, and against a plain Python version of the same merge (`bench/reference.py`).
//!
//! Environment:
//! - `KOLLACFG_BENCH_ITERS`: timed engine runs per case (default 15; the floors run 3× as many);
//! - `KOLLACFG_BENCH_PY_ITERS`: timed in-process runs of the Python reference (default 5), and
//!   `KOLLACFG_BENCH_PY_PROCS`: whole-process runs of it (default 3); `KOLLACFG_BENCH_NO_PYTHON=1`
//!   skips it;
//! - `KOLLACFG_BENCH_EMIT=DIR`: also write both cases as `kollacfg render` inputs (resource YAML
//!   and a `--base` tree) with the engine's own output, for `bench/run.sh`.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it renders small versions of both
//! cases once, to keep the harness working, and times nothing.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kollacfg_render::render::{render_target, TargetOutput};
use kollacfg_render::Fragment;
use support::emit::{self, Layout};
use support::timing::{measure, ms, Stats};
use support::{nova, python, rabbit, Case};

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        smoke();
        return;
    }
    let iterations = env_usize("KOLLACFG_BENCH_ITERS", 15);
    let py_iterations = env_usize("KOLLACFG_BENCH_PY_ITERS", 5);
    let py_processes = env_usize("KOLLACFG_BENCH_PY_PROCS", 3);
    let with_python = std::env::var_os("KOLLACFG_BENCH_NO_PYTHON").is_none_or(|v| v != "1");
    let scratch = std::env::temp_dir().join(format!("kollacfg-bench-{}", std::process::id()));

    match python::version() {
        Some(v) if with_python => println!("reference interpreter: {v}"),
        _ => println!("reference: not run"),
    }
    let cases = [rabbit::case(rabbit::POLICIES, rabbit::USERS), nova::case()];
    let mut rows = Vec::new();
    for case in &cases {
        let fragments: Vec<&Fragment> = case.fragments.iter().collect();
        let output = render(case);
        let bytes = output.files[case.file].clone();
        println!(
            "{}: {} fragments, base {} {} bytes ({} lines), output {} bytes ({} lines), {} items",
            case.name,
            case.fragments.len(),
            case.file,
            case.base[case.file].len(),
            count_lines(&case.base[case.file]),
            bytes.len(),
            count_lines(&bytes),
            output.items.len(),
        );
        let engine = measure(2, iterations, || {
            render_target(&case.target, &fragments, &case.base).expect("renders")
        });
        if case.file == "definitions.json" {
            support::phases::rabbitmq(case, iterations.min(7), engine.median);
        }
        let floor = match case.file {
            "definitions.json" => measure(3, iterations * 3, || json_floor(&bytes)),
            _ => measure(3, iterations * 3, || ini_floor(&bytes)),
        };
        let lines = measure(3, iterations * 3, || lines_floor(&bytes));
        let reference = if with_python {
            match run_reference(case, &scratch, &bytes, py_iterations, py_processes) {
                Ok(r) => Some(r),
                Err(e) => {
                    eprintln!("{}: Python reference skipped: {e}", case.name);
                    None
                }
            }
        } else {
            None
        };
        rows.push(Row {
            case: case.name,
            engine,
            floor,
            lines,
            reference,
        });
    }
    let _ = std::fs::remove_dir_all(&scratch);
    print_table(&rows);

    if let Some(dir) = std::env::var_os("KOLLACFG_BENCH_EMIT") {
        let dir = PathBuf::from(dir);
        for case in &cases {
            emit_cli_inputs(case, &dir).expect("write the CLI inputs");
        }
        println!("\nCLI inputs written under {}", dir.display());
    }
}

fn render(case: &Case) -> TargetOutput {
    let fragments: Vec<&Fragment> = case.fragments.iter().collect();
    match render_target(&case.target, &fragments, &case.base) {
        Ok(output) => output,
        Err(issues) => {
            for issue in issues.iter().take(20) {
                eprintln!("{issue:?}");
            }
            panic!("{}: {} issues", case.name, issues.len());
        }
    }
}

/// The JSON floor: parse the output into a `serde_json::Value` and serialise it again.
fn json_floor(bytes: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(bytes).expect("output is JSON");
    serde_json::to_vec(&value).expect("serialises")
}

/// The INI floor: read every line the way an INI reader must (blank, comment, `[section]`,
/// continuation, or `key = value` split at the first `=`/`:` with both sides trimmed), keep the
/// pieces, and print the lines back into a new buffer.
fn ini_floor(bytes: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let mut items: Vec<(u8, &str, &str, &str)> = Vec::with_capacity(text.len() / 32);
    for raw in text.split_inclusive('\n') {
        let content = raw.trim_end();
        let item = if content.is_empty() || content.starts_with(['#', ';']) {
            (0, "", "", raw)
        } else if raw.starts_with([' ', '\t']) {
            (1, "", content.trim_start(), raw)
        } else if let Some(name) = content.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
            (2, name, "", raw)
        } else {
            let split = content.find(['=', ':']).unwrap_or(content.len());
            let value = content.get(split + 1..).unwrap_or("").trim();
            (3, content[..split].trim(), value, raw)
        };
        items.push(item);
    }
    let mut out = Vec::with_capacity(bytes.len());
    for (_, _, _, raw) in &items {
        out.extend_from_slice(raw.as_bytes());
    }
    out
}

/// The lowest floor: split into lines and join them again.
fn lines_floor(bytes: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    lines.join(&b'\n')
}

struct Row {
    case: &'static str,
    engine: Stats,
    floor: Stats,
    lines: Stats,
    reference: Option<python::Reference>,
}

fn run_reference(
    case: &Case,
    scratch: &Path,
    engine_output: &[u8],
    iterations: usize,
    processes: usize,
) -> Result<python::Reference, String> {
    let dir = scratch.join(case.name);
    emit::reference_inputs(case, &dir).map_err(|e| format!("writing inputs: {e}"))?;
    let reference = python::run(case.name, &dir, iterations, processes)?;
    let same_bytes = reference.output == engine_output;
    let same_meaning = same_bytes || same_meaning(case.file, &reference.output, engine_output);
    println!(
        "{}: Python reference output is {}",
        case.name,
        if same_bytes {
            "byte-identical to the engine's"
        } else if same_meaning {
            "equal in content to the engine's (formatting differs)"
        } else {
            "DIFFERENT from the engine's (the comparison is not like for like)"
        }
    );
    Ok(reference)
}

/// Whether two outputs say the same: equal JSON values, or equal INI entries in order.
fn same_meaning(file: &str, a: &[u8], b: &[u8]) -> bool {
    if file == "definitions.json" {
        let parse = |x: &[u8]| serde_json::from_slice::<serde_json::Value>(x).ok();
        return parse(a).is_some() && parse(a) == parse(b);
    }
    let entries = |x: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(x)
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with(['#', ';']))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    entries(a) == entries(b)
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<9} {:>16} {:>16} {:>16} {:>17} {:>17} {:>8} {:>8} {:>9}",
        "case",
        "engine ms",
        "floor ms",
        "lines ms",
        "python ms",
        "python proc ms",
        "eng/flr",
        "py/eng",
        "proc/eng"
    );
    println!(
        "{:<9} {:>16} {:>16} {:>16} {:>17} {:>17}",
        "", "median (min)", "median (min)", "median (min)", "in-process", "whole"
    );
    for row in rows {
        let pair = |s: &Stats| format!("{} ({})", ms(s.median), ms(s.min));
        let ratio = |a: Duration, b: Duration| format!("{:.2}", a.as_secs_f64() / b.as_secs_f64());
        let (py, proc, py_ratio, proc_ratio) = match &row.reference {
            Some(r) => (
                pair(&r.in_process),
                pair(&r.whole_process),
                ratio(r.in_process.median, row.engine.median),
                ratio(r.whole_process.median, row.engine.median),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<9} {:>16} {:>16} {:>16} {:>17} {:>17} {:>8} {:>8} {:>9}",
            row.case,
            pair(&row.engine),
            pair(&row.floor),
            pair(&row.lines),
            py,
            proc,
            ratio(row.engine.median, row.floor.median),
            py_ratio,
            proc_ratio,
        );
    }
    println!();
    println!("engine: render::render_target (validate + merge + render + re-parse), {} runs after 2 warm-up", rows.first().map_or(0, |r| r.engine.runs));
    println!("floor: definitions.json: serde_json::from_slice::<Value> + serde_json::to_vec; nova.conf: INI line tokenizer + print back");
    println!("lines: split the output at '\\n' and join it again");
    println!("python: bench/reference.py, same merge; in-process = render only (time.perf_counter), whole = process start to exit");
}

fn emit_cli_inputs(case: &Case, dir: &Path) -> std::io::Result<()> {
    for (layout, name) in [
        (Layout::Stream, "stream"),
        (Layout::FilePerResource, "files"),
    ] {
        emit::cli_inputs(case, &dir.join(case.name).join(name), layout)?;
    }
    let expected = dir
        .join(case.name)
        .join("expected")
        .join(&case.target.service);
    std::fs::create_dir_all(&expected)?;
    for (file, bytes) in &render(case).files {
        std::fs::write(expected.join(file), bytes)?;
    }
    Ok(())
}

fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Renders small versions of both cases once and checks that every fragment contributed.
fn smoke() {
    let cases = [rabbit::case(100, 10), nova::case()];
    for case in &cases {
        let output = render(case);
        let by_file: BTreeMap<&str, usize> =
            output.items.iter().fold(BTreeMap::new(), |mut m, i| {
                *m.entry(i.file.as_ref()).or_default() += 1;
                m
            });
        assert!(
            by_file.contains_key(case.file),
            "{}: nothing written",
            case.name
        );
        assert_eq!(
            output.contributors.len(),
            case.fragments.len(),
            "{}: every fragment wins an item",
            case.name
        );
        println!("{}: {} items rendered", case.name, output.items.len());
    }
    println!("smoke run only; time it with `cargo bench -p kollacfg-render --bench render`");
}
