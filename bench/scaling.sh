#!/usr/bin/env bash
# Cost of `kollacfg validate` as the input grows: N ConfigOverride resources (four INI keys
# each, one target) for N = 1k..16k, and one 1..16 MiB value-heavy document. Prints wall time
# and peak RSS (GNU time), and the cost per MiB of YAML and per resource; the doubling ratios
# show whether the cost grows linearly (a ratio near 2 per doubling).
#
# Usage: bench/scaling.sh [BIN]   (default: the release binary of this workspace's target dir)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-}
if [ -z "$bin" ]; then
  target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  cargo build --release -p kollacfg >&2
  bin="$target_dir/release/kollacfg"
fi
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/kollacfg-scaling.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/base/nova-compute"
printf '[DEFAULT]\ndebug = False\n' >"$work/base/nova-compute/nova.conf"

gen_resources() { # N FILE
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: nova-compute, namespace: openstack}\nspec: {service: nova-compute}\n")
    for i in range(n):
        f.write(f"---\napiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\nmetadata: {{name: o-{i}, namespace: openstack}}\nspec:\n  kollaConfigRef: {{name: nova-compute}}\n  file: nova.conf\n  ini:\n    group_{i}:\n      key_a: 'value a {i}'\n      key_b: '{i}'\n      key_c: 'x{i}'\n      key_d: 'true'\n")
PY
}

gen_bytes() { # MiB FILE: one ConfigOverride whose values total about MiB
  python3 - "$1" "$2" <<'PY'
import sys
mib, path = int(sys.argv[1]), sys.argv[2]
keys = mib * 1024
with open(path, "w") as f:
    f.write("apiVersion: kollacfg.dev/v1alpha1\nkind: KollaConfig\nmetadata: {name: nova-compute, namespace: openstack}\nspec: {service: nova-compute}\n---\napiVersion: kollacfg.dev/v1alpha1\nkind: ConfigOverride\nmetadata: {name: big, namespace: openstack}\nspec:\n  kollaConfigRef: {name: nova-compute}\n  file: nova.conf\n  ini:\n    big:\n")
    for i in range(keys):
        f.write(f"      k{i}: '{'v' * 1000}'\n")
PY
}

run() { # FILE -> "ms rss_kib"
  local start end
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/time" "$bin" validate -f "$1" --base "$work/base" \
    >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  end=$(date +%s%N)
  echo "$(((end - start) / 1000000)) $(tail -1 "$work/time")"
}

echo "resources  MiB   wall_ms  rss_MiB  us/resource  ms/MiB"
for n in 1000 2000 4000 8000 16000; do
  gen_resources "$n" "$work/r.yaml"
  mib=$(python3 -c "import os;print(f'{os.path.getsize(\"$work/r.yaml\")/1048576:.2f}')")
  read -r ms rss < <(run "$work/r.yaml")
  python3 -c "print(f'{$n:9d} {$mib:5.2f} {$ms:9d} {$rss/1024:8.1f} {$ms*1000/$n:12.1f} {$ms/$mib:7.1f}')"
done
echo
echo "value MiB   wall_ms  rss_MiB  ms/MiB"
for m in 1 2 4 8 16; do
  gen_bytes "$m" "$work/b.yaml"
  read -r ms rss < <(run "$work/b.yaml")
  python3 -c "print(f'{$m:9d} {$ms:9d} {$rss/1024:8.1f} {$ms/$m:7.1f}')"
done
