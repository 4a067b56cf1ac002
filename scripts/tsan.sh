#!/usr/bin/env bash
# ThreadSanitizer run of the lock-free code: the worker reactor's SPSC handover rings, the doorbell and the reactor
# loop (tests/unit/reactor), and the shared-memory channel's rings and stats seqlock (tests/unit/shm); both are in
# meson suite 'reactor'.
#
#   scripts/tsan.sh    configures ${VOXA_BUILD_ROOT:-build}/tsan once (gcc, -Db_sanitize=thread -Dbuildtype=debug
#                      -Dbench=false -Dwerror=true), builds test_reactor and test_shm, and runs
#                      `meson test --suite reactor --print-errorlogs` with TSAN_OPTIONS=halt_on_error=1.
#
# The last line says whether the suite passed; exits 1 if configuring, building or any test failed (a data race
# reported by TSan fails its test). Environment: VOXA_BUILD_ROOT (default build), VOXA_JOBS (default 2).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$voxa_root"

command -v g++ >/dev/null 2>&1 || voxa_die "g++ not found; run scripts/setup.sh"
dir="${VOXA_BUILD_ROOT:-build}/tsan"
options=(-Db_sanitize=thread -Dbuildtype=debug -Dbench=false -Dwerror=true)

fail() {
    voxa_log "$1"
    echo "tsan: FAILED ($1)"
    exit 1
}

# Configure once; reconfigure an existing directory (wiping it only if that fails, e.g. after a meson upgrade).
mkdir -p "$(dirname "$dir")"
if [[ -f "$dir/build.ninja" ]]; then
    CC=gcc CXX=g++ meson setup --reconfigure "${options[@]}" "$dir" >"$dir.setup.log" 2>&1 \
        || CC=gcc CXX=g++ meson setup --wipe "${options[@]}" "$dir" >"$dir.setup.log" 2>&1 \
        || { tail -n 40 "$dir.setup.log"; fail "meson setup of $dir; see $dir.setup.log"; }
else
    CC=gcc CXX=g++ meson setup "${options[@]}" "$dir" >"$dir.setup.log" 2>&1 \
        || { tail -n 40 "$dir.setup.log"; fail "meson setup of $dir; see $dir.setup.log"; }
fi

# Only what the suite needs (the core library, test_reactor and test_shm), not the whole tree.
ninja -C "$dir" -j "$voxa_jobs" tests/unit/reactor/test_reactor tests/unit/shm/test_shm \
    || fail "building test_reactor and test_shm under TSan"

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1${TSAN_OPTIONS:+ $TSAN_OPTIONS}"
if meson test -C "$dir" --no-rebuild --suite reactor --print-errorlogs --num-processes "$voxa_jobs"; then
    echo "tsan: reactor suite passed under ThreadSanitizer ($dir)"
else
    fail "reactor suite under ThreadSanitizer; see $dir/meson-logs/testlog.txt"
fi
