//! The per-host table (`kollacfg_render::host_items`) against kolla-ansible's own templates:
//! `tests/tools/kolla-host-items.py` lists every setting of the files kollacfg edits whose value
//! kolla-ansible builds from a fact of one host, and this test fails when it names an item the
//! table lacks (and does not set aside with a reason), or when a row said to come from kolla's
//! templates is no longer found there. `#[ignore]`d in a plain `cargo test`; needs python3 and
//! the unpacked kolla-ansible wheel:
//!
//! ```sh
//! KOLLACFG_KOLLA_ANSIBLE=$(bash tests/tools/kolla-ansible.sh) \
//!     cargo test -p kollacfg-render --test kolla_host_items -- --include-ignored
//! ```

use std::path::PathBuf;
use std::process::Command;

use kollacfg_render::host_items::{HOST_ITEMS, NOT_HOST_ITEMS};

/// One candidate: file, item, template:line, expression.
struct Candidate {
    file: String,
    item: String,
    source: String,
    expression: String,
}

fn candidates() -> Vec<Candidate> {
    let ansible = std::env::var_os("KOLLACFG_KOLLA_ANSIBLE").map(PathBuf::from).expect(
        "KOLLACFG_KOLLA_ANSIBLE is not set: KOLLACFG_KOLLA_ANSIBLE=$(bash tests/tools/kolla-ansible.sh)",
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .arg(root.join("tests/tools/kolla-host-items.py"))
        .arg(&ansible)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "kolla-host-items.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "not four columns: {line:?}");
            Candidate {
                file: cols[0].into(),
                item: cols[1].into(),
                source: cols[2].into(),
                expression: cols[3].into(),
            }
        })
        .collect()
}

#[test]
#[ignore = "needs kolla-ansible's templates (KOLLACFG_KOLLA_ANSIBLE, tests/tools/kolla-ansible.sh)"]
fn every_per_host_item_of_kolla_ansibles_templates_is_in_the_table() {
    let found = candidates();
    // The script itself can break: kolla's best-known per-host items must be among its rows.
    for (file, item) in [
        ("nova.conf", "[DEFAULT] my_ip"),
        ("rabbitmq-env.conf", "RABBITMQ_NODENAME"),
        ("rabbitmq.conf", "listeners.tcp.1"),
    ] {
        assert!(
            found.iter().any(|c| c.file == file && c.item == item),
            "kolla-host-items.py no longer finds {file} {item}"
        );
    }
    let missing: Vec<String> = found
        .iter()
        .filter(|c| {
            let in_table = HOST_ITEMS
                .iter()
                .any(|row| row.file == c.file && row.item.covers_script_item(&c.item));
            let set_aside = NOT_HOST_ITEMS
                .iter()
                .any(|n| n.file == c.file && n.item == c.item);
            !in_table && !set_aside
        })
        .map(|c| format!("{}\t{}\t{}\t{}", c.file, c.item, c.source, c.expression))
        .collect();
    assert!(
        missing.is_empty(),
        "kolla-ansible's templates make these items per host, but host_items::HOST_ITEMS lacks \
         them (add a row, or a NOT_HOST_ITEMS entry with the reason):\n{}",
        missing.join("\n")
    );
}

#[test]
#[ignore = "needs kolla-ansible's templates (KOLLACFG_KOLLA_ANSIBLE, tests/tools/kolla-ansible.sh)"]
fn every_row_said_to_come_from_kolla_is_still_in_its_templates() {
    let found = candidates();
    let stale: Vec<String> = HOST_ITEMS
        .iter()
        .filter(|row| !row.source.starts_with("RabbitMQ documentation"))
        .filter(|row| {
            !found
                .iter()
                .any(|c| c.file == row.file && row.item.covers_script_item(&c.item))
        })
        .map(|row| format!("{} {}", row.file, row.item.script_form()))
        .chain(
            NOT_HOST_ITEMS
                .iter()
                .filter(|n| !found.iter().any(|c| c.file == n.file && c.item == n.item))
                .map(|n| format!("{} {} (NOT_HOST_ITEMS)", n.file, n.item)),
        )
        .collect();
    assert!(
        stale.is_empty(),
        "these rows name kolla-ansible's templates as their source, but the templates no longer \
         build them from a host fact:\n{}",
        stale.join("\n")
    );
}
