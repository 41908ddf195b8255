#!/usr/bin/env bash
# Fetches kolla-ansible's pinned wheel from PyPI into
#   ~/.cache/kollacfg/pytools/kolla-ansible-<version>/
# unpacks it there and prints its ansible/ directory (roles/*/templates/*.j2, group_vars/...),
# which tests/tools/kolla-host-items.py reads. Only the wheel is fetched (pip download
# --no-deps), checked against its digest; nothing of it is run.
#
# Usage: KOLLACFG_KOLLA_ANSIBLE=$(bash tests/tools/kolla-ansible.sh)
# Progress goes to stderr, the path to stdout. Unattended (no stdin) and idempotent.
# Needs python3 with pip and access to PyPI (the first time).
set -euo pipefail

version=22.2.0
sha256=010e077c95d172e152f253bba4c0af43b537c987439d1c4601e9edc6adaeac34
wheel_name=kolla_ansible-$version-py3-none-any.whl

say() { echo "kolla-ansible.sh: $*" >&2; }

root=${XDG_CACHE_HOME:-$HOME/.cache}/kollacfg/pytools
dir=$root/kolla-ansible-$version
ansible=$dir/tree/kolla_ansible-$version.data/data/share/kolla-ansible/ansible
stamp=$dir/.complete

if [[ -f $stamp ]]; then
    echo "$ansible"
    exit 0
fi

mkdir -p "$root"
exec 9>"$root/.lock-kolla-ansible"
flock 9
if [[ ! -f $stamp ]]; then
    rm -rf "$dir"
    mkdir -p "$dir/download"
    say "pip download --no-deps kolla-ansible==$version"
    python3 -m pip download --quiet --disable-pip-version-check --no-input --no-deps \
        --only-binary :all: --dest "$dir/download" "kolla-ansible==$version" </dev/null >&2
    got=$(sha256sum "$dir/download/$wheel_name" | cut -d' ' -f1)
    if [[ $got != "$sha256" ]]; then
        say "$wheel_name: digest $got differs from $sha256"
        exit 1
    fi
    python3 -m zipfile -e "$dir/download/$wheel_name" "$dir/tree"
    [[ -d $ansible/roles ]] || { say "no ansible/roles in $wheel_name"; exit 1; }
    touch "$stamp"
fi
echo "$ansible"
