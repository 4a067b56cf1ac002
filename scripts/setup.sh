#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing, fuzzing and benchmarking voxa needs.
# Idempotent: asks dpkg first and touches apt only when something is missing; a second run prints one line.
# Runs as root, or through sudo when that is present; otherwise prints the command to run and fails.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export DEBIAN_FRONTEND=noninteractive

# Keep this list in step with docs/OPERATIONS.md.
packages=(
    build-essential g++ clang lld llvm libclang-rt-14-dev   # gcc for release/ASan, clang + libFuzzer for fuzzing
    meson ninja-build pkg-config
    libsodium-dev libisal-dev libssl-dev nlohmann-json3-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    liburing-dev libsqlite3-dev
    libpistache-dev                                       # the REST api plugin
    prometheus wrk                                        # promtool check metrics; REST benchmarks
    libdpdk-dev dpdk dpdk-dev ethtool                     # the DPDK backend; dpdk-testpmd, dpdk-telemetry.py
    libopendht-dev                                        # the registry's decentralized backend
    gnuplot-nox python3 iproute2
)

command -v dpkg-query >/dev/null 2>&1 || voxa_die "dpkg-query not found: this script supports Debian 12 only"

installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == "ii " ]]
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done

# npm (the OpenAPI validator of the api tests): Debian's nodejs + npm, unless an npm is already on the PATH (for
# instance from nodesource, whose nodejs conflicts with Debian's npm package): then nothing is added.
if ! command -v npm >/dev/null 2>&1; then
    for p in nodejs npm; do
        installed "$p" || missing+=("$p")
    done
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup: all ${#packages[@]} packages present"
    exit 0
fi

if ! sudo_cmd="$(voxa_sudo)"; then
    voxa_die "missing packages: ${missing[*]}; run as root: apt-get update && apt-get install -y ${missing[*]}"
fi

voxa_log "installing: ${missing[*]}"
$sudo_cmd apt-get update -qq

# A package this Debian does not know (apt-cache policy shows no candidate) is left out with a warning rather
# than failing the whole install; the build then says what it lacks.
wanted=()
for p in "${missing[@]}"; do
    candidate="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    if [[ -z "$candidate" || "$candidate" == "(none)" ]]; then
        voxa_log "warning: no package $p in the configured apt sources; skipped"
    else
        wanted+=("$p")
    fi
done

if [[ ${#wanted[@]} -gt 0 ]]; then
    $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${wanted[@]}" \
        >/dev/null
fi

still=()
for p in "${wanted[@]}"; do
    installed "$p" || still+=("$p")
done
[[ ${#still[@]} -eq 0 ]] || voxa_die "apt-get did not install: ${still[*]}"
echo "setup: installed ${#wanted[@]} packages (${wanted[*]})"
