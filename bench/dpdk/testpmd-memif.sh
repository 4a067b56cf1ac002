#!/usr/bin/env bash
# dpdk-testpmd io-forward on the same net_memif setup as the DPDK relay benchmark: the ceiling of the port I/O
# alone (no parsing, no crypto), one forwarding core.
#
#   bench/dpdk/testpmd-memif.sh [--seconds S] [--runs R] [--fwd-core C] [--gen-core C] [--frame-bytes B]
#                               [--json out.json] [--dir D]
#
# Two testpmd processes joined by two memif pairs into a loop: the generator (memif servers a.sock and b.sock,
# forwarding lcore --gen-core, default 0) and the forwarder under test (memif clients, forwarding lcore
# --fwd-core, default 1), both in io mode; the forwarder starts with --tx-first, so a fixed number of frames
# (2 ports x 64) circulate: gen.p0 -> fwd.p0 -> fwd.p1 -> gen.p1 -> gen.p0 ... Neither side drops, so the rate
# is what the slower of the two forwards. Frames are --frame-bytes (default 1322 = a 1280-byte cell in
# Ethernet/IPv4/UDP). Per run (S seconds, default 5): the forwarder's packets/s = the sum over its two ports of
# Tx-pps, averaged over the steady seconds (the first two are dropped); CPU ns per packet = 1e9 / that (a poll-mode
# core is 100 % busy). Prints one line per run and the medians; --json writes them. Needs root (EAL), no hugepages.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

seconds=5
runs=5
fwd_core=1
gen_core=0
frame_bytes=1322
json=""
dir=/tmp/voxa-testpmd
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --fwd-core) fwd_core="$2"; shift 2 ;;
        --gen-core) gen_core="$2"; shift 2 ;;
        --frame-bytes) frame_bytes="$2"; shift 2 ;;
        --json) json="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        *) voxa_die "unknown option: $1" ;;
    esac
done
command -v dpdk-testpmd >/dev/null 2>&1 || voxa_die "dpdk-testpmd not found (apt-get install dpdk-dev)"
[[ "$(id -u)" -eq 0 ]] || voxa_die "needs root (DPDK EAL)"
[[ "$fwd_core" != "$gen_core" ]] || voxa_die "--fwd-core and --gen-core must differ"
mkdir -p "$dir"
# testpmd 22.11's memif server segfaults on exit once its peer has gone (after the measurement): not news.
exec 2> >(grep --line-buffered -v 'Segmentation fault' >&2)

eal=(--no-huge --no-pci -m 256 --log-level=lib.eal:warning)
app=(--total-num-mbufs=8192 --mbuf-size=2176 --nb-cores=1 --auto-start --stats-period=1 --txd=1024 --rxd=1024
     --burst=64 --forward-mode=io "--txpkts=$frame_bytes")

one_run() {
    local r="$1" gen_pid
    rm -f "$dir/a.sock" "$dir/b.sock"
    # The other lcore of each process is its main lcore (idle: it only prints the stats).
    dpdk-testpmd -l "$gen_core,$fwd_core" --main-lcore "$fwd_core" --file-prefix "voxa-tpgen$$" "${eal[@]}" \
        --vdev "net_memif0,role=server,socket=$dir/a.sock,id=0" \
        --vdev "net_memif1,role=server,socket=$dir/b.sock,id=0" -- "${app[@]}" >"$dir/gen$r.log" 2>&1 </dev/null &
    gen_pid=$!
    sleep 1.5
    timeout -s INT "$((seconds + 1))" dpdk-testpmd -l "$gen_core,$fwd_core" --main-lcore "$gen_core" \
        --file-prefix "voxa-tpfwd$$" "${eal[@]}" \
        --vdev "net_memif0,role=client,socket=$dir/a.sock,id=0" \
        --vdev "net_memif1,role=client,socket=$dir/b.sock,id=0" -- "${app[@]}" --tx-first \
        >"$dir/fwd$r.log" 2>&1 </dev/null
    kill -INT "$gen_pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$gen_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$gen_pid" 2>/dev/null
    wait "$gen_pid" 2>/dev/null
}

printf '%4s %14s %10s %14s\n' run "fwd pkt/s" "Gbit/s" "cpu ns/pkt"
for ((r = 0; r < runs; r++)); do
    one_run "$r"
    python3 - "$dir/fwd$r.log" "$frame_bytes" "$r" <<'PY' | tee -a "$dir/runs.txt"
import re, sys
log, frame, r = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(log, errors="replace").read()
# Each stats period prints "Tx-pps: N" once per port, port 0 then port 1.
tx = [int(x) for x in re.findall(r"Tx-pps:\s+(\d+)", text)]
periods = [tx[i] + tx[i + 1] for i in range(0, len(tx) - 1, 2)]
steady = [p for p in periods[2:] if p > 0] or [p for p in periods if p > 0]
pps = sum(steady) / len(steady) if steady else 0.0
print(f"{r:>4} {pps:14.0f} {pps * frame * 8 / 1e9:10.3f} {1e9 / pps if pps else 0:14.1f}")
PY
done
python3 - "$dir/runs.txt" "$frame_bytes" "$json" "$runs" <<'PY'
import json, statistics, sys
path, frame, out, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rows = [l.split() for l in open(path).read().splitlines()[-runs:]]
pps = [float(r[1]) for r in rows]
m = statistics.median(pps) if pps else 0.0
print(f"median testpmd io-forward (memif): {m:.0f} packets/s, {m * frame * 8 / 1e9:.3f} Gbit/s, "
      f"{1e9 / m if m else 0:.1f} CPU ns per packet")
if out:
    with open(out, "w") as f:
        json.dump({"frame_bytes": frame, "runs_packets_per_s": pps, "packets_per_s": m,
                   "gbps": m * frame * 8 / 1e9, "cpu_ns_per_packet": 1e9 / m if m else 0}, f, indent=2)
        f.write("\n")
PY
rm -f "$dir/runs.txt"
