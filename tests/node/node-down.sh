#!/usr/bin/env bash
# Stops what tests/node/node-up.sh DIR started and removes what it made outside DIR: kubelet
# first (so that it restarts nothing), every container (killed through containerd), containerd,
# then the control plane (tests/e2e/kube-down.sh), then any process still inside the node's
# network namespace; unmounts everything under DIR, deletes the namespace, the node's pod log
# directories under /var/log/pods, kubelet's device-plugin socket under /var/lib/kubelet (when no
# other kubelet runs), and containerd's and kubelet's state in DIR. Logs, env and
# the kubeconfigs stay in DIR. Idempotent, and safe after a failed or half-done node-up.sh.
#
# Usage: tests/node/node-down.sh DIR
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'node-down: %s\n' "$*" >&2; }

[[ $# -eq 1 && -n $1 ]] || { log "usage: node-down.sh DIR"; exit 2; }
[[ -d $1 ]] || exit 0
dir=$(cd "$1" && pwd)
grace=${KUBE_DOWN_GRACE:-15}
status=0

# stop NAME PATTERN: the process of DIR/NAME.pid, if it still runs PATTERN: SIGTERM, SIGKILL
# after the grace period; waits until it is gone.
stop() {
    local name=$1 pattern=$2 pid args waited=0 t=$SECONDS
    pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
    rm -f "$dir/$name.pid.stopping"
    [[ $pid =~ ^[0-9]+$ && $pid != "$$" ]] || { rm -f "$dir/$name.pid"; return 0; }
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
    if [[ $args != *"$pattern"* ]]; then
        rm -f "$dir/$name.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null && [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]]; do
        if ((waited == grace * 10)); then
            log "$name (pid $pid) ignored SIGTERM for ${grace}s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$dir/$name.pid"
    log "stopped $name (pid $pid) in $((SECONDS - t))s"
}

stop node-watchdog kollacfg-node-watchdog
stop kubelet kubelet

# Every task of the node's containerd, killed and deleted, so that their shims exit.
if [[ -x $dir/ctr && -S $dir/containerd/containerd.sock ]]; then
    t=$SECONDS
    for task in $("$dir/ctr" tasks list --quiet 2>/dev/null); do
        "$dir/ctr" tasks kill --signal SIGKILL "$task" >/dev/null 2>&1
    done
    for task in $("$dir/ctr" tasks list --quiet 2>/dev/null); do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            "$dir/ctr" tasks delete --force "$task" >/dev/null 2>&1 && break
            sleep 0.2
        done
    done
    log "killed and deleted the containers in $((SECONDS - t))s"
fi
stop containerd containerd

[[ ! -e $here/../e2e/kube-down.sh ]] || "$here/../e2e/kube-down.sh" "$dir" || status=1

# Whatever still runs inside the namespace (a shim, a container, anything a test started there).
netns=$(cat "$dir/netns" 2>/dev/null || true)
if [[ -n $netns && -e /var/run/netns/$netns ]]; then
    inode=$(stat -L -c %i "/var/run/netns/$netns" 2>/dev/null || true)
    for round in 1 2 3 4 5 6 7 8 9 10; do
        left=()
        for ns in /proc/[0-9]*/ns/net; do
            [[ $(stat -L -c %i "$ns" 2>/dev/null) == "$inode" ]] || continue
            pid=${ns#/proc/}
            pid=${pid%%/*}
            [[ $pid != "$$" ]] && left+=("$pid")
        done
        ((${#left[@]} > 0)) || break
        ((round > 1)) || log "killing what is left in $netns: ${left[*]}"
        kill -KILL "${left[@]}" 2>/dev/null
        sleep 0.3
    done
fi

# Mounts under DIR (Secret volumes, container root filesystems, shm), deepest first.
mounts() {
    awk -v prefix="$dir/" '{
        path = $5; gsub(/\\040/, " ", path)
        if (index(path, prefix) == 1) print path
    }' /proc/self/mountinfo | sort -r
}
for round in 1 2 3; do
    mounted=$(mounts)
    [[ -n $mounted ]] || break
    while read -r path; do
        umount "$path" 2>/dev/null || umount -l "$path" 2>/dev/null
    done <<<"$mounted"
done
if [[ -n $(mounts) ]]; then
    log "still mounted under $dir: $(mounts | tr '\n' ' ')"
    status=1
fi

if [[ -n $netns && -e /var/run/netns/$netns ]]; then
    ip netns delete "$netns" && log "deleted network namespace $netns" || status=1
fi

# kubelet writes pod logs to /var/log/pods/<namespace>_<pod>_<uid> whatever its root directory.
if [[ -d $dir/kubelet/pods ]]; then
    for pod in "$dir"/kubelet/pods/*/; do
        uid=$(basename "$pod")
        [[ $uid =~ ^[0-9a-f-]{36}$ ]] || continue
        rm -rf /var/log/pods/*_"$uid"
    done
    find /var/log/containers -maxdepth 1 -xtype l -delete 2>/dev/null
fi

# kubelet 1.20 makes its device-plugin socket at a fixed path, whatever its root directory:
# removed once no kubelet runs on the machine any more.
if ! pgrep -x kubelet >/dev/null; then
    rm -rf /var/lib/kubelet/device-plugins
    rmdir /var/lib/kubelet 2>/dev/null
fi

if ((status == 0)); then
    rm -rf "$dir/containerd/root" "$dir/containerd/state" "$dir/containerd/opt" "$dir/kubelet"
    rm -f "$dir/netns"
else
    log "left $dir/containerd and $dir/kubelet in place (something is still mounted or running)"
fi
exit "$status"
