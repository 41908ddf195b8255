#!/usr/bin/env bash
# End-to-end check of the Kubernetes test harness against a real kube-apiserver 1.20 + etcd
# with RBAC on, and kube-controller-manager:
#   kube-build.sh -> kube-up.sh (with the controller manager) -> checks -> kube-down.sh
#
# The checks: the project's CRDs (crds/*.yaml, CEL rules stripped) install and become
# Established; examples/rabbitmq-cpu applies and reads back with its spec intact (the other
# examples pass a server-side dry run); every server listens on 127.0.0.1 only; user
# kollacfg-controller is forbidden to list secrets until RBAC grants it something, and then gets
# exactly that; a Deployment's pod-template change makes a new ReplicaSet and a StatefulSet's a
# new ControllerRevision; deleting the Deployment garbage-collects its ReplicaSets; applying
# the same ConfigMap twice server-side leaves its resourceVersion alone; kube-down.sh stops
# everything and is idempotent.
#
# Usage: tests/e2e/smoke.sh      (root, unattended; installs what is missing)
# Environment: KUBE_SMOKE_KEEP=1 keeps the work directory (it is kept anyway on failure).
# Ends with "smoke: PASS" or "smoke: FAIL" and "smoke: N passed, N failed"; exit status 0 only
# when every check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
started=$SECONDS
python=/usr/bin/python3
[[ -x $python ]] || python=python3

smoke=smoke
# shellcheck source=tests/e2e/checks.sh
. "$here/checks.sh"

work=$(mktemp -d /tmp/kollacfg-smoke.XXXXXX)
cluster=$work/cluster
cleanup() {
    local status=$?
    "$here/kube-down.sh" "$cluster" 2>/dev/null || true
    if ((status == 0 && failed == 0)) && [[ ${KUBE_SMOKE_KEEP:-0} != 1 ]]; then
        rm -rf "$work"
    else
        log "work directory kept: $work (logs: $cluster/*.log, checks: $work/checks/)"
    fi
    exit "$status"
}
trap cleanup EXIT
mkdir -p "$work/checks"

# --- set-up: build, tools, cluster -----------------------------------------------------------
t=$SECONDS
if ! bin=$("$here/kube-build.sh"); then
    failed=1
    failures=(kube-build)
    summary
    exit 1
fi
log "kube-build: $((SECONDS - t))s"

# PyYAML for strip-cel.py and the read-back; ss for the loopback check.
missing=()
"$python" -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
command -v ss >/dev/null || missing+=(iproute2)
if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]}"
    apt_options=(-o DPkg::Lock::Timeout=900 -o Dpkg::Use-Pty=0 -q)
    export DEBIAN_FRONTEND=noninteractive
    apt-get "${apt_options[@]}" update </dev/null >&2
    apt-get "${apt_options[@]}" -y install --no-install-recommends "${missing[@]}" </dev/null >&2
fi

t=$SECONDS
if ! KUBE_BIN_DIR=$bin KUBE_UP_CONTROLLER_MANAGER=1 "$here/kube-up.sh" "$cluster"; then
    failed=1
    failures=(kube-up)
    summary
    exit 1
fi
log "kube-up: $((SECONDS - t))s"
# shellcheck source=/dev/null
source "$cluster/env"
k() { "$KUBECTL" "$@"; }
as_controller() { KUBECONFIG=$KUBE_CONTROLLER_KUBECONFIG "$KUBECTL" "$@"; }
log "server $(k version -o json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') at $KUBE_API_SERVER"
ns=kollacfg-smoke

# --- checks ----------------------------------------------------------------------------------
loopback_only() {
    local pid listeners=0 address
    command -v ss >/dev/null || { echo "ss (iproute2) missing"; return 1; }
    for pid in "$ETCD_PID" "$KUBE_APISERVER_PID" "$KUBE_CONTROLLER_MANAGER_PID"; do
        while read -r address; do
            echo "pid $pid listens on $address"
            listeners=$((listeners + 1))
            [[ $address == 127.0.0.1:* ]] || { echo "not loopback: $address"; return 1; }
        done < <(ss -Hltnp | awk -v pat="pid=$pid," 'index($0, pat) { print $4 }')
    done
    ((listeners >= 4)) || { echo "expected at least 4 listening sockets, saw $listeners"; return 1; }
}

