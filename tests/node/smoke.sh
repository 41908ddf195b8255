#!/usr/bin/env bash
# End-to-end check of the test node: pods really run, and kolla's own start path works in them.
#   node-build.sh pause rabbitmq -> node-up.sh -> checks -> node-down.sh
#
# The checks: the node registered Ready with the namespace's address as its InternalIP and
# every server listens inside the namespace only; a hostNetwork pod mounts a Secret read-only
# (defaultMode 0440, readable through the pod's fsGroup) and gets status.hostIP, spec.nodeName
# and metadata.name from the downward API, read back with kubectl exec and kubectl logs; the
# RabbitMQ image started by kolla_start from a config.json in a mounted Secret runs the broker
# (rabbitmqctl status in the pod), with the Erlang flags and the policy of the files the Secret
# carried; node-down.sh leaves no process in the namespace, no namespace, no mount, and a second
# run is a no-op.
#
# Usage: tests/node/smoke.sh      (root, unattended; installs and builds what is missing)
# Environment: NODE_SMOKE_KEEP=1 keeps the work directory (it is kept anyway on failure);
#   KUBE_BIN_DIR and NODE_IMAGES_DIR as for node-up.sh.
# Ends with "node-smoke: PASS" or "node-smoke: FAIL" and "node-smoke: N passed, N failed"; exit
# status 0 only when every check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
started=$SECONDS

smoke=node-smoke
# shellcheck source=tests/e2e/checks.sh
. "$here/../e2e/checks.sh"

work=$(mktemp -d /tmp/kollacfg-node-smoke.XXXXXX)
node=$work/node
cleanup() {
    local status=$?
    "$here/node-down.sh" "$node" 2>/dev/null || true
    if ((status == 0 && failed == 0)) && [[ ${NODE_SMOKE_KEEP:-0} != 1 ]]; then
        rm -rf "$work"
    else
        log "work directory kept: $work (logs: $node/*.log, checks: $work/checks/)"
    fi
    exit "$status"
}
trap cleanup EXIT
mkdir -p "$work/checks"

# --- up --------------------------------------------------------------------------------------
t=$SECONDS
if [[ -z ${NODE_IMAGES_DIR:-} ]]; then
    NODE_IMAGES_DIR=$("$here/node-build.sh" pause rabbitmq)
    export NODE_IMAGES_DIR
fi
log "images ready in $((SECONDS - t))s: $NODE_IMAGES_DIR"
t=$SECONDS
NODE_UP_WATCH_PID=$$ "$here/node-up.sh" "$node"
log "node up in $((SECONDS - t))s"
# shellcheck source=/dev/null
. "$node/env"
k() { "$node/kubectl" "$@"; }
in_netns() { nsenter --net="/var/run/netns/$NODE_NETNS" -- "$@"; }

