#!/usr/bin/env bash
# Starts a one-node Kubernetes 1.20 cluster whose pods really run: inside a network namespace
# of its own, etcd, kube-apiserver, kube-controller-manager and kube-scheduler (through
# tests/e2e/kube-up.sh), a private containerd with runc, and kubelet; then imports the test
# images into containerd and waits until the node is Ready. Nothing it starts can reach or be
# reached from outside the namespace; kubectl goes in with nsenter (DIR/kubectl does).
# Stop it with tests/node/node-down.sh DIR (also after a failure).
#
# Usage: tests/node/node-up.sh DIR
#
# Writes into DIR (created if missing), beside what kube-up.sh writes there:
#   env               kube-up.sh's variables and NODE_NAME, NODE_IP, NODE_NETNS,
#                     NODE_CONTAINERD_SOCKET, NODE_CONTAINERD_PID, NODE_KUBELET_PID,
#                     NODE_WATCHDOG_PID, NODE_CTR (a ctr wrapper), NODE_IMAGE_<NAME>=<reference>
#   env.json          the same variables as one JSON object
#   netns             the namespace's name
#   containerd/       its config, root, state and socket; containerd.log
#   kubelet/          kubelet's root directory; kubelet.log
#   cni/              the CNI configuration (loopback only: pods use hostNetwork)
#   resolv.conf       the resolver configuration pods get (a name server nobody answers on)
#   ctr               ctr for this containerd, namespace k8s.io
#
# Environment:
#   KUBE_BIN_DIR        kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
#                       kubectl (default: what tests/e2e/kube-build.sh prints)
#   NODE_IMAGES_DIR     images to import: a directory of NAME.tar with images.env (default: what
#                       tests/node/node-build.sh $NODE_UP_IMAGES prints)
#   NODE_UP_IMAGES      images node-build.sh builds when NODE_IMAGES_DIR is unset
#                       (default: pause rabbitmq nova kollacfg)
#   NODE_IP             the node's address inside the namespace (default 10.254.0.10)
#   NODE_NAME           the node's name (default kollacfg-node)
#   NODE_UP_TIMEOUT     seconds for containerd to answer, and again for the node to become
#                       Ready once kubelet runs (default 120)
#   NODE_UP_WATCH_PID   when this process exits, node-down.sh DIR runs (for test runners
#                       that may die without cleaning up)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
e2e=$(cd "$here/../e2e" && pwd)
log() { printf 'node-up: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: node-up.sh DIR"
[[ $(id -u) -eq 0 ]] || die "run as root (network namespace, containerd, kubelet)"
mkdir -p "$1"
dir=$(cd "$1" && pwd)
node_ip=${NODE_IP:-10.254.0.10}
node=${NODE_NAME:-kollacfg-node}
timeout=${NODE_UP_TIMEOUT:-120}
started=$SECONDS

[[ ! -e $dir/netns ]] || die "$dir already has a node (netns $(cat "$dir/netns")); run node-down.sh $dir first"

if [[ -z ${KUBE_BIN_DIR:-} ]]; then
    KUBE_BIN_DIR=$("$e2e/kube-build.sh")
fi
bin=$KUBE_BIN_DIR
for tool in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
    [[ -x $bin/$tool ]] || die "$bin/$tool missing (run tests/e2e/kube-build.sh)"
done
if [[ -z ${NODE_IMAGES_DIR:-} ]]; then
    # shellcheck disable=SC2086 # a list of names
    NODE_IMAGES_DIR=$("$here/node-build.sh" ${NODE_UP_IMAGES:-pause rabbitmq nova kollacfg})
fi
images=$NODE_IMAGES_DIR
[[ -s $images/images.env && -e $images/pause.tar ]] || die "$images has no pause.tar or images.env (run tests/node/node-build.sh)"
for tool in containerd containerd-shim-runc-v2 ctr runc nsenter ip; do
    command -v "$tool" >/dev/null || die "$tool missing (run tests/node/node-build.sh)"
done
[[ -x /usr/lib/cni/loopback ]] || die "/usr/lib/cni/loopback missing (containernetworking-plugins)"

# Whatever stops this script before the end stops everything started so far.
ready=0
on_exit() {
    ((ready)) && return
    local name
    for name in kube-apiserver kubelet containerd; do
        [[ -s $dir/$name.log ]] || continue
        printf -- '--- last lines of %s ---\n' "$dir/$name.log" >&2
        tail -n 20 "$dir/$name.log" >&2
    done
    log "failed after $((SECONDS - started))s; stopping what was started"
    "$here/node-down.sh" "$dir" >&2 || true
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- the network namespace -------------------------------------------------------------------
netns=kollacfg-$(printf '%s' "$dir" | sha256sum | cut -c1-10)
[[ ! -e /var/run/netns/$netns ]] || die "network namespace $netns exists already (another node-up on $dir?)"
printf '%s\n' "$netns" >"$dir/netns"
ip netns add "$netns"
ns=(nsenter --net="/var/run/netns/$netns" --)
ip -n "$netns" link set lo up
ip -n "$netns" address add "$node_ip/32" dev lo
# A default route, so that kubelet and containerd find a host address, which stays in here.
ip -n "$netns" route add default dev lo src "$node_ip"
log "network namespace $netns: lo up, $node_ip/32, default route via lo"

# Pods' resolver: a name server on the node's own address, where nothing listens.
printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$node_ip" >"$dir/resolv.conf"

# --- etcd, kube-apiserver, kube-controller-manager, kube-scheduler -----------------------------
# Controllers: kube-up.sh's, plus daemonset, and nodelifecycle, which lifts the not-ready taint
# kubelet registers the node with (without it nothing is ever scheduled).
KUBE_BIN_DIR=$bin KUBE_UP_NETNS=$netns KUBE_UP_NODE=$node \
    KUBE_UP_CONTROLLER_MANAGER=1 KUBE_UP_SCHEDULER=1 \
    KUBE_UP_CONTROLLERS=${KUBE_UP_CONTROLLERS:-deployment,replicaset,statefulset,daemonset,nodelifecycle,garbagecollector,namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation} \
    KUBE_UP_WATCH_PID='' \
    "$e2e/kube-up.sh" "$dir" </dev/null >&2

# --- containerd --------------------------------------------------------------------------------
c=$dir/containerd
mkdir -p "$c/root" "$c/state" "$dir/cni" "$dir/kubelet"
socket=$c/containerd.sock
((${#socket} < 100)) || die "$socket is too long for a unix socket; use a shorter DIR"
cat >"$dir/cni/10-loopback.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "kollacfg-loopback", "plugins": [{"type": "loopback"}]}
EOF
pause_ref=$(sed -n 's/^NODE_IMAGE_PAUSE=//p' "$images/images.env")
[[ -n $pause_ref ]] || die "$images/images.env has no NODE_IMAGE_PAUSE"
cat >"$c/config.toml" <<EOF
# containerd for the test node, written by tests/node/node-up.sh: private root, state and
# socket; runc with cgroupfs; CNI with only the loopback plugin; the local pause image.
version = 2
root = "$c/root"
state = "$c/state"
[grpc]
  address = "$socket"
[ttrpc]
  address = "$socket.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_ref"
  # Without it every pod sandbox fails here: runc cannot lower /proc/self/oom_score_adj.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
    max_conf_num = 1
EOF
"${ns[@]}" containerd --config "$c/config.toml" </dev/null >"$dir/containerd.log" 2>&1 &
echo "$!" >"$dir/containerd.pid"
{
    printf '#!/usr/bin/env bash\n# ctr for the test node'"'"'s containerd, namespace k8s.io.\n'
    printf 'exec %q --address %q --namespace k8s.io "$@"\n' "$(command -v ctr)" "$socket"
} >"$dir/ctr"
chmod 0755 "$dir/ctr"

deadline=$((SECONDS + timeout))
until "$dir/ctr" version >/dev/null 2>&1; do
    kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null || die "containerd exited during start"
    ((SECONDS < deadline)) || die "containerd not answering on $socket after ${timeout}s"
    sleep 0.2
done
log "containerd ready on $socket"

t=$SECONDS
for archive in "$images"/*.tar; do
    "$dir/ctr" images import "$archive" >&2 ||
        die "ctr images import $archive failed"
done
log "imported $(cd "$images" && echo *.tar) in $((SECONDS - t))s"

# --- kubelet -----------------------------------------------------------------------------------
# cgroups v1 (hybrid) with runc: cgroupfs, no QoS hierarchy, nothing reserved; swap allowed.
# The kubelet API listens on the node's address inside the namespace only; the API server
# (inside too) reaches it there. Its authorization is left at AlwaysAllow: nothing outside the
# namespace can connect.
"${ns[@]}" "$bin/kubelet" \
    --kubeconfig "$dir/node.kubeconfig" \
    --hostname-override "$node" --node-ip "$node_ip" \
    --address "$node_ip" --port 10250 --read-only-port 0 \
    --healthz-bind-address 127.0.0.1 --healthz-port 10248 \
    --container-runtime remote \
    --container-runtime-endpoint "unix://$socket" \
    --containerd "$socket" \
    --runtime-request-timeout 5m \
    --pod-infra-container-image "$pause_ref" \
    --cgroup-driver cgroupfs --cgroups-per-qos=false --enforce-node-allocatable= \
    --fail-swap-on=false \
    --resolv-conf "$dir/resolv.conf" \
    --root-dir "$dir/kubelet" --cert-dir "$dir/kubelet/pki" \
    --volume-plugin-dir "$dir/kubelet/volume-plugins" \
    --image-gc-high-threshold 100 --image-gc-low-threshold 99 \
    --eviction-hard 'memory.available<1Mi,nodefs.available<1%,imagefs.available<1%' \
    --anonymous-auth=true --authorization-mode AlwaysAllow \
    --v 2 </dev/null >"$dir/kubelet.log" 2>&1 &
echo "$!" >"$dir/kubelet.pid"
deadline=$((SECONDS + timeout))

# shellcheck source=/dev/null
. "$dir/env"
node_ready() {
    [[ $("$dir/kubectl" get node "$node" \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}
until node_ready; do
    kill -0 "$(cat "$dir/kubelet.pid")" 2>/dev/null || die "kubelet exited during start"
    ((SECONDS < deadline)) || die "node $node not Ready after ${timeout}s"
    sleep 1
done
log "node $node Ready"

watchdog_pid=
if [[ -n ${NODE_UP_WATCH_PID:-} ]]; then
    # Outside the namespace (node-down.sh stops everything inside it); the marker argument
    # lets node-down.sh recognise it.
    bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" "$3"' \
        kollacfg-node-watchdog "$NODE_UP_WATCH_PID" "$here/node-down.sh" "$dir" \
        </dev/null >"$dir/node-watchdog.log" 2>&1 &
    watchdog_pid=$!
    echo "$watchdog_pid" >"$dir/node-watchdog.pid"
fi

{
    printf '# tests/node/node-up.sh\n'
    printf 'NODE_NAME=%q\n' "$node"
    printf 'NODE_IP=%q\n' "$node_ip"
    printf 'NODE_NETNS=%q\n' "$netns"
    printf 'NODE_CONTAINERD_SOCKET=%q\n' "$socket"
    printf 'NODE_CONTAINERD_PID=%q\n' "$(cat "$dir/containerd.pid")"
    printf 'NODE_KUBELET_PID=%q\n' "$(cat "$dir/kubelet.pid")"
    printf 'NODE_WATCHDOG_PID=%q\n' "$watchdog_pid"
    printf 'NODE_CTR=%q\n' "$dir/ctr"
    cat "$images/images.env"
} >>"$dir/env"
# The same as one JSON object, for programs that do not speak shell.
(
    set -a
    # shellcheck source=/dev/null
    . "$dir/env"
    python3 -c 'import json, os, re, sys
names = re.findall(r"^([A-Z_][A-Z0-9_]*)=", open(sys.argv[1]).read(), re.M)
json.dump({n: os.environ.get(n, "") for n in names}, open(sys.argv[2], "w"), indent=1, sort_keys=True)' \
        "$dir/env" "$dir/env.json"
)

ready=1
log "ready in $((SECONDS - started))s: $dir/env (node $node at $node_ip in network namespace $netns)"
