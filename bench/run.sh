#!/usr/bin/env bash
# Runs the whole benchmark: the engine against its floors and the Python reference
# (cargo bench), then the real `kollacfg render` on the same inputs, read from YAML, for wall
# time and peak memory (max RSS from /usr/bin/time -v).
#
# Usage: bench/run.sh            (from anywhere; release builds)
# Environment: RUNS (CLI runs per input, default 5), KEEP=1 keeps the work directory, and the
# KOLLACFG_BENCH_* variables of crates/kollacfg-render/benches/render.rs.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (Debian package 'time') for max RSS"
  apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi

target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/kollacfg"

echo "== building (release)"
cargo build --release -p kollacfg
cargo bench -p kollacfg-render --bench render --no-run

work=$(mktemp -d "${TMPDIR:-/tmp}/kollacfg-bench.XXXXXX")
if [ "${KEEP:-0}" != 1 ]; then
  trap 'rm -rf "$work"' EXIT
fi

echo
echo "== engine, floors and Python reference (cargo bench)"
KOLLACFG_BENCH_EMIT="$work/inputs" cargo bench -p kollacfg-render --bench render

# One CLI measurement: prints "<wall ms> <max RSS KiB>", checks the output against the engine's.
measure() {
  local dir=$1 service=$2 out=$3
  rm -rf "$out"
  local start end
  start=$(date +%s%N)
  /usr/bin/time -v -o "$out.time" "$bin" render -f "$dir/resources" --base "$dir/base" \
    --out "$out" >"$out.log" 2>&1 || {
    echo "kollacfg render failed:" >&2
    cat "$out.log" "$out.time" >&2
    exit 1
  }
  end=$(date +%s%N)
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
  echo "$(((end - start) / 1000000)) $rss"
}

# median and min of the numbers on stdin
stats() {
  sort -n | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2;
    printf "%s %s %s\n", m, v[1], v[NR]}'
}

echo
echo "== kollacfg render (release binary, YAML loading included), $RUNS runs each"
printf '%-9s %-7s %9s %16s %14s %9s\n' case layout docs "wall ms med(min)" "max RSS MiB" "output"
for case in rabbitmq nova; do
  case $case in
    rabbitmq) service=rabbitmq; file=definitions.json ;;
    nova) service=nova-compute; file=nova.conf ;;
  esac
  for layout in stream files; do
    dir="$work/inputs/$case/$layout"
    docs=$(find "$dir/resources" -name '*.yaml' -exec cat {} + | grep -c '^kind:')
    : >"$work/walls" && : >"$work/rss"
    for _ in $(seq "$RUNS"); do
      read -r wall rss < <(measure "$dir" "$service" "$work/out")
      echo "$wall" >>"$work/walls"
      echo "$rss" >>"$work/rss"
    done
    if cmp -s "$work/out/$service/$file" "$work/inputs/$case/expected/$service/$file"; then
      same="=engine"
    else
      same="DIFFERS"
    fi
    read -r wmed wmin _ < <(stats <"$work/walls")
    read -r _ _ rmax < <(stats <"$work/rss")
    printf '%-9s %-7s %9s %16s %14s %9s\n' "$case" "$layout" "$docs" "$wmed ($wmin)" \
      "$(awk -v k="$rmax" 'BEGIN {printf "%.1f", k / 1024}')" "$same"
  done
done

# The process's own floor: the rabbitmq KollaConfig alone, same base, no fragments.
floor="$work/floor"
mkdir -p "$floor/resources"
cp "$work/inputs/rabbitmq/stream/resources/kollaconfig.yaml" "$floor/resources/"
cp -r "$work/inputs/rabbitmq/stream/base" "$floor/base"
: >"$work/rss"
for _ in $(seq "$RUNS"); do
  read -r _ rss < <(measure "$floor" rabbitmq "$work/out")
  echo "$rss" >>"$work/rss"
done
read -r _ _ rmax < <(stats <"$work/rss")
printf '%-9s %-7s %9s %16s %14s\n' rabbitmq "no frag" 1 "-" \
  "$(awk -v k="$rmax" 'BEGIN {printf "%.1f", k / 1024}')"
echo
echo "max RSS is the largest of the runs; target: <= 64 MiB for the 10k-policy rabbitmq case"
if [ "${KEEP:-0}" = 1 ]; then
  echo "inputs and outputs kept in $work"
fi
