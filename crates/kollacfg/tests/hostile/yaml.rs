//! Class 8: YAML as kubectl reads it. Duplicate keys name both lines; plain scalars that
//! kubectl's YAML 1.1 rules read differently are refused with the quoted form suggested;
//! messages escape control characters in the names and values they quote.

use crate::common::*;

fn override_ini(ini: &str) -> String {
    format!(
        "apiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\nmetadata: {{name: o, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: nova-compute}}\n  file: nova.conf\n  ini: {ini}\n"
    )
}

#[test]
fn a_duplicate_key_names_both_lines() {
    // TARGETS is 9 lines and the separator one: the fragment starts at line 11.
    let doc = VIF.replacen(
        "kind: NovaVifPolicy\n",
        "kind: NovaVifPolicy\nkind: NovaVifPolicy\n",
        1,
    );
    let scene = Scene::new(&[&doc]);
    scene.refused(&[
        "input.yaml: document 3 (NovaVifPolicy openstack/vif): kind: key given twice, at lines 12 and 13",
    ]);
    let doc = VIF.replace(
        "  vifPluggingTimeout: 300\n",
        "  vifPluggingTimeout: 300\n  vifPluggingTimeout: 30\n",
    );
    let scene = Scene::new(&[&doc]);
    scene.refused(&["(NovaVifPolicy openstack/vif): spec.vifPluggingTimeout: key given twice"]);
}

#[test]
fn yaml_1_1_plain_scalars_are_refused_with_the_quoted_form() {
    for (value, reading) in [
        ("off", "false"),
        ("yes", "true"),
        ("y", "true"),
        ("010", "8"),
        ("12:30:00", "45000"),
        ("1_000", "1000"),
    ] {
        let scene = Scene::new(&[&override_ini(&format!("{{DEFAULT: {{debug: {value}}}}}"))]);
        scene.refused(&[
            "(ConfigOverride openstack/o): spec.ini.DEFAULT.debug: ",
            &format!("read by kubectl (YAML 1.1) as {reading}"),
            &format!("write \"{value}\" (quoted)"),
        ]);
        // Quoted, it is the string it says.
        let scene = Scene::new(&[&override_ini(&format!(
            "{{DEFAULT: {{debug: \"{value}\"}}}}"
        ))]);
        scene.render_ok();
    }
}

#[test]
fn a_yaml_1_1_boolean_in_a_boolean_field_is_refused_with_the_reading() {
    let scene = Scene::new(&[&VIF.replace("vifPluggingIsFatal: false", "vifPluggingIsFatal: no")]);
    scene.refused(&[
        "(NovaVifPolicy openstack/vif): spec.vifPluggingIsFatal: no (line",
        "read by kubectl (YAML 1.1) as false",
        "or false for that value",
    ]);
}

#[test]
fn control_characters_in_names_are_escaped_and_refused() {
    let doc = VIF.replace("name: vif,", "name: \"vif\\nerror: forged \\e[31m\",");
    let scene = Scene::new(&[&doc]);
    let err = scene.refused(&[
        "metadata.name",
        "not a DNS-1123 subdomain",
        "vif\\nerror: forged \\u{1b}[31m",
    ]);
    assert!(!err.contains('\u{1b}'), "{err}");
    assert!(
        !err.lines().any(|l| l.starts_with("error: forged")),
        "{err}"
    );
}
