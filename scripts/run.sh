#!/usr/bin/env bash
# The main job. At this stage of the project: install what is missing, build, and run the whole protocol in one
# process — a network of 15 relays and two endpoints with seeded loss, reordering, duplication and corruption,
# one 64 MiB message split n=5/k=3 over relay-disjoint 3-hop circuits, verified by hash, and a reply.
# Exits 0 only if every byte verified. Extra arguments go to voxa-sim-demo (see --help there).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
if [ ! -f build/release/build.ninja ]; then
  meson setup build/release --buildtype=release -Dwerror=true >/dev/null
fi
meson compile -C build/release -j "$(nproc)" voxa-sim-demo >/dev/null

args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  args=(--bytes 67108864 --loss 0.05 --reorder 0.02 --duplicate 0.01 --corrupt 0.001 --seed 7)
fi
exec build/release/dataplane/tools/voxa-sim-demo "${args[@]}"
