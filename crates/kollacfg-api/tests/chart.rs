//! The Helm chart `charts/kollacfg` and the plain manifests in `deploy/`, which are the chart's
//! rendering split by template.
//!
//! Without any tool: the chart's `crds/` are byte copies of the top-level `crds/`, its
//! appVersion is the workspace version, and `deploy/rbac.yaml` applies on its own with the roles
//! the end-to-end harness binds.
//!
//! With helm (`KOLLACFG_HELM`, from `tests/tools/helm.sh`): `helm lint --strict` and
//! `helm template` for the default values and every variant in `charts/kollacfg/ci/`, the
//! schema's refusals, and `deploy/` equal to the rendering byte for byte. With
//! kubernetes-validate (`KOLLACFG_PYTOOLS`, from `tests/tools/pytools.sh`): every rendering
//! and every CRD against the Kubernetes OpenAPI schemas, strictly. These are `#[ignore]`d in a
//! plain `cargo test`:
//!
//! ```sh
//! KOLLACFG_HELM=$(bash tests/tools/helm.sh) KOLLACFG_PYTOOLS=$(bash tests/tools/pytools.sh) \
//!     cargo test -p kollacfg-api --test chart -- --include-ignored
//! ```
//!
//! `KOLLACFG_BLESS=1` rewrites the chart's `crds/` from the top-level `crds/` (regenerate those
//! first with `KOLLACFG_BLESS=1 cargo test -p kollacfg-api --test crds`) and, with helm, all of
//! `deploy/` from the chart.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde_yaml::Value;

/// Whether an unset `KOLLACFG_HELM` fails the tests that need helm (instead of skipping them
/// with a message); `tests/run` exports it. Those tests are `#[ignore]`d in a plain `cargo test`.
const HELM_REQUIRED: bool = true;

/// Whether an unset `KOLLACFG_PYTOOLS` fails the tests that need kubernetes-validate.
const PYTOOLS_REQUIRED: bool = true;

/// The release and namespace of every rendering here, and of `deploy/`.
const RELEASE: &str = "kollacfg";
const NAMESPACE: &str = "kollacfg-system";

/// The arguments of `helm template` that `deploy/` is the output of: the default values, plus
/// the Namespace object (Helm itself would create the namespace with `--create-namespace`), so
/// that `deploy/rbac.yaml` applies on its own.
const DEPLOY_TEMPLATE_ARGS: &[&str] = &[
    "template",
    RELEASE,
    "charts/kollacfg",
    "--namespace",
    NAMESPACE,
    "--set",
    "createNamespace=true",
];

const BLESS_DEPLOY: &str = "KOLLACFG_HELM=$(bash tests/tools/helm.sh) KOLLACFG_BLESS=1 \
     cargo test -p kollacfg-api --test chart -- --include-ignored deploy_is_the_chart_rendering";

const BLESS_CRDS: &str =
    "KOLLACFG_BLESS=1 cargo test -p kollacfg-api --test chart chart_crds_are_the_top_level_crds";

/// The controller's rules, as `deploy/rbac.yaml` had them before the chart existed: exactly
/// the requests it sends. A change here is a change of the rights the controller asks for.
const CONTROLLER_RULES: &str = r#"
- apiGroups: ["kollacfg.dev"]
  resources: [kollaconfigs, rabbitpolicies, erlangvmargs, novavifpolicies, novacomputepolicies,
              rabbitlistenerpolicies, oslomessagingpolicies, configoverrides]
  verbs: [get, list, watch]
- apiGroups: ["kollacfg.dev"]
  resources: [kollaconfigs/status, rabbitpolicies/status, erlangvmargs/status,
              novavifpolicies/status, novacomputepolicies/status, rabbitlistenerpolicies/status,
              oslomessagingpolicies/status, configoverrides/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [secrets, configmaps]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [apps]
  resources: [deployments, statefulsets, daemonsets]
  verbs: [get, list, watch, patch]
- apiGroups: [apps]
  resources: [replicasets, controllerrevisions]
  verbs: [list]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
"#;

const LEADER_ELECTION_RULES: &str = r#"
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
"#;

// ---------------------------------------------------------------------------------------------
// Paths, files and YAML

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chart_dir() -> PathBuf {
    repo().join("charts/kollacfg")
}

fn blessing() -> bool {
    std::env::var("KOLLACFG_BLESS").as_deref() == Ok("1")
}

/// The regular files of `dir`, by name (empty when `dir` does not exist).
fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, bytes)
        })
        .collect()
}

