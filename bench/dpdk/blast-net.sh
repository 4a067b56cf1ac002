#!/usr/bin/env bash
# The kernel-side wiring for voxa-blast's af_packet and uring modes: one veth pair between the host (where the
# generator's UDP sockets live) and a network namespace holding the relay under test.
#
#   bench/dpdk/blast-net.sh up af_packet|uring      # (re)creates it
#   bench/dpdk/blast-net.sh down
#
#   host  <p>-h  10.250.2.1/24   <-- veth -->   <p>-r  in netns <p>-relay
#                                                uring:     10.250.2.2/24 on <p>-r (the kernel stack; the relay binds
#                                                           0.0.0.0:9000)
#                                                af_packet: no address on <p>-r, IPv6 off (the DPDK relay owns
#                                                           10.250.2.2, MAC 02:76:6d:00:02:20, on net_af_packet)
# <p> is VOXA_NETNS_PREFIX (default vxb here, never voxa: that one belongs to the devnets). The subnet is outside
# scripts/netns.sh's range (10.77 and 10.78..227), so it cannot collide with a devnet. For af_packet the host has a
# static neighbour for the relay (the DPDK relay answers ARP too, this only saves the round trip) and TX checksum
# offload off on <p>-h (a veth leaves UDP checksums unfinished, and the DPDK relay checks them in software).
# voxa-blast's --netns/--host-iface/--relay-iface default to the vxb names; bench/dpdk/run.sh passes <p>'s.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

p="${VOXA_NETNS_PREFIX:-vxb}"
[[ "$p" != voxa ]] || voxa_die "VOXA_NETNS_PREFIX=voxa belongs to the devnets; use another (default vxb)"
ns="$p-relay"
host_if="$p-h"
ns_if="$p-r"
host_ip=10.250.2.1
relay_ip=10.250.2.2
relay_mac=02:76:6d:00:02:20

down() {
    ip link del "$host_if" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    return 0
}

up() {
    local mode="$1"
    [[ "$mode" == af_packet || "$mode" == uring ]] || voxa_die "usage: $0 up af_packet|uring"
    [[ "$(id -u)" -eq 0 ]] || voxa_die "needs root"
    down
    ip netns add "$ns" || voxa_die "ip netns add $ns failed"
    ip link add "$host_if" type veth peer name "$ns_if" netns "$ns" || voxa_die "veth failed"
    ip addr add "$host_ip/24" dev "$host_if"
    ip link set "$host_if" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$ns_if" up
    if [[ "$mode" == uring ]]; then
        ip -n "$ns" addr add "$relay_ip/24" dev "$ns_if"
    else
        ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ns_if.disable_ipv6=1"
        ip neigh replace "$relay_ip" lladdr "$relay_mac" dev "$host_if" nud permanent
        ethtool -K "$host_if" tx off >/dev/null 2>&1 || voxa_log "ethtool -K $host_if tx off failed"
    fi
    # Bigger socket buffers for the relay's and the generator's sockets (the kernel path drops at the receiver
    # either way; this only keeps bursts from being cut short).
    sysctl -qw net.core.rmem_max=67108864 net.core.wmem_max=67108864
    voxa_log "up ($mode): $host_if $host_ip <-> $ns:$ns_if $relay_ip"
}

case "${1:-}" in
    up) up "${2:-}" ;;
    down) down; voxa_log "down" ;;
    *) voxa_die "usage: $0 up af_packet|uring | down" ;;
esac
