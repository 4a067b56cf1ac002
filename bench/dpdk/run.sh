#!/usr/bin/env bash
# The single-relay forwarding benchmarks of the DPDK issue, all in one run (median of --runs each):
#
#   bench/dpdk/run.sh [--build DIR] [--runs R] [--seconds S] [--cells N] [--out D]
#                     [--skip crypto,memif,af_packet,uring,testpmd]
#
#   crypto    voxa-microbench BM_RelayPeel/1280 on the relay core (the relay's crypto alone): the rate it allows
#   memif     voxa-blast --mode memif: the relay (voxa-dataplane, DPDK) on two net_memif ports, saturated by
#             voxa-blast's prebuilt forward cells (rte_eth_tx_burst, back-pressured by the memif ring)
#   af_packet voxa-blast --mode af_packet: the relay DPDK on net_af_packet over a veth (bench/dpdk/blast-net.sh),
#             the same generator on the kernel path (sendmmsg); what the relay cannot take is dropped at its RX
#   uring     voxa-blast --mode uring: the relay on io_uring behind the same veth, same generator
#   testpmd   bench/dpdk/testpmd-memif.sh: dpdk-testpmd io-forward on memif (the I/O ceiling, no crypto)
#
# The relay is pinned to core 1, the generator (and testpmd's generator) to core 0. The machine is shared: the
# run raises its session's autogroup nice to -20 for its duration (restored on exit) and voxa-blast runs at nice
# -20, so that other sessions' compilers do not decide the figures; voxa-blast reports how much of the window the
# relay's worker ran ("busy") and waited runnable ("preempted"): busy + preempted near 1 means saturated.
# Writes D/{crypto,memif,af_packet,uring,testpmd}.json and D/summary.json (default D = /tmp/voxa-dpdk-bench),
# prints a table (cells/s, Gbit/s, CPU ns per cell) and the issue's ratios: memif relay / crypto rate (target
# >= 0.7) and memif relay / io_uring relay cells/s per core (target >= 1.5). Needs root.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

build=build/release
runs=5
seconds=3
cells=1500000
out=/tmp/voxa-dpdk-bench
skip=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build) build="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --cells) cells="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --skip) skip="$2"; shift 2 ;;
        *) voxa_die "unknown option: $1" ;;
    esac
done
[[ "$build" == /* ]] || build="$voxa_root/$build"
[[ "$(id -u)" -eq 0 ]] || voxa_die "needs root"
blast="$build/bench/e2e/voxa-blast"
micro="$build/bench/voxa-microbench"
[[ -x "$blast" && -x "$micro" ]] || voxa_die "build voxa-blast, voxa-microbench and voxa-dataplane in $build first"
mkdir -p "$out"
want() { [[ ",$skip," != *",$1,"* ]]; }

old_nice="$(sed -n 's/.* nice \(-\?[0-9]*\)$/\1/p' /proc/self/autogroup 2>/dev/null)"
restore() {
    [[ -n "$old_nice" ]] && echo "$old_nice" >/proc/self/autogroup 2>/dev/null
    "$voxa_root/bench/dpdk/blast-net.sh" down 2>/dev/null
}
trap restore EXIT
[[ -n "$old_nice" ]] && echo -20 >/proc/self/autogroup 2>/dev/null
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

if want crypto; then
    voxa_log "crypto: BM_RelayPeel/1280 x $runs (core 1)"
    nice -n -20 taskset -c 1 "$micro" --benchmark_filter='^BM_RelayPeel/1280$' --benchmark_repetitions="$runs" \
        --benchmark_report_aggregates_only=true --benchmark_format=json >"$out/crypto.json" 2>/dev/null \
        || voxa_log "crypto: voxa-microbench failed"
fi
p="${VOXA_NETNS_PREFIX:-vxb}"   # blast-net.sh's names: <p>-relay holds <p>-r, the host keeps <p>-h
blast_run() {   # mode
    "$blast" --mode "$1" --build "$build" --dir "$out/blast-$1" --runs "$runs" --seconds "$seconds" \
        --cells "$cells" --relay-core 1 --gen-core 0 --json "$out/$1.json" \
        --netns "$p-relay" --host-iface "$p-h" --relay-iface "$p-r" \
        2> >(grep -v -e 'mp action callback' -e 'legacy socket' >&2) || voxa_log "$1: voxa-blast failed ($?)"
}
if want memif; then
    voxa_log "memif: DPDK relay on net_memif, saturated by voxa-blast"
    blast_run memif
fi
if want af_packet; then
    voxa_log "af_packet: DPDK relay on net_af_packet (veth), saturated by voxa-blast"
    "$voxa_root/bench/dpdk/blast-net.sh" up af_packet && blast_run af_packet
fi
if want uring; then
    voxa_log "uring: io_uring relay (veth), saturated by voxa-blast"
    "$voxa_root/bench/dpdk/blast-net.sh" up uring && blast_run uring
fi
"$voxa_root/bench/dpdk/blast-net.sh" down
if want testpmd; then
    voxa_log "testpmd: io-forward on memif"
    nice -n -20 "$voxa_root/bench/dpdk/testpmd-memif.sh" --runs "$runs" --seconds "$((seconds + 2))" \
        --dir "$out/testpmd" --json "$out/testpmd.json"
fi

python3 - "$out" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, os, statistics, sys
out, load_before, load_after = sys.argv[1:4]
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
notes = []
for name, label in (("memif", "DPDK relay, net_memif"), ("af_packet", "DPDK relay, net_af_packet"),
                    ("uring", "io_uring relay")):
    r = load(name)
    if r and "relay" in r and r["relay"].get("cells_per_s"):
        rel = dict(r["relay"])
        med = lambda k: statistics.median([x[k] for x in r["runs"] if k in x]) if r.get("runs") else 0
        rel.update({"worker_busy": med("relay_worker_busy"), "worker_preempted": med("relay_worker_preempted"),
                    "generator_sent_per_s": r["generator"]["sent_per_s"],
                    "destination_arrived_per_s": r["generator"]["arrived_per_s"],
                    "core_cells_per_s": 1e9 / rel["cpu_ns_per_cell"] if rel["cpu_ns_per_cell"] else 0})
        rows.append((label, rel["cells_per_s"], rel["gbps"], rel["cpu_ns_per_cell"]))
        summary[name] = rel
        notes.append(f"{label}: worker busy {rel['worker_busy']:.2f} + preempted {rel['worker_preempted']:.2f} of "
                     f"the window; generator sent {rel['generator_sent_per_s']:.0f}/s, destination got "
                     f"{rel['destination_arrived_per_s']:.0f}/s; one whole core: {rel['core_cells_per_s']:.0f} cells/s")
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
for n in notes:
    print(n)
print(f"load average before {load_before}, after {load_after}")
print()
for k, v in ratios.items():
    print(f"{k:40} {v:6.2f}x")
print("targets: memif relay >= 0.7x the crypto rate (memif_over_crypto_cells_per_s), >= 1.5x the io_uring relay's "
      "cells/s per core (memif_over_uring_per_core)")
summary["ratios"] = ratios
summary["load_average"] = {"before": load_before, "after": load_after}
with open(f"{out}/summary.json", "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")
PY