/// Makes `dir` hold exactly `expected`: writes every file, removes every other one.
fn write_exactly(dir: &Path, expected: &BTreeMap<String, Vec<u8>>) {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for name in files_in(dir).keys().filter(|n| !expected.contains_key(*n)) {
        fs::remove_file(dir.join(name)).unwrap_or_else(|e| panic!("removing {name}: {e}"));
    }
    for (name, bytes) in expected {
        fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("writing {name}: {e}"));
    }
}

/// What differs between `dir` (shown as `shown`) and `expected`: missing, stale, extra files.
fn differences(
    dir: &Path,
    shown: &str,
    expected: &BTreeMap<String, Vec<u8>>,
    why_extra: &str,
) -> Vec<String> {
    let actual = files_in(dir);
    let mut problems = Vec::new();
    for (name, bytes) in expected {
        match actual.get(name) {
            None => problems.push(format!("missing: {shown}/{name}")),
            Some(found) if found != bytes => problems.push(format!("stale: {shown}/{name}")),
            Some(_) => {}
        }
    }
    for name in actual.keys().filter(|n| !expected.contains_key(*n)) {
        problems.push(format!("extra: {shown}/{name} ({why_extra})"));
    }
    problems
}

/// Every non-empty document of a YAML stream.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("invalid YAML: {e}\n{text}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("invalid YAML literal: {e}\n{text}"))
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value:?}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("not a list: {value:?}"))
        .iter()
        .map(|v| str_of(v, "a list item").to_owned())
        .collect()
}

fn kind_name(doc: &Value) -> (String, String) {
    (
        str_of(&doc["kind"], "kind").to_owned(),
        str_of(&doc["metadata"]["name"], "metadata.name").to_owned(),
    )
}

/// The one object of `kind` named `name`.
fn object<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name)
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {kind} {name}, found {}; objects: {:?}",
        found.len(),
        docs.iter().map(kind_name).collect::<Vec<_>>()
    );
    found[0]
}

fn kinds(docs: &[Value]) -> BTreeSet<String> {
    docs.iter().map(|d| kind_name(d).0).collect()
}

/// The chart's Chart.yaml.
fn chart_yaml() -> Value {
    let path = chart_dir().join("Chart.yaml");
    yaml(&fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The files of `charts/kollacfg/ci/`: the documented values variants.
fn ci_variants() -> Vec<String> {
    let names: Vec<String> = files_in(&chart_dir().join("ci"))
        .into_keys()
        .filter(|name| name.ends_with(".yaml"))
        .map(|name| format!("charts/kollacfg/ci/{name}"))
        .collect();
    assert!(
        names.len() >= 3,
        "charts/kollacfg/ci/ should hold the documented variants, found {names:?}"
    );
    names
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "kollacfg-chart-{tag}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The tools

/// The path in `variable` (printed by `script`), or `None` after printing how to set it; a
/// failure instead when `required`.
fn tool_path(variable: &str, script: &str, required: bool) -> Option<PathBuf> {
    let Some(path) = std::env::var_os(variable) else {
        let hint = format!("{variable} is not set: export {variable}=$({script})");
        if required {
            panic!("{hint}");
        }
        eprintln!("SKIP: {hint}");
        return None;
    };
    Some(PathBuf::from(path))
}

/// `KOLLACFG_HELM`, or `None` after printing how to set it (a failure when [`HELM_REQUIRED`]).
fn helm() -> Option<Helm> {
    let bin = tool_path("KOLLACFG_HELM", "tests/tools/helm.sh", HELM_REQUIRED)?;
    assert!(bin.is_file(), "KOLLACFG_HELM={} is no file", bin.display());
    Some(Helm {
        bin,
        home: TempDir::new("helm"),
    })
}

/// `KOLLACFG_PYTOOLS` (the bin directory with kubernetes-validate), or `None` after printing
/// how to set it (a failure when [`PYTOOLS_REQUIRED`]).
fn pytools() -> Option<PathBuf> {
    let dir = tool_path(
        "KOLLACFG_PYTOOLS",
        "tests/tools/pytools.sh",
        PYTOOLS_REQUIRED,
    )?;
    assert!(
        dir.join("kubernetes-validate").is_file(),
        "KOLLACFG_PYTOOLS={} has no kubernetes-validate",
        dir.display()
    );
    Some(dir)
}

/// helm, run from the repository's root with its own cache, config and data directories and
/// no kubeconfig (nothing of the machine's helm or cluster setup leaks in).
struct Helm {
    bin: PathBuf,
    home: TempDir,
}

impl Helm {
    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(&self.bin);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HELM_") {
                command.env_remove(key);
            }
        }
        let home = &self.home.0;
        command
            .args(args)
            .current_dir(repo())
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("KUBECONFIG", home.join("no-kubeconfig"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()))
    }

    /// The output of a successful `helm ARGS...`.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "helm {} failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("helm prints UTF-8")
    }

    /// `helm template kollacfg charts/kollacfg --namespace kollacfg-system EXTRA...`.
    fn template(&self, extra: &[&str]) -> String {
        let mut args = vec![
            "template",
            RELEASE,
            "charts/kollacfg",
            "--namespace",
            NAMESPACE,
        ];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// The rendering with the values file `variant` (a path from the repository's root).
    fn template_variant(&self, variant: &str) -> String {
        self.template(&["--values", variant])
    }
}

