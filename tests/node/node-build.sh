#!/usr/bin/env bash
# Installs the test node's packages (containerd, runc, the CNI plugins, mmdebstrap) and builds
# the images its pods run, each cached under
#   ${KOLLACFG_NODE_CACHE:-~/.cache/kollacfg/node}/images/<name>/<key>/image.tar
# where <key> hashes everything the image is made from: the shell functions of this script
# that build it (their text, so an edit elsewhere in the file rebuilds nothing), the packer
# image-tar.py, the pinned kolla release, the Debian versions of the packages in it, or the
# source or binary it holds. An image whose key is cached is not built again.
#
# Usage: tests/node/node-build.sh [IMAGE...]      (default: pause rabbitmq nova kollacfg)
#   Prints progress ("node-build: ...") on stderr and, alone on stdout, a directory holding
#   NAME.tar (a link to the cached archive) for every image asked for, and images.env
#   (NODE_IMAGE_<NAME>=<reference>, shell-sourceable). Unattended; run as root.
#
# Images (no image can be pulled; pods use imagePullPolicy: Never):
#   pause     kollacfg.test/pause:1     tests/node/pause.c, gcc -static: the pod sandbox
#   rabbitmq  kollacfg.test/rabbitmq:1  Debian bookworm with rabbitmq-server and python3, and
#                                       kolla's own start path (kolla_start, kolla_set_configs,
#                                       sudoers, the rabbitmq extend_start) as kolla's
#                                       Dockerfiles install it; user rabbitmq; CMD kolla_start
#   nova      kollacfg.test/nova:1      Debian bookworm with python3-nova (Nova's own config
#                                       loader) and the same kolla start path; user nova
#   kollacfg  kollacfg.test/kollacfg:1  only /kollacfg, the static binary that
#                                       tests/tools/static-build.sh builds
#
# Environment:
#   KOLLACFG_NODE_CACHE    cache root (default ~/.cache/kollacfg/node)
#   NODE_DEBIAN_MIRROR     Debian mirror for the root filesystems (default http://deb.debian.org/debian)
#   NODE_DEBIAN_SECURITY   its security archive (default http://deb.debian.org/debian-security)
#   NODE_BUILD_KEEP=1      keep the temporary build directory
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
started=$SECONDS
log() { printf 'node-build: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
elapsed() { printf '%ds' "$((SECONDS - ${1:-$started}))"; }
# shellcheck source=tests/e2e/apt.sh
. "$here/../e2e/apt.sh"

[[ $(id -u) -eq 0 ]] || die "run as root (packages, mmdebstrap --mode=root)"

# kolla's container start path (set_configs.py, start.sh, sudoers, ...) comes from this
# release on PyPI, checked against its digest.
kolla_version=23.0.0
kolla_sha256=ede061c4d6134781edfcbc9f1bc4b3e4822ad6d44f200e5912cc9531b1248dd5
mirror=${NODE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${NODE_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
suite=bookworm

# Packages each root filesystem gets beyond mmdebstrap's "apt" variant (Essential + apt).
# kolla_start needs bash, sudo and python3-yaml (set_configs.py); the tests need ps.
common_packages=(python3 python3-yaml sudo passwd procps ca-certificates)
rabbitmq_packages=(rabbitmq-server logrotate)
nova_packages=(python3-nova)

all_images=(pause rabbitmq nova kollacfg)
images=("$@")
((${#images[@]} > 0)) || images=("${all_images[@]}")
for name in "${images[@]}"; do
    [[ " ${all_images[*]} " == *" $name "* ]] || die "unknown image $name (known: ${all_images[*]})"
done

# --- host packages ---------------------------------------------------------------------------
host_packages=(containerd runc containernetworking-plugins mmdebstrap gcc libc6-dev
    iproute2 util-linux openssl curl python3-pip)
missing=()
for package in "${host_packages[@]}"; do
    installed "$package" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
    if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
        apt-get "${apt_options[@]}" update </dev/null >&2
    fi
    # containerd's package would start a system-wide containerd: node-up.sh runs its own.
    apt_install "${missing[@]}"
fi

cache_root=${KOLLACFG_NODE_CACHE:-$HOME/.cache/kollacfg/node}
mkdir -p "$cache_root/images"
# One build per machine at a time; a second caller waits and then finds the cache complete.
exec 9>"$cache_root/.lock"
flock 9

work=$(mktemp -d "${TMPDIR:-/tmp}/kollacfg-node-build.XXXXXX")
cleanup() {
    local status=$?
    if [[ ${NODE_BUILD_KEEP:-0} == 1 ]]; then
        log "keeping $work"
    else
        rm -rf "$work"
    fi
    ((status == 0)) || log "failed after $(elapsed)"
    exit "$status"
}
trap cleanup EXIT

# Version of every package a root filesystem will hold, as the host's index knows them: the
# packages named and everything they depend on is pinned by the Debian release and these.
candidates() {
    apt-cache policy "$@" 2>/dev/null | awk '
        /^[^ ].*:$/ { name = $1 }
        /^  Candidate:/ { print name, $2 }'
}

# key_of FUNCTIONS -- INPUTS...: a short hash of the text of the named functions of this
# script, of the packer, and of the given strings.
key_of() {
    local functions=()
    while [[ $1 != -- ]]; do
        functions+=("$1")
        shift
    done
    shift
    {
        declare -f publish "${functions[@]}"
        sha256sum "$here/image-tar.py" | cut -d' ' -f1
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-16
}

# publish NAME KEY ROOTFS.tar REF [image-tar.py options...]: packs and caches atomically.
publish() {
    local name=$1 key=$2 rootfs=$3 ref=$4 dest
    shift 4
    dest=$cache_root/images/$name/$key
    rm -rf "$dest.tmp"
    mkdir -p "$dest.tmp"
    python3 "$here/image-tar.py" --rootfs "$rootfs" --ref "$ref" --out "$dest.tmp/image.tar" "$@"
    printf '%s\n' "$ref" >"$dest.tmp/ref"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    log "$name: cached $dest/image.tar ($(du -h "$dest/image.tar" | cut -f1))"
}

cached() { # NAME KEY
    [[ -s $cache_root/images/$1/$2/image.tar && -s $cache_root/images/$1/$2/ref ]]
}

# --- kolla's start path ----------------------------------------------------------------------
kolla_tree() {
    local wheel=$cache_root/kolla/kolla-$kolla_version-py3-none-any.whl
    if [[ ! -s $wheel ]] || [[ $(sha256sum "$wheel" | cut -d' ' -f1) != "$kolla_sha256" ]]; then
        mkdir -p "$cache_root/kolla"
        log "pip download --no-deps kolla==$kolla_version"
        python3 -m pip download --quiet --no-deps --only-binary :all: \
            --dest "$work/kolla-download" "kolla==$kolla_version" >&2
        [[ $(sha256sum "$work/kolla-download/$(basename "$wheel")" | cut -d' ' -f1) == "$kolla_sha256" ]] ||
            die "kolla $kolla_version: digest differs from $kolla_sha256"
        mv "$work/kolla-download/$(basename "$wheel")" "$wheel"
    fi
    if [[ ! -d $work/kolla ]]; then
        mkdir -p "$work/kolla"
        python3 -m zipfile -e "$wheel" "$work/kolla"
    fi
    printf '%s\n' "$work/kolla/kolla/docker"
}

# The customize hook for a service image: what kolla's base Dockerfile and the service's own
# Dockerfile do after the packages are in (docker/base/Dockerfile.j2: the kolla group, the
# COPYs into /usr/local/bin and /etc/sudoers, /var/log/kolla; docker/<service>/Dockerfile.j2:
# the user joins the kolla group, its extend_start becomes kolla_extend_start).
# A user no package made (python3-nova makes none) gets kolla's uid for it (kolla/common/users.py).
write_kolla_hook() { # FILE SERVICE USER UID
    local file=$1 service=$2 user=$3 uid=$4 docker
    docker=$(kolla_tree)
    cat >"$file" <<EOF
set -eu
root=\$1
chroot "\$root" groupadd --gid 42400 kolla
if ! chroot "\$root" id -u $user >/dev/null 2>&1; then
    chroot "\$root" groupadd --gid $uid $user
    chroot "\$root" useradd -l -M --shell /usr/sbin/nologin --uid $uid --gid $uid $user
    install -d -o $uid -g $uid "\$root/var/lib/$user"
fi
chroot "\$root" usermod --append --home /var/lib/$user --groups kolla $user
install -m 0755 $docker/base/set_configs.py "\$root/usr/local/bin/kolla_set_configs"
install -m 0755 $docker/base/start.sh "\$root/usr/local/bin/kolla_start"
install -m 0755 $docker/base/copy_cacerts.sh "\$root/usr/local/bin/kolla_copy_cacerts"
install -m 0755 $docker/base/install_projects.sh "\$root/usr/local/bin/kolla_install_projects"
install -m 0440 $docker/base/sudoers "\$root/etc/sudoers"
install -d -m 2775 -g 42400 "\$root/var/log/kolla"
if [ -f $docker/$service/extend_start.sh ]; then
    install -m 0644 $docker/$service/extend_start.sh "\$root/usr/local/bin/kolla_extend_start"
else
    install -m 0644 /dev/null "\$root/usr/local/bin/kolla_extend_start"
fi
EOF
}

mmdebstrap_rootfs() { # OUT.tar PACKAGES-COMMA HOOK...
    local out=$1 include=$2
    shift 2
    local hooks=() hook
    for hook in "$@"; do
        hooks+=(--customize-hook="$hook")
    done
    # Documentation, manuals and translations left out, as kolla's images do.
    mmdebstrap --mode=root --variant=apt --format=tar --include="$include" \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --aptopt='Acquire::Retries "3"' \
        "${hooks[@]}" \
        "$suite" "$out" \
        "deb $mirror $suite main" "deb $mirror $suite-updates main" \
        "deb $security $suite-security main" </dev/null >&2
}

service_image() { # NAME USER UID PACKAGES...
    local name=$1 user=$2 uid=$3 key t
    shift 3
    local packages=("${common_packages[@]}" "$@")
    key=$(key_of service_image write_kolla_hook mmdebstrap_rootfs -- \
        "$suite" "$mirror" "$security" "kolla $kolla_version $kolla_sha256" \
        "$name $user $uid" "$(candidates "${packages[@]}")")
    keys[$name]=$key
    if cached "$name" "$key"; then
        log "$name: cache hit ($key)"
        return
    fi
    t=$SECONDS
    log "$name: mmdebstrap $suite with ${packages[*]}"
    write_kolla_hook "$work/$name-hook.sh" "$name" "$user" "$uid"
    local extra=()
    if [[ $name == rabbitmq ]]; then
        # docker/rabbitmq/Dockerfile.j2: an empty data directory, the plugins enabled offline.
        extra+=('rm -rf "$1"/var/lib/rabbitmq/* && chroot "$1" rabbitmq-plugins enable --offline rabbitmq_management rabbitmq_prometheus >/dev/null')
    fi
    mmdebstrap_rootfs "$work/$name-rootfs.tar" "$(IFS=,; echo "${packages[*]}")" \
        "bash $work/$name-hook.sh \"\$1\"" "${extra[@]}"
    log "$name: root filesystem in $(elapsed "$t") ($(du -h "$work/$name-rootfs.tar" | cut -f1))"
    publish "$name" "$key" "$work/$name-rootfs.tar" "kollacfg.test/$name:1" \
        --user "$user" --workdir / --env KOLLA_BASE_DISTRO=debian --env "KOLLA_SERVICE_NAME=$name" \
        --cmd kolla_start
    rm -f "$work/$name-rootfs.tar"
    log "$name: built in $(elapsed "$t")"
}

# A root filesystem of one static file.
one_file_rootfs() { # OUT.tar FILE NAME-IN-IMAGE
    mkdir -p "$work/one-file"
    rm -rf "${work:?}/one-file/"*
    install -m 0755 "$2" "$work/one-file/$3"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$1" -C "$work/one-file" .
}

pause_image() {
    local key
    key=$(key_of pause_image one_file_rootfs -- "$(sha256sum <"$here/pause.c")" "$(gcc --version | head -n 1)" \
        "$(dpkg-query -W -f='${Version}' libc6-dev)")
    keys[pause]=$key
    if cached pause "$key"; then
        log "pause: cache hit ($key)"
        return
    fi
    gcc -static -Os -Wall -Werror -o "$work/pause" "$here/pause.c"
    strip "$work/pause"
    [[ $("$work/pause" -v) == "kollacfg test pause" ]] || die "pause: the built binary does not run"
    one_file_rootfs "$work/pause-rootfs.tar" "$work/pause" pause
    publish pause "$key" "$work/pause-rootfs.tar" kollacfg.test/pause:1 --entrypoint /pause
}

kollacfg_image() {
    local t=$SECONDS binary key
    log "kollacfg: tests/tools/static-build.sh (cargo: rebuilds only what changed)"
    local target=${KOLLACFG_STATIC_TARGET:-$HOME/.cache/kollacfg/static-target}
    KOLLACFG_STATIC_TARGET=$target "$repo/tests/tools/static-build.sh" </dev/null >&2
    binary=$target/$(rustc -vV | sed -n 's/^host: //p')/release/kollacfg
    [[ -x $binary ]] || die "kollacfg: $binary was not built"
    key=$(key_of kollacfg_image one_file_rootfs -- "$(sha256sum <"$binary")")
    keys[kollacfg]=$key
    if cached kollacfg "$key"; then
        log "kollacfg: cache hit ($key) after $(elapsed "$t")"
        return
    fi
    one_file_rootfs "$work/kollacfg-rootfs.tar" "$binary" kollacfg
    # The distroless image's nonroot user, by number.
    publish kollacfg "$key" "$work/kollacfg-rootfs.tar" kollacfg.test/kollacfg:1 \
        --user 65532:65532 --entrypoint /kollacfg
    log "kollacfg: built in $(elapsed "$t")"
}

declare -A keys
for name in "${images[@]}"; do
    t=$SECONDS
    case $name in
        pause) pause_image ;;
        rabbitmq) service_image rabbitmq rabbitmq 42439 "${rabbitmq_packages[@]}" ;;
        nova) service_image nova nova 42436 "${nova_packages[@]}" ;;
        kollacfg) kollacfg_image ;;
    esac
    log "$name: ready in $(elapsed "$t")"
done

# The set asked for, as links into the cache, under a name that hashes their keys.
set_key=$(for name in "${images[@]}"; do printf '%s=%s\n' "$name" "${keys[$name]}"; done |
    sha256sum | cut -c1-16)
set_dir=$cache_root/sets/$set_key
if [[ ! -s $set_dir/images.env ]]; then
    rm -rf "$set_dir.tmp"
    mkdir -p "$set_dir.tmp"
    for name in "${images[@]}"; do
        ln -s "../../images/$name/${keys[$name]}/image.tar" "$set_dir.tmp/$name.tar"
        printf 'NODE_IMAGE_%s=%s\n' "${name^^}" "$(cat "$cache_root/images/$name/${keys[$name]}/ref")"
    done >"$set_dir.tmp/images.env"
    rm -rf "$set_dir"
    mv "$set_dir.tmp" "$set_dir"
fi
log "done in $(elapsed): $set_dir"
printf '%s\n' "$set_dir"
