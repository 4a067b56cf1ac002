#!/usr/bin/env bash
# A dev network of N nodes on this machine, ready in seconds: per node voxa-dataplane and voxa-control (with the
# api plugin), sharing the node's config and data directories.
#
#   scripts/devnet.sh start N [--netns] [--relays R] [--hops H] [--n N] [--k K] [--parts-per-relay M]
#                             [--cell-bytes B] [--extra-p2p JSON] [--bootstrap 0,1|all] [--dir D] [--build DIR]
#                             [--timeout S] [--no-control] [--api-base P] [--port-base B]
#                             [--backend uring|dpdk|mixed] [--dpdk-nodes 1,3] [--dpdk-vdev af_packet|tap] [--hugepages]
#                             [--dpdk-arp] [--registry central|dht] [--registry-settings JSON]
#   scripts/devnet.sh stop [--dir D]
#   scripts/devnet.sh status [--dir D] [--build DIR]
#
# start: generates D/nodeI/{config,data} for I = 0..N-1 (identities through `voxa-dataplane --show-identity`),
# writes p2p.json / dataplane.json / settings.json (every node bootstraps from nodes 0 and 1, or from the nodes
# --bootstrap lists; `all`: every other node), starts the data planes (stderr to D/nodeI/log, pid to D/nodeI/pid)
# and the control planes (D/nodeI/control.log, D/nodeI/control.pid), waits until every node's `voxactl
# local-stats` reports directory.known >= N-1 and `voxactl ready` says ready (at most --timeout s, default 20;
# names the nodes that are not ready), then writes D/nodes.json: [{index, node_id, public_key, host, port, netns,
# relay, pid, control_pid, api_port, api, data, config, socket}].
# Loopback mode: 127.0.0.1, UDP port B+I (B = --port-base, default 9000); the REST API on 127.0.0.1:(P+I), P = --api-base (default 9900; 0 = an
# ephemeral port per node, read back from data/run/api_port). --netns: namespace voxa-devI at 10.77.0.(I+2):9000
# (scripts/netns.sh), the REST API on 127.0.0.1:9999 inside each namespace (reach it with `ip netns exec`).
# --no-control: data planes only (no voxa-control; api_port and control_pid are null in nodes.json).
# Nodes 0..R-1 are relays (default R = N-2), the rest endpoints. --extra-p2p merges a JSON object into every
# p2p.json (for tests: {"gossip_interval_s": 1}).
# stop: SIGTERM to every voxa-control, then to every voxa-dataplane, SIGKILL what is left after 12 s / 3 s, then
# deletes namespaces, veths and the bridge. Leaves nothing.
# --backend (default uring): dpdk = every node runs the DPDK backend, mixed = the even-indexed relays do (or the
# nodes --dpdk-nodes lists) and the rest io_uring; both imply --netns. A DPDK node runs in its namespace on
# net_af_packet over its veth eth0 (--dpdk-vdev tap: on a net_tap device joined to eth0 inside the namespace), owns
# the node's address (the kernel side of eth0 has none: scripts/netns.sh), EAL with --no-huge --in-memory (with
# --hugepages: real 2 MiB pages, reserved through scripts/hugepages.sh, 128 per DPDK node, never released by stop),
# file prefix <netns prefix>-dpdkI, and voxa-control beside it as for io_uring nodes. nodes.json then also names
# each node's "backend" ("dpdk" / "io_uring"), its host-side "veth", its "mac" and its DPDK "file_prefix".
# A DPDK node gets every other node's MAC as a static neighbour (dpdk.ports[0].neighbours) by default, so that no
# first datagram has to wait for ARP. (The backend does not drop a datagram to an unresolved address: it holds it
# until the ARP/ND answer, at most 64 per next hop, 1024 per worker and 1 s, then drops it.)
# --dpdk-arp leaves the table empty: DPDK nodes then learn every MAC through ARP (the test of pure ARP). The
# io_uring nodes always use ARP (the DPDK nodes answer it). On a tap port the DPDK node's MAC is set
# (02:76:78:...) so that it is known.
# --registry (needs --netns): nodes find one another only through the registry plugin (settings.json plugins
# ["api","registry"], p2p.json "discovery": "registry": no DIRECTORY gossip), with short timings for tests
# (plugin-settings.registry: heartbeat_interval_s 1, down_after_s 3, poll_interval_s 1; dht: record_lifetime_s 10, the least the plugin takes).
# central: node 0 is the registry: its API listens on its namespace address (10.x.0.2:9999, so the token is
# needed for its own reads; the registry's open routes need none), and every other node's bootstrap_nodes lists
# only node 0 with "api_port": 9999 (it registers there, heartbeats, and polls the live set). dht: every node runs
# the OpenDHT backend on UDP 4222 (network id from the namespace prefix, so devnets stay apart), bootstrapping
# from nodes 0 and 1 ("dht_port": 4222); no central node. nodes.json then also has each node's "registry" role
# (central, member or dht) and "api_host". `status` prints the role. --registry-settings merges a JSON object into
# every node's plugin-settings.registry (e.g. '{"down_after_s": 6}' on a loaded machine).
# Namespaces, veths, bridge and subnet follow VOXA_NETNS_PREFIX / VOXA_NETNS_SUBNET (scripts/netns.sh); the owner
# file is /run/<prefix>-devnet.netns-owner.
# Defaults: --dir /tmp/voxa-devnet, --build build/release (relative to the repository root).
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/netns.sh
source "$voxa_root/scripts/netns.sh"