/// One document of `helm template`'s output, as printed: `---`, the `# Source:` line naming
/// its template, the document.
struct Chunk {
    source: String,
    text: String,
}

fn chunks(rendering: &str) -> Vec<Chunk> {
    const MARK: &str = "---\n# Source: ";
    let starts: Vec<usize> = rendering
        .match_indices(MARK)
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || rendering.as_bytes()[i - 1] == b'\n')
        .collect();
    assert_eq!(
        starts.first(),
        Some(&0),
        "helm template's output should start with {MARK:?}:\n{rendering}"
    );
    let ends = starts.iter().skip(1).copied().chain([rendering.len()]);
    let chunks: Vec<Chunk> = starts
        .iter()
        .zip(ends)
        .map(|(&start, end)| {
            let text = &rendering[start..end];
            let source = text[MARK.len()..].lines().next().unwrap_or_default();
            Chunk {
                source: source.to_owned(),
                text: text.to_owned(),
            }
        })
        .collect();
    let joined: String = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(joined, rendering, "the chunks are the whole rendering");
    chunks
}

// ---------------------------------------------------------------------------------------------
// No tool needed

#[test]
fn chart_crds_are_the_top_level_crds() {
    let top = files_in(&repo().join("crds"));
    assert!(top.len() >= 8, "crds/ holds the CRDs");
    let chart_crds = chart_dir().join("crds");
    if blessing() {
        write_exactly(&chart_crds, &top);
    }
    let problems = differences(
        &chart_crds,
        "charts/kollacfg/crds",
        &top,
        "not in the top-level crds/",
    );
    assert!(
        problems.is_empty(),
        "charts/kollacfg/crds/ differs from crds/:\n  {}\ncopy them with: {BLESS_CRDS}",
        problems.join("\n  ")
    );
}

#[test]
fn chart_app_version_is_the_workspace_version() {
    let chart = chart_yaml();
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "kollacfg");
    assert_eq!(
        str_of(&chart["appVersion"], "appVersion"),
        env!("CARGO_PKG_VERSION"),
        "charts/kollacfg/Chart.yaml appVersion should be the workspace version (Cargo.toml)"
    );
}

/// The end-to-end harness applies `deploy/rbac.yaml` alone to an empty apiserver and binds
/// ClusterRole `kollacfg` and Role `kollacfg-leader-election` (namespace `kollacfg-system`).
#[test]
fn deploy_rbac_applies_alone_with_the_roles_the_e2e_harness_binds() {
    let path = repo().join("deploy/rbac.yaml");
    let docs = documents(&fs::read_to_string(&path).expect("deploy/rbac.yaml"));
    assert_eq!(
        kind_name(&docs[0]),
        ("Namespace".into(), NAMESPACE.into()),
        "deploy/rbac.yaml creates its namespace first"
    );
    for doc in &docs[1..] {
        let kind = str_of(&doc["kind"], "kind");
        let namespace = doc["metadata"]["namespace"].as_str();
        match kind {
            "ClusterRole" | "ClusterRoleBinding" => assert_eq!(namespace, None),
            _ => assert_eq!(namespace, Some(NAMESPACE), "{:?}", kind_name(doc)),
        }
    }
    object(&docs, "ServiceAccount", "kollacfg");
    object(&docs, "ClusterRoleBinding", "kollacfg");
    object(&docs, "RoleBinding", "kollacfg-leader-election");
    let role = object(&docs, "ClusterRole", "kollacfg");
    assert_eq!(role["rules"], yaml(CONTROLLER_RULES));
    let leader = object(&docs, "Role", "kollacfg-leader-election");
    assert_eq!(leader["rules"], yaml(LEADER_ELECTION_RULES));

    // The controller reads every kind whose CRD the crate generates, and writes its status.
    let plurals: BTreeSet<String> = kollacfg_api::crd_files()
        .into_iter()
        .map(|(file, _)| file.split('.').next().unwrap().to_owned())
        .collect();
    let read: BTreeSet<String> = strings(&role["rules"][0]["resources"])
        .into_iter()
        .collect();
    assert_eq!(read, plurals);
    let status: BTreeSet<String> = plurals.iter().map(|p| format!("{p}/status")).collect();
    let written: BTreeSet<String> = strings(&role["rules"][1]["resources"])
        .into_iter()
        .collect();
    assert_eq!(written, status);
}