install_crds() {
    local file files=("$repo"/crds/*.yaml)
    for file in "${files[@]}"; do
        "$python" "$here/strip-cel.py" <"$file"
    done >"$work/crds.yaml"
    if grep -n 'x-kubernetes-validations' "$work/crds.yaml"; then
        return 1
    fi
    k apply --server-side --field-manager kollacfg-smoke -f "$work/crds.yaml"
    mapfile -t names < <(k get -f "$work/crds.yaml" -o name)
    ((${#names[@]} == ${#files[@]}))
    k wait --for condition=established --timeout=60s "${names[@]}"
}

apply_example() {
    k create namespace openstack
    k apply -f "$repo/examples/rabbitmq-cpu/"
    k get -f "$repo/examples/rabbitmq-cpu/" -o json >"$work/readback.json"
    # Every document's spec must come back as written: a field the CRD schema does not know
    # would be pruned by the server and show up here as missing.
    "$python" - "$work/readback.json" "$repo"/examples/rabbitmq-cpu/*.yaml <<'EOF'
import json, sys, yaml

def contains(have, want, path):
    if isinstance(want, dict):
        if not isinstance(have, dict):
            raise SystemExit(f"{path}: server has {have!r}, file has a mapping")
        for key, value in want.items():
            if key not in have:
                raise SystemExit(f"{path}.{key}: missing on the server (pruned?)")
            contains(have[key], value, f"{path}.{key}")
    elif isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            raise SystemExit(f"{path}: server has {have!r}, file has {want!r}")
        for i, (h, w) in enumerate(zip(have, want)):
            contains(h, w, f"{path}[{i}]")
    elif have != want:
        raise SystemExit(f"{path}: server has {have!r}, file has {want!r}")

items = json.load(open(sys.argv[1]))["items"]
server = {(i["kind"], i["metadata"]["namespace"], i["metadata"]["name"]): i for i in items}
count = 0
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc:
            continue
        key = (doc["kind"], doc["metadata"]["namespace"], doc["metadata"]["name"])
        if key not in server:
            raise SystemExit(f"{key} not read back")
        contains(server[key]["spec"], doc["spec"], f"{key[0]}/{key[2]}.spec")
        print(f"{key[0]} {key[1]}/{key[2]}: spec read back as applied")
        count += 1
if count == 0:
    raise SystemExit("no resources in the example")
EOF
}

dry_run_other_examples() {
    local dir
    for dir in "$repo"/examples/*/; do
        [[ $dir == */rabbitmq-cpu/ ]] && continue
        compgen -G "$dir*.yaml" >/dev/null || continue
        k apply --dry-run=server -f "$dir"
    done
}

rbac_forbids_secrets() {
    local out
    # can-i answers "no" with exit status 1.
    out=$(as_controller auth can-i list secrets --all-namespaces || true)
    echo "kollacfg-controller may list secrets: $out"
    [[ $out == no ]]
    if out=$(as_controller get secrets -n default 2>&1); then
        echo "listing secrets succeeded: $out"
        return 1
    fi
    echo "$out"
    [[ $out == *Forbidden* && $out == *'User "kollacfg-controller"'* ]]
    # The admin (system:masters) may: the refusal above is RBAC's, not a broken server.
    [[ $(k auth can-i list secrets --all-namespaces) == yes ]]
    k get secrets -n default >/dev/null
}

rbac_grants_exactly() {
    k create namespace "$ns"
    k create role configmap-reader -n "$ns" --verb get,list --resource configmaps
    k create rolebinding configmap-reader -n "$ns" --role configmap-reader --user kollacfg-controller
    until_true 20 as_controller get configmaps -n "$ns"
    [[ $(as_controller auth can-i list configmaps -n "$ns") == yes ]]
    [[ $(as_controller auth can-i list configmaps -n default || true) == no ]]
    [[ $(as_controller auth can-i create configmaps -n "$ns" || true) == no ]]
    [[ $(as_controller auth can-i list secrets -n "$ns" || true) == no ]]
}

replicasets() { # prints the template annotation of each ReplicaSet of Deployment "smoke"
    k get replicasets -n "$ns" -l app=smoke \
        -o jsonpath='{range .items[*]}{.spec.template.metadata.annotations.kollacfg\.dev/config-hash}{"\n"}{end}'
}
replicaset_count_is() { [[ $(replicasets | grep -c .) -eq $1 ]]; }

deployment_rollout() {
    k apply -n "$ns" -f - <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: smoke
spec:
  replicas: 1
  selector:
    matchLabels: {app: smoke}
  template:
    metadata:
      labels: {app: smoke}
      annotations: {kollacfg.dev/config-hash: "one"}
    spec:
      containers:
      - name: pause
        image: registry.invalid/pause:1
EOF
    until_true 60 replicaset_count_is 1
    replicasets
    k patch deployment smoke -n "$ns" --type merge \
        -p '{"spec":{"template":{"metadata":{"annotations":{"kollacfg.dev/config-hash":"two"}}}}}'
    until_true 60 replicaset_count_is 2
    replicasets
    [[ $(replicasets | sort | tr '\n' ' ') == "one two " ]]
    until_true 30 deployment_observed 2
}
deployment_observed() {
    [[ $(k get deployment smoke -n "$ns" -o jsonpath='{.status.observedGeneration}') == "$1" ]]
}

garbage_collection() {
    # Deleting the Deployment leaves its ReplicaSets to the garbage collector.
    k delete deployment smoke -n "$ns" --wait=false
    until_true 60 replicaset_count_is 0
    echo "ReplicaSets of the deleted Deployment collected"
}

revisions() {
    k get controllerrevisions -n "$ns" -l app=smoke-sts -o name | grep -c . || true
}
revision_count_is() { [[ $(revisions) -eq $1 ]]; }

statefulset_revision() {
    k apply -n "$ns" -f - <<'EOF'
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: smoke-sts
spec:
  serviceName: smoke-sts
  replicas: 1
  selector:
    matchLabels: {app: smoke-sts}
  template:
    metadata:
      labels: {app: smoke-sts}
      annotations: {kollacfg.dev/config-hash: "one"}
    spec:
      containers:
      - name: pause
        image: registry.invalid/pause:1
EOF
    until_true 60 revision_count_is 1
    k patch statefulset smoke-sts -n "$ns" --type merge \
        -p '{"spec":{"template":{"metadata":{"annotations":{"kollacfg.dev/config-hash":"two"}}}}}'
    until_true 60 revision_count_is 2
    k get controllerrevisions -n "$ns" -l app=smoke-sts
    until_true 30 statefulset_updating
}
statefulset_updating() {
    local current update
    current=$(k get statefulset smoke-sts -n "$ns" -o jsonpath='{.status.currentRevision}')
    update=$(k get statefulset smoke-sts -n "$ns" -o jsonpath='{.status.updateRevision}')
    [[ -n $update && $update != "$current" ]]
}

configmap() {
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: smoke-ssa\n  namespace: %s\n' "$ns"
    printf 'data:\n  rabbitmq.conf: |\n    listeners.tcp.1 = 127.0.0.1:5672\n  revision: "%s"\n' "$1"
}
resource_version() {
    k get configmap smoke-ssa -n "$ns" -o jsonpath='{.metadata.resourceVersion}'
}
ssa_idempotent() {
    local first second third
    configmap 1 | k apply --server-side --field-manager kollacfg-smoke -f -
    first=$(resource_version)
    configmap 1 | k apply --server-side --field-manager kollacfg-smoke -f -
    second=$(resource_version)
    echo "resourceVersion after the first apply: $first, after the identical second: $second"
    [[ -n $first && $first == "$second" ]]
    # And a real change does move it: the comparison above can tell.
    configmap 2 | k apply --server-side --field-manager kollacfg-smoke -f -
    third=$(resource_version)
    echo "after a changed apply: $third"
    [[ $third != "$second" ]]
}

check "every server listens on 127.0.0.1 only" loopback_only
check "CRDs (CEL stripped) apply and become Established" install_crds
check "examples/rabbitmq-cpu applies and reads back as written" apply_example
check "the other examples pass a server-side dry run" dry_run_other_examples
check "RBAC: kollacfg-controller may not list secrets" rbac_forbids_secrets
check "RBAC: a Role grants kollacfg-controller exactly what it says" rbac_grants_exactly
check "Deployment: pod-template change makes a new ReplicaSet" deployment_rollout
check "garbage collector removes the deleted Deployment's ReplicaSets" garbage_collection
check "StatefulSet: pod-template change makes a new revision" statefulset_revision
check "server-side apply of identical content keeps resourceVersion" ssa_idempotent

# --- tear-down -------------------------------------------------------------------------------
down_and_gone() {
    local pid
    "$here/kube-down.sh" "$cluster"
    for pid in "$ETCD_PID" "$KUBE_APISERVER_PID" "$KUBE_CONTROLLER_MANAGER_PID"; do
        # An exited process not yet reaped by its new parent is a zombie: gone all the same.
        if kill -0 "$pid" 2>/dev/null && [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
            echo "pid $pid still running"
            return 1
        fi
    done
    if compgen -G "$cluster/*.pid"; then
        return 1
    fi
    "$here/kube-down.sh" "$cluster" # again: a no-op
}
check "kube-down stops everything, and again is a no-op" down_and_gone

summary
((failed == 0))
