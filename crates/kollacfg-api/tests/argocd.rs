//! The Argo CD integration in `deploy/argocd/`:
//!
//! - every kind of `crds/` has its health check tests in Argo CD's layout
//!   (`health/kollacfg.dev/<Kind>/health_test.yaml`, `testdata/`), sample objects of its kind
//!   that the types accept, for the one script `health/health.lua` every kind uses;
//! - `argocd-cm.yaml` holds exactly those scripts, and keeps the controller's rollout
//!   annotation out of diffs; `application.yaml` does the same and applies server-side;
//! - with a real Lua 5.1 and lyaml (ignored by a plain `cargo test`; see [`LUA_REQUIRED`]), every
//!   case of every `health_test.yaml` gives the status and message it expects, run by
//!   `health/run_test.lua` the way Argo CD runs a health check.
//!
//! `KOLLACFG_BLESS=1` rewrites `argocd-cm.yaml` from `health/health.lua` instead of comparing.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kollacfg_api::{check, parse_documents, AnyResource, GROUP, KINDS};
use serde::Deserialize;
use serde_yaml::Value;

/// Whether a missing Lua fails the Lua-running tests (instead of printing [`SKIP`] and
/// passing); `tests/run` installs `lua5.1` and `lua-yaml`. Those tests are `#[ignore]`d in a
/// plain `cargo test`.
const LUA_REQUIRED: bool = true;

/// What a Lua-running test prints when it cannot run.
const SKIP: &str = "SKIP: lua5.1 with lua-yaml is not installed (apt-get install lua5.1 lua-yaml)";

const REGENERATE: &str = "KOLLACFG_BLESS=1 cargo test -p kollacfg-api --test argocd";

/// The controller's server-side apply field manager (`FIELD_MANAGER` in the controller crate).
const FIELD_MANAGER: &str = "kollacfg";

/// The pod-template annotation the controller sets on rollout workloads.
const CONFIG_HASH_ANNOTATION: &str = "kollacfg.dev/config-hash";

/// The workload kinds a KollaConfig's `spec.rollout` can name (all in group `apps`).
const WORKLOAD_KINDS: [&str; 3] = ["DaemonSet", "Deployment", "StatefulSet"];

/// The KollaConfig cases of the `RolledOut` condition: one per reason it maps, and the
/// rolled back workload beside one still moving or paused. A check that ignores `RolledOut`
/// fails every one of them.
const ROLLOUT_CASES: [&str; 8] = [
    "degraded_rollout_stuck_crashloop.yaml",
    "degraded_rollout_stuck_deadline.yaml",
    "degraded_workload_not_found.yaml",
    "progressing_rollout.yaml",
    "suspended_paused.yaml",
    "healthy_rolled_back.yaml",
    "progressing_rolled_back_another_progressing.yaml",
    "suspended_rolled_back_another_paused.yaml",
];