#[test]
fn kustomization_lists_every_deploy_manifest() {
    let deploy = repo().join("deploy");
    let text = fs::read_to_string(deploy.join("kustomization.yaml")).expect("kustomization");
    let kustomization = yaml(&text);
    assert_eq!(kustomization["kind"], "Kustomization");
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let present: BTreeSet<String> = files_in(&deploy)
        .into_keys()
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present, "deploy/kustomization.yaml resources");
}

// ---------------------------------------------------------------------------------------------
// helm

/// The header of the file of `deploy/` that holds what `template` (e.g. `rbac.yaml`) renders.
fn deploy_header(template: &str) -> String {
    format!(
        "# Generated from the Helm chart charts/kollacfg; do not edit. The documents of\n\
         #   helm {}\n\
         # that come from templates/{template}. After changing the chart, rewrite deploy/ with\n\
         #   {BLESS_DEPLOY}\n",
        DEPLOY_TEMPLATE_ARGS.join(" ")
    )
}

/// `deploy/` as the chart renders it: one file per template, its documents in helm's order,
/// and a kustomization listing them.
fn expected_deploy(rendering: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files: Vec<(String, String)> = Vec::new();
    for chunk in chunks(rendering) {
        let name = chunk
            .source
            .strip_prefix("kollacfg/templates/")
            .filter(|n| !n.contains('/') && n.ends_with(".yaml"))
            .unwrap_or_else(|| panic!("unexpected template path {}", chunk.source));
        match files.iter_mut().find(|(n, _)| n == name) {
            Some((_, text)) => text.push_str(&chunk.text),
            None => files.push((name.to_owned(), deploy_header(name) + &chunk.text)),
        }
    }
    assert!(
        files.iter().all(|(n, _)| n != "kustomization.yaml"),
        "a template named kustomization.yaml"
    );
    let mut kustomization = format!(
        "# Generated from the Helm chart charts/kollacfg with the manifests beside it; do not\n\
         # edit. After changing the chart, rewrite deploy/ with\n\
         #   {BLESS_DEPLOY}\n\
         # `kubectl apply -k deploy/` installs kollacfg in namespace {NAMESPACE}. The CRDs are not\n\
         # part of it (kustomize loads no file outside deploy/): apply them first, and again on\n\
         # every upgrade, with `kubectl apply --server-side -f crds/`.\n\
         apiVersion: kustomize.config.k8s.io/v1beta1\n\
         kind: Kustomization\n\
         resources:\n"
    );
    for (name, _) in &files {
        kustomization.push_str(&format!("  - {name}\n"));
    }
    let mut expected: BTreeMap<String, Vec<u8>> = files
        .into_iter()
        .map(|(name, text)| (name, text.into_bytes()))
        .collect();
    expected.insert("kustomization.yaml".into(), kustomization.into_bytes());
    expected
}

#[test]
#[ignore = "needs helm: KOLLACFG_HELM=$(tests/tools/helm.sh)"]
fn deploy_is_the_chart_rendering() {
    let Some(helm) = helm() else { return };
    let rendering = helm.ok(DEPLOY_TEMPLATE_ARGS);
    let expected = expected_deploy(&rendering);
    for name in ["rbac.yaml", "deployment.yaml", "service.yaml"] {
        assert!(expected.contains_key(name), "the chart renders no {name}");
    }
    let deploy = repo().join("deploy");
    if blessing() {
        write_exactly(&deploy, &expected);
    }
    let problems = differences(
        &deploy,
        "deploy",
        &expected,
        "the chart renders no such file",
    );
    assert!(
        problems.is_empty(),
        "deploy/ differs from the chart's rendering:\n  {}\nrewrite it with: {BLESS_DEPLOY}",
        problems.join("\n  ")
    );
}

#[test]
#[ignore = "needs helm: KOLLACFG_HELM=$(tests/tools/helm.sh)"]
fn lint_strict_passes_for_the_defaults_and_every_ci_variant() {
    let Some(helm) = helm() else { return };
    let mut runs = vec![vec!["lint", "--strict", "charts/kollacfg"]];
    let variants = ci_variants();
    for variant in &variants {
        runs.push(vec![
            "lint",
            "--strict",
            "charts/kollacfg",
            "--values",
            variant,
        ]);
    }
    for args in runs {
        let out = helm.ok(&args);
        assert!(
            out.contains("1 chart(s) linted, 0 chart(s) failed"),
            "helm {}:\n{out}",
            args.join(" ")
        );
    }
}