usage() {
    sed -n '5,11p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
    exit 2
}

cmd="${1:-}"
[[ -n "$cmd" ]] || usage
shift

count=""
netns=0
relays=""
hops=2
n_parts=5
k_parts=3
parts_per_relay=2
cell_bytes=1280
extra_p2p="{}"
bootstrap="0,1"
dir=/tmp/voxa-devnet
build=build/release
timeout_s=20
control=1
api_base=9900
port_base=9000
backend=uring
dpdk_nodes=""
dpdk_vdev=af_packet
hugepages=0
dpdk_arp=0
registry=""
registry_settings="{}"

if [[ "$cmd" == start ]]; then
    [[ $# -ge 1 && "$1" =~ ^[0-9]+$ ]] || usage
    count="$1"
    shift
fi
while [[ $# -gt 0 ]]; do
    case "$1" in
        --netns) netns=1; shift ;;
        --relays) relays="$2"; shift 2 ;;
        --hops) hops="$2"; shift 2 ;;
        --n) n_parts="$2"; shift 2 ;;
        --k) k_parts="$2"; shift 2 ;;
        --parts-per-relay) parts_per_relay="$2"; shift 2 ;;
        --cell-bytes) cell_bytes="$2"; shift 2 ;;
        --extra-p2p) extra_p2p="$2"; shift 2 ;;
        --bootstrap) bootstrap="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        --build) build="$2"; shift 2 ;;
        --timeout) timeout_s="$2"; shift 2 ;;
        --no-control) control=0; shift ;;
        --api-base) api_base="$2"; shift 2 ;;
        --port-base) port_base="$2"; shift 2 ;;
        --backend) backend="$2"; shift 2 ;;
        --dpdk-nodes) dpdk_nodes="$2"; shift 2 ;;
        --dpdk-vdev) dpdk_vdev="$2"; shift 2 ;;
        --hugepages) hugepages=1; shift ;;
        --dpdk-arp) dpdk_arp=1; shift ;;
        --registry) registry="$2"; shift 2 ;;
        --registry-settings) registry_settings="$2"; shift 2 ;;
        -h | --help) usage ;;
        *) voxa_log "unknown option: $1"; usage ;;
    esac
done
[[ "$port_base" =~ ^[0-9]+$ && "$port_base" -ge 1024 && "$port_base" -le 65000 ]] \
    || voxa_die "--port-base: expected an integer 1024..65000, got '$port_base'"
export VOXA_DEVNET_PORT_BASE="$port_base"
case "$backend" in uring | io_uring) backend=uring ;; dpdk | mixed) netns=1 ;;
    *) voxa_die "--backend: expected uring, dpdk or mixed, got '$backend'" ;; esac
[[ "$dpdk_vdev" == af_packet || "$dpdk_vdev" == tap ]] || voxa_die "--dpdk-vdev: expected af_packet or tap"
[[ -z "$dpdk_nodes" || "$dpdk_nodes" =~ ^[0-9]+(,[0-9]+)*$ ]] || voxa_die "--dpdk-nodes: expected a list like 1,3"
[[ -z "$dpdk_nodes" || "$backend" == mixed ]] || voxa_die "--dpdk-nodes needs --backend mixed"
[[ -z "$registry" || "$registry" == central || "$registry" == dht ]] \
    || voxa_die "--registry: expected central or dht, got '$registry'"
