#!/usr/bin/env bash
# The main job: install what is missing, build, start an 8-node dev network in network namespaces (6 relays,
# 2 endpoints; per node voxa-dataplane and voxa-control with the REST api plugin), send a 256 MiB file from node 7 to node 6 split n=5, k=3 over circuits of 2 relays (3 link hops),
# at most 2 parts per relay, verify its SHA-256 at node 6, reply to the last chunk from node 6, receive the reply at
# node 7, print a report (goodput, the direct TCP baseline and the ratio, per-node counters read from each node's
# REST API with `voxactl --json stats/status` inside its namespace), stop the network.
# Exits 0 only if every byte verified and the reply arrived. The network is stopped on every exit path.
#
# Environment: VOXA_RUN_BYTES (default 268435456), VOXA_DEVNET_DIR (default /tmp/voxa-run), VOXA_BUILD
# (default build/release), VOXA_RUN_TIMEOUT_S (per transfer, default 150).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$voxa_root"

bytes="${VOXA_RUN_BYTES:-268435456}"
dir="${VOXA_DEVNET_DIR:-/tmp/voxa-run}"
build="${VOXA_BUILD:-build/release}"
timeout_s="${VOXA_RUN_TIMEOUT_S:-150}"
from=7
to=6
[[ "$(id -u)" -eq 0 ]] || voxa_die "needs root (network namespaces)"

scripts/setup.sh
if [[ ! -f "$build/build.ninja" ]]; then
    meson setup "$build" --buildtype=release -Dwerror=true >/dev/null
fi
targets=(voxa-dataplane voxa-control voxa_api voxactl voxa-bench)
meson compile -C "$build" -j "$voxa_jobs" "${targets[@]}" >/dev/null \
    || { meson compile -C "$build" -j 1 "${targets[@]}" | tail -n 40; exit 1; }
voxactl="$build/controlplane/voxactl/voxactl"
bench="$build/bench/e2e/voxa-bench"

work="$(mktemp -d /tmp/voxa-run-work.XXXXXX)"
bg_pids=()
cleanup() {
    local pid
    for pid in "${bg_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    scripts/devnet.sh stop --dir "$dir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
scripts/devnet.sh start 8 --netns --relays 6 --hops 2 --n 5 --k 3 --parts-per-relay 2 --dir "$dir" --build "$build"
start_s=$((SECONDS - t0))
data() { printf '%s/node%s/data' "$dir" "$1"; }
node_id() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[int(sys.argv[2])]["node_id"])' \
    "$dir/nodes.json" "$1"; }

head -c "$bytes" /dev/urandom >"$work/file"
sha_sent="$(sha256sum "$work/file" | cut -d' ' -f1)"

# Receivers first, so nothing arrives before someone listens: the file at node 6, the reply at node 7.
mkdir -p "$work/out"
"$voxactl" --data "$(data $to)" recv --count 1 --out-dir "$work/out" --timeout "$timeout_s" \
    >"$work/recv6.out" 2>"$work/recv6.err" &
recv6=$!
bg_pids+=("$recv6")
"$voxactl" --data "$(data $from)" recv --count 1 --out-dir "$work/reply" --timeout $((timeout_s + 60)) \
    >"$work/recv7.out" 2>"$work/recv7.err" &
recv7=$!
bg_pids+=("$recv7")
sleep 0.3

voxa_log "sending $bytes bytes from node $from to node $to"
send_t0="$(date +%s.%N)"
send_rc=0
"$voxactl" --data "$(data $from)" send "$(node_id $to)" --file "$work/file" >"$work/send.out" 2>"$work/send.err" \
    || send_rc=$?
recv_rc=0
wait "$recv6" || recv_rc=$?
send_t1="$(date +%s.%N)"
seconds="$(python3 -c "print(f'{$send_t1 - $send_t0:.2f}')")"

ok=1
[[ $send_rc -eq 0 ]] || { ok=0; voxa_log "voxactl send exited $send_rc: $(tail -n 5 "$work/send.err")"; }
[[ $recv_rc -eq 0 ]] || { ok=0; voxa_log "voxactl recv at node $to exited $recv_rc: $(tail -n 5 "$work/recv6.err")"; }
# `file <name> <bytes> <sha256> <message-id of the chunk that completed it> <in-reply-to or ->`
read -r _ got_name got_bytes got_sha last_id _ < <(grep '^file ' "$work/recv6.out" | tail -n 1) || true
sha_disk=""
if [[ -n "${got_name:-}" ]]; then
    got_path="$got_name"
    [[ -f "$got_path" ]] || got_path="$work/out/$(basename "$got_name")"
    [[ -f "$got_path" ]] && sha_disk="$(sha256sum "$got_path" | cut -d' ' -f1)"
fi
if [[ "${got_sha:-}" == "$sha_sent" && "$sha_disk" == "$sha_sent" && "${got_bytes:-}" == "$bytes" ]]; then
    verified="yes ($sha_sent)"
else
    ok=0
    verified="NO: sent $sha_sent, voxactl reported ${got_sha:-nothing} (${got_bytes:-?} bytes), file on disk ${sha_disk:-missing}"
fi