/// The labels every object carries.
fn assert_standard_labels(docs: &[Value]) {
    let chart = chart_yaml();
    let version = str_of(&chart["version"], "version");
    let app_version = str_of(&chart["appVersion"], "appVersion");
    for doc in docs {
        let labels = &doc["metadata"]["labels"];
        let expected = [
            ("helm.sh/chart", format!("kollacfg-{version}")),
            ("app.kubernetes.io/name", "kollacfg".into()),
            ("app.kubernetes.io/instance", RELEASE.into()),
            ("app.kubernetes.io/version", app_version.into()),
            ("app.kubernetes.io/managed-by", "Helm".into()),
            ("app.kubernetes.io/part-of", "kollacfg".into()),
        ];
        for (key, value) in expected {
            assert_eq!(
                labels[key].as_str(),
                Some(value.as_str()),
                "label {key} of {:?}",
                kind_name(doc)
            );
        }
    }
}

fn container(deployment: &Value) -> &Value {
    let containers = &deployment["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_sequence().map(Vec::len), Some(1));
    &containers[0]
}

fn env_var<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
#[ignore = "needs helm: KOLLACFG_HELM=$(tests/tools/helm.sh)"]
fn default_rendering_cluster_rbac_and_a_restricted_pod() {
    let Some(helm) = helm() else { return };
    let rendering = helm.template(&[]);
    let docs = documents(&rendering);
    assert_eq!(
        kinds(&docs),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
        .map(String::from)
        .into(),
        "no Namespace, no ServiceMonitor by default"
    );
    assert_eq!(docs.len(), 7);
    assert_standard_labels(&docs);
    assert!(
        !rendering.to_lowercase().contains("argocd"),
        "no Argo CD tracking labels or annotations:\n{rendering}"
    );
    for doc in &docs {
        let namespaced = !matches!(
            doc["kind"].as_str(),
            Some("ClusterRole" | "ClusterRoleBinding")
        );
        let expected = namespaced.then_some(NAMESPACE);
        assert_eq!(
            doc["metadata"]["namespace"].as_str(),
            expected,
            "{:?}",
            kind_name(doc)
        );
    }

    // RBAC: the controller's rules cluster-wide, the Lease rules in the release namespace.
    assert_eq!(
        object(&docs, "ClusterRole", "kollacfg")["rules"],
        yaml(CONTROLLER_RULES)
    );
    let binding = object(&docs, "ClusterRoleBinding", "kollacfg");
    assert_eq!(
        binding["roleRef"],
        yaml("{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kollacfg}")
    );
    let subjects = yaml("[{kind: ServiceAccount, name: kollacfg, namespace: kollacfg-system}]");
    assert_eq!(binding["subjects"], subjects);
    assert_eq!(
        object(&docs, "Role", "kollacfg-leader-election")["rules"],
        yaml(LEADER_ELECTION_RULES)
    );
    let leader = object(&docs, "RoleBinding", "kollacfg-leader-election");
    assert_eq!(leader["roleRef"]["name"], "kollacfg-leader-election");
    assert_eq!(leader["subjects"], subjects);
    object(&docs, "ServiceAccount", "kollacfg");

    // The Deployment.
    let deployment = object(&docs, "Deployment", "kollacfg");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "kollacfg");
    assert_eq!(
        pod["securityContext"],
        yaml(
            "{runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, \
              seccompProfile: {type: RuntimeDefault}}"
        )
    );
    for key in ["nodeSelector", "tolerations", "affinity"] {
        assert!(pod[key].is_null(), "no {key} by default");
    }
    let selector = &spec["selector"]["matchLabels"];
    assert_eq!(
        *selector,
        yaml("{app.kubernetes.io/name: kollacfg, app.kubernetes.io/instance: kollacfg}")
    );
    for (key, value) in selector.as_mapping().unwrap() {
        assert_eq!(&spec["template"]["metadata"]["labels"][key], value);
    }

    let c = container(deployment);
    let app_version = chart_yaml()["appVersion"].clone();
    assert_eq!(
        c["image"].as_str(),
        Some(
            format!(
                "ghcr.io/kollacfg/kollacfg:{}",
                str_of(&app_version, "appVersion")
            )
            .as_str()
        )
    );
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        strings(&c["args"]),
        [
            "run",
            "--leader-elect",
            "--lease-name=kollacfg",
            "--concurrency=4",
            "--settle-ms=2000",
            "--broker-resync=60",
            "--log-format=text",
            "--metrics-addr=0.0.0.0:8080"
        ]
    );
    assert_eq!(env_var(c, "RUST_LOG")["value"], "info");
    assert_eq!(
        env_var(c, "POD_NAMESPACE")["valueFrom"],
        yaml("{fieldRef: {fieldPath: metadata.namespace}}")
    );
    assert_eq!(
        c["ports"],
        yaml("[{name: metrics, containerPort: 8080, protocol: TCP}]")
    );
    assert_eq!(
        c["livenessProbe"],
        yaml("{httpGet: {path: /healthz, port: metrics}}")
    );
    assert_eq!(
        c["readinessProbe"],
        yaml("{httpGet: {path: /readyz, port: metrics}}")
    );
    for side in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                !c["resources"][side][resource].is_null(),
                "resources.{side}.{resource} is set"
            );
        }
    }
    assert_eq!(
        c["securityContext"],
        yaml(
            "{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, \
              capabilities: {drop: [ALL]}}"
        )
    );

    // The metrics Service selects the controller's pods.
    let service = object(&docs, "Service", "kollacfg-metrics");
    assert_eq!(service["spec"]["selector"], *selector);
    assert_eq!(
        service["spec"]["ports"],
        yaml("[{name: metrics, port: 8080, targetPort: metrics, protocol: TCP}]")
    );
}

