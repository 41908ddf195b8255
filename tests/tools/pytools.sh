#!/usr/bin/env bash
# Installs the Python tools the chart tests use into a virtualenv under
#   ~/.cache/kollacfg/pytools/
# and prints the virtualenv's bin directory. Every package is pinned, dependencies included,
# so two machines validate with the same code; changing a pin makes a new virtualenv.
#
# Usage: KOLLACFG_PYTOOLS=$(bash tests/tools/pytools.sh)
# Progress goes to stderr, the path to stdout. Unattended (no stdin) and idempotent.
# Needs python3 with the venv module (Debian: python3-venv) and access to PyPI.
set -euo pipefail

# kubernetes-validate checks manifests against the Kubernetes OpenAPI schemas (1.25 to 1.37);
# the rest are its dependencies, as pip resolved them for this pin.
requirements=(
    kubernetes-validate==1.37.0
    attrs==26.1.0
    importlib_resources==7.1.0
    jsonschema==4.26.0
    jsonschema-specifications==2025.9.1
    packaging==26.3
    PyYAML==6.0.3
    referencing==0.37.0
    rpds-py==2026.9.1
    typing_extensions==4.16.0
)

say() { echo "pytools.sh: $*" >&2; }

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
    say "$python is required"
    exit 1
fi

key=$(printf '%s\n' "$("$python" -c 'import sys; print(sys.version)')" "${requirements[@]}" |
    sha256sum | cut -c1-12)
root=${XDG_CACHE_HOME:-$HOME/.cache}/kollacfg/pytools
venv=$root/venv-$key
stamp=$venv/.complete

if [[ -f $stamp ]]; then
    echo "$venv/bin"
    exit 0
fi

mkdir -p "$root"
# One installer at a time; a second run waits here and then finds the stamp.
exec 9>"$root/.lock"
flock 9
if [[ ! -f $stamp ]]; then
    # A virtualenv is not relocatable, so it is built in place; the stamp, written last, marks
    # it complete, and a half-built one (no stamp) is started over.
    rm -rf "$venv"
    say "creating $venv"
    "$python" -m venv "$venv" </dev/null >&2
    say "installing ${requirements[0]}"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
        "${requirements[@]}" </dev/null >&2
    "$venv/bin/kubernetes-validate" --version </dev/null >&2
    touch "$stamp"
fi
echo "$venv/bin"
