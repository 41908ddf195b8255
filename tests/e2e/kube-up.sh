#!/usr/bin/env bash
# Starts a private Kubernetes 1.20 control plane on loopback: etcd, kube-apiserver (RBAC, token
# authentication, no insecure port) and, with KUBE_UP_CONTROLLER_MANAGER=1,
# kube-controller-manager. Every server binds 127.0.0.1 on ports chosen free at start, so
# several clusters can run at once. Stop it with tests/e2e/kube-down.sh DIR.
#
# Usage: tests/e2e/kube-up.sh DIR
#
# Writes into DIR (created if missing):
#   env                      shell-sourceable: KUBE_API_SERVER, ports, PIDs, tokens, paths
#   admin.kubeconfig         user "admin", group system:masters (token)
#   controller.kubeconfig    user "kollacfg-controller", no group but system:authenticated
#   kubectl                  kubectl 1.20 with $KUBECONFIG (default admin.kubeconfig) and a
#                            discovery cache private to DIR
#   tokens.csv, sa.key, sa.pub, etcd/ (data), *-certs/ (self-signed serving certificates)
#   etcd.pid, kube-apiserver.pid, kube-controller-manager.pid, kube-scheduler.pid, watchdog.pid
#   etcd.log, kube-apiserver.log, kube-controller-manager.log, kube-scheduler.log
#   node.kubeconfig          with KUBE_UP_NODE: the node's user (token)
#
# Environment:
#   KUBE_BIN_DIR                  directory with kube-apiserver, kube-controller-manager and
#                                 kubectl (default: what tests/e2e/kube-build.sh prints)
#   KUBE_UP_CONTROLLER_MANAGER=1  also start kube-controller-manager
#   KUBE_UP_CONTROLLERS           its --controllers (default: deployment, replicaset,
#                                 statefulset, garbagecollector, namespace, serviceaccount,
#                                 serviceaccount-token, clusterrole-aggregation)
#   KUBE_UP_SCHEDULER=1           also start kube-scheduler (built by kube-build.sh for the
#                                 test node)
#   KUBE_UP_NETNS                 a network namespace (/var/run/netns/NAME) to run everything
#                                 in: the script enters it with nsenter, and DIR/kubectl does too
#                                 (tests/node/node-up.sh makes it)
#   KUBE_UP_NODE                  a node name: the API server authorizes with Node,RBAC and the
#                                 NodeRestriction admission plugin, reaches kubelets by their
#                                 InternalIP, and DIR/node.kubeconfig holds a token for the user
#                                 system:node:NAME (group system:nodes) that kubelet runs as
#   KUBE_UP_TIMEOUT               seconds everything has to become ready (default 60)
#   KUBE_UP_WATCH_PID             when this process exits, the cluster is stopped as by
#                                 kube-down.sh (for test runners that may die without cleanup)
#
# Exits non-zero, after stopping what it started and printing the end of each log, when
# something does not come up in time. DIR may be reused after kube-down.sh: etcd's data, the
# tokens and the service-account key are kept; ports are chosen anew.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'kube-up: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: kube-up.sh DIR"

netns=${KUBE_UP_NETNS:-}
if [[ -n $netns && ${KUBE_UP_IN_NETNS:-} != "$netns" ]]; then
    [[ -e /var/run/netns/$netns ]] || die "no network namespace $netns (/var/run/netns/$netns)"
    # Not `ip netns exec`, which remounts /sys: kubelet would no longer find the cgroup mounts.
    exec nsenter --net="/var/run/netns/$netns" -- env KUBE_UP_IN_NETNS="$netns" bash "$0" "$@"
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
timeout=${KUBE_UP_TIMEOUT:-60}
with_cm=${KUBE_UP_CONTROLLER_MANAGER:-0}
with_scheduler=${KUBE_UP_SCHEDULER:-0}
node=${KUBE_UP_NODE:-}
controllers=${KUBE_UP_CONTROLLERS:-deployment,replicaset,statefulset,garbagecollector,namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation}
python=/usr/bin/python3
[[ -x $python ]] || python=python3

for name in etcd kube-apiserver kube-controller-manager kube-scheduler watchdog; do
    pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        die "$dir already has a running $name (pid $pid); run kube-down.sh $dir first"
    fi
