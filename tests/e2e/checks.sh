# shellcheck shell=bash
# Counted checks for the smoke scripts (tests/e2e/smoke.sh, tests/node/smoke.sh). Source it
# with `smoke` set (the prefix of every line it prints); set `work` (a directory: each check's
# output goes to $work/checks/) before the first check. `started` (default: now) times the run.
: "${smoke:?set smoke before sourcing checks.sh}"
started=${started:-$SECONDS}
passed=0
failed=0
failures=()

log() { printf '%s: %s\n' "$smoke" "$*" >&2; }

# summary: the closing lines; "<smoke>: N passed, N failed" on stdout.
summary() {
    log "--------------------------------------------------------------------------------"
    if ((failed == 0 && passed > 0)); then
        log "PASS: all $passed checks in $((SECONDS - started))s"
    else
        log "FAIL: ${failures[*]:-nothing ran} ($((SECONDS - started))s)"
    fi
    printf '%s: %d passed, %d failed\n' "$smoke" "$passed" "$failed"
}

# check NAME FUNCTION: runs FUNCTION with errexit in a subshell (outside any condition, so
# errexit holds inside it), its output in $work/checks/; counts the result.
check() {
    local name=$1 fn=$2 out status t=$SECONDS
    mkdir -p "$work/checks"
    out=$work/checks/$((passed + failed + 1))-$fn.log
    set +e
    (
        set -euo pipefail
        "$fn"
    ) >"$out" 2>&1
    status=$?
    set -e
    if ((status == 0)); then
        passed=$((passed + 1))
        log "ok   $name ($((SECONDS - t))s)"
    else
        failed=$((failed + 1))
        failures+=("$fn")
        log "FAIL $name ($((SECONDS - t))s); last output:"
        tail -n 20 "$out" | sed 's/^/    /' >&2
    fi
}

# until_true SECONDS COMMAND...: retries COMMAND every half second until it succeeds.
until_true() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        if ((SECONDS >= deadline)); then
            echo "timed out: $*"
            return 1
        fi
        sleep 0.5
    done
}
