#!/usr/bin/env bash
# Builds a real kube-apiserver, kube-controller-manager, and for the test node (tests/node/)
# kubelet and kube-scheduler (Kubernetes 1.20) from Debian bookworm's `kubernetes` source package
# and caches them, with Debian's kubectl 1.20, under
#   ${KOLLACFG_KUBE_CACHE:-~/.cache/kollacfg/kube}/<debian source version>/bin/
# A cache that has the API server, controller manager and kubectl but not the node's two (made
# before they were built here) gets only those two, from the same source fetched again; a fresh
# machine builds all in one pass.
#
# Usage: tests/e2e/kube-build.sh
#   Prints progress ("kube-build: ...") on stderr and the cache's bin directory, alone, on
#   stdout. Unattended (no stdin); run as root on a machine that still lacks a package.
#   A run that finds the cache complete only checks it and returns in about a second.
#
# kubectl: Debian's kubernetes-client is installed when /usr/bin/kubectl is free; when another
# package owns that path (a newer kubectl), the client's .deb is unpacked into the cache instead,
# leaving the machine's kubectl alone. Either way bin/kubectl in the cache is the 1.20 client.
#
# Environment:
#   KOLLACFG_KUBE_CACHE  cache root (default ~/.cache/kollacfg/kube)
#   KUBE_BUILD_TMPDIR    where the build tree goes (default /var/tmp); removed afterwards
#   KUBE_BUILD_KEEP=1    keep the build tree (also after a failure) for inspection
set -euo pipefail

started=$SECONDS
log() { printf 'kube-build: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
elapsed() { printf '%ds' "$((SECONDS - ${1:-$started}))"; }
# shellcheck source=tests/e2e/apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

# golang-go, make and rsync build (gcc and libc6-dev for kubelet's cgo); etcd-server, openssl and
# curl run the cluster (kube-up.sh); golang-github-modern-go-reflect2-dev replaces a vendored
# library that breaks under Go 1.19.
packages=(golang-go etcd-server rsync make gcc libc6-dev openssl curl golang-github-modern-go-reflect2-dev)

need_root() {
    [[ $(id -u) -eq 0 ]] || die "$1 (run as root)"
}

# "deb-src <release> <component>" for every configured source index, and whether its list
# file has been downloaded.
source_targets() {
    # shellcheck disable=SC2016 # apt's own $(FIELD) placeholders
    apt-get indextargets --no-release-info \
        --format '$(TARGET_OF) $(RELEASE) $(COMPONENT) $(FILENAME)' 'Created-By: Sources' 2>/dev/null
}

have_deb_src() {
    source_targets | awk '$1 == "deb-src" && $2 == "bookworm" && $3 == "main" { found = 1 } END { exit !found }'
}

have_source_index() {
    local file
    while read -r _ release component file; do
        [[ $release == bookworm && $component == main ]] || continue
        compgen -G "$file*" >/dev/null && return 0
    done < <(source_targets)
    return 1
}

# The URI and Signed-By keyring of the deb822 stanza that serves bookworm binaries.
debian_stanza_field() {
    local field=$1
    awk -v field="$field" '
        function flush() {
            if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && value != "" && !done) {
                print value; done = 1
            }
            types = ""; suites = ""; value = ""
        }
        /^[[:space:]]*$/ { flush(); next }
        /^#/ { next }
        {
            key = $1; sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
            if (tolower(key) == "types") types = $0
            else if (tolower(key) == "suites") suites = $0
            else if (tolower(key) == tolower(field)) value = $0
        }
        END { flush() }
    ' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1
}

add_deb_src() {
    local uri keyring file=/etc/apt/sources.list.d/kollacfg-deb-src.sources
    uri=$(debian_stanza_field URIs)
    uri=${uri%% *}
    keyring=$(debian_stanza_field Signed-By)
    : "${uri:=http://deb.debian.org/debian}"
    : "${keyring:=/usr/share/keyrings/debian-archive-keyring.gpg}"
    log "adding deb-src for bookworm main ($uri, Signed-By $keyring) in $file"
    cat >"$file" <<EOF
Types: deb-src
URIs: $uri
Suites: bookworm
Components: main
Signed-By: $keyring
EOF
}

# --- packages and source index -------------------------------------------------------------
missing=()
for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
done

