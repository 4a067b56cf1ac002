#!/usr/bin/env bash
# Network namespaces for the dev network: one namespace per node, joined by veth pairs into one bridge, so that
# every node is a separate host as far as the kernel is concerned (own routing table, own sockets, own loopback).
#
#   namespace voxa-devI   interface eth0 = 10.77.0.(I+2)/24, lo up
#   host side             veth voxa-vI, enslaved to bridge voxa-br0 = 10.77.0.1/24
#
# The names and the subnet come from the environment, so that several dev networks (CI, engineers, benchmarks)
# can exist side by side: VOXA_NETNS_PREFIX (default "voxa") gives namespaces <prefix>-devI, veths <prefix>-vI and
# the bridge <prefix>-br0; VOXA_NETNS_SUBNET (three octets) the /24. Its default is 10.77.0 for the prefix "voxa"
# and 10.X.0 for any other prefix, X = 78 + (cksum of the prefix mod 150), so two prefixes rarely share a subnet
# (set VOXA_NETNS_SUBNET when they do). Keep the prefix at most 8 characters (interface names have 15).
#
# DPDK nodes (scripts/devnet.sh --backend dpdk|mixed): `voxa_netns_up N "1 3"` leaves eth0 of namespaces 1 and 3
# WITHOUT a kernel address (the DPDK node owns 10.77.0.(I+2) on it through net_af_packet, so the kernel neither
# answers ARP for it nor sends ICMP), with IPv6 off (no kernel ND / router solicitations on the DPDK port), and
# turns TX checksum offload off on every other eth0 and every host-side veth: the kernel otherwise leaves UDP
# checksums unfinished on veth (CHECKSUM_PARTIAL) and a packet socket on the far end would see them so.
# With a net_tap port (devnet.sh --dpdk-vdev tap) the DPDK node's port is a tap device the PMD creates in the
# namespace; voxa_netns_attach_tap I IFACE then joins it to eth0 as a wire: tc ingress on each redirects every
# frame to the other's egress (u32 match-all + mirred). Not a bridge: the PMD gives the kernel tap the port's own
# MAC, and a bridge would keep frames for a port's own MAC to itself.
#
# Sourced by devnet.sh (functions voxa_netns_up N [DPDK_LIST], voxa_netns_down, voxa_netns_addr I,
# voxa_netns_name I, voxa_netns_veth I, voxa_netns_attach_tap I IFACE), or run directly: `scripts/netns.sh up N
# [DPDK_LIST]`, `scripts/netns.sh down`, `scripts/netns.sh list`. Needs root. `down` also ends the processes still
# running inside the namespaces (listed by `ip netns pids`, ended by pid).

voxa_netns_id="${VOXA_NETNS_PREFIX:-voxa}"
voxa_netns_bridge="$voxa_netns_id-br0"
voxa_netns_prefix="$voxa_netns_id-dev"
voxa_netns_veth_prefix="$voxa_netns_id-v"
if [[ -n "${VOXA_NETNS_SUBNET:-}" ]]; then
    voxa_netns_subnet="$VOXA_NETNS_SUBNET"
elif [[ "$voxa_netns_id" == voxa ]]; then
    voxa_netns_subnet=10.77.0
else
    voxa_netns_subnet="10.$((78 + $(printf '%s' "$voxa_netns_id" | cksum | cut -d' ' -f1) % 150)).0"
fi

voxa_netns_name() { printf '%s%s' "$voxa_netns_prefix" "$1"; }
voxa_netns_addr() { printf '%s.%s' "$voxa_netns_subnet" "$(($1 + 2))"; }
voxa_netns_veth() { printf '%s%s' "$voxa_netns_veth_prefix" "$1"; }

# voxa_netns_tx_csum_off DEV [NS]: TX checksum offload off on DEV (inside namespace NS, if given).
voxa_netns_tx_csum_off() {
    local dev="$1" ns="${2:-}"
    if command -v ethtool >/dev/null 2>&1; then
        if [[ -n "$ns" ]]; then
            ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null 2>&1
        else
            ethtool -K "$dev" tx off >/dev/null 2>&1
        fi
        return
    fi
    # No ethtool: the same through the SIOCETHTOOL ioctl (ETHTOOL_STXCSUM = 0x17).
    local py='import array, fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
buf = array.array("B", struct.pack("II", 0x17, 0))
fcntl.ioctl(s.fileno(), 0x8946, struct.pack("16sP", sys.argv[1].encode(), buf.buffer_info()[0]))'
    if [[ -n "$ns" ]]; then
        ip netns exec "$ns" python3 -c "$py" "$dev"
    else
        python3 -c "$py" "$dev"
    fi
}

