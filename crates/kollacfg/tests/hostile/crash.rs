//! Class 4: no crash, no hang. Deep nesting and huge inputs end in an error naming the file and
//! the limit; a closed stdout ends the command quietly with the status of a shell tool killed
//! by SIGPIPE; a full one is an error with exit 2.

use std::fs;
use std::process::Stdio;

use crate::common::*;

/// 150,000 nested brackets: an error naming the file and the limit, no stack overflow.
#[test]
fn deep_yaml_nesting_is_an_error_not_an_abort() {
    let scene = Scene::new(&[]);
    for (name, text) in [
        ("flow.yaml", format!("{}{}", "[".repeat(150_000), "]".repeat(150_000))),
        (
            "map.yaml",
            format!("a: {}1{}", "{a: ".repeat(150_000), "}".repeat(150_000)),
        ),
        (
            "spec.yaml",
            format!(
                "apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\nmetadata: {{name: x}}\nspec: {}{}",
                "[".repeat(150_000),
                "]".repeat(150_000)
            ),
        ),
    ] {
        let file = scene.dir.path().join(name);
        fs::write(&file, text).unwrap();
        let mut args = scene.render_args();
        args[2] = file.clone().into();
        let out = run(&args);
        assert_no_crash(&out);
        let err = scene.refused_with(&args, &[&file.display().to_string(), "nesting"]);
        assert!(err.contains("limit"), "{err}");
    }
}

/// The same depth in a base `definitions.json`.
#[test]
fn deep_json_nesting_in_a_base_file_is_an_error() {
    let scene = Scene::new(&[crate::base_policy()]);
    let defs = scene.base().join("rabbitmq/definitions.json");
    fs::write(
        &defs,
        format!(
            "{{\"policies\": {}{}}}",
            "[".repeat(150_000),
            "]".repeat(150_000)
        ),
    )
    .unwrap();
    let out = run(&scene.render_args());
    assert_no_crash(&out);
    scene.refused(&[
        "KollaConfig openstack/rabbitmq: base definitions.json",
        "recursion limit",
    ]);
}

/// An input larger than the limit is refused by name before it is parsed.
#[test]
fn an_oversized_input_names_the_limit() {
    let scene = Scene::new(&[]);
    let big = scene.dir.path().join("big.yaml");
    let file = fs::File::create(&big).unwrap();
    file.set_len(65 << 20).unwrap();
    let mut args = scene.render_args();
    args[2] = big.clone().into();
    scene.refused_with(
        &args,
        &[
            &big.display().to_string(),
            "larger than the limit of 64 MiB",
        ],
    );
}

/// Commands that write to stdout: `crds`, `diff`, `validate --report` on `scene`.
fn stdout_commands(scene: &Scene) -> Vec<Vec<String>> {
    let input = scene.input().display().to_string();
    let base = scene.base().display().to_string();
    let with_input = |cmd: &str| {
        ["-f", &input, "--base", &base]
            .iter()
            .fold(vec![cmd.to_string()], |mut v, a| {
                v.push(a.to_string());
                v
            })
    };
    let mut validate = with_input("validate");
    validate.push("--report".into());
    vec![vec!["crds".into()], with_input("diff"), validate]
}

#[test]
fn a_closed_stdout_ends_quietly_with_141() {
    let scene = Scene::new(&[VIF]);
    for args in stdout_commands(&scene) {
        let mut child = spawn(&args, Stdio::piped());
        drop(child.stdout.take());
        let out = finish(child);
        let err = stderr(&out);
        assert!(
            out.status.code() == Some(141) || signal(&out.status) == Some(13),
            "{args:?}: {:?}\n{err}",
            out.status
        );
        assert!(
            !err.contains("panicked") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_full_stdout_is_an_error_with_exit_2() {
    let scene = Scene::new(&[VIF]);
    for args in stdout_commands(&scene) {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = finish(spawn(&args, full.into()));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("error: writing standard output: No space left on device"),
            "{args:?}: {err}"
        );
    }
}