if [[ "$cmd" == start && -n "$registry" ]]; then
    [[ $netns -eq 1 ]] || voxa_die "--registry needs --netns (the central registry listens on node 0's namespace address)"
    [[ $control -eq 1 ]] || voxa_die "--registry needs voxa-control (drop --no-control)"
fi
export VOXA_DEVNET_SUBNET="$voxa_netns_subnet" VOXA_DEVNET_NETNS_ID="$voxa_netns_id"
[[ "$build" == /* ]] || build="$voxa_root/$build"
daemon="$build/dataplane/daemon/voxa-dataplane"
netns_owner="/run/$voxa_netns_id-devnet.netns-owner"   # the directory of the devnet that holds the namespaces
voxactl="$build/controlplane/voxactl/voxactl"
control_bin="$build/controlplane/control/voxa-control"

# stop_pids NAME PIDFILE_GLOB TENTHS: SIGTERM the NAME processes whose pids the files hold (only processes that
# really are NAME: a pid may have been reused since), SIGKILL what is left after TENTHS tenths of a second.
stop_pids() {
    local name="$1" pattern="$2" tenths="$3" pidfile pid pids=() i alive
    for pidfile in $pattern; do
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"
        if [[ -n "$pid" ]] && grep -qs "$name" "/proc/$pid/cmdline"; then
            pids+=("$pid")
        fi
    done
    if [[ ${#pids[@]} -gt 0 ]]; then
        kill -TERM "${pids[@]}" 2>/dev/null
        for ((i = 0; i < tenths; i++)); do
            alive=0
            for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            [[ $alive -eq 0 ]] && break
            sleep 0.1
        done
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then
                voxa_log "$name pid $pid did not exit within $((tenths / 10)) s of SIGTERM: SIGKILL"
                kill -KILL "$pid" 2>/dev/null
            fi
        done
    fi
    rm -f $pattern
}

# stop_nodes: the control planes first (they drain the plugins and tell the data plane nothing more), then the
# data planes; then the namespaces.
stop_nodes() {
    # voxa-control drains its plugins within drain-deadline-s (default 10 s) on SIGTERM.
    stop_pids voxa-control "$dir/node*/control.pid" 120
    stop_pids voxa-dataplane "$dir/node*/pid" 30
    # The namespaces are global: only the devnet that made them takes them down (another devnet, for instance a
    # loopback one in another directory, must not end this one's daemons).
    if [[ "$(cat "$dir/mode" 2>/dev/null)" == netns ]]; then
        voxa_netns_down
        rm -f "$netns_owner"
    fi
    rm -f "$dir/mode" "$dir/dpdk_nodes" "$dir/registry"
}

# in_node I CMD...: runs CMD where node I's loopback is (inside its namespace in --netns mode).
in_node() {
    local i="$1"
    shift
    if [[ "$(cat "$dir/mode" 2>/dev/null)" == netns ]]; then
        ip netns exec "$(voxa_netns_name "$i")" "$@"
    else
        "$@"
    fi
}

# known NODE_INDEX: prints directory.known from `voxactl local-stats`, or -1 when the node does not answer.
known() {
    local out
    out="$(timeout 2 "$voxactl" --data "$dir/node$1/data" local-stats 2>/dev/null)" || { echo -1; return; }
    python3 -c 'import json,sys
try: print(int(json.load(sys.stdin)["directory"]["known"]))
except Exception: print(-1)' <<<"$out"
}

start() {
    [[ -x "$daemon" ]] || voxa_die "$daemon not found: build it (meson compile -C $build)"
    [[ -x "$voxactl" ]] || voxa_die "$voxactl not found: build it (meson compile -C $build)"
    if [[ $control -eq 1 && ! -x "$control_bin" ]]; then
        voxa_die "$control_bin not found: build it (meson compile -C $build), or pass --no-control"
    fi
    [[ "$count" -ge 2 ]] || voxa_die "need at least 2 nodes"
    [[ -n "$relays" ]] || relays=$((count - 2))
    [[ "$relays" -le "$count" ]] || voxa_die "--relays $relays > N $count"
    # The DPDK nodes, space-separated (written to $dir/dpdk_nodes below: stop and status read it back).
    local dpdk_list="" i
    if [[ "$backend" == dpdk ]]; then
        for ((i = 0; i < count; i++)); do dpdk_list+="$i "; done
    elif [[ "$backend" == mixed && -n "$dpdk_nodes" ]]; then
        for i in ${dpdk_nodes//,/ }; do
            [[ "$i" -lt "$count" ]] || voxa_die "--dpdk-nodes: node $i does not exist (N = $count)"
            dpdk_list+="$i "
        done
    elif [[ "$backend" == mixed ]]; then
        for ((i = 0; i < relays; i += 2)); do dpdk_list+="$i "; done
    fi
    if [[ "$backend" != uring ]]; then
        [[ -n "$dpdk_list" ]] || voxa_die "--backend mixed: no DPDK node (no relay at an even index; use --dpdk-nodes)"
        if [[ $hugepages -eq 1 ]]; then
            local want have
            want=$(( $(wc -w <<<"$dpdk_list") * 128 ))
            have="$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages 2>/dev/null || echo 0)"
            if [[ "$have" -lt "$want" ]]; then
                "$voxa_root/scripts/hugepages.sh" reserve "$want" \
                    || voxa_die "--hugepages: reserving $want pages failed"
            fi
        fi
    fi
    if [[ $netns -eq 1 && "$(id -u)" -ne 0 ]]; then voxa_die "--netns needs root"; fi

    mkdir -p "$dir" || voxa_die "cannot create $dir"
    dir="$(cd "$dir" && pwd)"
    stop_nodes    # whatever an earlier run left behind in this directory
    rm -rf "$dir"
    mkdir -p "$dir" || voxa_die "cannot create $dir"
    if [[ $netns -eq 1 ]]; then
        local owner ns busy=0
        owner="$(cat "$netns_owner" 2>/dev/null || true)"
        for ns in $(voxa_netns_list); do [[ -n "$(ip netns pids "$ns" 2>/dev/null)" ]] && busy=1; done
        if [[ $busy -eq 1 && "$owner" != "$dir" ]]; then
            voxa_die "the voxa-dev namespaces are in use by another devnet (${owner:-unknown dir}): stop it first" \
                "(scripts/devnet.sh stop --dir ${owner:-DIR}, or scripts/netns.sh down)"
        fi
        echo netns >"$dir/mode"
        echo "$dpdk_list" >"$dir/dpdk_nodes"
        mkdir -p "$(dirname "$netns_owner")" && echo "$dir" >"$netns_owner"
        VOXA_NETNS_DPDK_VDEV="$dpdk_vdev" voxa_netns_up "$count" "$dpdk_list" \
            || { voxa_netns_down; voxa_die "creating the namespaces failed"; }
    else
        echo loopback >"$dir/mode"
    fi
    echo "$registry" >"$dir/registry"

    # Every node's MAC on the segment (netns mode): its eth0's, or on a tap port the one set below in python.
    local ids=() keys=() line macs=()
    if [[ $netns -eq 1 ]]; then
        for ((i = 0; i < count; i++)); do
            macs+=("$(ip -n "$(voxa_netns_name "$i")" -br link show eth0 | awk '{print $3}')")
        done
    fi
    for ((i = 0; i < count; i++)); do
        mkdir -p "$dir/node$i/config" "$dir/node$i/data"
        line="$("$daemon" --show-identity --data "$dir/node$i/data" 2>"$dir/node$i/identity.log")" \
            || voxa_die "node $i: --show-identity failed: $(tail -n 3 "$dir/node$i/identity.log")"
        ids+=("$(sed -n 's/.*"node_id" *: *"\([0-9a-f]*\)".*/\1/p' <<<"$line")")
        keys+=("$(sed -n 's/.*"public_key" *: *"\([0-9a-f]*\)".*/\1/p' <<<"$line")")
        [[ ${#ids[$i]} -eq 64 && ${#keys[$i]} -eq 64 ]] || voxa_die "node $i: unexpected identity line: $line"
    done

    # Every config in one go; python3 writes the JSON so that --extra-p2p merges as a real object.
    python3 - "$dir" "$count" "$netns" "$relays" "$hops" "$n_parts" "$k_parts" "$parts_per_relay" \
        "$cell_bytes" "$extra_p2p" "${ids[*]}" "${keys[*]}" "$bootstrap" "$control" "$api_base" "$dpdk_list" \
        "$dpdk_vdev" "$hugepages" "${macs[*]}" "$dpdk_arp" "$registry" "$registry_settings" <<'PY' || voxa_die "writing the configs failed"
import json, os, sys, zlib
(d, count, netns, relays, hops, n, k, ppr, cell, extra, ids, keys, bootstrap, control, api_base, dpdk_list,
 dpdk_vdev, hugepages, macs, dpdk_arp, registry, registry_extra) = sys.argv[1:]
macs = macs.split()
control, api_base = control == "1", int(api_base)
dpdk_nodes = {int(x) for x in dpdk_list.split()}
subnet, netns_id = os.environ["VOXA_DEVNET_SUBNET"], os.environ["VOXA_DEVNET_NETNS_ID"]
count, netns, relays = int(count), netns == "1", int(relays)
boot_from = range(count) if bootstrap == "all" else [int(b) for b in bootstrap.split(",") if b]
ids, keys, extra = ids.split(), keys.split(), json.loads(extra)
def addr(i):
    return (f"{subnet}.{i + 2}", 9000) if netns else ("127.0.0.1", int(os.environ["VOXA_DEVNET_PORT_BASE"]) + i)
def tap_mac(i):
    return "02:76:78:%02x:%02x:%02x" % (int(subnet.split(".")[1]), i >> 8, i & 0xFF)
def mac(i):
    return tap_mac(i) if dpdk_vdev == "tap" and i in dpdk_nodes else macs[i]
def dataplane(i):
    if i not in dpdk_nodes:
        return {"backend": "io_uring", "cores": [0], "pin": False, "gso": True, "gro": True}
    # The DPDK node owns its address on eth0 (the kernel side has none); EAL without hugepages unless asked.
    device = f"net_tap{i},iface=dtap{i}" if dpdk_vdev == "tap" else f"net_af_packet{i},iface=eth0,framecnt=4096"
    return {"backend": "dpdk", "cores": [0], "pin": False,
            "dpdk": {"no_huge": hugepages != "1", "in_memory": True, "hugepages": 256, "mempool_mbufs": 4095,
                     "rx_desc": 256, "tx_desc": 256, "file_prefix": f"{netns_id}-dpdk{i}",
                     "ports": [dpdk_port(i, device)]}}
def dpdk_port(i, device):
    p = {"device": device, "ipv4": f"{addr(i)[0]}/24"}
    if dpdk_vdev == "tap":
        p["mac"] = tap_mac(i)
    if dpdk_arp != "1":
        p["neighbours"] = [{"ip": addr(j)[0], "mac": mac(j)} for j in range(count) if j != i]
    return p
# The registry: node 0 central (members list only it, with its API port), or OpenDHT bootstrapped from nodes 0, 1.
API_PORT, DHT_PORT = 9999, 4222
def bootstrap_of(i):
    def entry(b, **more):
        return {"id": ids[b], "public_key": keys[b], "host": addr(b)[0], "port": addr(b)[1], **more}
    if registry == "central":
        return [] if i == 0 else [entry(0, api_port=API_PORT)]
    if registry == "dht":
        return [entry(b, dht_port=DHT_PORT) for b in (0, 1) if b != i and b < count]
    return [entry(b) for b in boot_from if b != i and b < count]
def registry_settings():
    s = {"heartbeat_interval_s": 1, "down_after_s": 3, "poll_interval_s": 1}
    if registry == "dht":
        # A network id of its own per namespace prefix: two test devnets never join each other's DHT.
        s.update({"backend": "dht", "record_lifetime_s": 10,
                  "dht": {"port": DHT_PORT, "network_id": zlib.crc32(("voxa-devnet/" + netns_id).encode())}})
    s.update(json.loads(registry_extra))
    return s
for i in range(count):
    host, port = addr(i)
    p2p = {"host": host, "port": port, "advertise_host": host, "bootstrap_nodes": bootstrap_of(i),
           "relay": i < relays, "capacity": 100, "hops": int(hops), "n": int(n), "k": int(k),
           "parts_per_relay_max": int(ppr), "cell_bytes": int(cell), "max_message_bytes": 67108864,
           "gossip_interval_s": 2}
    if registry:
        p2p["discovery"] = "registry"
    p2p.update(extra)
    files = {"p2p.json": p2p,
             "dataplane.json": dataplane(i),
             "settings.json": {"log-level": "info"}}
    if control:
        # Inside a namespace every node has its own loopback: the same port everywhere. On one loopback each node
        # needs its own (or an ephemeral one, which the api plugin writes to data/run/api_port).
        api_port = 9999 if netns else (api_base + i if api_base > 0 else 0)
        files["settings.json"].update({"plugins": ["api"],
                                       "server-settings": {"host": "127.0.0.1", "port": api_port}})
        if registry:
            files["settings.json"]["plugins"].append("registry")
            files["settings.json"]["plugin-settings"] = {"registry": registry_settings()}
            if registry == "central" and i == 0:
                # The members reach the central registry over the segment, not over their own loopback.
                files["settings.json"]["server-settings"]["host"] = host
    for name, obj in files.items():
        with open(f"{d}/node{i}/config/{name}", "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
PY

    local pid
    for ((i = 0; i < count; i++)); do
        local args=("$daemon" --config "$dir/node$i/config" --data "$dir/node$i/data")
        if [[ $netns -eq 1 ]]; then
            # `ip netns exec` execs the daemon in place (no fork), so $! is the daemon's pid.
            setsid ip netns exec "$(voxa_netns_name "$i")" "${args[@]}" </dev/null >/dev/null \
                2>"$dir/node$i/log" &
        else
            setsid "${args[@]}" </dev/null >/dev/null 2>"$dir/node$i/log" &
        fi
        pid=$!
        echo "$pid" >"$dir/node$i/pid"
        if [[ "$dpdk_vdev" == tap && " $dpdk_list " == *" $i "* ]]; then
            voxa_netns_attach_tap "$i" "dtap$i" \
                || voxa_log "node $i: the tap dtap$i did not appear (see $dir/node$i/log)"
        fi
    done
    if [[ $control -eq 1 ]]; then
        for ((i = 0; i < count; i++)); do
            local args=("$control_bin" --config "$dir/node$i/config" --data "$dir/node$i/data")
            if [[ $netns -eq 1 ]]; then
                setsid ip netns exec "$(voxa_netns_name "$i")" "${args[@]}" </dev/null >/dev/null \
                    2>"$dir/node$i/control.log" &
            else
                setsid "${args[@]}" </dev/null >/dev/null 2>"$dir/node$i/control.log" &
            fi
            echo "$!" >"$dir/node$i/control.pid"
        done
    fi

    # Ready when every node knows every other node. Poll all nodes about 5 times a second.
    local deadline=$((SECONDS + timeout_s)) waiting k_now
    while true; do
        waiting=()
        for ((i = 0; i < count; i++)); do
            pid="$(cat "$dir/node$i/pid")"
            if ! kill -0 "$pid" 2>/dev/null; then
                voxa_log "node $i (pid $pid) exited; its log:"
                tail -n 20 "$dir/node$i/log" >&2
                stop_nodes
                exit 1
            fi
            if [[ $control -eq 1 ]]; then
                pid="$(cat "$dir/node$i/control.pid")"
                if ! kill -0 "$pid" 2>/dev/null; then
                    voxa_log "node $i: voxa-control (pid $pid) exited; its log:"
                    tail -n 20 "$dir/node$i/control.log" >&2
                    stop_nodes
                    exit 1
                fi
            fi
            k_now="$(known "$i")"
            if [[ "$k_now" -lt $((count - 1)) ]]; then
                waiting+=("node$i(known=$k_now)")
            elif [[ $control -eq 1 ]] && ! in_node "$i" timeout 3 "$voxactl" --data "$dir/node$i/data" \
                --config "$dir/node$i/config" --timeout 2 ready >/dev/null 2>&1; then
                waiting+=("node$i(control not ready)")
            fi
        done
        [[ ${#waiting[@]} -eq 0 ]] && break
        if [[ $SECONDS -ge $deadline ]]; then
            voxa_log "not ready after ${timeout_s} s: ${waiting[*]} (need known >= $((count - 1)) and voxactl ready);" \
                "logs in $dir/node*/log and $dir/node*/control.log"
            stop_nodes
            exit 1
        fi
        sleep 0.2
    done

    python3 - "$dir" "$count" "$netns" "$relays" "${ids[*]}" "${keys[*]}" "$dpdk_list" "${macs[*]}" "$dpdk_vdev" \
        "$registry" <<'PY' || voxa_die "writing nodes.json failed"
import json, os, sys
d, count, netns, relays, ids, keys, dpdk_list, macs, dpdk_vdev, registry = sys.argv[1:]
macs = macs.split()
count, netns, relays, ids, keys = int(count), netns == "1", int(relays), ids.split(), keys.split()
dpdk_nodes = {int(x) for x in dpdk_list.split()}
subnet, netns_id = os.environ["VOXA_DEVNET_SUBNET"], os.environ["VOXA_DEVNET_NETNS_ID"]
def read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None
nodes = []
for i in range(count):
    host, port = (f"{subnet}.{i + 2}", 9000) if netns else ("127.0.0.1", int(os.environ["VOXA_DEVNET_PORT_BASE"]) + i)
    api_port = read_int(f"{d}/node{i}/data/run/api_port")
    api_host = host if registry == "central" and i == 0 else "127.0.0.1"
    role = None
    if registry == "central":
        role = "central" if i == 0 else "member"
    elif registry == "dht":
        role = "dht"
    nodes.append({"index": i, "node_id": ids[i], "public_key": keys[i], "host": host, "port": port,
                  "netns": f"{netns_id}-dev{i}" if netns else "", "relay": i < relays,
                  "backend": "dpdk" if i in dpdk_nodes else "io_uring",
                  "veth": f"{netns_id}-v{i}" if netns else "",
                  "mac": ("02:76:78:%02x:%02x:%02x" % (int(subnet.split(".")[1]), i >> 8, i & 0xFF)
                          if dpdk_vdev == "tap" and i in dpdk_nodes else (macs[i] if netns else "")),
                  "file_prefix": f"{netns_id}-dpdk{i}" if i in dpdk_nodes else "",
                  "pid": read_int(f"{d}/node{i}/pid"), "control_pid": read_int(f"{d}/node{i}/control.pid"),
                  "api_port": api_port, "api_host": api_host,
                  "api": f"http://{api_host}:{api_port}" if api_port else None, "registry": role,
                  "data": f"{d}/node{i}/data", "config": f"{d}/node{i}/config",
                  "socket": f"{d}/node{i}/data/run/voxa.sock"})
with open(f"{d}/nodes.json", "w") as f:
    json.dump(nodes, f, indent=2)
    f.write("\n")
PY
    voxa_log "$count nodes ready in ${SECONDS} s ($relays relays, $([[ $netns -eq 1 ]] && echo netns || echo loopback)," \
        "backend $backend$([[ -n "$dpdk_list" ]] && echo " (DPDK nodes: ${dpdk_list% })")$([[ -n "$registry" ]] && echo ", registry $registry")," \
        "$([[ $control -eq 1 ]] && echo "with voxa-control" || echo "data planes only")); $dir/nodes.json"
}

status() {
    local i pid state cstate
    [[ -d "$dir" ]] || { echo "no devnet in $dir"; return 1; }
    for ((i = 0; ; i++)); do
        [[ -d "$dir/node$i" ]] || break
        pid="$(cat "$dir/node$i/pid" 2>/dev/null || true)"
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then state="running pid $pid, known $(known "$i")"; else state="stopped"; fi
        cstate="not started"
        pid="$(cat "$dir/node$i/control.pid" 2>/dev/null || true)"
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            cstate="running pid $pid, $(in_node "$i" timeout 3 "$voxactl" --data "$dir/node$i/data" \
                --config "$dir/node$i/config" --timeout 2 ready 2>&1 | head -n 1)"
        elif [[ -n "$pid" ]]; then
            cstate="stopped"
        fi
        local kind=io_uring
        [[ " $(cat "$dir/dpdk_nodes" 2>/dev/null) " == *" $i "* ]] && kind=dpdk
        local role=""
        case "$(cat "$dir/registry" 2>/dev/null)" in
            central) role="; registry $([[ $i -eq 0 ]] && echo central || echo member)" ;;
            dht) role="; registry dht" ;;
        esac
        echo "node$i: dataplane ($kind) $state; control $cstate$role"
    done
    echo "namespaces: $(voxa_netns_list | tr '\n' ' ')"
}

case "$cmd" in
    start) start ;;
    stop) stop_nodes; voxa_log "stopped ($dir)" ;;
    status) status ;;
    *) usage ;;
esac
