#!/usr/bin/env bash
# 2 MiB hugepages for the DPDK backend, through /sys (no dpdk-hugepages.py needed).
#
#   scripts/hugepages.sh reserve N     reserve N 2 MiB pages (in total, not in addition) and mount hugetlbfs on
#                                      /dev/hugepages if no hugetlbfs is mounted; fails if fewer than N could be had
#   scripts/hugepages.sh release       give every 2 MiB page back (pages in use by a running DPDK process stay
#                                      until it exits); unmounts /dev/hugepages if this script mounted it
#   scripts/hugepages.sh status        total/free per page size and the hugetlbfs mounts
#
# Needs root (or sudo). A DPDK node needs about mempool_mbufs x 2.3 KiB per socket plus ~100 MiB for EAL:
# 512 pages (1 GiB) runs a few nodes. Tests and devnets can use dataplane.json "dpdk": {"no_huge": true} instead.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sys=/sys/kernel/mm/hugepages/hugepages-2048kB
mount_point=/dev/hugepages
marker=/run/voxa-hugepages-mounted

sudo_cmd="$(voxa_sudo)" || voxa_die "needs root or sudo"

write_pages() {
    echo "$1" | $sudo_cmd tee "$sys/nr_hugepages" >/dev/null
}

hugetlbfs_mounted() {
    grep -q ' hugetlbfs ' /proc/mounts
}

status() {
    for d in /sys/kernel/mm/hugepages/hugepages-*; do
        [[ -d "$d" ]] || continue
        printf '%s: %s total, %s free\n' "$(basename "$d")" "$(cat "$d/nr_hugepages")" "$(cat "$d/free_hugepages")"
    done
    if hugetlbfs_mounted; then
        grep ' hugetlbfs ' /proc/mounts | awk '{print "hugetlbfs mounted on " $2 " (" $4 ")"}'
    else
        echo "no hugetlbfs mounted"
    fi
}

case "${1:-}" in
    reserve)
        n="${2:-}"
        [[ "$n" =~ ^[0-9]+$ ]] || voxa_die "usage: $0 reserve N   (N 2 MiB pages, e.g. 512 for 1 GiB)"
        [[ -d "$sys" ]] || voxa_die "this kernel has no 2 MiB hugepages ($sys missing)"
        write_pages "$n"
        got="$(cat "$sys/nr_hugepages")"
        if [[ "$got" -lt "$n" ]]; then
            # Memory is fragmented: compact and try once more.
            echo 1 | $sudo_cmd tee /proc/sys/vm/compact_memory >/dev/null 2>&1 || true
            write_pages "$n"
            got="$(cat "$sys/nr_hugepages")"
        fi
        if ! hugetlbfs_mounted; then
            $sudo_cmd mkdir -p "$mount_point"
            $sudo_cmd mount -t hugetlbfs -o pagesize=2M nodev "$mount_point"
            $sudo_cmd touch "$marker"
        fi
        [[ "$got" -ge "$n" ]] || voxa_die "asked for $n pages, the kernel gave $got (not enough free contiguous memory)"
        voxa_log "reserved $got 2 MiB pages"
        status
        ;;
    release)
        [[ -d "$sys" ]] || exit 0
        write_pages 0
        if [[ -e "$marker" ]]; then
            $sudo_cmd umount "$mount_point" 2>/dev/null || true
            $sudo_cmd rm -f "$marker"
        fi
        left="$(cat "$sys/nr_hugepages")"
        [[ "$left" -eq 0 ]] || voxa_log "$left pages still in use (a DPDK process is running); they go when it exits"
        status
        ;;
    status)
        status
        ;;
    *)
        echo "usage: $0 reserve N | release | status" >&2
        exit 2
        ;;
esac
