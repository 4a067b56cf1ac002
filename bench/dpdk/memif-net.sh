#!/usr/bin/env bash
# A 3-node voxa network entirely on DPDK net_memif (shared-memory packet rings, no kernel on the path), for the
# end-to-end single-relay measurement with real nodes at both ends (`voxa-bench relay --devnet D`; the saturated
# relay figures of bench/dpdk/run.sh come from voxa-blast instead):
#
#   origin (node 1)  net_memif server a.sock  10.201.1.1/24  <->  10.201.1.2/24 client a.sock  relay (node 0)
#   destination (2)  net_memif server b.sock  10.201.2.1/24  <->  10.201.2.2/24 client b.sock  relay (node 0)
#
#   bench/dpdk/memif-net.sh start [--dir D] [--build DIR] [--relay-core C] [--ends-core C] [--timeout S]
#                                 [--relay-idle-spins N] [--ends-idle-spins N]
#   bench/dpdk/memif-net.sh stop [--dir D]
#
# The relay has two memif ports (one per neighbour) and advertises 10.201.1.2; the destination bootstraps from
# the relay's other address. Every MAC is set in the config (02:76:6d:...) and every neighbour is static (no ARP
# on memif). EAL with --no-huge --in-memory, file prefixes voxa-memifI. The relay is pinned to --relay-core
# (default 1), origin and destination to --ends-core (default 0), so the relay has one core to itself.
# dataplane.idle_spins: --relay-idle-spins and --ends-idle-spins (default 200 each, the daemon's default). A
# spinning relay (1000000) forwards no faster here (the origin limits the rate) and burns its whole core, which
# makes its CPU ns per cell meaningless; with the default it sleeps when idle and CPU per cell is its real work
# plus its idle polls.
# Writes D/nodes.json in devnet.sh's format (netns "", backend "dpdk") once every node knows the two others
# (at most --timeout s, default 30). Defaults: --dir /tmp/voxa-memif, --build build/release. Needs root (EAL).
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

cmd="${1:-}"
[[ -n "$cmd" ]] || { sed -n '9,11p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; exit 2; }
shift
dir=/tmp/voxa-memif
build=build/release
relay_core=1
ends_core=0
timeout_s=30
relay_spins=200
ends_spins=200
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --build) build="$2"; shift 2 ;;
        --relay-core) relay_core="$2"; shift 2 ;;
        --ends-core) ends_core="$2"; shift 2 ;;
        --timeout) timeout_s="$2"; shift 2 ;;
        --relay-idle-spins) relay_spins="$2"; shift 2 ;;
        --ends-idle-spins) ends_spins="$2"; shift 2 ;;
        *) voxa_die "unknown option: $1" ;;
    esac
