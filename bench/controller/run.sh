#!/usr/bin/env bash
# The controller benchmark (issue 3 item 9), end to end: builds `kollacfg` (release), starts a
# private kube-apiserver 1.20 + etcd + kube-controller-manager on loopback (tests/e2e/kube-up.sh;
# the workload controllers complete the rollouts the controller follows), installs the CRDs
# (CEL stripped) and deploy/rbac.yaml, binds the ClusterRole to the user kollacfg-controller,
# then runs bench/controller/bench.py, which runs `kollacfg run` as that user and prints:
#   - 1,000 fragments (50 KollaConfigs): cold start, edit -> output latency p50/p99;
#   - 10,000 fragments (500 KollaConfigs): cold start, API writes during a full resync and
#     during a controller restart, edit -> output latency p50/p99, peak RSS (VmHWM).
# The cluster and the controller are stopped on any exit.
#
# Usage: bench/controller/run.sh
# Environment: SAMPLES (edits per latency measurement, default 150), KEEP=1 keeps the work
# directory (cluster logs, controller logs, offline renders, results.json), KOLLACFG_BIN (use
# this binary instead of building one), KUBE_BIN_DIR (as for kube-up.sh), CONTROLLER_RUST_LOG
# (the controller's RUST_LOG, default info), RESULTS_OUT (copy results.json there).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
samples=${SAMPLES:-150}

if [[ -z ${KOLLACFG_BIN:-} ]]; then
    echo "== building kollacfg (release)"
    cargo build --release -p kollacfg
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    KOLLACFG_BIN=$target_dir/release/kollacfg
fi
# A private copy: a rebuild of the shared target directory during the run cannot swap it.
work=$(mktemp -d "${TMPDIR:-/tmp}/kollacfg-ctlbench.XXXXXX")
cp "$KOLLACFG_BIN" "$work/kollacfg"

cleanup() {
    local pid
    pid=$(cat "$work/controller.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == kollacfg ]]; then
        kill "$pid" 2>/dev/null || true
    fi
    "$repo/tests/e2e/kube-down.sh" "$work/cluster" >/dev/null 2>&1 || true
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! python3 -c 'import yaml' 2>/dev/null; then
    apt-get install -y python3-yaml >/dev/null
fi

echo "== machine"
echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');" \
    "memory $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo);" \
    "kernel $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kollacfg $("$work/kollacfg" --version | cut -d' ' -f2), commit $(git rev-parse --short HEAD)"

echo "== cluster"
KUBE_BIN_DIR=${KUBE_BIN_DIR:-$("$repo/tests/e2e/kube-build.sh")}
export KUBE_BIN_DIR
# With kube-controller-manager: the controller follows each rollout until the workload's own
# controller reports it complete (the StatefulSets have 0 replicas and there is no node, so it
# completes at once); without one, every rollout would stay Progressing and be polled.
KUBE_UP_CONTROLLER_MANAGER=1 KUBE_UP_CONTROLLERS=deployment,replicaset,statefulset,daemonset,garbagecollector,namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation \
    KUBE_UP_WATCH_PID=$$ "$repo/tests/e2e/kube-up.sh" "$work/cluster"
# shellcheck disable=SC1091
. "$work/cluster/env"
echo "kube-apiserver $("$KUBE_BIN_DIR/kube-apiserver" --version | cut -d' ' -f2), etcd $(etcd --version | awk '/etcd Version/ {print $3}')"

for crd in crds/*.yaml; do
    python3 tests/e2e/strip-cel.py <"$crd"
    echo "---"
done | "$KUBECTL" apply --server-side -f - >/dev/null
"$KUBECTL" wait --for condition=established --timeout 60s crd --all >/dev/null
"$KUBECTL" apply --server-side -f deploy/rbac.yaml >/dev/null
"$KUBECTL" create clusterrolebinding kollacfg-bench-user --clusterrole kollacfg \
    --user "$KUBE_CONTROLLER_USER" >/dev/null
# Wait until RBAC has caught up with the binding.
for _ in $(seq 50); do
    KUBECONFIG=$KUBE_CONTROLLER_KUBECONFIG "$KUBECTL" auth can-i list kollaconfigs.kollacfg.dev \
        --all-namespaces >/dev/null 2>&1 && break
    sleep 0.2
done

echo "== measurements"
python3 "$here/bench.py" --env "$work/cluster/env" --kollacfg "$work/kollacfg" --work "$work" \
    --samples "$samples" --json "$work/results.json"
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${RESULTS_OUT:-} ]]; then
    cp "$work/results.json" "$RESULTS_OUT"
fi
