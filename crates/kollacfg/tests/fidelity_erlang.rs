//! Fidelity of the Erlang emulator flag table (`kollacfg_render::erl_flags`) against the real
//! Erlang 25 VM from Debian (`erlang-base`, which `rabbitmq-server` pulls in): every flag of
//! the table starts the VM with the values the table accepts, written apart (`+stbt db`) and
//! glued (`+stbtdb`), and the VM reports the setting where `erlang:system_info/1` has it; a
//! glued word is read as the flag the table splits it into (`+P2048` sets the process limit);
//! values, flags and arities the table refuses stop the VM.
//!
//! Ignored in a plain `cargo test` (it needs `erl`); `tests/run` runs it.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kollacfg_render::erl_flags::{self, Flag, FlagValue, Reading};

/// What one start of the VM with `args` gave: whether it ran the probe, what it printed.
struct Start {
    ran: bool,
    readings: BTreeMap<String, String>,
    stderr: String,
}

/// The `erlang:system_info/1` items the probe prints, one `key=value` line each.
const INFO: &[&str] = &[
    "process_limit",
    "port_limit",
    "schedulers",
    "schedulers_online",
    "dirty_cpu_schedulers",
    "dirty_cpu_schedulers_online",
    "dirty_io_schedulers",
    "thread_pool_size",
    "dist_buf_busy_limit",
    "min_heap_size",
    "min_bin_vheap_size",
    "message_queue_data",
    "atom_limit",
    "time_warp_mode",
    "time_correction",
];

