//! Golden files for the `nova.conf` (oslo.config INI) and `rabbitmq.conf` editors.
//!
//! Each case directory under `tests/golden/ini/` or `tests/golden/rabbitmq_conf/` holds a
//! `base.conf`, an `edits.txt` and the `expected.conf` that applying the edits to the base must
//! give, byte for byte. `edits.txt` holds one edit per line (`section key value` for INI,
//! `key value` for rabbitmq.conf; the value is the rest of the line); blank lines and lines
//! starting with `#` are skipped. `KOLLACFG_BLESS=1` re-blesses the expected files.

mod common;

use std::path::Path;

use kollacfg_render::files::ini::IniDocument;
use kollacfg_render::files::rabbitmq_conf::RabbitConf;

use common::{cases, read};

/// The edit lines of a case, each split into `fields` whitespace-separated parts (the last one
/// takes the rest of the line).
fn edits(case: &Path, fields: usize) -> Vec<Vec<String>> {
    read(&case.join("edits.txt"))
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let parts: Vec<String> = line.splitn(fields, ' ').map(str::to_owned).collect();
            assert_eq!(parts.len(), fields, "{}: bad edit {line:?}", case.display());
            parts
        })
        .collect()
}

fn apply_ini(doc: &mut IniDocument, edits: &[Vec<String>]) {
    for edit in edits {
        doc.set(&edit[0], &edit[1], &edit[2]);
    }
}

fn apply_conf(conf: &mut RabbitConf, edits: &[Vec<String>]) {
    for edit in edits {
        conf.set(&edit[0], &edit[1]);
    }
}

#[test]
fn ini_golden_cases() {
    for case in cases("ini") {
        let base = read(&case.join("base.conf"));
        let edits = edits(&case, 3);
        let mut doc = IniDocument::parse(&base).unwrap_or_else(|e| panic!("{case:?}: {e}"));
        assert_eq!(doc.render(), base, "{case:?}: base does not round-trip");

        apply_ini(&mut doc, &edits);
        let actual = doc.render();
        common::assert_golden(&case.join("expected.conf"), &actual);

        let mut again = IniDocument::parse(&actual).unwrap_or_else(|e| panic!("{case:?}: {e}"));
        apply_ini(&mut again, &edits);
        assert_eq!(again.render(), actual, "{case:?}: edits are not idempotent");
        for edit in &edits {
            let last = edits
                .iter()
                .rev()
                .find(|e| e[0] == edit[0] && e[1] == edit[1])
                .expect("the edit itself");
            assert_eq!(
                again.get(&edit[0], &edit[1]),
                vec![last[2].clone()],
                "{case:?}"
            );
        }
    }
}

#[test]
fn rabbitmq_conf_golden_cases() {
    for case in cases("rabbitmq_conf") {
        let base = read(&case.join("base.conf"));
        let edits = edits(&case, 2);
        let mut conf = RabbitConf::parse(&base).unwrap_or_else(|e| panic!("{case:?}: {e}"));
        assert_eq!(conf.render(), base, "{case:?}: base does not round-trip");

        apply_conf(&mut conf, &edits);
        let actual = conf.render();
        common::assert_golden(&case.join("expected.conf"), &actual);

        let mut again = RabbitConf::parse(&actual).unwrap_or_else(|e| panic!("{case:?}: {e}"));
        apply_conf(&mut again, &edits);
        assert_eq!(again.render(), actual, "{case:?}: edits are not idempotent");
        for edit in &edits {
            let last = edits
                .iter()
                .rev()
                .find(|e| e[0] == edit[0])
                .expect("the edit itself");
            assert_eq!(again.get(&edit[0]), Some(last[1].clone()), "{case:?}");
        }
    }
}