done
[[ "$build" == /* ]] || build="$voxa_root/$build"
daemon="$build/dataplane/daemon/voxa-dataplane"
voxactl="$build/controlplane/voxactl/voxactl"

stop() {
    local pidfile pid i
    for pidfile in "$dir"/node*/pid; do
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"
        if [[ -n "$pid" ]] && grep -qs voxa-dataplane "/proc/$pid/cmdline"; then
            kill -TERM "$pid" 2>/dev/null
            for ((i = 0; i < 30; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
        fi
        rm -f "$pidfile"
    done
}

known() {
    timeout 2 "$voxactl" --data "$dir/node$1/data" local-stats 2>/dev/null \
        | python3 -c 'import json,sys
try: print(int(json.load(sys.stdin)["directory"]["known"]))
except Exception: print(-1)'
}

start() {
    [[ -x "$daemon" ]] || voxa_die "$daemon not found: build it"
    [[ "$(id -u)" -eq 0 ]] || voxa_die "needs root (DPDK EAL)"
    mkdir -p "$dir" && dir="$(cd "$dir" && pwd)"
    stop
    rm -rf "$dir"
    local i ids=() keys=() line
    for i in 0 1 2; do
        mkdir -p "$dir/node$i/config" "$dir/node$i/data"
        line="$("$daemon" --show-identity --data "$dir/node$i/data" 2>/dev/null)" || voxa_die "node $i: --show-identity"
        ids+=("$(sed -n 's/.*"node_id" *: *"\([0-9a-f]*\)".*/\1/p' <<<"$line")")
        keys+=("$(sed -n 's/.*"public_key" *: *"\([0-9a-f]*\)".*/\1/p' <<<"$line")")
    done
    python3 - "$dir" "${ids[*]}" "${keys[*]}" "$relay_core" "$ends_core" "$relay_spins" "$ends_spins" <<'PY' \
        || voxa_die "writing the configs failed"
import json, sys
d, ids, keys, relay_core, ends_core, relay_spins, ends_spins = sys.argv[1:]
ids, keys = ids.split(), keys.split()
mac = {"r0": "02:76:6d:00:00:10", "r1": "02:76:6d:00:00:11", "o": "02:76:6d:00:00:01", "d": "02:76:6d:00:00:02"}
def port(n, role, sock, ip, m, neigh_ip, neigh_mac):
    return {"device": f"net_memif{n},role={role},socket={d}/{sock},id=0,bsize=2048,rsize=11",
            "ipv4": ip, "mac": m, "neighbours": [{"ip": neigh_ip, "mac": neigh_mac}]}
ports = {0: [port(0, "client", "a.sock", "10.201.1.2/24", mac["r0"], "10.201.1.1", mac["o"]),
             port(1, "client", "b.sock", "10.201.2.2/24", mac["r1"], "10.201.2.1", mac["d"])],
         1: [port(0, "server", "a.sock", "10.201.1.1/24", mac["o"], "10.201.1.2", mac["r0"])],
         2: [port(0, "server", "b.sock", "10.201.2.1/24", mac["d"], "10.201.2.2", mac["r1"])]}
host = {0: "10.201.1.2", 1: "10.201.1.1", 2: "10.201.2.1"}
boot_host = {1: "10.201.1.2", 2: "10.201.2.2"}   # each end reaches the relay on its own memif
for i in range(3):
    boot = [] if i == 0 else [{"id": ids[0], "public_key": keys[0], "host": boot_host[i], "port": 9000}]
    p2p = {"host": "0.0.0.0", "port": 9000, "advertise_host": host[i], "bootstrap_nodes": boot, "relay": i == 0,
           "capacity": 100, "hops": 1, "n": 1, "k": 1, "parts_per_relay_max": 1, "cell_bytes": 1280,
           "max_message_bytes": 67108864, "gossip_interval_s": 1}
    core = int(relay_core if i == 0 else ends_core)
    dp = {"backend": "dpdk", "cores": [core], "pin": True,
          "idle_spins": int(relay_spins if i == 0 else ends_spins),
          "dpdk": {"no_huge": True, "in_memory": True, "hugepages": 512, "mempool_mbufs": 16383,
                   "rx_desc": 1024, "tx_desc": 1024, "file_prefix": f"voxa-memif{i}", "ports": ports[i]}}
    for name, obj in {"p2p.json": p2p, "dataplane.json": dp, "settings.json": {"log-level": "info"}}.items():
        with open(f"{d}/node{i}/config/{name}", "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
PY
    # The servers first (they create the sockets), then the relay.
    for i in 1 2 0; do
        setsid "$daemon" --config "$dir/node$i/config" --data "$dir/node$i/data" </dev/null >/dev/null \
            2>"$dir/node$i/log" &
        echo "$!" >"$dir/node$i/pid"
        sleep 0.5
    done
    local deadline=$((SECONDS + timeout_s)) ok
    while true; do
        ok=1
        for i in 0 1 2; do
            if ! kill -0 "$(cat "$dir/node$i/pid")" 2>/dev/null; then
                tail -n 20 "$dir/node$i/log" >&2
                stop
                voxa_die "node $i exited"
            fi
            [[ "$(known "$i")" -ge 2 ]] || ok=0
        done
        [[ $ok -eq 1 ]] && break
        if [[ $SECONDS -ge $deadline ]]; then
            stop
            voxa_die "not ready after $timeout_s s (every node must know the two others); logs in $dir/node*/log"
        fi
        sleep 0.2
    done
    python3 - "$dir" "${ids[*]}" "${keys[*]}" <<'PY' || voxa_die "writing nodes.json failed"
import json, sys
d, ids, keys = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
host = {0: "10.201.1.2", 1: "10.201.1.1", 2: "10.201.2.1"}
nodes = [{"index": i, "node_id": ids[i], "public_key": keys[i], "host": host[i], "port": 9000, "netns": "",
          "relay": i == 0, "backend": "dpdk", "file_prefix": f"voxa-memif{i}",
          "pid": int(open(f"{d}/node{i}/pid").read()), "control_pid": None, "api_port": None, "api": None,
          "data": f"{d}/node{i}/data", "config": f"{d}/node{i}/config", "socket": f"{d}/node{i}/data/run/voxa.sock"}
         for i in range(3)]
with open(f"{d}/nodes.json", "w") as f:
    json.dump(nodes, f, indent=2)
    f.write("\n")
PY
    voxa_log "memif net ready: relay node 0 (core $relay_core), origin node 1, destination node 2; $dir/nodes.json"
}

case "$cmd" in
    start) start ;;
    stop) stop; voxa_log "stopped ($dir)" ;;
    *) voxa_die "usage: $0 start|stop [--dir D] ..." ;;
esac
