#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build/fuzz) and runs each one on a working copy of its seed corpus.
#
#   scripts/fuzz.sh --smoke            every target for ${FUZZ_SECONDS:-20} s (what scripts/test.sh runs)
#   scripts/fuzz.sh [SECONDS] [NAME…]  the named targets (default: all) for SECONDS each (default FUZZ_SECONDS or 20)
#
# Targets are tests/fuzz/fuzz_<name>.cpp; seeds are tests/fuzz/corpus/<name>/. The checked-in corpus is never
# written: libFuzzer works on build/fuzz/corpus/<name>/ (refreshed from the seeds on every run, and keeping what
# earlier runs found). A crash, leak, timeout or sanitizer report leaves its input in build/fuzz/artifacts/<name>/
# and makes this script exit 1; add that input to the seed corpus once the bug is fixed.
# Environment: VOXA_BUILD_ROOT (default build), VOXA_JOBS (default 2), FUZZ_SECONDS.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$voxa_root"

seconds="${FUZZ_SECONDS:-20}"
names=()
for arg in "$@"; do
    case "$arg" in
        --smoke) ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *[!0-9]*) names+=("$arg") ;;
        *) seconds="$arg" ;;
    esac
done
if [[ ${#names[@]} -eq 0 ]]; then
    for src in tests/fuzz/fuzz_*.cpp; do
        n="$(basename "$src" .cpp)"
        names+=("${n#fuzz_}")
    done
fi
[[ ${#names[@]} -gt 0 ]] || voxa_die "no tests/fuzz/fuzz_*.cpp targets found"

command -v clang++ >/dev/null 2>&1 || voxa_die "clang++ not found; run scripts/setup.sh"

build="${VOXA_BUILD_ROOT:-build}/fuzz"
# debugoptimized keeps VOXA_ASSERT on (b_ndebug=if-release would drop it). -fsanitize=fuzzer-no-link gives the
# whole library coverage instrumentation, so libFuzzer is guided by the parsers' branches and not only by the
# few lines in each target file.
# shellcheck disable=SC2054  # the commas are inside one meson option value
options=(-Dfuzz=true -Dtests=true -Dbench=false -Dbuildtype=debugoptimized -Db_ndebug=false
         -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
         -Dcpp_args=-fsanitize=fuzzer-no-link)
if [[ -f "$build/build.ninja" ]]; then
    CC=clang CXX=clang++ meson setup --reconfigure "${options[@]}" "$build" >/dev/null \
        || CC=clang CXX=clang++ meson setup --wipe "${options[@]}" "$build" >/dev/null
else
    CC=clang CXX=clang++ meson setup "${options[@]}" "$build" >/dev/null
fi
# Only the fuzz binaries: the unit tests are built and run by the gcc builds.
targets=()
for n in "${names[@]}"; do
    [[ -f "tests/fuzz/fuzz_$n.cpp" ]] || voxa_die "no target tests/fuzz/fuzz_$n.cpp"
    targets+=("fuzz_$n")
done
meson compile -C "$build" -j "$voxa_jobs" "${targets[@]}"

# Sanitizer reports must stop the run so libFuzzer records the input; leaks count as failures.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for n in "${names[@]}"; do
    bin="$build/tests/fuzz/fuzz_$n"
    work="$build/corpus/$n"
    artifacts="$build/artifacts/$n"
    log="$build/fuzz_$n.log"
    mkdir -p "$work" "$artifacts"
    if [[ -d "tests/fuzz/corpus/$n" ]]; then
        cp -r "tests/fuzz/corpus/$n/." "$work/"
    else
        voxa_log "warning: no seed corpus tests/fuzz/corpus/$n; starting empty"
    fi
    start="$(voxa_now)"
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1; then
        runs="$(awk '/stat::number_of_executed_units:/ {print $2}' "$log")"
        echo "fuzz $n: ok, ${runs:-?} runs in $(( $(voxa_now) - start )) s, corpus $(find "$work" -type f | wc -l) inputs"
    else
        echo "fuzz $n: FAILED (log $log, inputs in $artifacts/)"
        tail -n 40 "$log"
        failed+=("$n")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: ${#failed[@]} of ${#names[@]} targets failed: ${failed[*]}"
    exit 1
fi
echo "fuzz: all ${#names[@]} targets ran ${seconds} s without a finding"
