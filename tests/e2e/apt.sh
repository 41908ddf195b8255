# shellcheck shell=bash
# Debian package helpers shared by the build scripts (tests/e2e/kube-build.sh,
# tests/node/node-build.sh). Source it after defining `log` and `elapsed`.
export DEBIAN_FRONTEND=noninteractive
apt_options=(-o DPkg::Lock::Timeout=900 -o Dpkg::Use-Pty=0 -q)

installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# apt_install PACKAGES...: installs them without recommends, unattended. A temporary
# policy-rc.d keeps their package scripts from starting system-wide services (etcd, containerd):
# the harness runs its own, on its own addresses. A policy the machine already has is left as
# it is.
apt_install() {
    local t=$SECONDS
    log "installing $*"
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get "${apt_options[@]}" -y install --no-install-recommends "$@" </dev/null >&2
    if [[ $(trap -p EXIT) ]]; then
        rm -f "$policy"
        trap - EXIT
    fi
    log "installed in $(elapsed "$t")"
}