/// Argo CD's health statuses.
const STATUSES: [&str; 6] = [
    "Healthy",
    "Progressing",
    "Degraded",
    "Suspended",
    "Missing",
    "Unknown",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn argocd() -> PathBuf {
    repo().join("deploy/argocd")
}

/// `deploy/argocd/health/health.lua`: the one script every kind uses.
fn source_script() -> PathBuf {
    argocd().join("health/health.lua")
}

fn kind_dir(kind: &str) -> PathBuf {
    argocd().join("health").join(GROUP).join(kind)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn blessing() -> bool {
    std::env::var("KOLLACFG_BLESS").as_deref() == Ok("1")
}

/// `(group, kind)` of every CRD in `crds/`.
fn crd_kinds() -> BTreeSet<(String, String)> {
    let dir = repo().join("crds");
    let mut kinds = BTreeSet::new();
    for entry in fs::read_dir(&dir).expect("read crds/") {
        let path = entry.expect("a crds/ entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let crd: Value = serde_yaml::from_str(&read(&path)).expect("a CRD is YAML");
        let field = |value: &Value| value.as_str().map(str::to_string);
        let group = field(&crd["spec"]["group"]);
        let kind = field(&crd["spec"]["names"]["kind"]);
        match (group, kind) {
            (Some(group), Some(kind)) => kinds.insert((group, kind)),
            _ => panic!("{} has no spec.group or spec.names.kind", path.display()),
        };
    }
    kinds
}

/// The kinds under `health/kollacfg.dev/`.
fn health_kinds() -> BTreeSet<String> {
    let dir = argocd().join("health").join(GROUP);
    fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_dir())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthTests {
    tests: Vec<HealthTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HealthTest {
    health_status: Expected,
    input_path: String,
}

#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Expected {
    status: String,
    #[serde(default)]
    message: String,
}

fn health_tests(kind: &str) -> Vec<HealthTest> {
    let path = kind_dir(kind).join("health_test.yaml");
    let tests: HealthTests =
        serde_yaml::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    tests.tests
}

/// `value` without nulls, as Argo CD hands an object to a health check (and as the types read a
/// missing field).
fn without_nulls(value: serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    match value {
        J::Null => None,
        J::Object(map) => Some(J::Object(
            map.into_iter()
                .filter_map(|(k, v)| without_nulls(v).map(|v| (k, v)))
                .collect(),
        )),
        J::Array(items) => Some(J::Array(
            items.into_iter().filter_map(without_nulls).collect(),
        )),
        other => Some(other),
    }
}

#[test]
fn every_crd_kind_has_a_health_check_with_tests() {
    let crds = crd_kinds();
    let expected: BTreeSet<String> = KINDS.iter().map(|k| k.to_string()).collect();
    let from_crds: BTreeSet<String> = crds.iter().map(|(_, kind)| kind.clone()).collect();
    assert_eq!(from_crds, expected, "crds/ and kollacfg_api::KINDS differ");
    for (group, kind) in &crds {
        assert_eq!(group, GROUP, "{kind} is in another group");
    }
    assert_eq!(
        health_kinds(),
        expected,
        "deploy/argocd/health/{GROUP}/ must have one directory per kind of crds/"
    );
    for kind in KINDS {
        let path = kind_dir(kind).join("health_test.yaml");
        assert!(path.is_file(), "missing {}", path.display());
        assert!(!health_tests(kind).is_empty(), "{kind}: no test cases");
    }
}

#[test]
fn every_sample_is_an_object_of_its_kind_and_is_tested() {
    for kind in KINDS {
        let dir = kind_dir(kind);
        let tests = health_tests(kind);
        let mut used = BTreeSet::new();
        let mut statuses = BTreeSet::new();
        for test in &tests {
            assert!(
                STATUSES.contains(&test.health_status.status.as_str()),
                "{kind}: {}: {:?} is not an Argo CD health status",
                test.input_path,
                test.health_status.status
            );
            statuses.insert(test.health_status.status.clone());
            assert!(
                test.input_path.starts_with("testdata/") && test.input_path.ends_with(".yaml"),
                "{kind}: {} is not testdata/*.yaml",
                test.input_path
            );
            assert!(
                used.insert(test.input_path.clone()),
                "{kind}: {} is tested twice",
                test.input_path
            );

            let path = dir.join(&test.input_path);
            let text = read(&path);
            let value: serde_json::Value =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let plain = without_nulls(value).expect("a sample is not null");
            let resources = parse_documents(&serde_yaml::to_string(&plain).unwrap())
                .unwrap_or_else(|e| panic!("{}: not a kollacfg resource: {e}", path.display()));
            assert_eq!(resources.len(), 1, "{}: one object", path.display());
            let resource: &AnyResource = &resources[0];
            assert_eq!(resource.kind(), kind, "{}", path.display());
            assert!(
                resource.metadata().generation.is_some(),
                "{}: metadata.generation is what the check compares against",
                path.display()
            );
            let violations = check(resource);
            assert!(
                violations.is_empty(),
                "{}: the CRD would refuse it: {violations:?}",
                path.display()
            );
        }

        let on_disk: BTreeSet<String> = fs::read_dir(dir.join("testdata"))
            .expect("read testdata/")
            .map(|e| format!("testdata/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        assert_eq!(
            on_disk, used,
            "{kind}: every sample and only those is tested"
        );

        let mut expected_statuses = vec!["Healthy", "Progressing", "Degraded"];
        if kind == "KollaConfig" {
            // spec.rolloutPolicy.paused
            expected_statuses.push("Suspended");
        }
        for status in expected_statuses {
            assert!(statuses.contains(status), "{kind}: no {status} case");
        }
        let mut required = vec![
            "progressing_no_status.yaml",
            "progressing_null_status.yaml",
            "progressing_stale_generation.yaml",
        ];
        if kind == "KollaConfig" {
            required.extend(["healthy_rendered.yaml", "degraded_output_too_large.yaml"]);
            required.extend(ROLLOUT_CASES);
        } else {
            required.extend([
                "healthy_applied.yaml",
                "degraded_invalid.yaml",
                "degraded_conflicted.yaml",
                "progressing_target_not_found.yaml",
            ]);
        }
        for name in required {
            let input = format!("testdata/{name}");
            assert!(used.contains(&input), "{kind}: no case {input}");
        }
    }
}

/// The health check's key in argocd-cm.
fn health_key(kind: &str) -> String {
    format!("resource.customizations.health.{GROUP}_{kind}")
}

/// The system-level ignoreDifferences key in argocd-cm.
fn ignore_key(workload: &str) -> String {
    format!("resource.customizations.ignoreDifferences.apps_{workload}")
}

/// `text` as the body of a YAML literal block scalar indented by `indent` spaces.
fn block(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    text.lines()
        .map(|line| {
            if line.is_empty() {
                "\n".to_string()
            } else {
                format!("{pad}{line}\n")
            }
        })
        .collect()
}

/// What `deploy/argocd/argocd-cm.yaml` must hold.
fn argocd_cm(script: &str) -> String {
    let mut out = String::from(
        "# Argo CD settings for kollacfg: a health check for every kollacfg.dev kind, and the
# controller's rollout annotation kept out of diffs. Merge these keys into the argocd-cm
# ConfigMap of an Argo CD installation, e.g.
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file deploy/argocd/argocd-cm.yaml
# (deploy/argocd/README.md). Generated from deploy/argocd/health/health.lua by
#   KOLLACFG_BLESS=1 cargo test -p kollacfg-api --test argocd
# which fails while this file differs.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  # The controller sets the pod-template annotation kollacfg.dev/config-hash on the workloads
  # a KollaConfig names in spec.rollout, with server-side apply as field manager kollacfg, and
  # sets nothing else on them: the fields that manager owns are not drift.
",
    );
    for workload in WORKLOAD_KINDS {
        out.push_str(&format!(
            "  {}: |\n    managedFieldsManagers:\n      - {FIELD_MANAGER}\n",
            ignore_key(workload)
        ));
    }
    out.push_str("  # One health check per kind, all the same script.\n");
    let mut kinds = KINDS.to_vec();
    kinds.sort_unstable();
    for kind in kinds {
        out.push_str(&format!("  {}: |\n", health_key(kind)));
        out.push_str(&block(script, 4));
    }
    out
}

#[test]
fn argocd_cm_holds_exactly_the_health_checks_and_the_ignore_rules() {
    let path = argocd().join("argocd-cm.yaml");
    let script = read(&source_script());
    let expected = argocd_cm(&script);
    if blessing() {
        fs::write(&path, &expected).expect("write argocd-cm.yaml");
    }
    let text = read(&path);

    // Read as Argo CD reads it, independently of how it was generated.
    let cm: Value = serde_yaml::from_str(&text).expect("argocd-cm.yaml is YAML");
    assert_eq!(cm["apiVersion"].as_str(), Some("v1"));
    assert_eq!(cm["kind"].as_str(), Some("ConfigMap"));
    assert_eq!(cm["metadata"]["name"].as_str(), Some("argocd-cm"));
    let data: BTreeMap<String, String> =
        serde_yaml::from_value(cm["data"].clone()).expect("data is a map of strings");
    let mut keys: BTreeSet<String> = KINDS.iter().map(|k| health_key(k)).collect();
    keys.extend(WORKLOAD_KINDS.iter().map(|w| ignore_key(w)));
    assert_eq!(data.keys().cloned().collect::<BTreeSet<_>>(), keys);
    for kind in KINDS {
        assert!(
            data[&health_key(kind)] == script,
            "{} is not exactly deploy/argocd/health/health.lua; regenerate with: {REGENERATE}",
            health_key(kind)
        );
    }
    for workload in WORKLOAD_KINDS {
        let rule: Value = serde_yaml::from_str(&data[&ignore_key(workload)]).unwrap();
        let mut managers = BTreeMap::new();
        managers.insert("managedFieldsManagers", vec![FIELD_MANAGER]);
        assert_eq!(
            rule,
            serde_yaml::to_value(&managers).unwrap(),
            "{}",
            ignore_key(workload)
        );
    }

    assert!(
        text == expected,
        "deploy/argocd/argocd-cm.yaml is stale; regenerate with: {REGENERATE}"
    );
}

#[test]
fn the_ignore_rules_match_what_the_controller_writes() {
    // The ignore rules name the controller's field manager; the documentation names the
    // annotation. Both live in the controller crate, which this crate does not depend on.
    let build = repo().join("crates/kollacfg-controller/src/build");
    let output = read(&build.join("output.rs"));
    let manager = format!("pub const FIELD_MANAGER: &str = \"{FIELD_MANAGER}\";");
    assert!(
        output.contains(&manager),
        "output.rs no longer has `{manager}`"
    );
    let module = read(&build.join("mod.rs"));
    let annotation =
        format!("pub const ANNOTATION_CONFIG_HASH: &str = \"{CONFIG_HASH_ANNOTATION}\";");
    assert!(
        module.contains(&annotation),
        "mod.rs no longer has `{annotation}`"
    );
    // The ignore rules cover exactly the kinds spec.rollout can name.
    let crd: Value =
        serde_yaml::from_str(&read(&repo().join("crds/kollaconfigs.kollacfg.dev.yaml"))).unwrap();
    let kind = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["rollout"]["items"]["properties"]["kind"]["enum"];
    let mut kinds: Vec<String> = serde_yaml::from_value(kind.clone()).expect("a kind enum");
    kinds.sort();
    assert_eq!(
        kinds, WORKLOAD_KINDS,
        "spec.rollout[].kind of the KollaConfig CRD"
    );
}

#[test]
fn the_example_application_applies_server_side_and_ignores_the_annotation() {
    let app: Value = serde_yaml::from_str(&read(&argocd().join("application.yaml"))).unwrap();
    assert_eq!(app["apiVersion"].as_str(), Some("argoproj.io/v1alpha1"));
    assert_eq!(app["kind"].as_str(), Some("Application"));
    let spec = &app["spec"];

    let options: Vec<String> =
        serde_yaml::from_value(spec["syncPolicy"]["syncOptions"].clone()).unwrap();
    assert!(
        options.iter().any(|o| o == "ServerSideApply=true"),
        "{options:?}"
    );

    let rules = spec["ignoreDifferences"]
        .as_sequence()
        .expect("ignoreDifferences");
    for workload in WORKLOAD_KINDS {
        let found = rules.iter().any(|rule| {
            rule["group"].as_str() == Some("apps")
                && rule["kind"].as_str() == Some(workload)
                && serde_yaml::from_value::<Vec<String>>(rule["managedFieldsManagers"].clone())
                    .is_ok_and(|m| m == [FIELD_MANAGER])
        });
        assert!(
            found,
            "no ignoreDifferences for apps/{workload} by {FIELD_MANAGER}"
        );
    }

    // The source path holds kollacfg resources for the destination namespace.
    let path = spec["source"]["path"].as_str().expect("spec.source.path");
    let namespace = spec["destination"]["namespace"].as_str();
    let dir = repo().join(path);
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{path}: {e}")) {
        let file = entry.unwrap().path();
        let resources =
            parse_documents(&read(&file)).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for resource in &resources {
            assert_eq!(resource.metadata().namespace.as_deref(), namespace);
        }
        count += resources.len();
    }
    assert!(count > 0, "{path} holds no kollacfg resource");
}

/// The Lua 5.1 interpreter with lyaml: `KOLLACFG_LUA`, else `lua5.1` from PATH. `None` (after
/// printing [`SKIP`]) when `lua5.1` is not usable and neither the variable nor
/// [`LUA_REQUIRED`] demands it.
fn lua() -> Option<OsString> {
    let explicit = std::env::var_os("KOLLACFG_LUA");
    let program = explicit.clone().unwrap_or_else(|| "lua5.1".into());
    // run_test.lua uses setfenv and loadstring, as Argo CD's Lua does: 5.1 only.
    let probe = Command::new(&program)
        .args([
            "-e",
            "assert(_VERSION == 'Lua 5.1', _VERSION); require('lyaml')",
        ])
        .output();
    let why = match probe {
        Ok(out) if out.status.success() => return Some(program),
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
        Err(e) => e.to_string(),
    };
    let program = program.to_string_lossy();
    if explicit.is_some() {
        panic!("KOLLACFG_LUA={program} is not Lua 5.1 with lyaml: {why}");
    }
    if LUA_REQUIRED {
        panic!("{SKIP}: {program}: {why}");
    }
    eprintln!("{SKIP}");
    None
}

/// Runs `script` on the object in `object` through `health/run_test.lua`: the verdict, or the
/// driver's error.
fn run_check(lua: &OsString, script: &Path, object: &Path) -> Result<Expected, String> {
    let out = Command::new(lua)
        .arg(argocd().join("health/run_test.lua"))
        .arg(script)
        .arg(object)
        .output()
        .map_err(|e| format!("run {}: {e}", lua.to_string_lossy()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout
        ));
    }
    let (status, message) = stdout
        .split_once('\n')
        .ok_or_else(|| format!("no status line in {stdout:?}"))?;
    Ok(Expected {
        status: status.to_string(),
        message: message.to_string(),
    })
}

/// Every case of `kind`'s health_test.yaml run with `script`: a line per mismatch.
fn mismatches(lua: &OsString, kind: &str, script: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for test in health_tests(kind) {
        let object = kind_dir(kind).join(&test.input_path);
        match run_check(lua, script, &object) {
            Ok(got) if got == test.health_status => {}
            Ok(got) => problems.push(format!(
                "{kind}/{}: expected {} {:?}, got {} {:?}",
                test.input_path,
                test.health_status.status,
                test.health_status.message,
                got.status,
                got.message
            )),
            Err(e) => problems.push(format!("{kind}/{}: {e}", test.input_path)),
        }
    }
    problems
}

#[test]
#[ignore = "needs lua5.1 and lua-yaml (apt-get install lua5.1 lua-yaml)"]
fn every_health_check_passes_its_tests_in_lua() {
    let Some(lua) = lua() else { return };
    let mut problems = Vec::new();
    for kind in KINDS {
        problems.extend(mismatches(&lua, kind, &source_script()));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// A scratch file that is removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, content: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("kollacfg-argocd-{}-{name}", std::process::id()));
        fs::write(&path, content).expect("write a scratch file");
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[test]
#[ignore = "needs lua5.1 and lua-yaml (apt-get install lua5.1 lua-yaml)"]
fn the_lua_harness_catches_wrong_checks() {
    let Some(lua) = lua() else { return };
    let kind = "NovaVifPolicy";

    // A check that calls everything with a status healthy fails the Degraded and the stale
    // cases.
    let lenient = Scratch::new(
        "lenient.lua",
        "if obj.status ~= nil then return {status = 'Healthy', message = 'ok'} end\n\
         return {status = 'Progressing', message = 'Waiting for the kollacfg controller to report status'}\n",
    );
    let problems = mismatches(&lua, kind, &lenient.0);
    assert!(
        problems.iter().any(|p| p.contains("degraded_invalid.yaml")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("progressing_stale_generation.yaml")),
        "{problems:?}"
    );

    // That same check treats `status: null` (lyaml's placeholder) unlike Argo CD's nil: the
    // driver refuses to let the two runs disagree.
    let object = kind_dir(kind).join("testdata/progressing_null_status.yaml");
    let error = run_check(&lua, &lenient.0, &object).expect_err("the two runs disagree");
    assert!(error.contains("with YAML nulls"), "{error}");

    // A status Argo CD does not know, a missing table and a runtime error are errors.
    for (name, body, expected) in [
        (
            "bad-status.lua",
            "return {status = 'Fine'}",
            "the status Fine",
        ),
        ("no-table.lua", "return 'Healthy'", "not a table"),
        ("raises.lua", "return obj.nothing.here", "raised an error"),
    ] {
        let script = Scratch::new(name, body);
        let error = run_check(&lua, &script.0, &object).expect_err(name);
        assert!(error.contains(expected), "{name}: {error}");
    }

    // The real check passes the same cases: the harness does not fail everything.
    assert_eq!(
        mismatches(&lua, kind, &source_script()),
        Vec::<String>::new()
    );
}

#[test]
#[ignore = "needs lua5.1 and lua-yaml (apt-get install lua5.1 lua-yaml)"]
fn the_rollout_cases_fail_a_check_that_ignores_rolled_out() {
    let Some(lua) = lua() else { return };
    // The real check, run on the object with its RolledOut condition taken out: what a check
    // without the rollout rules would say.
    let prelude = "local status = type(obj.status) == 'table' and obj.status or {}\n\
                   local list = type(status.conditions) == 'table' and status.conditions or {}\n\
                   for i = #list, 1, -1 do\n\
                   if type(list[i]) == 'table' and list[i].type == 'RolledOut' then\n\
                   table.remove(list, i)\n\
                   end\n\
                   end\n";
    let blind = Scratch::new("blind.lua", &format!("{prelude}{}", read(&source_script())));
    let problems = mismatches(&lua, "KollaConfig", &blind.0);
    for case in ROLLOUT_CASES {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(&format!("/testdata/{case}:"))),
            "{case} passes without RolledOut: {problems:?}"
        );
    }
    // The cases where another condition decides pass without it too.
    for case in [
        "degraded_base_missing_rollout_stuck.yaml",
        "progressing_ready_unknown_rollout_paused.yaml",
        "healthy_rolled_out.yaml",
    ] {
        assert!(
            !problems
                .iter()
                .any(|p| p.contains(&format!("/testdata/{case}:"))),
            "{case}: {problems:?}"
        );
    }
}
