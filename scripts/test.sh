#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run): install packages, then
#   (a) release build (gcc, -Dwerror=true) in build/release and every meson test;
#   (b) ASan+UBSan debug build in build/asan and every meson test under the sanitizers;
#   (c) ThreadSanitizer build of the reactor and its rings (scripts/tsan.sh);
#   (d) fuzz smoke: scripts/fuzz.sh --smoke (clang + libFuzzer, each target ~20 s on its corpus).
# Integration tests (real daemons on loopback and in network namespaces) run in (a); the light ones in (b) too.
# Every stage runs even when an earlier one failed, so one run shows everything that is broken.
# The last line is `N passed, M failed` (`, S skipped` when any were skipped): meson test results summed over
# both builds; a stage that fails without producing test results (set-up, compile, a fuzz finding) counts as
# one failure. Exits 1 if anything failed.
# Environment: VOXA_BUILD_ROOT (default build), VOXA_JOBS (default 2), FUZZ_SECONDS, VOXA_SKIP_FUZZ=1,
# VOXA_SKIP_ASAN=1 (for quick local runs; CI sets neither).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$voxa_root"

root="${VOXA_BUILD_ROOT:-build}"
passed=0
failed=0
skipped=0
timings=()
failures=()

stage_failed() {   # a stage broke before or instead of producing test results
    failed=$((failed + 1))
    failures+=("$1")
    echo "=== FAILED: $1"
}

# meson_setup DIR OPTION...: configure DIR, or reconfigure it when it exists; wipe only if reconfiguring fails
# (for instance after a meson upgrade).
meson_setup() {
    local dir="$1"
    shift
    if [[ -f "$dir/build.ninja" ]]; then
        meson setup --reconfigure "$@" "$dir" >"$dir.setup.log" 2>&1 \
            || meson setup --wipe "$@" "$dir" >"$dir.setup.log" 2>&1
    else
        mkdir -p "$(dirname "$dir")"
        meson setup "$@" "$dir" >"$dir.setup.log" 2>&1
    fi
    local rc=$?
    [[ $rc -eq 0 ]] || tail -n 40 "$dir.setup.log"
    return $rc
}

# count_results DIR: adds DIR's meson-logs/testlog.json to the totals; prints this run's counts.
count_results() {
    local log="$1/meson-logs/testlog.json"
    if [[ ! -s "$log" ]]; then
        stage_failed "tests in $1 produced no testlog.json"
        return
    fi
    local counts
    counts="$(python3 - "$log" <<'PY'
import json, sys
ok = bad = skip = 0
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        result = json.loads(line).get("result", "ERROR")
        if result in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif result == "SKIP":
            skip += 1
        else:   # FAIL, TIMEOUT, UNEXPECTEDPASS, ERROR, INTERRUPT
            bad += 1
print(ok, bad, skip)
PY
)"
    local ok bad skip
    read -r ok bad skip <<<"$counts"
    passed=$((passed + ok))
    failed=$((failed + bad))
    skipped=$((skipped + skip))
    echo "=== $1: $ok passed, $bad failed, $skip skipped"
}

# build_and_test NAME DIR -- SETUP_OPTION... -- TEST_OPTION...
build_and_test() {
    local name="$1" dir="$2"
    shift 3
    local setup_opts=() test_opts=()
    while [[ $# -gt 0 && "$1" != "--" ]]; do setup_opts+=("$1"); shift; done
    [[ $# -gt 0 ]] && shift
    test_opts=("$@")
    local start
    start="$(voxa_now)"
    echo "=== $name: $dir"
    if ! meson_setup "$dir" "${setup_opts[@]}"; then
        stage_failed "$name: meson setup"
    elif ! meson compile -C "$dir" -j "$voxa_jobs"; then
        stage_failed "$name: compile"
    else
        # A stale testlog.json from an earlier run must not be counted again.
        rm -f "$dir/meson-logs/testlog.json"
        meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$voxa_jobs" "${test_opts[@]}" || true
        count_results "$dir"
    fi
    timings+=("$name $(( $(voxa_now) - start )) s")
}

start="$(voxa_now)"
if ! scripts/setup.sh; then
    stage_failed "setup.sh"
fi
timings+=("setup $(( $(voxa_now) - start )) s")

# Every optional component setup.sh installs is required here: a missing one fails the build instead of silently
# dropping its tests.
features=(-Ddpdk=enabled -Dapi=enabled -Dopendht=enabled)
build_and_test release "$root/release" -- --buildtype=release -Dwerror=true "${features[@]}" --

if [[ "${VOXA_SKIP_ASAN:-0}" != 1 ]]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    build_and_test asan "$root/asan" \
        -- -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Dwerror=true -Dbench=false "${features[@]}" \
        -- --timeout-multiplier 4 --no-suite integration-heavy
    unset ASAN_OPTIONS UBSAN_OPTIONS   # fuzz.sh sets its own
fi

if [[ "${VOXA_SKIP_TSAN:-0}" != 1 ]]; then
    # The reactor, its rings and doorbells under ThreadSanitizer (only those targets are built).
    start="$(voxa_now)"
    echo "=== tsan: $root/tsan"
    rm -f "$root/tsan/meson-logs/testlog.json"
    VOXA_BUILD_ROOT="$root" scripts/tsan.sh || true
    if [[ -f "$root/tsan/meson-logs/testlog.json" ]]; then
        count_results "$root/tsan"
    else
        stage_failed "tsan"
    fi
    timings+=("tsan $(( $(voxa_now) - start )) s")
fi

if [[ "${VOXA_SKIP_FUZZ:-0}" != 1 ]]; then
    start="$(voxa_now)"
    echo "=== fuzz smoke"
    if ! VOXA_BUILD_ROOT="$root" scripts/fuzz.sh --smoke; then
        stage_failed "fuzz smoke"
    fi
    timings+=("fuzz $(( $(voxa_now) - start )) s")
fi

joined="$(IFS=,; echo "${timings[*]}")"
echo "=== stage times: ${joined//,/, }"
if [[ ${#failures[@]} -gt 0 ]]; then
    echo "=== stage failures: $(IFS=';'; echo "${failures[*]}")"
fi
summary="$passed passed, $failed failed"
[[ $skipped -gt 0 ]] && summary+=", $skipped skipped"
echo "$summary"
[[ $failed -eq 0 ]]
