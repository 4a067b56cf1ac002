#!/usr/bin/env bash
# Network namespaces for the dev network: one namespace per node, joined by veth pairs into one bridge, so that
# every node is a separate host as far as the kernel is concerned (own routing table, own sockets, own loopback).
#
#   namespace voxa-devI   interface eth0 = 10.77.0.(I+2)/24, lo up
#   host side             veth voxa-vI, enslaved to bridge voxa-br0 = 10.77.0.1/24
#
# Sourced by devnet.sh (functions voxa_netns_up N, voxa_netns_down, voxa_netns_addr I, voxa_netns_name I), or run
# directly: `scripts/netns.sh up N`, `scripts/netns.sh down`, `scripts/netns.sh list`. Needs root.
# `down` also ends the processes still running inside the namespaces (listed by `ip netns pids`, ended by pid).

voxa_netns_bridge=voxa-br0
voxa_netns_prefix=voxa-dev
voxa_netns_subnet=10.77.0

voxa_netns_name() { printf '%s%s' "$voxa_netns_prefix" "$1"; }
voxa_netns_addr() { printf '%s.%s' "$voxa_netns_subnet" "$(($1 + 2))"; }

# voxa_netns_up N: creates the bridge and namespaces 0..N-1 (removing leftovers of an earlier run first).
voxa_netns_up() {
    local count="$1" i ns
    voxa_netns_down
    ip link add "$voxa_netns_bridge" type bridge || return 1
    ip addr add "$voxa_netns_subnet.1/24" dev "$voxa_netns_bridge" || return 1
    ip link set "$voxa_netns_bridge" up || return 1
    for ((i = 0; i < count; i++)); do
        ns="$(voxa_netns_name "$i")"
        ip netns add "$ns" || return 1
        ip link add "voxa-v$i" type veth peer name eth0 netns "$ns" || return 1
        ip link set "voxa-v$i" master "$voxa_netns_bridge" || return 1
        ip link set "voxa-v$i" up || return 1
        ip -n "$ns" link set lo up || return 1
        ip -n "$ns" addr add "$(voxa_netns_addr "$i")/24" dev eth0 || return 1
        ip -n "$ns" link set eth0 up || return 1
    done
}

# voxa_netns_list: the voxa dev namespaces that exist now, one per line.
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
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep '^voxa-v'); do
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
        up) [[ $# -eq 2 ]] || { echo "usage: $0 up N" >&2; exit 2; }; voxa_netns_up "$2" ;;
        down) voxa_netns_down ;;
        list) voxa_netns_list ;;
        *) echo "usage: $0 up N | down | list" >&2; exit 2 ;;
    esac
fi
