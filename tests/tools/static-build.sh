#!/usr/bin/env bash
# Proves on the host what the Dockerfile's build stage does, without a container engine: runs
# the Dockerfile's own `cargo build` command (read from the Dockerfile, not copied), then checks
# that the binary is statically linked, runs with no shared library at hand, and answers
# `kollacfg --version` and `kollacfg run --help`.
#
#   tests/tools/static-build.sh           build and check
#
# The build's target directory is $KOLLACFG_STATIC_TARGET, by default
# ~/.cache/kollacfg/static-target: kept between clones, cargo rebuilds only what changed.
#   tests/tools/static-build.sh --print   print the command it would run, and stop
#
# A release build: several minutes on two cores. Not part of tests/run; CI runs it on its own.
# Needs the Rust toolchain, file(1) and readelf (binutils); the no-library run needs root
# (chroot) and is skipped otherwise.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

fail() {
    echo "static-build: FAILED: $*" >&2
    exit 1
}

# The Dockerfile's RUN instruction that runs `cargo build`, continuation lines joined, without
# `RUN` and its `--mount=...` options: the shell command the builder runs.
command=$(awk '
    /^RUN / || continued { line = line (continued ? " " : "") $0; continued = sub(/\\$/, "", line) }
    !continued && line != "" { if (line ~ /cargo build/) print line; line = "" }
' Dockerfile | sed -E 's/^RUN +//; s/(--mount=[^ ]+ +)+//; s/  +/ /g')
[[ -n $command ]] || fail "no RUN ... cargo build in the Dockerfile"
[[ $(grep -c . <<<"$command") -eq 1 ]] || fail "more than one RUN ... cargo build in the Dockerfile"
if [[ ${1:-} == --print ]]; then
    printf '%s\n' "$command"
    exit 0
fi

for tool in cargo rustc file readelf; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done
triple=$(rustc -vV | sed -n 's/^host: //p')
# The command builds for the host's own triple, which every toolchain has; say which targets
# are installed, since a musl build would need one more.
if command -v rustup >/dev/null; then
    echo "static-build: installed targets: $(rustup target list --installed | tr '\n' ' ')"
fi

# The release build gets a target directory of its own, away from the test builds, cached.
export CARGO_TARGET_DIR=${KOLLACFG_STATIC_TARGET:-$HOME/.cache/kollacfg/static-target}
mkdir -p "$CARGO_TARGET_DIR"
echo "static-build: in CARGO_TARGET_DIR=$CARGO_TARGET_DIR, running: $command"
start=$(date +%s)
sh -c "$command" </dev/null
elapsed=$(($(date +%s) - start))
binary=$CARGO_TARGET_DIR/$triple/release/kollacfg
[[ -x $binary ]] || fail "$binary was not built"
echo "static-build: built $binary in ${elapsed}s"

# Static: no program interpreter, no shared library needed.
description=$(file -b "$binary")
echo "static-build: file: $description"
[[ $description == *"statically linked"* || $description == *"static-pie linked"* ]] ||
    fail "file(1) does not call $binary statically linked"
if readelf -lW "$binary" | grep -q 'Requesting program interpreter'; then
    fail "$binary asks for a program interpreter (dynamic loader)"
fi
if readelf -dW "$binary" | grep -q '(NEEDED)'; then
    fail "$binary needs shared libraries: $(readelf -dW "$binary" | grep '(NEEDED)')"
fi
ldd_says=$(ldd "$binary" 2>&1 || true)
echo "static-build: ldd: $(tr -s ' \t\n' ' ' <<<"$ldd_says")"
[[ $ldd_says == *"not a dynamic executable"* || $ldd_says == *"statically linked"* ]] ||
    fail "ldd lists libraries for $binary"

# It runs and answers.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
said=$("$binary" --version)
[[ $said == "kollacfg $version" ]] || fail "kollacfg --version said '$said', expected 'kollacfg $version'"
echo "static-build: --version: $said"
help=$("$binary" run --help)
[[ $help == *--namespace* && $help == *--metrics-addr* ]] || fail "kollacfg run --help lacks its flags"
echo "static-build: run --help: ok ($(grep -c . <<<"$help") lines)"

# And with no shared library at hand at all, as in the distroless image: alone in a chroot.
if [[ $(id -u) -eq 0 ]] && command -v chroot >/dev/null; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    cp "$binary" "$root/kollacfg"
    said=$(chroot "$root" /kollacfg --version)
    [[ $said == "kollacfg $version" ]] || fail "alone in a chroot, --version said '$said'"
    chroot "$root" /kollacfg run --help >/dev/null || fail "alone in a chroot, run --help failed"
    echo "static-build: alone in an empty chroot: --version and run --help ok"
else
    echo "static-build: not root: skipped the run in an empty chroot"
fi

echo "static-build: ok: $binary is static ($(du -h "$binary" | cut -f1)), built in ${elapsed}s"
