//! Classes 1 and 2: a failed render writes nothing, and no write goes through a link, into a
//! special file, or wider than the base file's mode.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use crate::common::*;

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A failure on the second target (sorted after the first) leaves the first one's old file:
/// never a new `nova.conf` beside an old `rabbitmq.conf`.
#[test]
fn a_late_failure_leaves_every_old_file() {
    let scene = Scene::new(&[]);
    scene.render_ok();
    scene.set_input(&[VIF, LISTENER]);
    let in_the_way = scene.out().join("rabbitmq/rabbitmq.conf");
    fs::remove_file(&in_the_way).unwrap();
    fs::create_dir(&in_the_way).unwrap();
    scene.refused(&[
        "rabbitmq.conf",
        "is a directory, not a regular file",
        "nothing was written",
    ]);
}

#[test]
fn an_output_file_that_is_a_symlink_is_refused_and_not_followed() {
    let scene = Scene::new(&[VIF]);
    scene.render_ok();
    let victim = scene.dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let dest = scene.out().join("nova-compute/nova.conf");
    fs::remove_file(&dest).unwrap();
    symlink(&victim, &dest).unwrap();
    scene.refused(&[&dest.display().to_string(), "is a symbolic link"]);
    assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
}

#[test]
fn a_service_directory_that_is_a_symlink_is_refused() {
    let scene = Scene::new(&[VIF]);
    let elsewhere = scene.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::create_dir_all(scene.out()).unwrap();
    symlink(&elsewhere, scene.out().join("nova-compute")).unwrap();
    scene.refused(&["nova-compute", "is a symbolic link, not a directory"]);
    assert!(fs::read_dir(&elsewhere).unwrap().next().is_none());
}

#[test]
fn an_output_directory_that_is_a_symlink_is_refused() {
    let scene = Scene::new(&[VIF]);
    let elsewhere = scene.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    symlink(&elsewhere, scene.out()).unwrap();
    scene.refused(&["is a symbolic link, not a directory"]);
    assert!(fs::read_dir(&elsewhere).unwrap().next().is_none());
}

#[test]
fn an_output_file_that_is_a_fifo_is_refused_without_blocking() {
    let scene = Scene::new(&[VIF]);
    fs::create_dir_all(scene.out().join("nova-compute")).unwrap();
    mkfifo(&scene.out().join("nova-compute/nova.conf"));
    scene.refused(&["nova.conf", "is a FIFO"]);
}

#[test]
fn an_output_file_that_is_a_socket_is_refused() {
    let scene = Scene::new(&[VIF]);
    fs::create_dir_all(scene.out().join("nova-compute")).unwrap();
    let _listener =
        std::os::unix::net::UnixListener::bind(scene.out().join("nova-compute/nova.conf")).unwrap();
    scene.refused(&["nova.conf", "is a socket"]);
}

#[test]
fn a_0600_base_file_stays_0600_and_a_new_file_is_0640() {
    let scene = Scene::new(&[VIF]);
    let base_conf = scene.base().join("nova-compute/nova.conf");
    fs::set_permissions(&base_conf, fs::Permissions::from_mode(0o600)).unwrap();
    // An earlier output was world-readable: the new one is not.
    fs::create_dir_all(scene.out().join("nova-compute")).unwrap();
    let out_conf = scene.out().join("nova-compute/nova.conf");
    fs::write(&out_conf, "old\n").unwrap();
    fs::set_permissions(&out_conf, fs::Permissions::from_mode(0o644)).unwrap();
    // A file no fragment edits keeps its base mode too.
    fs::write(scene.base().join("nova-compute/extra.conf"), "").unwrap();
    fs::set_permissions(
        scene.base().join("nova-compute/extra.conf"),
        fs::Permissions::from_mode(0o400),
    )
    .unwrap();
    scene.render_ok();
    assert_eq!(mode(&out_conf), 0o600);
    assert_eq!(mode(&scene.out().join("nova-compute/extra.conf")), 0o400);
    assert_eq!(
        mode(&scene.out().join("rabbitmq/definitions.json")),
        mode(&scene.base().join("rabbitmq/definitions.json"))
    );

    // Without --base, a file has no base mode: 0640.
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "render".as_ref(),
        "-f".as_ref(),
        scene.input().as_os_str(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(mode(&dir.path().join("nova-compute/nova.conf")), 0o640);
}

/// What a crash between two renames leaves (one file new, one old, temporaries about) is
/// repaired by the next run: the tree is then exactly a fresh render's, with no leftovers.
#[test]
fn the_next_run_repairs_what_a_crash_left() {
    let scene = Scene::new(&[VIF, LISTENER]);
    scene.render_ok();
    let fresh = snapshot(&scene.out());
    // The crashed run: rabbitmq.conf renamed (new), nova.conf still old, temporaries left.
    let nova = scene.out().join("nova-compute/nova.conf");
    fs::copy(scene.base().join("nova-compute/nova.conf"), &nova).unwrap();
    fs::write(
        scene
            .out()
            .join("nova-compute/.nova.conf.kollacfg-0123456789abcdef.tmp"),
        "half",
    )
    .unwrap();
    fs::write(
        scene
            .out()
            .join("rabbitmq/.rabbitmq.conf.kollacfg-fedcba9876543210.old"),
        "old",
    )
    .unwrap();
    assert_ne!(snapshot(&scene.out()), fresh);
    let err = scene.render_ok();
    assert!(err.contains("1 changed"), "{err}");
    assert_eq!(snapshot(&scene.out()), fresh);
}

/// A successful and a failed run leave no temporary behind.
#[test]
fn no_temporary_is_left_behind() {
    let scene = Scene::new(&[VIF, LISTENER]);
    scene.render_ok();
    let names = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(scene.out().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("nova-compute"), ["nova.conf"]);
    assert_eq!(
        names("rabbitmq"),
        ["definitions.json", "rabbitmq-env.conf", "rabbitmq.conf"]
    );
    fs::remove_file(scene.out().join("rabbitmq/rabbitmq.conf")).unwrap();
    mkfifo(&scene.out().join("rabbitmq/rabbitmq.conf"));
    scene.refused(&["is a FIFO"]);
    assert_eq!(names("nova-compute"), ["nova.conf"]);
}