#[test]
#[ignore = "needs helm: KOLLACFG_HELM=$(tests/tools/helm.sh)"]
fn namespace_scope_grants_the_same_rules_in_the_watched_namespaces_only() {
    let Some(helm) = helm() else { return };
    let docs = documents(&helm.template_variant("charts/kollacfg/ci/namespace-rbac-values.yaml"));
    let all = kinds(&docs);
    assert!(
        !all.contains("ClusterRole") && !all.contains("ClusterRoleBinding"),
        "no cluster-wide rights: {all:?}"
    );
    assert_standard_labels(&docs);

    // One Role and RoleBinding in each watched namespace, nowhere else.
    let in_namespace = |kind: &str| -> Vec<&Value> {
        docs.iter()
            .filter(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"] == "kollacfg")
            .collect()
    };
    let namespaces = |objects: &[&Value]| -> Vec<String> {
        objects
            .iter()
            .map(|o| str_of(&o["metadata"]["namespace"], "namespace").to_owned())
            .collect()
    };
    let roles = in_namespace("Role");
    let bindings = in_namespace("RoleBinding");
    assert_eq!(namespaces(&roles), ["openstack", "openstack-cell2"]);
    assert_eq!(namespaces(&bindings), ["openstack", "openstack-cell2"]);
    for role in roles {
        assert_eq!(role["rules"], yaml(CONTROLLER_RULES));
    }
    for binding in bindings {
        assert_eq!(
            binding["roleRef"],
            yaml("{apiGroup: rbac.authorization.k8s.io, kind: Role, name: kollacfg}")
        );
        assert_eq!(
            binding["subjects"],
            yaml("[{kind: ServiceAccount, name: kollacfg, namespace: kollacfg-system}]")
        );
    }
    // The Lease stays in the release namespace.
    let leader = object(&docs, "Role", "kollacfg-leader-election");
    assert_eq!(leader["metadata"]["namespace"], NAMESPACE);
    assert_eq!(leader["rules"], yaml(LEADER_ELECTION_RULES));
    object(&docs, "RoleBinding", "kollacfg-leader-election");

    let args = strings(&container(object(&docs, "Deployment", "kollacfg"))["args"]);
    assert_eq!(
        args,
        [
            "run",
            "--leader-elect",
            "--lease-name=kollacfg",
            "--namespace=openstack,openstack-cell2",
            "--concurrency=4",
            "--settle-ms=2000",
            "--broker-resync=60",
            "--log-format=text",
            "--metrics-addr=0.0.0.0:8080"
        ]
    );
}

#[test]
#[ignore = "needs helm: KOLLACFG_HELM=$(tests/tools/helm.sh)"]
fn namespace_scope_without_a_watched_namespace_is_refused() {
    let Some(helm) = helm() else { return };
    let output = helm.run(&[
        "template",
        RELEASE,
        "charts/kollacfg",
        "--namespace",
        NAMESPACE,
        "--set",
        "rbac.scope=namespace",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "helm accepted it:\n{stderr}");
    assert!(
        stderr.contains("rbac.scope=namespace needs watchNamespaces"),
        "helm's message should name the fields:\n{stderr}"
    );
}

#[test]
#[ignore = "needs helm: KOLLACFG_HELM=$(tests/tools/helm.sh)"]
fn json_logs_replicas_resources_and_placement_variant() {
    let Some(helm) = helm() else { return };
    let variant = "charts/kollacfg/ci/json-ha-placement-values.yaml";
    let values = yaml(&fs::read_to_string(repo().join(variant)).expect("the variant"));
    let docs = documents(&helm.template_variant(variant));
    let deployment = object(&docs, "Deployment", "kollacfg");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    for key in ["nodeSelector", "tolerations", "affinity"] {
        assert!(!values[key].is_null(), "the variant sets {key}");
        assert_eq!(pod[key], values[key], "{key}");
    }
    let c = container(deployment);
    assert_eq!(c["resources"], values["resources"]);
    assert_eq!(
        c["image"], "registry.example.org/kollacfg/kollacfg:0.1.0-rc1",
        "an explicit tag wins over appVersion"
    );
    assert_eq!(c["imagePullPolicy"], "Always");
    let args = strings(&c["args"]);
    assert!(args.contains(&"--log-format=json".to_owned()), "{args:?}");
    assert!(args.contains(&"--concurrency=8".to_owned()), "{args:?}");
    assert!(args.contains(&"--settle-ms=0".to_owned()), "{args:?}");
    assert!(args.contains(&"--broker-resync=15".to_owned()), "{args:?}");
    assert!(
        !args.iter().any(|a| a.starts_with("--namespace")),
        "{args:?}"
    );
    assert_eq!(env_var(c, "RUST_LOG")["value"], values["logLevel"]);
    // Still the restricted profile.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
}

#[test]
#[ignore = "needs helm: KOLLACFG_HELM=$(tests/tools/helm.sh)"]
fn service_monitor_variant_scrapes_the_metrics_service() {
    let Some(helm) = helm() else { return };
    let docs = documents(&helm.template_variant("charts/kollacfg/ci/servicemonitor-values.yaml"));
    assert_standard_labels(&docs);
    let monitor = object(&docs, "ServiceMonitor", "kollacfg");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["namespace"], NAMESPACE);
    assert_eq!(
        monitor["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
    assert_eq!(
        monitor["spec"]["endpoints"],
        yaml("[{port: metrics, path: /metrics, interval: 30s}]")
    );
    let service = object(&docs, "Service", "kollacfg-metrics");
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("matchLabels");
    assert!(!selector.is_empty());
    for (key, value) in selector {
        assert_eq!(
            &service["metadata"]["labels"][key], value,
            "the Service carries the ServiceMonitor's selector label {key:?}"
        );
    }
    // The Deployment does not: the selector picks the Service alone.
    let deployment = object(&docs, "Deployment", "kollacfg");
    assert!(selector
        .iter()
        .any(|(k, v)| &deployment["metadata"]["labels"][k] != v));
}

#[test]
#[ignore = "needs helm: KOLLACFG_HELM=$(tests/tools/helm.sh)"]
fn the_schema_refuses_unknown_keys_bad_enums_and_out_of_range_numbers() {
    let Some(helm) = helm() else { return };
    // (--set argument, the field helm's message must name)
    let cases = [
        ("foo=bar", "Additional property foo is not allowed"),
        (
            "image.digest=sha256:0",
            "Additional property digest is not allowed",
        ),
        (
            "serviceMonitor.port=9090",
            "Additional property port is not allowed",
        ),
        (
            "resources.requests.gpu=1",
            "Additional property gpu is not allowed",
        ),
        ("logFormat=xml", "logFormat"),
        ("rbac.scope=everywhere", "rbac.scope"),
        ("image.pullPolicy=Sometimes", "image.pullPolicy"),
        ("replicas=0", "replicas"),
        ("concurrency=0", "concurrency"),
        ("brokerResyncSeconds=0", "brokerResyncSeconds"),
        ("watchNamespaces={Not_A_Namespace}", "watchNamespaces"),
        ("watchNamespaces=openstack", "watchNamespaces"),
    ];
    for (set, field) in cases {
        let output = helm.run(&[
            "template",
            RELEASE,
            "charts/kollacfg",
            "--namespace",
            NAMESPACE,
            "--set",
            set,
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "--set {set} was accepted:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(
            stderr.contains("values don't meet the specifications of the schema"),
            "--set {set}: not refused by the schema:\n{stderr}"
        );
        assert!(
            stderr.contains(field),
            "--set {set}: no {field:?} in:\n{stderr}"
        );
    }
    // And a valid value of each of those keys passes.
    for set in [
        "logFormat=json",
        "rbac.scope=cluster",
        "image.pullPolicy=Never",
        "replicas=3",
        "concurrency=1",
        "watchNamespaces={openstack,openstack-cell2}",
    ] {
        helm.template(&["--set", set]);
    }
}

// ---------------------------------------------------------------------------------------------
// kubernetes-validate

/// The oldest and the newest Kubernetes the pinned kubernetes-validate has schemas for.
const KUBE_VERSIONS: &[&str] = &["1.25.0", "1.37.0"];

/// The CRDs' validation rules carry `fieldPath`, a field of Kubernetes 1.28 and later.
const CRD_KUBE_VERSIONS: &[&str] = &["1.28.0", "1.37.0"];

/// Runs `kubernetes-validate --strict` over `file` for each version; every one of the
/// `documents` must be reported as passed.
fn kubernetes_validate(bin: &Path, file: &Path, documents: usize, versions: &[&str]) {
    for version in versions {
        let output = Command::new(bin.join("kubernetes-validate"))
            .args(["--strict", "--kubernetes-version", version])
            .arg(file)
            .stdin(Stdio::null())
            .output()
            .expect("running kubernetes-validate");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "kubernetes-validate --strict -k {version} {} failed:\n{stdout}{stderr}",
            file.display()
        );
        let passed = stdout.matches(" passed for resource ").count();
        assert_eq!(
            passed,
            documents,
            "kubernetes-validate -k {version} {}: {documents} documents, {passed} passed:\n{stdout}{stderr}",
            file.display()
        );
    }
}

#[test]
#[ignore = "needs helm and kubernetes-validate: KOLLACFG_HELM, KOLLACFG_PYTOOLS (tests/tools/)"]
fn every_rendering_passes_kubernetes_validate_strict() {
    let Some(helm) = helm() else { return };
    let Some(bin) = pytools() else { return };
    let dir = TempDir::new("validate");
    let mut renderings = vec![
        ("default".to_owned(), helm.template(&[])),
        ("deploy".to_owned(), helm.ok(DEPLOY_TEMPLATE_ARGS)),
    ];
    for variant in ci_variants() {
        let name = Path::new(&variant)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        renderings.push((name, helm.template_variant(&variant)));
    }
    let mut excluded = 0;
    for (name, rendering) in renderings {
        // The ServiceMonitor is a custom resource (monitoring.coreos.com/v1): there is no
        // schema for it among Kubernetes' own, so it is left out; the test of its variant
        // checks its fields.
        let kept: Vec<Chunk> = chunks(&rendering)
            .into_iter()
            .filter(|chunk| {
                let monitor = documents(&chunk.text)
                    .iter()
                    .any(|d| d["kind"] == "ServiceMonitor");
                excluded += usize::from(monitor);
                !monitor
            })
            .collect();
        let text: String = kept.iter().map(|c| c.text.as_str()).collect();
        let file = dir.0.join(format!("{name}.yaml"));
        fs::write(&file, &text).expect("writing the rendering");
        kubernetes_validate(&bin, &file, documents(&text).len(), KUBE_VERSIONS);
    }
    assert_eq!(excluded, 1, "exactly the one ServiceMonitor is left out");
}

#[test]
#[ignore = "needs kubernetes-validate: KOLLACFG_PYTOOLS=$(tests/tools/pytools.sh)"]
fn the_chart_crds_pass_kubernetes_validate_strict() {
    let Some(bin) = pytools() else { return };
    let dir = chart_dir().join("crds");
    let files = files_in(&dir);
    assert!(files.len() >= 8);
    for name in files.keys() {
        kubernetes_validate(&bin, &dir.join(name), 1, CRD_KUBE_VERSIONS);
    }
}

/// The workloads of the delivery example (examples/kolla-delivery): the pattern the README
/// documents must be what the API server accepts, from the oldest to the newest Kubernetes the
/// validator knows.
#[test]
#[ignore = "needs kubernetes-validate: KOLLACFG_PYTOOLS=$(tests/tools/pytools.sh)"]
fn the_delivery_example_workloads_pass_kubernetes_validate_strict() {
    let Some(bin) = pytools() else { return };
    let file = repo().join("examples/kolla-delivery/workloads.yaml");
    let text = fs::read_to_string(&file).expect("reading the example");
    let kinds: Vec<String> = documents(&text)
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(kinds, ["StatefulSet", "DaemonSet"]);
    kubernetes_validate(&bin, &file, kinds.len(), KUBE_VERSIONS);
}