# --- checks ----------------------------------------------------------------------------------
node_registered() {
    k get nodes -o wide
    [[ $(k get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
    local address
    address=$(k get node "$NODE_NAME" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
    echo "InternalIP: $address"
    [[ $address == "$NODE_IP" ]]
}

inside_only() {
    local listeners
    listeners=$(in_netns ss -Hltn | awk '{ print $4 }')
    echo "$listeners"
    [[ -n $listeners ]]
    # Loopback or the node's own address, inside a namespace nothing else can enter.
    if grep -Ev "^(127\.0\.0\.1|$NODE_IP|\[::1\]|\[::ffff:127\.0\.0\.1\]):[0-9]+$" <<<"$listeners"; then
        echo "listening elsewhere (above)"
        return 1
    fi
    # And the node's servers are not in the machine's own namespace.
    local pid
    for pid in "$KUBE_APISERVER_PID" "$NODE_KUBELET_PID" "$NODE_CONTAINERD_PID" "$ETCD_PID"; do
        if [[ $(readlink "/proc/$pid/ns/net") == $(readlink "/proc/$$/ns/net") ]]; then
            echo "pid $pid runs in the machine's own network namespace"
            return 1
        fi
    done
    [[ $(ip netns list | grep -c "^$NODE_NETNS\b") == 1 ]]
}

smoke_ns=node-smoke
files_pod() {
    cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $smoke_ns}
---
apiVersion: v1
kind: Secret
metadata: {name: smoke-files, namespace: $smoke_ns}
stringData:
  greeting.txt: "hello from a Secret\\n"
---
apiVersion: v1
kind: Pod
metadata: {name: smoke-files, namespace: $smoke_ns}
spec:
  hostNetwork: true
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {fsGroup: 42400}
  containers:
  - name: main
    image: $NODE_IMAGE_RABBITMQ
    imagePullPolicy: Never
    command: [bash, -c, 'echo "env: HOST_IP=\$HOST_IP NODE_NAME=\$NODE_NAME POD_NAME=\$POD_NAME"; cat /etc/smoke/greeting.txt; exec sleep 3600']
    env:
    - name: HOST_IP
      valueFrom: {fieldRef: {fieldPath: status.hostIP}}
    - name: NODE_NAME
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    volumeMounts:
    - {name: files, mountPath: /etc/smoke, readOnly: true}
  volumes:
  - name: files
    secret: {secretName: smoke-files, defaultMode: 0440}
EOF
}
pod_phase() { k get pod "$1" -n "$smoke_ns" -o jsonpath='{.status.phase}'; }
pod_running() { [[ $(pod_phase "$1") == Running ]]; }
files_and_env() {
    files_pod | k apply -f -
    until_true 120 pod_running smoke-files || { k describe pod smoke-files -n "$smoke_ns"; return 1; }
    k get pod smoke-files -n "$smoke_ns" -o wide
    local content mode logs env touch_out
    content=$(k exec -n "$smoke_ns" smoke-files -- cat /etc/smoke/greeting.txt)
    echo "file: $content"
    [[ $content == "hello from a Secret" ]]
    mode=$(k exec -n "$smoke_ns" smoke-files -- stat -L -c '%a %G' /etc/smoke/greeting.txt)
    echo "mode and group: $mode"
    [[ $mode == "440 kolla" ]]
    # A read-only mount: nothing can be written there.
    if touch_out=$(k exec -n "$smoke_ns" smoke-files -- bash -c 'echo x >/etc/smoke/new' 2>&1); then
        echo "writing into the Secret volume succeeded"
        return 1
    fi
    echo "write refused: $touch_out"
    grep -q 'Read-only file system' <<<"$touch_out"
    env=$(k exec -n "$smoke_ns" smoke-files -- env)
    grep -x "HOST_IP=$NODE_IP" <<<"$env"
    grep -x "NODE_NAME=$NODE_NAME" <<<"$env"
    grep -x "POD_NAME=smoke-files" <<<"$env"
    logs=$(k logs -n "$smoke_ns" smoke-files)
    echo "logs: $logs"
    grep -x "env: HOST_IP=$NODE_IP NODE_NAME=$NODE_NAME POD_NAME=smoke-files" <<<"$logs"
    grep -x "hello from a Secret" <<<"$logs"
}

rabbitmq_pod() {
    cat <<EOF
apiVersion: v1
kind: Secret
metadata: {name: rabbitmq-kolla, namespace: $smoke_ns}
stringData:
  config.json: |
    {
      "command": "/usr/sbin/rabbitmq-server",
      "config_files": [
        {"source": "/var/lib/kolla/config_files/rabbitmq-env.conf",
         "dest": "/etc/rabbitmq/rabbitmq-env.conf", "owner": "rabbitmq", "perm": "0600"},
        {"source": "/var/lib/kolla/config_files/rabbitmq.conf",
         "dest": "/etc/rabbitmq/rabbitmq.conf", "owner": "rabbitmq", "perm": "0600"},
        {"source": "/var/lib/kolla/config_files/definitions.json",
         "dest": "/etc/rabbitmq/definitions.json", "owner": "rabbitmq", "perm": "0600"}
      ],
      "permissions": [
        {"path": "/var/lib/rabbitmq", "owner": "rabbitmq:rabbitmq", "recurse": true}
      ]
    }
  rabbitmq-env.conf: |
    NODENAME=rabbit@localhost
    ERL_EPMD_ADDRESS=127.0.0.1
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sub true"
  rabbitmq.conf: |
    listeners.tcp.1 = $NODE_IP:5672
    load_definitions = /etc/rabbitmq/definitions.json
  definitions.json: |
    {"vhosts": [{"name": "/"}],
     "policies": [{"vhost": "/", "name": "ha-two", "pattern": "^smoke\\\\.", "apply-to": "queues",
                   "priority": 0, "definition": {"ha-mode": "exactly", "ha-params": 2}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: rabbitmq, namespace: $smoke_ns}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  securityContext: {fsGroup: 42400}
  containers:
  - name: rabbitmq
    image: $NODE_IMAGE_RABBITMQ
    imagePullPolicy: Never
    env:
    - {name: KOLLA_CONFIG_STRATEGY, value: COPY_ALWAYS}
    volumeMounts:
    - {name: kolla-config, mountPath: /var/lib/kolla/config_files, readOnly: true}
  volumes:
  - name: kolla-config
    secret: {secretName: rabbitmq-kolla, defaultMode: 0440}
EOF
}
broker_up() { k exec -n "$smoke_ns" rabbitmq -- rabbitmqctl status >"$work/rabbitmq-status" 2>&1; }
rabbitmq_kolla_start() {
    rabbitmq_pod | k apply -f -
    until_true 120 pod_running rabbitmq || { k describe pod rabbitmq -n "$smoke_ns"; return 1; }
    if ! until_true 120 broker_up; then
        cat "$work/rabbitmq-status"
        k logs -n "$smoke_ns" rabbitmq --tail 40
        return 1
    fi
    head -n 20 "$work/rabbitmq-status"
    grep -q 'Status of node rabbit@localhost' "$work/rabbitmq-status"
    local logs processes policies copied restarts
    logs=$(k logs -n "$smoke_ns" rabbitmq)
    # kolla_set_configs copied the files and kolla_start ran the command of config.json.
    grep -E "Copying /var/lib/kolla/config_files/rabbitmq-env.conf to /etc/rabbitmq/rabbitmq-env.conf" <<<"$logs"
    grep -F "Running command: '/usr/sbin/rabbitmq-server'" <<<"$logs"
    copied=$(k exec -n "$smoke_ns" rabbitmq -- stat -c '%U %a' /etc/rabbitmq/rabbitmq-env.conf)
    echo "copied rabbitmq-env.conf: $copied"
    [[ $copied == "rabbitmq 600" ]]
    processes=$(k exec -n "$smoke_ns" rabbitmq -- ps -eo args)
    grep -E '^/usr/lib/erlang/erts-[^ ]+/bin/beam\.smp ' <<<"$processes" | head -c 600
    echo
    # beam.smp shows emulator flags with a dash; RabbitMQ's own defaults carry -sbwt none too,
    # but -sub true only comes from the Secret's rabbitmq-env.conf.
    grep -E 'beam\.smp .*-sbwt none -sub true( |$)' <<<"$processes" >/dev/null
    policies=$(k exec -n "$smoke_ns" rabbitmq -- rabbitmqctl list_policies --formatter json)
    echo "policies: $policies"
    # rabbitmqctl's JSON carries each definition as a JSON string of its own.
    /usr/bin/python3 -c 'import json, sys
policies = {p["name"]: p for p in json.load(sys.stdin)}
definition = policies["ha-two"]["definition"]
definition = json.loads(definition) if isinstance(definition, str) else definition
assert definition == {"ha-mode": "exactly", "ha-params": 2}, definition
assert policies["ha-two"]["pattern"] == "^smoke\\.", policies["ha-two"]' <<<"$policies"
    # Listening on the node's address, inside the namespace.
    in_netns ss -Hltn | grep -F "$NODE_IP:5672"
    restarts=$(k get pod rabbitmq -n "$smoke_ns" -o jsonpath='{.status.containerStatuses[0].restartCount}')
    echo "restartCount: $restarts"
    [[ $restarts == 0 ]]
}

check "the node registered Ready at $NODE_IP" node_registered
check "every server listens inside the namespace only" inside_only
check "hostNetwork pod: Secret volume read-only 0440, downward-API env, exec and logs" files_and_env
check "RabbitMQ through kolla_start: broker runs with the Secret's files" rabbitmq_kolla_start

# --- down ------------------------------------------------------------------------------------
down_and_gone() {
    local inode pid left=()
    inode=$(stat -L -c %i "/var/run/netns/$NODE_NETNS")
    "$here/node-down.sh" "$node"
    for pid in /proc/[0-9]*; do
        if [[ $(stat -L -c %i "$pid/ns/net" 2>/dev/null) == "$inode" ]]; then
            left+=("${pid#/proc/}")
        fi
    done
    if ((${#left[@]} > 0)); then
        echo "still in the namespace: ${left[*]}"
        ps -o pid,args -p "${left[@]}" || true
        return 1
    fi
    if [[ -e /var/run/netns/$NODE_NETNS ]]; then
        echo "namespace $NODE_NETNS still there"
        return 1
    fi
    if grep -F " $node/" /proc/self/mountinfo; then
        echo "still mounted under $node"
        return 1
    fi
    for pid in "$NODE_KUBELET_PID" "$NODE_CONTAINERD_PID" "$KUBE_APISERVER_PID" "$ETCD_PID"; do
        if kill -0 "$pid" 2>/dev/null && [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
            echo "pid $pid still running"
            return 1
        fi
    done
    "$here/node-down.sh" "$node" # again: a no-op
}
check "node-down stops everything and removes the namespace, and again is a no-op" down_and_gone

summary
((failed == 0))