fn start(args: &[String]) -> Start {
    let dir = tempfile::tempdir().unwrap();
    let keys = INFO.join(",");
    let probe = format!(
        "[io:format(\"~s=~w~n\", [K, erlang:system_info(K)]) || K <- [{keys}]], \
         io:format(\"started~n\"), halt()."
    );
    let mut child = Command::new("erl")
        .current_dir(dir.path())
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .arg("-noshell")
        .args(args)
        .args(["-eval", &probe])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run erl (apt-get install erlang-base)");
    // A flag that swallows `-eval` as its value leaves a VM that runs nothing and never
    // halts: past the deadline it counts as not started.
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait for erl").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("erl output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let readings = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Start {
        ran: out.status.success() && stdout.lines().any(|l| l == "started"),
        readings,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Values the table accepts for `flag`, to start the VM with.
fn good_values(flag: &Flag) -> Vec<Option<String>> {
    match flag.value {
        FlagValue::Nothing => vec![None],
        FlagValue::OneOf(values) => values.iter().map(|v| Some(v.to_string())).collect(),
        // The process table is allocated whole: 2^27 slots take minutes to start.
        FlagValue::Int(min, _) if flag.name == "P" => {
            vec![Some(min.to_string()), Some("1048576".into())]
        }
        FlagValue::Int(min, max) => vec![Some(min.to_string()), Some(max.to_string())],
        FlagValue::IntOrInfinity(min, max) => vec![
            Some(min.to_string()),
            Some(max.to_string()),
            Some("infinity".into()),
        ],
        FlagValue::Pair(max) => vec![Some("1:1".into()), Some(format!("{max}:{max}"))],
    }
}

/// Flags for which the VM starts with a value the table refuses (below its minimum, which the
/// VM clamps or ignores; `+c` with anything but true/false, which `erlexec` passes on as a
/// plain argument after a bare `+c`): there the table is stricter than Erlang, and no start
/// proves the refusal.
const VM_LENIENT: &[&str] = &["A", "c", "rg", "IOPt", "S", "SP", "SDcpu", "SDPcpu", "t"];

/// A value the table refuses and the VM refuses too.
fn bad_value(flag: &Flag) -> Option<String> {
    let alloc_size = flag.name.starts_with('M')
        && ["lmbcs", "smbcs", "mbcgs", "sbct"]
            .iter()
            .any(|s| flag.name.ends_with(s));
    if alloc_size || VM_LENIENT.contains(&flag.name) {
        return None;
    }
    match flag.value {
        FlagValue::Nothing => None,
        FlagValue::OneOf(_) => Some("bogus".into()),
        FlagValue::Int(min, _) | FlagValue::IntOrInfinity(min, _) if min > 0 => {
            Some((min - 1).to_string())
        }
        FlagValue::Int(_, _) | FlagValue::IntOrInfinity(_, _) => None,
        FlagValue::Pair(_) => Some("0:0".into()),
    }
}

/// The `system_info` readings a flag set to `value` must give.
fn expected_readings(name: &str, value: &str) -> Vec<(&'static str, String)> {
    let pair = || value.split_once(':').expect("N:M");
    match name {
        "P" => vec![("process_limit", value.into())],
        "Q" if value == "1024" => vec![("port_limit", value.into())],
        "S" => vec![
            ("schedulers", pair().0.into()),
            ("schedulers_online", pair().1.into()),
        ],
        // The VM caps dirty CPU schedulers at the number of schedulers (one per core here).
        "SDcpu" => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let capped = |n: &str| n.parse::<usize>().unwrap().min(cores).to_string();
            vec![
                ("dirty_cpu_schedulers", capped(pair().0)),
                ("dirty_cpu_schedulers_online", capped(pair().1)),
            ]
        }
        "SDio" => vec![("dirty_io_schedulers", value.into())],
        "A" => vec![("thread_pool_size", value.into())],
        "zdbbl" => {
            let kb: i64 = value.parse().unwrap();
            vec![("dist_buf_busy_limit", (kb * 1024).to_string())]
        }
        "hmqd" => vec![("message_queue_data", value.into())],
        "t" => vec![("atom_limit", value.into())],
        "C" => vec![("time_warp_mode", value.into())],
        "c" => vec![("time_correction", value.into())],
        _ => Vec::new(),
    }
}

/// One start of the VM and what it must do.
enum Job {
    /// Start with `words` (flag `flag` set to `value`) and read the setting back.
    Starts(Vec<String>, &'static Flag, Option<String>),
    /// Start with `words`, which must stop the VM, for the reason given.
    Refused(Vec<String>, &'static str),
}

/// Runs `job`; `Some(reason)` when the VM disagrees with the table.
fn run(job: &Job) -> Option<String> {
    match job {
        Job::Starts(words, flag, value) => {
            let run = start(words);
            if !run.ran {
                return Some(format!(
                    "{words:?}: accepted by the table but the VM did not start: {}",
                    run.stderr.lines().next().unwrap_or("")
                ));
            }
            let expected = value
                .as_deref()
                .map_or(Vec::new(), |v| expected_readings(flag.name, v));
            let wrong: Vec<String> = expected
                .into_iter()
                .filter_map(|(key, want)| {
                    let got = run.readings.get(key).map(String::as_str).unwrap_or("");
                    (got != want).then(|| format!("system_info({key}) is {got}, expected {want}"))
                })
                .collect();
            (!wrong.is_empty()).then(|| format!("{words:?}: {}", wrong.join("; ")))
        }
        Job::Refused(words, why) => start(words)
            .ran
            .then(|| format!("{words:?}: {why}, but the VM started with it")),
    }
}

/// Every VM start that proves the table.
fn jobs() -> Vec<Job> {
    let mut jobs = Vec::new();
    for flag in erl_flags::all() {
        let word = format!("+{}", flag.name);
        assert_eq!(erl_flags::read(&word), Reading::Exact(flag), "{word}");
        let mut glued_done = false;
        for value in good_values(flag) {
            let apart: Vec<String> = std::iter::once(word.clone()).chain(value.clone()).collect();
            assert!(flag.check(value.as_deref()).is_ok(), "{apart:?}");
            jobs.push(Job::Starts(apart, flag, value.clone()));
            // Glued, the first value only: the largest values start a thousand threads.
            if let Some(v) = value.filter(|_| !glued_done) {
                glued_done = true;
                let glued = format!("{word}{v}");
                if erl_flags::read(&glued) == Reading::Unknown {
                    // A flag Erlang reads only apart: glued, the VM does not know the word.
                    jobs.push(Job::Refused(vec![glued], "the table does not split it"));
                    continue;
                }
                assert_eq!(
                    erl_flags::read(&glued),
                    Reading::Glued(flag, v.clone()),
                    "{glued}"
                );
                jobs.push(Job::Starts(vec![glued], flag, Some(v)));
            }
        }
        if let Some(bad) = bad_value(flag) {
            assert!(flag.check(Some(&bad)).is_err(), "{word} {bad}");
            jobs.push(Job::Refused(
                vec![word.clone(), bad],
                "the table refuses the value",
            ));
        }
        if flag.value != FlagValue::Nothing && !VM_LENIENT.contains(&flag.name) {
            // Wrong arity: the flag alone takes the next argument (here `-eval`) as its value.
            assert!(flag.check(None).is_err(), "{word} alone");
            jobs.push(Job::Refused(
                vec![word],
                "the table says the flag needs a value",
            ));
        }
    }
    // Flags the table does not have: unknown ones, and real ones it leaves out because the VM
    // does not run RabbitMQ with them (`+V` prints the version and exits; `+dcg N`, written
    // apart, is not passed to the emulator as one flag by erlexec).
    for words in [&["+foo"][..], &["+V"], &["+dcg", "256"], &["+Mfoo", "1"]] {
        assert_eq!(erl_flags::read(words[0]), Reading::Unknown, "{words:?}");
        jobs.push(Job::Refused(
            words.iter().map(|w| w.to_string()).collect(),
            "the table does not know the flag",
        ));
    }
    jobs
}

#[test]
#[ignore = "needs erl (Debian erlang-base; tests/run installs rabbitmq-server, which pulls it in)"]
fn erlang_reads_every_flag_as_the_table_says() {
    let jobs = jobs();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    // A VM start mostly waits: a few at a time keep two cores busy.
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if let Some(failure) = run(job) {
                    failures.lock().unwrap().push(failure);
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} VM starts disagree with the table:\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n")
    );
}
