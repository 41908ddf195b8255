//! Runs one of the `tests/support/*.escript` helpers over a file of patterns, one per line, and
//! returns what it printed. Needs `escript` from Erlang.

/// `escript tests/support/<script> <file holding patterns>`; panics when it fails.
pub fn run_over_patterns<S: AsRef<str>>(script: &str, patterns: &[S]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("patterns.txt");
    let mut text = String::new();
    for p in patterns {
        text.push_str(p.as_ref());
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let script = format!("{}/tests/support/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("escript")
        .arg(script)
        .arg(&file)
        .output()
        .expect("run escript");
    assert!(
        out.status.success(),
        "escript failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