# kubectl 1.20 comes from kubernetes-client. When /usr/bin/kubectl already belongs to another
# package (images often ship a newer kubectl there), the .deb is unpacked into the cache instead
# of overwriting that file.
kubectl_owner=$(dpkg-query -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1 || true)
install_client=0
if ! installed kubernetes-client && [[ -z $kubectl_owner ]]; then
    install_client=1
    missing+=(kubernetes-client)
fi

deb_src_added=0
if ! have_deb_src; then
    need_root "no deb-src entry for bookworm main"
    add_deb_src
    deb_src_added=1
fi

if ((${#missing[@]} > 0 || deb_src_added)) || ! have_source_index; then
    need_root "missing: ${missing[*]:-source index}"
    t=$SECONDS
    log "apt-get update"
    apt-get "${apt_options[@]}" update </dev/null >&2
    log "apt-get update done in $(elapsed "$t")"
fi

if ((${#missing[@]} > 0)); then
    # etcd-server's package would start a system-wide etcd: kube-up.sh runs its own.
    apt_install "${missing[@]}"
fi

version=$(apt-cache showsrc --only-source kubernetes 2>/dev/null |
    awk '/^Version:/ { print $2 }' | sort -V | tail -n 1)
[[ -n $version ]] || die "apt-cache showsrc kubernetes found no version (is deb-src reachable?)"

cache_root=${KOLLACFG_KUBE_CACHE:-$HOME/.cache/kollacfg/kube}
cache=$cache_root/$version
bin=$cache/bin
mkdir -p "$cache_root"

# One build per machine at a time; a second caller waits and then finds the cache complete.
exec 9>"$cache_root/.lock"
flock 9

has_tools() { # TOOL...
    local tool
    for tool in "$@"; do
        [[ -x $bin/$tool ]] || return 1
    done
    [[ -e $cache/complete ]]
}

if has_tools kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler; then
    log "cache hit: $bin (kubernetes $version) in $(elapsed)"
    printf '%s\n' "$bin"
    exit 0
fi

# --- build ---------------------------------------------------------------------------------
# Only the node's kubelet and kube-scheduler when the rest is cached already; all otherwise.
node_only=0
if has_tools kube-apiserver kube-controller-manager kubectl; then
    node_only=1
    log "building kubelet and kube-scheduler from kubernetes $version (the rest is cached in $bin)"
else
    log "building kube-apiserver, kube-controller-manager, kube-scheduler and kubelet from kubernetes $version"
fi
command -v go >/dev/null || die "go not found"
log "$(go version)"

work=$(mktemp -d "${KUBE_BUILD_TMPDIR:-/var/tmp}/kollacfg-kube-build.XXXXXX")
cleanup() {
    local status=$? t=$SECONDS
    if [[ ${KUBE_BUILD_KEEP:-0} == 1 ]]; then
        log "keeping the build tree $work"
    else
        chmod -R u+w "$work" 2>/dev/null || true
        rm -rf "$work"
        log "removed the build tree in $(elapsed "$t")"
    fi
    if ((status == 0)); then
        log "done in $(elapsed)"
    else
        log "failed after $(elapsed)"
    fi
    exit "$status"
}
trap cleanup EXIT

# apt-get fetches as the _apt user: let it write the download directory.
mkdir -p "$work/download"
chmod 0755 "$work" "$work/download"
chown _apt "$work/download" 2>/dev/null || true

t=$SECONDS
log "apt-get source --download-only kubernetes=$version"
(cd "$work/download" && apt-get "${apt_options[@]}" source --download-only "kubernetes=$version" </dev/null >&2)
orig=$(compgen -G "$work/download/kubernetes_*.orig.tar.gz" | head -n 1 || true)
[[ -n $orig ]] || die "no .orig.tar.gz among $(ls "$work/download")"
log "downloaded $(basename "$orig") ($(du -h "$orig" | cut -f1)) in $(elapsed "$t")"

# kubectl: Debian's 1.20 client, installed, or unpacked from its .deb into the cache.
mkdir -p "$work/bin"
if ((node_only)); then
    :
elif installed kubernetes-client; then
    ln -s /usr/bin/kubectl "$work/bin/kubectl"
else
    log "unpacking kubernetes-client's kubectl (/usr/bin/kubectl belongs to ${kubectl_owner:-nothing})"
    (cd "$work/download" && apt-get "${apt_options[@]}" download kubernetes-client </dev/null >&2)
    deb=$(compgen -G "$work/download/kubernetes-client_*.deb" | head -n 1 || true)
    [[ -n $deb ]] || die "apt-get download kubernetes-client fetched nothing"
    dpkg-deb -x "$deb" "$work/client"
    cp "$work/client/usr/bin/kubectl" "$work/bin/kubectl"
fi
((install_client == 0)) || installed kubernetes-client || die "kubernetes-client did not install"

t=$SECONDS
gopath=$work/gopath
tree=$gopath/src/k8s.io/kubernetes
mkdir -p "$tree"
tar -xzf "$orig" -C "$tree" --strip-components=1
[[ -f $tree/cmd/kube-apiserver/apiserver.go ]] || die "unexpected layout in $(basename "$orig")"
log "unpacked in $(elapsed "$t")"

export GOPATH=$gopath GOCACHE=$work/gocache GO111MODULE=off CGO_ENABLED=0 GOFLAGS='' GOPROXY=off
cd "$tree"

t=$SECONDS
log "make generated_files"
make generated_files </dev/null >&2
log "generated files in $(elapsed "$t")"

# The vendored reflect2 v1.0.1 faults under Go 1.18+ on the first custom resource the server
# serialises; Debian's v1.0.2 is API-compatible.
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
[[ -d $reflect2 ]] || die "$reflect2 missing (golang-github-modern-go-reflect2-dev)"
rm -rf vendor/github.com/modern-go/reflect2
cp -rL "$reflect2" vendor/github.com/modern-go/reflect2
log "vendor/github.com/modern-go/reflect2 replaced with Debian's $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"

# Report the upstream release the package carries ("1.20.5+really1.20.2-1.1+deb12u1" is 1.20.2)
# rather than v0.0.0-master, so clients see a plain 1.20 server.
upstream=${version#*:}
upstream=${upstream%-*}
upstream=${upstream##*really}
upstream=${upstream%%+*}
major=${upstream%%.*}
minor=${upstream#*.}
minor=${minor%%.*}
# Both packages carry the version: component-base's for --version, client-go's for /version.
ldflags="-s -w"
for versionpkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version \
    k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
    ldflags+=" -X $versionpkg.gitVersion=v$upstream -X $versionpkg.gitMajor=$major"
    ldflags+=" -X $versionpkg.gitMinor=$minor -X $versionpkg.gitTreeState=clean"
done

built=(kube-scheduler)
((node_only)) || built+=(kube-apiserver kube-controller-manager)
t=$SECONDS
log "go build ${built[*]/#/./cmd/} (GOPATH mode, v$upstream)"
go build -ldflags "$ldflags" -o "$work/bin/" "${built[@]/#/./cmd/}" </dev/null >&2
log "built in $(elapsed "$t")"
built+=(kubelet)

# kubelet talks to the host through cgo (cadvisor, the mount and cgroup helpers): CGO on.
t=$SECONDS
log "go build ./cmd/kubelet (GOPATH mode, cgo, v$upstream)"
CGO_ENABLED=1 go build -ldflags "$ldflags" -o "$work/bin/" ./cmd/kubelet </dev/null >&2
log "built in $(elapsed "$t")"

for tool in "${built[@]}"; do
    reported=$("$work/bin/$tool" --version 2>&1 || true)
    log "$tool: $reported, $(du -h "$work/bin/$tool" | cut -f1)"
done

cd /
if ((node_only)); then
    # Beside the cached binaries, which other runs may be using: one rename each, no gap;
    # kube-scheduler last, as the marker that both are there.
    for tool in kubelet kube-scheduler; do
        cp "$work/bin/$tool" "$bin/.$tool.tmp"
        mv "$bin/.$tool.tmp" "$bin/$tool"
    done
    printf 'kubelet and kube-scheduler built %s with %s\n' "$(date -u +%FT%TZ)" "$(go version)" \
        >>"$cache/complete"
    log "cached kubelet and kube-scheduler in $bin"
    printf '%s\n' "$bin"
    exit 0
fi
log "kubectl: $("$work/bin/kubectl" version --client --short 2>/dev/null || true)"

# Publish the complete set at once.
rm -rf "$cache.tmp"
mkdir -p "$cache.tmp"
cp -a "$work/bin" "$cache.tmp/bin"
printf 'kubernetes %s (v%s), built %s with %s\n' "$version" "$upstream" "$(date -u +%FT%TZ)" \
    "$(go version)" >"$cache.tmp/complete"
rm -rf "$cache"
mv "$cache.tmp" "$cache"
log "cached in $bin"
printf '%s\n' "$bin"
