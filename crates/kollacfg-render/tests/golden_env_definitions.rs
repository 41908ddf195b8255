//! Golden files for the `rabbitmq-env.conf` and `definitions.json` editors.
//!
//! Each case directory under `tests/golden/rabbitmq_env/` holds a `base.conf`, an `edits.txt`
//! and the `expected.conf` that applying the edits must give, byte for byte. `edits.txt` holds
//! one edit per line, applied in order: `set NAME=value` sets a variable, and a run of
//! consecutive `erl <flag> [args...]` lines is one `set_erl_flags` call with those flags in that
//! order. Blank lines and lines starting with `#` are skipped.
//!
//! Each case directory under `tests/golden/definitions/` holds a `base.json` (absent: the empty
//! document), an `edits.json` (an array of policies, each with the keys `vhost`, `name`,
//! `pattern`, `apply-to`, `definition` and `priority`, upserted through `policy_json` in one
//! call) and the `expected.json`.
//!
//! Applying the same edits to an expected file must give it back unchanged.
//! `KOLLACFG_BLESS=1` re-blesses the expected files.

mod common;

use std::path::Path;

use kollacfg_render::files::definitions::{policy_json, Definitions};
use kollacfg_render::files::rabbitmq_env::{EnvFile, ErlFlag, ERL_ARGS_VAR};
use serde_json::Value;

use common::{cases, read};

/// One step of an env case.
enum EnvEdit {
    Set(String, String),
    Flags(Vec<ErlFlag>),
}

fn env_edits(case: &Path) -> Vec<EnvEdit> {
    let mut edits = Vec::new();
    for line in read(&case.join("edits.txt")).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(assignment) = line.strip_prefix("set ") {
            let (name, value) = assignment
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: bad set {line:?}", case.display()));
            edits.push(EnvEdit::Set(name.to_string(), value.to_string()));
        } else if let Some(flag) = line.strip_prefix("erl ") {
            let mut words = flag.split_whitespace().map(str::to_string);
            let flag = ErlFlag {
                name: words.next().expect("flag name"),
                args: words.collect(),
            };
            match edits.last_mut() {
                Some(EnvEdit::Flags(flags)) => flags.push(flag),
                _ => edits.push(EnvEdit::Flags(vec![flag])),
            }
        } else {
            panic!("{}: bad edit {line:?}", case.display());
        }
    }
    edits
}

fn apply_env(text: &str, edits: &[EnvEdit]) -> String {
    let mut env = EnvFile::parse(text).expect("env file parses");
    for edit in edits {
        match edit {
            EnvEdit::Set(name, value) => env.set(name, value),
            EnvEdit::Flags(flags) => env.set_erl_flags(flags).expect("flags apply"),
        }
    }
    env.render()
}

/// What /bin/sh finds in the Erlang arguments variable after sourcing `path`.
fn sh_erl_args(path: &Path, name: &str) -> String {
    let out = std::process::Command::new("/bin/sh")
        .env_clear()
        .arg("-c")
        .arg(format!(". \"$1\"; printf %s \"${name}\""))
        .arg("sh")
        .arg(path)
        .output()
        .expect("run /bin/sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn rabbitmq_env_golden() {
    for case in cases("rabbitmq_env") {
        let edits = env_edits(&case);
        let actual = apply_env(&read(&case.join("base.conf")), &edits);
        let expected_path = case.join("expected.conf");
        common::assert_golden(&expected_path, &actual);
        assert_eq!(
            apply_env(&actual, &edits),
            actual,
            "{}: applying the edits again changes the output",
            case.display()
        );
        let env = EnvFile::parse(&actual).unwrap();
        let name = if env.get(ERL_ARGS_VAR).is_some() {
            ERL_ARGS_VAR
        } else {
            "SERVER_ADDITIONAL_ERL_ARGS"
        };
        assert_eq!(
            sh_erl_args(&expected_path, name),
            env.erl_args().unwrap().join(" "),
            "{}: the shell reads other words than intended",
            case.display()
        );
    }
}

fn policies(case: &Path) -> Vec<Value> {
    let edits: Vec<Value> = serde_json::from_str(&read(&case.join("edits.json")))
        .unwrap_or_else(|e| panic!("{}: edits.json: {e}", case.display()));
    edits
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap_or_else(|| panic!("{k} missing"));
            policy_json(
                field("vhost"),
                field("name"),
                field("pattern"),
                field("apply-to"),
                p["definition"].as_object().expect("definition object"),
                p["priority"].as_i64().expect("priority"),
            )
        })
        .collect()
}

fn apply_definitions(doc: Definitions, policies: &[Value]) -> String {
    let mut doc = doc;
    doc.upsert_policies(policies);
    doc.render()
}

#[test]
fn definitions_golden() {
    for case in cases("definitions") {
        let policies = policies(&case);
        let base_path = case.join("base.json");
        let base = if base_path.exists() {
            Definitions::parse(&read(&base_path)).expect("base parses")
        } else {
            Definitions::empty()
        };
        let actual = apply_definitions(base, &policies);
        common::assert_golden(&case.join("expected.json"), &actual);
        let again = Definitions::parse(&actual).expect("output parses");
        assert_eq!(
            apply_definitions(again, &policies),
            actual,
            "{}: applying the edits again changes the output",
            case.display()
        );
    }
}