# The reply goes to the last chunk's message id; node 7's recv prints `message <id> <in-reply-to> <bytes> <text>`.
reply_ok="no"
if [[ -n "${last_id:-}" ]]; then
    if "$voxactl" --data "$(data $to)" reply "$last_id" --data "voxa run.sh: got $bytes bytes, sha256 $sha_sent" \
        >"$work/reply.out" 2>"$work/reply.err"; then
        rc7=0
        wait "$recv7" || rc7=$?
        if [[ $rc7 -eq 0 ]] && awk -v id="$last_id" '$1 == "message" && $3 == id { f = 1 } END { exit !f }' \
            "$work/recv7.out"; then
            reply_ok="yes"
        fi
        [[ "$reply_ok" == yes ]] || voxa_log "node $from: reply not received (recv exit $rc7): $(tail -n 3 "$work/recv7.out" "$work/recv7.err")"
    else
        voxa_log "voxactl reply failed: $(tail -n 3 "$work/reply.err")"
    fi
else
    voxa_log "no message id in voxactl recv's output: $(head -c 300 "$work/recv6.out")"
fi
[[ "$reply_ok" == yes ]] || ok=0

# The baseline: the same number of bytes over one plain TCP connection between the two namespaces.
baseline_json="$("$bench" baseline --devnet "$dir" --from $from --to $to --size "$bytes" --count 1 --concurrency 1 \
    2>"$work/baseline.err" || true)"

# Per-node counters, from each node's REST API (127.0.0.1:9999 inside its namespace): /stats (the data plane's
# shared-memory counters summed over workers) and /status (node, both processes).
for ((i = 0; i < 8; i++)); do
    for what in stats status; do
        ip netns exec "voxa-dev$i" "$voxactl" --data "$(data $i)" --config "$dir/node$i/config" --json "$what" \
            >"$work/$what$i.json" 2>"$work/$what$i.err" || {
            voxa_log "node $i: voxactl $what: $(tail -n 1 "$work/$what$i.err")"
            echo '{}' >"$work/$what$i.json"
        }
    done
done

python3 - "$work" "$bytes" "$seconds" "$baseline_json" "$verified" "$reply_ok" "$start_s" "$dir" <<'PY'
import json, sys
work, nbytes, seconds, baseline, verified, reply_ok, start_s, d = sys.argv[1:]
nbytes, seconds = int(nbytes), float(seconds)
goodput = nbytes * 8 / seconds / 1e9 if seconds > 0 else 0
try:
    base = json.loads(baseline)["goodput_gbps"]
except Exception:
    base = 0
nodes = json.load(open(f"{d}/nodes.json"))
print()
print("voxa run.sh report")
print(f"  network     8 nodes in network namespaces (10.77.0.2-9 on bridge voxa-br0), up in {start_s} s;")
print("              relays 0-5, endpoints 6 and 7")
print("  splitting   n=5, k=3; each part on its own circuit origin -> relay -> relay -> destination (2 relays,")
print("              3 link hops); 5 circuits x 2 relays = 10 relay slots over 6 relays, so parts_per_relay_max = 2")
print("              (< k = 3): no relay ever carries k parts of a message")
print(f"  file        {nbytes} bytes ({nbytes / 2**20:.0f} MiB), node 7 -> node 6, in 16 MiB messages")
print(f"  verified    {verified}")
print(f"  reply       {reply_ok}")
print(f"  time        {seconds:.2f} s, goodput {goodput:.3f} Gbit/s")
if base > 0:
    print(f"  baseline    direct TCP between the two namespaces: {base:.3f} Gbit/s; voxa/baseline = {goodput / base:.3f}x")
else:
    print("  baseline    not measured (see voxa-bench baseline's stderr above)")
print()
def load(name):
    try:
        return json.load(open(f"{work}/{name}.json"))
    except Exception:
        return {}
print("  per node, from the REST API (GET /stats totals, GET /status):")
print(f"  {'node':<5} {'role':<9} {'dp':>3} {'sessions':>8} {'cells fwd':>11} {'cells bwd':>11} {'msgs sent':>9} "
      f"{'msgs rcvd':>9} {'msgs deliv':>10} {'retrans':>8} {'drops':>8}")
drop_keys = ("link_drops", "node_drops", "circuit_drops", "reassembly_drops", "handover_drops", "tx_dropped_full")
for n in nodes:
    i = n["index"]
    t = load(f"stats{i}").get("totals", {})
    st = load(f"status{i}")
    up = st.get("dataplane", {}).get("up")
    drops = sum(t.get(k, 0) for k in drop_keys) if t else "-"
    print(f"  {i:<5} {'relay' if n['relay'] else 'endpoint':<9} {'up' if up else ('-' if up is None else 'DOWN'):>3} "
          f"{st.get('sessions', '-'):>8} {t.get('cells_relayed_forward', '-'):>11} "
          f"{t.get('cells_relayed_backward', '-'):>11} {t.get('messages_sent', '-'):>9} "
          f"{t.get('messages_received', '-'):>9} {t.get('messages_delivered', '-'):>10} "
          f"{t.get('fragments_retransmitted', '-'):>8} {drops:>8}")
relayed = sum(load(f"stats{n['index']}").get("totals", {}).get("cells_relayed_forward", 0) for n in nodes if n["relay"])
originated = load("stats7").get("totals", {}).get("cells_originated", 0)
if originated:
    print(f"  ratios      relay cells forwarded / cells originated at node 7 = {relayed / originated:.2f} "
          "(every cell crosses 2 relays: 2.00 when nothing is lost or retransmitted)")
PY
if [[ -s "$work/baseline.err" ]]; then voxa_log "baseline: $(tail -n 3 "$work/baseline.err")"; fi
if [[ $ok -eq 1 ]]; then
    echo "run.sh: OK"
else
    echo "run.sh: FAILED (the daemons' logs stay in $dir/node*/log)"
    exit 1
fi
