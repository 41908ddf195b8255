//! Rendered `nova.conf` files against Nova's own code (Debian's `python3-nova`): the values
//! nova-compute's option loader reads from a file (`nova_check.py`), and the option names
//! `oslo-config-validator` knows. Always Debian's `/usr/bin/python3`: another `python3` earlier
//! on PATH lacks Debian's modules.

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

use crate::support::{describe, run};

const PYTHON: &str = "/usr/bin/python3";
const VALIDATOR: &str = "/usr/bin/oslo-config-validator";

/// Every option namespace a nova service reads, as nova's own sample-config generator lists
/// them (those Debian ships): without one, the validator calls that library's options unknown
/// (`debug` without `oslo.log`, `transport_url` without `oslo.messaging`, ...).
pub const NOVA_NAMESPACES: &[&str] = &[
    "nova.conf",
    "oslo.log",
    "oslo.messaging",
    "oslo.policy",
    "oslo.privsep",
    "oslo.service.periodic_task",
    "oslo.service.service",
    "oslo.db",
    "oslo.db.concurrency",
    "oslo.cache",
    "oslo.middleware",
    "oslo.concurrency",
    "oslo.reports",
    "oslo.versionedobjects",
    "oslo.limit",
    "keystonemiddleware.auth_token",
    "os_vif",
    "os_brick",
    "castellan.config",
];

/// What Nova's loader read: option (`GROUP.OPTION`) → value, and → where the value came from
/// (`user`: the file; `opt_default`: the option's default, the file does not set it).
#[derive(Debug)]
pub struct NovaReading {
    pub values: Map<String, Value>,
    pub sources: Map<String, Value>,
}

impl NovaReading {
    /// Asserts that the file sets `option` and that Nova reads it as `expected`.
    pub fn assert_from_file(&self, option: &str, expected: Value) {
        assert_eq!(
            self.values.get(option),
            Some(&expected),
            "value of {option}"
        );
        assert_eq!(
            self.sources.get(option).and_then(Value::as_str),
            Some("user"),
            "{option} should come from the file, not from its default"
        );
    }

    /// Asserts that the file does not set `option` (Nova falls back to its default).
    pub fn assert_default(&self, option: &str) {
        assert_eq!(
            self.sources.get(option).and_then(Value::as_str),
            Some("opt_default"),
            "{option} should not be set by the file (value {:?})",
            self.values.get(option)
        );
    }
}

/// Nova's loader refused the file: the exception's class, the option, and its message.
#[derive(Debug)]
pub struct NovaError {
    pub kind: String,
    pub option: Option<String>,
    pub message: String,
}

/// Loads `conf` as nova-compute would and reads `options` (`GROUP.OPTION`).
pub fn read_nova_conf(conf: &Path, options: &[&str]) -> Result<NovaReading, NovaError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity/nova_check.py");
    let output = run(Command::new(PYTHON).arg(script).arg(conf).args(options));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "nova_check.py printed no JSON ({e}); is python3-nova installed?\n{}",
            describe(&output)
        )
    });
    if let Some(error) = report.get("error") {
        assert!(!output.status.success(), "an error report exits non-zero");
        let text = |key: &str| error[key].as_str().map(str::to_string);
        return Err(NovaError {
            kind: text("type").unwrap_or_default(),
            option: text("option"),
            message: text("message").unwrap_or_default(),
        });
    }
    assert!(output.status.success(), "{}", describe(&output));
    let object = |key: &str| report[key].as_object().cloned().expect(key);
    Ok(NovaReading {
        values: object("values"),
        sources: object("sources"),
    })
}

/// `oslo-config-validator --fatal-warnings` over `conf` with nova's namespaces. Returns whether
/// it passed, and everything it printed.
pub fn validate_nova_conf(conf: &Path) -> (bool, String) {
    let mut command = Command::new(PYTHON);
    command
        .arg(VALIDATOR)
        .arg("--fatal-warnings")
        .arg("--input-file")
        .arg(conf);
    for namespace in NOVA_NAMESPACES {
        command.arg("--namespace").arg(namespace);
    }
    let output = run(&mut command);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}