done

if [[ -z ${KUBE_BIN_DIR:-} ]]; then
    KUBE_BIN_DIR=$("$here/kube-build.sh")
fi
bin=$KUBE_BIN_DIR
tools=(kube-apiserver kube-controller-manager kubectl)
[[ $with_scheduler != 1 ]] || tools+=(kube-scheduler)
for tool in "${tools[@]}"; do
    [[ -x $bin/$tool ]] || die "$bin/$tool missing (run tests/e2e/kube-build.sh)"
done
command -v etcd >/dev/null || die "etcd missing (run tests/e2e/kube-build.sh)"

# --- credentials, kept across restarts of the same DIR -------------------------------------
umask 077
if [[ ! -s $dir/tokens.csv ]]; then
    admin_token=$(openssl rand -hex 24)
    controller_token=$(openssl rand -hex 24)
    # token,user,uid[,"group,..."]: the controller's user gets no group of its own, so only
    # what RBAC grants to it (or to system:authenticated) applies.
    printf '%s,admin,admin,system:masters\n%s,kollacfg-controller,kollacfg-controller\n' \
        "$admin_token" "$controller_token" >"$dir/tokens.csv"
fi
if [[ -n $node ]] && ! awk -F, -v user="system:node:$node" '$2 == user { found = 1 } END { exit !found }' "$dir/tokens.csv"; then
    printf '%s,system:node:%s,system:node:%s,system:nodes\n' "$(openssl rand -hex 24)" "$node" "$node" \
        >>"$dir/tokens.csv"
fi
admin_token=$(awk -F, '$2 == "admin" { print $1 }' "$dir/tokens.csv")
controller_token=$(awk -F, '$2 == "kollacfg-controller" { print $1 }' "$dir/tokens.csv")
node_token=$(awk -F, -v user="system:node:$node" '$2 == user { print $1 }' "$dir/tokens.csv")

# A node's kubelet is authorized by the Node authorizer (only its own node, its pods and what
# they mount) and limited by NodeRestriction; the API server reaches it at its InternalIP
# (kubelet's --node-ip), not by looking its name up.
authorization=RBAC
node_flags=()
if [[ -n $node ]]; then
    authorization=Node,RBAC
    node_flags=(--enable-admission-plugins NodeRestriction
        --kubelet-preferred-address-types InternalIP)
fi
if [[ ! -s $dir/sa.key ]]; then
    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
fi

free_ports() {
    # Holds all sockets open while choosing, so the ports differ from each other.
    "$python" - "$1" <<'EOF'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
}

kubeconfig() { # FILE USER TOKEN
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kollacfg-e2e
  cluster:
    server: https://127.0.0.1:$api_port
    insecure-skip-tls-verify: true
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2@kollacfg-e2e
  context:
    cluster: kollacfg-e2e
    user: $2
current-context: $2@kollacfg-e2e
EOF
}

pids=()
names=()
start() { # NAME COMMAND...
    local name=$1
    shift
    "$@" </dev/null >"$dir/$name.log" 2>&1 &
    echo "$!" >"$dir/$name.pid"
    pids+=("$!")
    names+=("$name")
}

stop_started() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
    done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        wait "${pids[i]}" 2>/dev/null || true
        rm -f "$dir/${names[i]}.pid"
    done
    pids=()
    names=()
}

show_logs() {
    local name
    for name in etcd kube-apiserver kube-controller-manager kube-scheduler; do
        [[ -s $dir/$name.log ]] || continue
        printf -- '--- last lines of %s ---\n' "$dir/$name.log" >&2
        tail -n 25 "$dir/$name.log" >&2
    done
}

# wait_for NAME PID URL [CURL ARGS...]: polls URL until it answers 200 "ok"-like, the process
# dies, or the deadline passes. Returns 0 ready, 1 timed out, 2 process died.
wait_for() {
    local name=$1 pid=$2 url=$3
    shift 3
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited during start"
            return 2
        fi
        if curl -fsS --max-time 2 "$@" "$url" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    log "$name not ready after ${timeout}s ($url)"
    return 1
}

