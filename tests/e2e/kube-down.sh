#!/usr/bin/env bash
# Stops what tests/e2e/kube-up.sh DIR started, by the pids it recorded, newest first
# (watchdog, kube-scheduler, kube-controller-manager, kube-apiserver, etcd): SIGTERM, then SIGKILL after
# KUBE_DOWN_GRACE seconds (default 15), and waits until each has exited. A pid whose process
# is gone, or is now some other program, is skipped. Idempotent: a second run, or a DIR that
# never had a cluster, is a no-op. DIR itself (logs, etcd data) is left in place.
#
# Usage: tests/e2e/kube-down.sh DIR
set -euo pipefail

log() { printf 'kube-down: %s\n' "$*" >&2; }

[[ $# -eq 1 && -n $1 ]] || { log "usage: kube-down.sh DIR"; exit 2; }
dir=$1
[[ -d $dir ]] || exit 0
grace=${KUBE_DOWN_GRACE:-15}

# ours NAME PID: the process is alive and is the program kube-up.sh started under NAME.
ours() {
    local name=$1 pid=$2 args
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    case $name in
        watchdog) [[ $args == *kollacfg-kube-watchdog* ]] ;;
        etcd) [[ $args == *etcd* ]] ;;
        *) [[ $args == *"$name"* ]] ;;
    esac
}

for name in watchdog kube-scheduler kube-controller-manager kube-apiserver etcd; do
    file=$dir/$name.pid
    [[ -e $file ]] || continue
    pid=$(cat "$file" 2>/dev/null || true)
    # The watchdog ends by running this script: it must not signal itself.
    if [[ $pid == "$$" ]] || ! ours "$name" "$pid"; then
        rm -f "$file"
        continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    waited=0
    killed=0
    while kill -0 "$pid" 2>/dev/null && ours "$name" "$pid"; do
        # A zombie (exited, parent not reaping it) is stopped for good.
        [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) != Z ]] || break
        if ((waited >= grace * 10)); then
            if ((killed)); then
                log "$name (pid $pid) still there after SIGKILL; giving up"
                exit 1
            fi
            log "$name (pid $pid) ignored SIGTERM for ${grace}s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            killed=1
            waited=0
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$file"
    log "stopped $name (pid $pid)"
done
