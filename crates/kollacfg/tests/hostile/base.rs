//! Class 3: nothing lost. A base that is expected and cannot be read is an error naming its
//! path, never an output without it; reading never blocks.

use std::fs;
use std::os::unix::fs::symlink;

use crate::common::*;

fn nova_conf(scene: &Scene) -> std::path::PathBuf {
    scene.base().join("nova-compute/nova.conf")
}

#[test]
fn a_dangling_symlink_base_file_is_refused() {
    let scene = Scene::new(&[VIF]);
    fs::remove_file(nova_conf(&scene)).unwrap();
    symlink("/nonexistent/nova.conf", nova_conf(&scene)).unwrap();
    scene.refused(&[
        "KollaConfig openstack/nova-compute: base: ",
        &nova_conf(&scene).display().to_string(),
        "a dangling symbolic link",
    ]);
}

#[test]
fn a_symlink_loop_base_file_is_refused() {
    let scene = Scene::new(&[VIF]);
    fs::remove_file(nova_conf(&scene)).unwrap();
    symlink(nova_conf(&scene), nova_conf(&scene)).unwrap();
    scene.refused(&[&nova_conf(&scene).display().to_string(), "symbolic links"]);
}

#[test]
fn a_fifo_base_file_is_refused_without_blocking() {
    let scene = Scene::new(&[VIF]);
    fs::remove_file(nova_conf(&scene)).unwrap();
    mkfifo(&nova_conf(&scene));
    scene.refused(&[&nova_conf(&scene).display().to_string(), "is a FIFO"]);
}

#[test]
fn a_device_base_file_is_refused() {
    let scene = Scene::new(&[VIF]);
    fs::remove_file(nova_conf(&scene)).unwrap();
    symlink("/dev/zero", nova_conf(&scene)).unwrap();
    scene.refused(&[&nova_conf(&scene).display().to_string(), "is a device"]);
}

#[test]
fn a_missing_edited_base_file_is_refused() {
    let scene = Scene::new(&[VIF]);
    fs::remove_file(nova_conf(&scene)).unwrap();
    scene.refused(&[
        "input.yaml: KollaConfig openstack/nova-compute: base nova.conf: ",
        &nova_conf(&scene).display().to_string(),
        "missing; the fragments edit it",
    ]);
    // A directory in its place is not a file either.
    fs::create_dir(nova_conf(&scene)).unwrap();
    scene.refused(&["base nova.conf", "missing"]);
}

#[test]
fn a_missing_service_directory_is_refused() {
    let scene = Scene::new(&[VIF]);
    fs::remove_dir_all(scene.base().join("nova-compute")).unwrap();
    scene.refused(&[
        "KollaConfig openstack/nova-compute: base nova.conf: ",
        &nova_conf(&scene).display().to_string(),
        "missing; the fragments edit it",
    ]);
}

/// The deliberate "no base": accepted, with a warning naming the target and the files.
#[test]
fn no_base_is_a_warning_naming_the_target() {
    let scene = Scene::new(&[VIF]);
    let out = run(&[
        "render".as_ref(),
        "-f".as_ref(),
        scene.input().as_os_str(),
        "--out".as_ref(),
        scene.out().as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "warning: KollaConfig openstack/nova-compute: no --base: nova.conf written from the fragments' items alone"
        ),
        "{}",
        stderr(&out)
    );
}

/// `service:` becomes a path: only a DNS-1123 label is accepted, before anything is opened.
#[test]
fn a_service_that_is_not_a_plain_name_is_refused() {
    for service in ["/proc", "..", "nova/../../etc", "nova-", "a\\nb"] {
        let scene = Scene::new(&[]);
        let text = format!(
            "apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {{name: evil, namespace: openstack}}\nspec: {{service: \"{service}\"}}\n"
        );
        fs::write(scene.input(), text).unwrap();
        scene.refused(&[
            "KollaConfig openstack/evil: spec.service: ",
            "DNS-1123 label",
        ]);
    }
}

/// An input file that is a FIFO or a device is refused by type, not read for ever.
#[test]
fn an_input_that_is_a_fifo_or_a_device_is_refused() {
    let scene = Scene::new(&[]);
    let fifo = scene.dir.path().join("fifo.yaml");
    mkfifo(&fifo);
    let mut args = scene.render_args();
    args[2] = fifo.clone().into();
    scene.refused_with(&args, &[&fifo.display().to_string(), "is a FIFO"]);
    args[2] = "/dev/zero".into();
    scene.refused_with(&args, &["/dev/zero", "is a device"]);
}

/// A directory of inputs with a link back to itself is walked once.
#[test]
fn a_directory_loop_in_the_inputs_ends() {
    let scene = Scene::new(&[VIF]);
    let dir = scene.dir.path().join("inputs");
    fs::create_dir(&dir).unwrap();
    fs::copy(scene.input(), dir.join("input.yaml")).unwrap();
    symlink(&dir, dir.join("again")).unwrap();
    let mut args = scene.render_args();
    args[2] = dir.into();
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
