#!/usr/bin/env bash
# The single-relay forwarding benchmarks of the DPDK issue, all in one run (median of --runs each):
#
#   bench/dpdk/run.sh [--build DIR] [--runs R] [--seconds S] [--out D] [--skip memif,af_packet,uring,testpmd]
#
#   crypto    voxa-microbench BM_RelayPeel/1280 (the relay's crypto alone, one core): the rate it allows
#   memif     voxa-bench relay on bench/dpdk/memif-net.sh: all three nodes DPDK on net_memif pairs, relay pinned
#             to core 1, origin and destination on core 0
#   af_packet voxa-bench relay --start --backend dpdk: the relay DPDK on net_af_packet over its veth (devnet.sh
#             --backend mixed --dpdk-nodes 0), origin and destination io_uring
#   uring     voxa-bench relay --start --backend uring: every node io_uring (with the voxa-udp-forward baseline)
#   testpmd   bench/dpdk/testpmd-memif.sh: dpdk-testpmd io-forward on the same memif setup (the I/O ceiling)
#
# Writes D/{crypto,memif,af_packet,uring,testpmd}.json and D/summary.json (default D = /tmp/voxa-dpdk-bench),
# prints a table (cells/s, Gbit/s, CPU ns per cell) and the issue's ratios: memif relay / crypto rate (target
# >= 0.7) and memif relay / io_uring relay cells/s (target >= 1.5). Namespaced runs follow VOXA_NETNS_PREFIX
# (scripts/netns.sh). Needs root. On a 2-core machine the origin and the destination share one core: the relay
# is then bounded by what the origin can generate, not by its own cost; CPU ns per cell is the figure that
# compares the relays themselves (see the notes printed with the table).
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

build=build/release
runs=5
seconds=3
out=/tmp/voxa-dpdk-bench
skip=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build) build="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --skip) skip="$2"; shift 2 ;;
        *) voxa_die "unknown option: $1" ;;
    esac
done
[[ "$build" == /* ]] || build="$voxa_root/$build"
[[ "$(id -u)" -eq 0 ]] || voxa_die "needs root"
bench="$build/bench/e2e/voxa-bench"
micro="$build/bench/voxa-microbench"
[[ -x "$bench" && -x "$micro" ]] || voxa_die "build voxa-bench and voxa-microbench in $build first"
mkdir -p "$out"
want() { [[ ",$skip," != *",$1,"* ]]; }

if want crypto; then
    voxa_log "crypto: BM_RelayPeel/1280 x $runs"
    "$micro" --benchmark_filter='^BM_RelayPeel/1280$' --benchmark_repetitions="$runs" \
        --benchmark_report_aggregates_only=true --benchmark_format=json >"$out/crypto.json" 2>/dev/null \
        || voxa_log "crypto: voxa-microbench failed"
fi
if want memif; then
    voxa_log "memif: DPDK relay on net_memif"
    if "$voxa_root/bench/dpdk/memif-net.sh" start --dir "$out/memif-net" --build "$build"; then
        "$bench" relay --devnet "$out/memif-net" --runs "$runs" --seconds "$seconds" --json "$out/memif.json"
        "$voxa_root/bench/dpdk/memif-net.sh" stop --dir "$out/memif-net"
    fi
fi
if want af_packet; then
    voxa_log "af_packet: DPDK relay on net_af_packet (mixed devnet)"
    "$bench" relay --start --backend dpdk --devnet "$out/afp-net" --runs "$runs" --seconds "$seconds" \
        --json "$out/af_packet.json"
fi
if want uring; then
    voxa_log "uring: io_uring relay"
    "$bench" relay --start --backend uring --devnet "$out/uring-net" --runs "$runs" --seconds "$seconds" \
        --json "$out/uring.json"
fi
if want testpmd; then
    voxa_log "testpmd: io-forward on memif"
    "$voxa_root/bench/dpdk/testpmd-memif.sh" --runs "$runs" --seconds "$((seconds + 2))" --dir "$out/testpmd" \
        --json "$out/testpmd.json"
fi

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        with open(f"{out}/{name}.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
rows, summary = [], {}
crypto = load("crypto")
if crypto:
    med = [b for b in crypto.get("benchmarks", []) if b.get("aggregate_name") == "median"]
    if med:
        ns = med[0]["cpu_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}.get(med[0].get("time_unit", "ns"), 1)
        rows.append(("crypto alone (BM_RelayPeel/1280)", 1e9 / ns, 1e9 / ns * 1280 * 8 / 1e9, ns))
        summary["crypto"] = {"cells_per_s": 1e9 / ns, "cpu_ns_per_cell": ns}
for name, label in (("memif", "DPDK relay, net_memif"), ("af_packet", "DPDK relay, net_af_packet"),
                    ("uring", "io_uring relay")):
    r = load(name)
    if r and "relay" in r:
        rel = r["relay"]
        rows.append((label, rel["cells_per_s"], rel["gbps"], rel["cpu_ns_per_cell"]))
        summary[name] = rel
    if name == "uring" and r and r.get("udp_forward", {}).get("packets_per_s"):
        u = r["udp_forward"]
        rows.append(("voxa-udp-forward (kernel, no crypto)", u["packets_per_s"], u["gbps"], u["cpu_ns_per_packet"]))
        summary["udp_forward"] = u
t = load("testpmd")
if t:
    rows.append(("dpdk-testpmd io-forward, memif", t["packets_per_s"], t["gbps"], t["cpu_ns_per_packet"]))
    summary["testpmd"] = t
print(f"\n{'':40} {'cells/s':>12} {'Gbit/s':>9} {'CPU ns/cell':>12}")
for label, cps, gbps, ns in rows:
    print(f"{label:40} {cps:12.0f} {gbps:9.3f} {ns:12.0f}")
ratios = {}
def ratio(key, a, b, field):
    if a in summary and b in summary and summary[b].get(field):
        ratios[key] = summary[a][field] / summary[b][field]
ratio("memif_over_crypto_cells_per_s", "memif", "crypto", "cells_per_s")
ratio("memif_over_uring_cells_per_s", "memif", "uring", "cells_per_s")
ratio("af_packet_over_uring_cells_per_s", "af_packet", "uring", "cells_per_s")
if "memif" in summary and "crypto" in summary and summary["memif"].get("cpu_ns_per_cell"):
    # The rate one core would reach if the relay were saturated: 1e9 / its CPU ns per cell.
    ratios["memif_core_rate_over_crypto"] = summary["crypto"]["cpu_ns_per_cell"] / summary["memif"]["cpu_ns_per_cell"]
if "memif" in summary and "uring" in summary and summary["memif"].get("cpu_ns_per_cell"):
    ratios["memif_over_uring_per_core"] = summary["uring"]["cpu_ns_per_cell"] / summary["memif"]["cpu_ns_per_cell"]
print()
for k, v in ratios.items():
    print(f"{k:40} {v:6.2f}x")
print("targets: memif relay >= 0.7x the crypto rate, >= 1.5x the io_uring relay's cells/s per core")
summary["ratios"] = ratios
with open(f"{out}/summary.json", "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")
PY