# Whatever stops this script before the end (a failure, a signal) stops what it started.
# shellcheck disable=SC2034 # read by the EXIT trap
ready=0
trap '((ready)) || stop_started' EXIT
trap 'exit 130' INT TERM

started=$SECONDS
deadline=$((SECONDS + timeout))
attempt=0
while :; do
    attempt=$((attempt + 1))
    read -r etcd_port peer_port api_port cm_port scheduler_port < <(free_ports 5)
    log "starting in $dir (etcd 127.0.0.1:$etcd_port, kube-apiserver 127.0.0.1:$api_port)"
    status=0

    start etcd etcd --name kollacfg-e2e --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" \
        --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "kollacfg-e2e=http://127.0.0.1:$peer_port" \
        --logger zap --log-outputs stderr
    wait_for etcd "${pids[-1]}" "http://127.0.0.1:$etcd_port/health" || status=$?

    if ((status == 0)); then
        start kube-apiserver "$bin/kube-apiserver" \
            --etcd-servers "http://127.0.0.1:$etcd_port" \
            --bind-address 127.0.0.1 --secure-port "$api_port" --insecure-port 0 \
            --advertise-address 127.0.0.1 --endpoint-reconciler-type none \
            --cert-dir "$dir/apiserver-certs" \
            --token-auth-file "$dir/tokens.csv" \
            --authorization-mode "$authorization" "${node_flags[@]}" \
            --service-account-key-file "$dir/sa.pub" \
            --service-account-signing-key-file "$dir/sa.key" \
            --service-account-issuer https://kubernetes.default.svc \
            --service-cluster-ip-range 10.0.0.0/24 \
            --allow-privileged
        wait_for kube-apiserver "${pids[-1]}" "https://127.0.0.1:$api_port/readyz" -k \
            -H "Authorization: Bearer $admin_token" || status=$?
    fi

    kubeconfig "$dir/admin.kubeconfig" admin "$admin_token"
    kubeconfig "$dir/controller.kubeconfig" kollacfg-controller "$controller_token"
    kubeconfig "$dir/controller-manager.kubeconfig" admin "$admin_token"
    [[ -z $node ]] || kubeconfig "$dir/node.kubeconfig" "system:node:$node" "$node_token"

    if ((status == 0)) && [[ $with_cm == 1 ]]; then
        start kube-controller-manager "$bin/kube-controller-manager" \
            --kubeconfig "$dir/controller-manager.kubeconfig" \
            --bind-address 127.0.0.1 --secure-port "$cm_port" --port 0 \
            --cert-dir "$dir/controller-manager-certs" \
            --leader-elect=false \
            --controllers "$controllers" \
            --service-account-private-key-file "$dir/sa.key" \
            --use-service-account-credentials=false
        wait_for kube-controller-manager "${pids[-1]}" "https://127.0.0.1:$cm_port/healthz" -k ||
            status=$?
    fi

    if ((status == 0)) && [[ $with_scheduler == 1 ]]; then
        start kube-scheduler "$bin/kube-scheduler" \
            --kubeconfig "$dir/controller-manager.kubeconfig" \
            --bind-address 127.0.0.1 --secure-port "$scheduler_port" --port 0 \
            --cert-dir "$dir/scheduler-certs" \
            --leader-elect=false
        wait_for kube-scheduler "${pids[-1]}" "https://127.0.0.1:$scheduler_port/healthz" -k ||
            status=$?
    fi

    ((status != 0)) || break
    # A port taken between choosing and binding: choose again while time remains.
    if ((status == 2 && attempt < 3 && SECONDS < deadline)) &&
        grep -qs 'address already in use' "${names[@]/#/$dir/}"; then
        log "a port was taken meanwhile; retrying with new ports"
        stop_started
        continue
    fi
    show_logs
    stop_started
    exit 1
done