# voxa_netns_up N [DPDK_LIST]: creates the bridge and namespaces 0..N-1 (removing leftovers of an earlier run
# first). DPDK_LIST: space- or comma-separated indices of DPDK nodes (see above).
voxa_netns_up() {
    local count="$1" dpdk_list="${2:-}" i ns veth is_dpdk
    dpdk_list=" ${dpdk_list//,/ } "
    voxa_netns_down
    ip link add "$voxa_netns_bridge" type bridge || return 1
    ip addr add "$voxa_netns_subnet.1/24" dev "$voxa_netns_bridge" || return 1
    ip link set "$voxa_netns_bridge" up || return 1
    for ((i = 0; i < count; i++)); do
        ns="$(voxa_netns_name "$i")"
        veth="$(voxa_netns_veth "$i")"
        is_dpdk=0
        [[ "$dpdk_list" == *" $i "* ]] && is_dpdk=1
        ip netns add "$ns" || return 1
        ip link add "$veth" type veth peer name eth0 netns "$ns" || return 1
        ip link set "$veth" master "$voxa_netns_bridge" || return 1
        ip link set "$veth" up || return 1
        ip -n "$ns" link set lo up || return 1
        if [[ $is_dpdk -eq 0 ]]; then
            ip -n "$ns" addr add "$(voxa_netns_addr "$i")/24" dev eth0 || return 1
        else
            ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 || return 1
        fi
        ip -n "$ns" link set eth0 up || return 1
    done
    if [[ "$dpdk_list" =~ [0-9] ]]; then
        for ((i = 0; i < count; i++)); do
            voxa_netns_tx_csum_off "$(voxa_netns_veth "$i")" || return 1
            [[ "$dpdk_list" == *" $i "* ]] || voxa_netns_tx_csum_off eth0 "$(voxa_netns_name "$i")" || return 1
        done
        voxa_netns_tx_csum_off "$voxa_netns_bridge" || return 1
    fi
}

# voxa_netns_attach_tap I IFACE [TENTHS]: waits (default 10 s) until the tap IFACE exists in namespace I (the
# net_tap PMD creates it when the node starts), then joins it to eth0 (every frame one receives leaves through
# the other). Again after a restart of the node (the PMD makes a new tap).
voxa_netns_attach_tap() {
    local ns tenths="${3:-100}" t a b
    ns="$(voxa_netns_name "$1")"
    for ((t = 0; t < tenths; t++)); do
        if ip -n "$ns" link show "$2" >/dev/null 2>&1; then
            ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" 2>/dev/null
            ip -n "$ns" link set "$2" up || return 1
            for a in eth0 "$2"; do
                b="$2"
                [[ "$a" == eth0 ]] || b=eth0
                ip netns exec "$ns" tc qdisc del dev "$a" ingress 2>/dev/null
                ip netns exec "$ns" tc qdisc add dev "$a" ingress || return 1
                ip netns exec "$ns" tc filter add dev "$a" parent ffff: protocol all u32 match u32 0 0 \
                    action mirred egress redirect dev "$b" || return 1
            done
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# voxa_netns_list: the dev namespaces of this prefix that exist now, one per line.
voxa_netns_list() {
    ip netns list 2>/dev/null | awk -v p="$voxa_netns_prefix" 'index($1, p) == 1 { print $1 }'
}

# voxa_netns_down: ends what still runs in the namespaces (SIGTERM, SIGKILL after 3 s), deletes the namespaces
# (which deletes their veth ends), any leftover host-side veth and the bridge. Safe to call when nothing exists.
voxa_netns_down() {
    local ns pid pids=() link i
    for ns in $(voxa_netns_list); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$pid"); done
    done
    if [[ ${#pids[@]} -gt 0 ]]; then
        kill -TERM "${pids[@]}" 2>/dev/null
        for ((i = 0; i < 30; i++)); do
            local alive=0
            for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            [[ $alive -eq 0 ]] && break
            sleep 0.1
        done
        kill -KILL "${pids[@]}" 2>/dev/null
    fi
    for ns in $(voxa_netns_list); do ip netns delete "$ns" 2>/dev/null; done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' \
        | grep -F -- "$voxa_netns_veth_prefix" | grep -E "^${voxa_netns_veth_prefix}[0-9]+$"); do
        ip link delete "$link" 2>/dev/null
    done
    if ip link show "$voxa_netns_bridge" >/dev/null 2>&1; then
        ip link delete "$voxa_netns_bridge" type bridge 2>/dev/null
    fi
    return 0
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -uo pipefail
    case "${1:-}" in
        up) [[ $# -ge 2 && $# -le 3 ]] || { echo "usage: $0 up N [DPDK_LIST]" >&2; exit 2; }
            voxa_netns_up "$2" "${3:-}" ;;
        down) voxa_netns_down ;;
        list) voxa_netns_list ;;
        *) echo "usage: $0 up N [DPDK_LIST] | down | list" >&2; exit 2 ;;
    esac
fi