# shellcheck disable=SC2016 # $KUBECONFIG and $@ belong to the wrapper
{
    printf '#!/usr/bin/env bash\n'
    printf '# kubectl 1.20 for this cluster: $KUBECONFIG (default: the admin one), discovery cache here.\n'
    if [[ -n $netns ]]; then
        printf '# The cluster listens inside the network namespace %s.\n' "$netns"
        printf 'exec nsenter --net=%q -- ' "/var/run/netns/$netns"
    else
        printf 'exec '
    fi
    printf '%q --kubeconfig "${KUBECONFIG:-%q}" --cache-dir %q "$@"\n' \
        "$bin/kubectl" "$dir/admin.kubeconfig" "$dir/kubectl-cache"
} >"$dir/kubectl"
chmod 0755 "$dir/kubectl"

watch_pid=${KUBE_UP_WATCH_PID:-}
if [[ -n $watch_pid ]]; then
    # The marker argument lets kube-down.sh recognise this process by its command line.
    bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" "$3"' \
        kollacfg-kube-watchdog "$watch_pid" "$here/kube-down.sh" "$dir" \
        </dev/null >"$dir/watchdog.log" 2>&1 &
    echo "$!" >"$dir/watchdog.pid"
fi

{
    printf '# written by tests/e2e/kube-up.sh; stop with tests/e2e/kube-down.sh %q\n' "$dir"
    printf 'KUBE_UP_DIR=%q\n' "$dir"
    printf 'KUBE_API_SERVER=%q\n' "https://127.0.0.1:$api_port"
    printf 'KUBE_API_PORT=%q\n' "$api_port"
    printf 'ETCD_CLIENT_URL=%q\n' "http://127.0.0.1:$etcd_port"
    printf 'ETCD_CLIENT_PORT=%q\n' "$etcd_port"
    printf 'ETCD_PEER_PORT=%q\n' "$peer_port"
    printf 'ETCD_PID=%q\n' "$(cat "$dir/etcd.pid")"
    printf 'KUBE_APISERVER_PID=%q\n' "$(cat "$dir/kube-apiserver.pid")"
    if [[ $with_cm == 1 ]]; then
        printf 'KUBE_CONTROLLER_MANAGER_PORT=%q\n' "$cm_port"
        printf 'KUBE_CONTROLLER_MANAGER_PID=%q\n' "$(cat "$dir/kube-controller-manager.pid")"
    else
        printf 'KUBE_CONTROLLER_MANAGER_PORT=\nKUBE_CONTROLLER_MANAGER_PID=\n'
    fi
    if [[ $with_scheduler == 1 ]]; then
        printf 'KUBE_SCHEDULER_PORT=%q\n' "$scheduler_port"
        printf 'KUBE_SCHEDULER_PID=%q\n' "$(cat "$dir/kube-scheduler.pid")"
    else
        printf 'KUBE_SCHEDULER_PORT=\nKUBE_SCHEDULER_PID=\n'
    fi
    printf 'KUBE_NETNS=%q\n' "$netns"
    printf 'KUBE_NODE_KUBECONFIG=%q\n' "$([[ -z $node ]] || printf '%s' "$dir/node.kubeconfig")"
    printf 'KUBE_WATCHDOG_PID=%q\n' "$(cat "$dir/watchdog.pid" 2>/dev/null || true)"
    printf 'KUBE_ADMIN_KUBECONFIG=%q\n' "$dir/admin.kubeconfig"
    printf 'KUBE_CONTROLLER_KUBECONFIG=%q\n' "$dir/controller.kubeconfig"
    printf 'KUBE_ADMIN_TOKEN=%q\n' "$admin_token"
    printf 'KUBE_CONTROLLER_TOKEN=%q\n' "$controller_token"
    printf 'KUBE_CONTROLLER_USER=kollacfg-controller\n'
    printf 'KUBE_BIN_DIR=%q\n' "$bin"
    printf 'KUBECTL=%q\n' "$dir/kubectl"
} >"$dir/env"

# shellcheck disable=SC2034 # read by the EXIT trap
ready=1
log "ready in $((SECONDS - started))s: $dir/env (kube-apiserver https://127.0.0.1:$api_port$(
    [[ $with_cm == 1 ]] && printf ', kube-controller-manager 127.0.0.1:%s' "$cm_port"
    [[ $with_scheduler == 1 ]] && printf ', kube-scheduler 127.0.0.1:%s' "$scheduler_port"
    [[ -n $netns ]] && printf ', in network namespace %s' "$netns"))"
