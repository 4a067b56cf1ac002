#!/usr/bin/env python3
"""The registry plugin on a 12-node devnet in network namespaces (scripts/devnet.sh --registry), both backends.

central: node 0 is the registry; every other node lists only node 0 (with api_port) as bootstrap and gossip is off
  (p2p discovery "registry"), so each node's data plane learns the other ten only from what its registry plugin
  pushes. Checked: every directory complete, the roles and counts in /registry/status, the voxactl registry and
  names verbs, a split message transfer verified by hash, forged records (wrong key, tampered, expired, oversized
  fields, another key's link descriptor, a replayed older sequence) refused with 400 by every node and counted in
  /registry/status, the registry node's voxa-control restarted with nothing lost (records, accounts, tokens), a
  relay killed -> dropped from /data/discover_relays and from the origin's directory within down_after_s + poll,
  new circuits avoid it, and it is used again after it comes back; login rate limit -> 429 + Retry-After.
dht: the same network on OpenDHT with no central node: directories complete, transfer verified, a killed relay
  avoided once its records expire (record_lifetime_s 10), and used again after it comes back.

Measured and printed (both backends): a relay's start -> its first use in a circuit by another node, and its death
-> its avoidance (gone from the origin's directory). `--bench`: 5 kill/start cycles per backend and the medians;
`--only central|dht`: one backend. Exit 0 pass, 1 fail, 77 skip (not root, or the registry plugin not built).
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from voxa_it import (BUILD, VOXACTL, Devnet, Failure, Receiver, check, file_lines, main, need_root,  # noqa: E402
                     random_file, sha256, skip, transfer, wait_until)

COUNT = 12
RELAYS = COUNT - 2            # nodes 0..9 relays, 10 and 11 endpoints
ORIGIN, DEST = 11, 10
VICTIM = 5                    # the relay stopped and started again
PREFIX = "vxreg"              # namespaces of our own: never those of another integration test
DOWN_AFTER_S, POLL_S, LIFETIME_DHT_S = 3, 1, 10  # devnet.sh --registry's plugin settings
P2P = {"circuit_lifetime_s": 10}                 # the shortest the data plane takes: new circuits come quickly
MODULE = BUILD / "plugins" / "registry" / "voxa_registry.so"
BENCH = "--bench" in sys.argv
CYCLES = 5 if BENCH else 1


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def dht_built():
    r = subprocess.run(["ldd", str(MODULE)], capture_output=True, text=True)
    return "opendht" in r.stdout


# ---- small REST helpers ----

def get(net, i, path, token=""):
    """GET on node i; token "" = none (the registry's open routes), None = the node's own."""
    status, _, body = net.api(i, path, token=net.token(i) if token is None else token)
    return status, body


def get_ok(net, i, path, token=""):
    status, body = get(net, i, path, token)
    check(status == 200, f"GET {path} on node {i}: {status} {body}")
    return body


def peer_ids(net, i):
    """The node ids in node i's data-plane directory (GET /peers, with the token: node 0 listens off loopback)."""
    return {p["node_id"] for p in get_ok(net, i, "/peers", token=None)["peers"]}


def live_relays(net, i):
    return {r["relay_id"] for r in get_ok(net, i, "/data/discover_relays/")["relays"]}


def refused_total(net, i):
    return sum(get_ok(net, i, "/registry/status")["refused"].values())


def circuits(net, i):
    return get_ok(net, i, "/circuits", token=None)["circuits"]


def uses(circuit, node_id):
    return any(node_id.startswith(h) or h.startswith(node_id) for h in circuit.get("path", []) if h)



# ---- the checks ----

def check_directories(net, mode):
    """Every node's data plane knows every other node; with central, members were told only of node 0."""
    ids = [n["node_id"] for n in net.nodes]
    for i in range(COUNT):
        p2p = json.loads((net.dir / f"node{i}" / "config" / "p2p.json").read_text())
        check(p2p.get("discovery") == "registry", f"node {i}: p2p discovery {p2p.get('discovery')}")
        boot = {b["id"] for b in p2p["bootstrap_nodes"]}
        if mode == "central":
            check(boot == (set() if i == 0 else {ids[0]}), f"node {i}: bootstrap {boot}")
        missing = set(ids) - {ids[i]} - peer_ids(net, i)
        check(not missing, f"node {i} ({mode}): its directory lacks {sorted(x[:8] for x in missing)}")
        st = get_ok(net, i, "/registry/status")
        want = {"central": "central" if i == 0 else "member", "dht": None}[mode]
        if want:
            check(st["role"] == want, f"node {i}: role {st['role']}, expected {want}")
        else:
            check(st["backend"] == "dht", f"node {i}: backend {st['backend']}")
            check(st.get("dht") is not None, f"node {i}: no dht state in /registry/status")
    log(f"{mode}: every directory complete (gossip off): {COUNT - 1} peers each")


def check_central_status(net):
    st = get_ok(net, 0, "/registry/status")
    rec = st["records"]
    check(rec["nri"] >= COUNT and rec["rri"] >= RELAYS, f"central holds {rec}, expected {COUNT} nri, {RELAYS} rri")
    check(st["sessions"] >= COUNT - 1, f"central has {st['sessions']} sessions, expected {COUNT - 1}")
    relays = live_relays(net, ORIGIN)
    check(len(relays) == RELAYS, f"node {ORIGIN} sees {len(relays)} live relays, expected {RELAYS}")
    # The same through voxactl, on a member (open routes) and on the registry (its API off loopback).
    out = net.ctl(ORIGIN, "registry", "relays").stdout
    check(f"{RELAYS} relays, {RELAYS} live" in out, f"voxactl registry relays:\n{out}")
    j = json.loads(net.ctl(0, "--json", "registry", "status").stdout)
    check(j["role"] == "central", f"voxactl registry status: {j}")
    one = json.loads(net.ctl(ORIGIN, "registry", "fetch", net.nodes[VICTIM]["node_id"], "--json").stdout)
    check(one["nri"] and one["rri"] and one["rri"]["relay_id"] == net.nodes[VICTIM]["node_id"], f"fetch: {one}")
    log(f"central: {rec['nri']} nri, {rec['rri']} rri, {st['sessions']} sessions; voxactl registry verbs ok")


def check_names(net):
    r = net.ctl(ORIGIN, "names", "claim", "origin.devnet", "--service", "inbox", "--ttl", "60")
    check("new" in r.stdout or "updated" in r.stdout, f"names claim: {r.stdout}")
    res = json.loads(net.ctl(ORIGIN, "--json", "names", "resolve", "origin.devnet").stdout)
    check(res["name"]["target"] == net.nodes[ORIGIN]["node_id"], f"resolve: {res}")
    check(res["name"]["service"] == "inbox", f"resolve: {res}")
    listed = json.loads(net.ctl(ORIGIN, "--json", "names", "list").stdout)["names"]
    check(any(n["name"] == "origin.devnet" and n["owner"] == net.nodes[ORIGIN]["public_key"] for n in listed),
          f"names list: {listed}")
    # Names are network-wide: node ORIGIN (a member) posts its claim to the central registry, and node DEST (another
    # member) pulls it from there on its next poll, verified on arrival.
    def dest_has_it():
        r = net.ctl(DEST, "--json", "names", "resolve", "origin.devnet", check_rc=False)
        return r.returncode == 0 and json.loads(r.stdout)["name"]["owner"] == net.nodes[ORIGIN]["public_key"]
    wait_until(f"origin.devnet carried by the central registry to node {DEST}", dest_has_it, 15)
    # The signed record posted to a node again (anyone may post it) changes nothing...
    rec = res["name"]
    status, _, body = net.api(DEST, "/registry/names", method="POST", body=rec, token="")
    check(status == 200 and body["result"] == "unchanged",
          f"posting node {ORIGIN}'s name record to node {DEST}: {status} {body}")
    # ...a tampered copy is not...
    status, _, body = net.api(DEST, "/registry/names", method="POST", body=dict(rec, target=net.nodes[DEST]["node_id"]),
                              token="")
    check(status == 400 and body["error"]["code"] == "refused", f"tampered name record: {status} {body}")
    # ...and that node's own key cannot take the name over: the first owner keeps it (403 not_owner).
    other = net.ctl(DEST, "names", "claim", "origin.devnet", check_rc=False)
    check(other.returncode == 1 and "403" in other.stderr and "not_owner" in other.stderr,
          f"node {DEST} claiming node {ORIGIN}'s name: {other.returncode} {other.stderr}")
    res = json.loads(net.ctl(DEST, "--json", "names", "resolve", "origin.devnet").stdout)
    check(res["name"]["owner"] == net.nodes[ORIGIN]["public_key"], f"resolve at node {DEST}: {res}")

    # Node DEST's data plane resolves the name on its local endpoint too: the registry pushes names into its table.
    def local_resolves():
        r = net.ctl(DEST, "--json", "resolve", "origin.devnet", check_rc=False)
        return r.returncode == 0 and json.loads(r.stdout).get("node_id") == net.nodes[ORIGIN]["node_id"]
    wait_until(f"node {DEST}'s local endpoint resolving origin.devnet", local_resolves, 10)
    log("names: claim, resolve, list; carried through the central registry; tampered copy and takeover refused; "
        "local RESOLVE")


def forged_from(good, other):
    """Records that must be refused, made from node records that verify (`good`) and another node's (`other`)."""
    now = int(time.time())
    out = []
    r = dict(good, node_id=other["node_id"], public_key=other["public_key"], public_key_hash=other["node_id"])
    out.append(("another node's key over this record's signature", r))
    out.append(("tampered metadata (signature no longer verifies)", dict(good, metadata={"node_name": "evil"})))
    out.append(("expired", dict(good, created=now - 200, updated=now - 200, expires=now - 100)))
    out.append(("oversized metadata value", dict(good, metadata={"k": "x" * 300})))
    out.append(("oversized program_version", dict(good, program_version="v" * 100)))
    out.append(("too many capabilities", dict(good, capabilities=[f"c{i}" for i in range(40)])))
    out.append(("another key's link descriptor", dict(good, link_descriptor=other["link_descriptor"])))
    out.append(("bad id characters", dict(good, node_id="../" + good["node_id"][3:])))
    return out


def post_everywhere(net, path, record, what):
    """POSTs a record to every node without any token (a hostile client); every node must refuse it with 400."""
    for i in range(COUNT):
        status, _, body = net.api(i, path, method="POST", body=record, token="")
        check(status == 400 and isinstance(body, dict) and body["error"]["code"] == "refused",
              f"{what}: node {i} answered {status} {body}")


def check_forged(net):
    good = get_ok(net, 3, "/data/get_local_nri/", token=None)["nri"]
    other = get_ok(net, 4, "/data/get_local_nri/", token=None)["nri"]
    before = [refused_total(net, i) for i in range(COUNT)]
    forged = forged_from(good, other)
    for what, rec in forged:
        post_everywhere(net, "/data/add_nri/", rec, what)
    # A relay record with a node's fields is malformed too.
    post_everywhere(net, "/data/add_rri/", good, "an NRI posted as RRI")
    after = [refused_total(net, i) for i in range(COUNT)]
    for i in range(COUNT):
        check(after[i] - before[i] >= len(forged) + 1,
              f"node {i}: refused counters went {before[i]} -> {after[i]}, expected +{len(forged) + 1}")
    # Nothing of it was stored: node 3's record is still its own.
    held = get_ok(net, 0, f"/data/fetch_nri/?node_id={good['node_id']}")["nri"]
    check(held["public_key"] == good["public_key"] and held["metadata"] == good["metadata"], f"held: {held}")
    reasons = get_ok(net, 0, "/registry/status")["refused"]
    log(f"forged records: {len(forged) + 1} kinds refused by all {COUNT} nodes; central counts {reasons}")


def check_accounts_before_restart(net):
    env = {"VOXA_PASSWORD": "correct horse battery staple"}
    net.ctl(0, "registry", "accounts", "add", "operator", env=env)
    token = net.ctl(0, "registry", "login", "operator", "--scopes", "read", env=env).stdout.strip()
    check(token.startswith("vxr_"), f"login printed {token!r}")
    r = net.ctl(0, "--json", "registry", "sessions", env={"VOXA_REGISTRY_TOKEN": token})
    check(len(json.loads(r.stdout)["sessions"]) >= COUNT - 1, f"sessions with a read token: {r.stdout}")
    r = net.ctl(0, "registry", "accounts", check_rc=False, env={"VOXA_REGISTRY_TOKEN": token})
    check(r.returncode == 1 and "403" in r.stderr, f"accounts with a read-only token: {r.returncode} {r.stderr}")
    return token


def check_registry_restart(net, token):
    before = {(r["node_id"], r["sequence"]) for r in get_ok(net, 0, "/data/fetch_nri/")["nris"]}
    before_rri = {r["relay_id"] for r in get_ok(net, 0, "/data/fetch_rri/")["rris"]}
    net.kill_control(0, signal.SIGTERM)
    net.restart_control(0, timeout=30)
    after = get_ok(net, 0, "/data/fetch_nri/")["nris"]
    after_ids = {r["node_id"] for r in after}
    lost = {i for i, _ in before} - after_ids
    check(not lost, f"after the registry restart {len(lost)} node records are gone: {sorted(x[:8] for x in lost)}")
    lost_rri = before_rri - {r["relay_id"] for r in get_ok(net, 0, "/data/fetch_rri/")["rris"]}
    check(not lost_rri, f"after the registry restart relay records are gone: {sorted(x[:8] for x in lost_rri)}")
    accounts = json.loads(net.ctl(0, "--json", "registry", "accounts").stdout)["accounts"]
    check(any(a["name"] == "operator" for a in accounts), f"accounts after restart: {accounts}")
    r = net.ctl(0, "--json", "registry", "sessions", check_rc=False, env={"VOXA_REGISTRY_TOKEN": token})
    check(r.returncode == 0, f"the read token no longer works after the restart: {r.stderr}")
    # Members stay registered (heartbeats keep going): all live again within a few heartbeats.
    wait_until("every record live after the registry restart",
               lambda: len(get_ok(net, 0, "/data/discover_nodes/")["nodes"]) >= COUNT, 15)
    log(f"registry restart: {len(before)} node records, {len(before_rri)} relay records, accounts and tokens kept")

    # Tokens issued by the operator: listed without their secret, revocable; a revoked one is refused.
    issued = json.loads(net.ctl(0, "--json", "registry", "tokens", "issue", "operator", "--scopes", "read",
                                "--ttl", "600", "--label", "ci").stdout)
    listed = json.loads(net.ctl(0, "--json", "registry", "tokens").stdout)["tokens"]
    check(any(t["id"] == issued["id"] and t.get("label") == "ci" for t in listed), f"tokens: {listed}")
    check(issued["token"] not in json.dumps(listed), "GET /registry/tokens shows a secret")
    net.ctl(0, "registry", "sessions", env={"VOXA_REGISTRY_TOKEN": issued["token"]})
    net.ctl(0, "registry", "tokens", "revoke", issued["id"])
    r = net.ctl(0, "registry", "sessions", check_rc=False, env={"VOXA_REGISTRY_TOKEN": issued["token"]})
    check(r.returncode == 1 and ("401" in r.stderr or "403" in r.stderr), f"revoked token: {r.returncode} {r.stderr}")
    log("registry tokens: issued, listed without secret, revoked and then refused")




def check_replay(net, i=3):
    """Node i's voxa-control restarted signs its record anew (a higher sequence): its old record is then a replay,
    refused by every node but i itself (a node ignores copies of its own record)."""
    old = get_ok(net, i, "/data/get_local_nri/", token=None)["nri"]
    net.kill_control(i, signal.SIGTERM)
    net.restart_control(i, timeout=30)
    def seq(j):
        return get_ok(net, j, f"/data/fetch_nri/?node_id={old['node_id']}")["nri"]["sequence"]
    for j in range(COUNT):
        wait_until(f"node {j} holds node {i}'s new record", lambda: seq(j) > old["sequence"], 15, step=0.2)
    others = [j for j in range(COUNT) if j != i]
    for j in others:
        status, _, body = net.api(j, "/data/add_nri/", method="POST", body=old, token="")
        check(status == 400 and "replayed" in body["error"]["message"], f"replayed record: node {j}: {status} {body}")
    log(f"a replayed (older sequence) record of node {i} refused by the {len(others)} other nodes")


def transfer_retrying(net, src, dst, size, name, window_s=40):
    """transfer() that tries again for window_s: right after a relay dies the origin's data plane also suspects
    the relays that shared circuits with it (it cannot tell which hop failed) and skips them for a while, so a
    first attempt may find too few usable relays. Returns the number of attempts."""
    deadline = time.time() + window_s
    attempt = 0
    while True:
        attempt += 1
        path = net.dir / name
        digest = random_file(path, size)
        recv = Receiver(net, dst)
        r = net.ctl(src, "send", net.nodes[dst]["node_id"], "--file", str(path), check_rc=False, timeout=120)
        if r.returncode == 0:
            files = file_lines(recv.wait())
            check(files.get(name) == (size, digest), f"{name}: received {files.get(name)}, sent {(size, digest)}")
            check(sha256(recv.out_dir / name) == digest, f"{name} on disk differs from what was sent")
            return attempt
        recv.proc.kill()
        recv.proc.wait()
        if time.time() > deadline:
            raise Failure(f"send from node {src} failed for {window_s} s: {r.stderr.strip()}")
        time.sleep(3)


def measure_death(net, mode):
    """Kills the victim relay (data plane and voxa-control, SIGKILL: no goodbye); returns the seconds until the
    origin's data plane directory no longer has it (new circuits cannot use it from then on) and that moment."""
    victim = net.nodes[VICTIM]["node_id"]
    t0 = time.time()
    net.kill_control(VICTIM, signal.SIGKILL)
    net.kill(VICTIM, signal.SIGKILL)
    # down_after_s + poll_interval_s (central) or record_lifetime_s (dht), plus slack for a loaded machine (the
    # member's loop, the feed's tick, the data plane applying the removal).
    limit = DOWN_AFTER_S + POLL_S + 10 if mode == "central" else LIFETIME_DHT_S + 12
    wait_until(f"{mode}: killed relay {VICTIM} dropped by node {ORIGIN}", lambda: victim not in peer_ids(net, ORIGIN),
               limit + 5)
    dt = time.time() - t0
    wait_until(f"{mode}: killed relay gone from /data/discover_relays", lambda: victim not in live_relays(net, ORIGIN), 5)
    check(dt <= limit, f"{mode}: relay dropped after {dt:.1f} s, expected within {limit} s")
    return dt, t0 + dt


def check_avoided(net, mode, since):
    """Circuits the origin built after it dropped the dead relay (`since`) never include it; a transfer still
    arrives. (Between the death and the drop a new circuit may still pick it: that window is what is measured.)"""
    victim = net.nodes[VICTIM]["node_id"]
    time.sleep(P2P["circuit_lifetime_s"] + 1)      # the circuits of before have rotated out
    attempts = transfer_retrying(net, ORIGIN, DEST, 64 * 1024, f"after-death-{mode}.bin")
    # The circuit list is a snapshot the data plane publishes now and then: give it a few seconds.
    listed = []
    def fresh_circuits():
        listed[:] = circuits(net, ORIGIN)
        return [c for c in listed if c.get("age_ms", 1e12) < (time.time() - since) * 1000]
    try:
        wait_until("circuits", lambda: fresh_circuits(), 5, step=0.2)
    except Failure:
        raise Failure(f"{mode}: no circuit built at node {ORIGIN} in the {time.time() - since:.1f} s since it dropped "
                      f"the relay: {[(c.get('id'), c.get('age_ms'), c.get('state')) for c in listed]}")
    fresh = fresh_circuits()
    bad = [c for c in fresh if uses(c, victim)]
    check(not bad, f"{mode}: {len(bad)} new circuits still go through the dead relay: {bad[:2]}")
    log(f"{mode}: {len(fresh)} circuits built since the drop, none through relay {VICTIM}; transfer ok "
        f"(attempt {attempts})")


def measure_start(net, mode):
    """Starts the victim again; returns seconds from its start to its first use in a circuit of the origin."""
    victim = net.nodes[VICTIM]["node_id"]
    t0 = time.time()
    net.restart(VICTIM)
    net.restart_control(VICTIM, timeout=30)
    dest = net.nodes[DEST]["node_id"]
    deadline = t0 + 90
    last_send = 0
    while time.time() < deadline:
        # Only circuits built since the start: the origin may still list old ones through the relay's first life.
        age_limit_ms = (time.time() - t0) * 1000
        if any(uses(c, victim) and c.get("age_ms", 1e12) < age_limit_ms for c in circuits(net, ORIGIN)):
            return time.time() - t0
        if time.time() - last_send > 1:   # traffic, so the origin builds circuits as the old ones rotate out
            net.ctl(ORIGIN, "send", dest, "--data", "ping", "--no-wait", check_rc=False, timeout=10)
            last_send = time.time()
        time.sleep(0.1)
    raise Failure(f"{mode}: relay {VICTIM} not used by node {ORIGIN} within 90 s of its start")


def churn(net, mode):
    deaths, starts = [], []
    for cycle in range(CYCLES):
        dt, t_dropped = measure_death(net, mode)
        deaths.append(dt)
        if cycle == 0:
            check_avoided(net, mode, t_dropped)
        st = measure_start(net, mode)
        starts.append(st)
        log(f"{mode} cycle {cycle + 1}/{CYCLES}: death -> avoidance {dt:.2f} s, start -> first use {st:.2f} s")
    return deaths, starts


def check_login_rate_limit(net):
    """Login attempts from one address beyond login_per_minute (10) get 429 with Retry-After."""
    statuses = []
    for _ in range(14):
        status, headers, body = net.api(0, "/registry/login", method="POST",
                                        body={"name": "operator", "password": "wrong password here"}, token="")
        statuses.append(status)
        if status == 429:
            check(int(headers.get("retry-after", "0")) >= 1, f"429 without Retry-After: {headers}")
            check(body["error"]["code"] == "rate_limited", f"429 body: {body}")
            break
    check(429 in statuses, f"no 429 after {len(statuses)} failed logins: {statuses}")
    check(all(s in (401, 403, 429) for s in statuses), f"failed logins answered {statuses}")
    log(f"login rate limit: 429 after {statuses.index(429)} failed logins")


def check_voxactl_usage():
    """Usage errors need no server: exit 2 and the verb's help; a missing password is a failure (1), never a
    prompt on a non-terminal stdin, and a password is never taken from argv."""
    def run(*args, env=None, stdin=""):
        full = {k: v for k, v in os.environ.items() if k not in ("VOXA_PASSWORD", "VOXA_REGISTRY_TOKEN")}
        full.update(env or {})
        return subprocess.run([str(VOXACTL), "--api", "http://127.0.0.1:1", *args], capture_output=True, text=True,
                              input=stdin, env=full, timeout=10)
    for args in (("registry",), ("registry", "fetch", "zz"), ("registry", "remove", "nri"),
                 ("registry", "tokens", "issue", "op"), ("registry", "login", "op", "--scopes", "root"),
                 ("names", "claim"), ("names", "claim", "a.b", "--ttl", "0"), ("names", "resolve"),
                 ("registry", "accounts", "add", "op", "--password", "x")):
        r = run(*args)
        check(r.returncode == 2 and "usage: voxactl" in r.stderr, f"voxactl {' '.join(args)}: {r.returncode} {r.stderr}")
    r = run("registry", "login", "op")
    check(r.returncode == 1 and "no password" in r.stderr, f"login without a password: {r.returncode} {r.stderr}")
    r = run("registry", "login", "op", stdin="a password of sorts\n")
    check(r.returncode == 1 and "cannot connect" in r.stderr, f"login with stdin: {r.returncode} {r.stderr}")
    check(run("registry", "--help").returncode == 0 and run("names", "--help").returncode == 0, "--help")
    log("voxactl registry/names usage errors ok")


def run_central():
    results = {}
    with Devnet(COUNT, registry="central", netns_prefix=PREFIX, name="registry-central", extra_p2p=P2P,
                timeout=90) as net:
        check_directories(net, "central")
        check_central_status(net)
        check_names(net)
        transfer(net, ORIGIN, DEST, 300 * 1024, name="central.bin")
        log("central: 300 KiB split transfer verified by hash")
        check_forged(net)
        token = check_accounts_before_restart(net)
        check_registry_restart(net, token)
        check_replay(net)
        ids = {n["node_id"] for n in net.nodes} - {net.nodes[ORIGIN]["node_id"]}
        took = wait_until(f"node {ORIGIN}'s directory complete again after the restarts",
                          lambda: ids <= peer_ids(net, ORIGIN), 30, step=0.2)
        attempts = transfer_retrying(net, ORIGIN, DEST, 100 * 1024, "central-after-restart.bin")
        log(f"after the restarts: node {ORIGIN}'s directory complete {took:.1f} s later, transfer ok "
            f"(attempt {attempts})")
        results["deaths"], results["starts"] = churn(net, "central")
        check_login_rate_limit(net)
    return results


def run_dht():
    results = {}
    with Devnet(COUNT, registry="dht", netns_prefix=PREFIX, name="registry-dht", extra_p2p=P2P, timeout=120) as net:
        check_directories(net, "dht")
        transfer(net, ORIGIN, DEST, 300 * 1024, name="dht.bin")
        log("dht: 300 KiB split transfer verified by hash")
        results["deaths"], results["starts"] = churn(net, "dht")
    return results


def summary(name, r):
    if not r:
        return
    for key, what in (("starts", "relay start -> first use in a circuit"), ("deaths", "relay death -> avoided")):
        v = r[key]
        print(f"BENCH registry {name}: {what}: median {statistics.median(v):.2f} s over {len(v)} "
              f"(min {min(v):.2f}, max {max(v):.2f})", flush=True)


def test():
    need_root()
    if not MODULE.exists():
        skip(f"{MODULE} not built (the registry plugin)")
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    central = dht = None
    check_voxactl_usage()
    if only in (None, "central"):
        central = run_central()
    if only in (None, "dht"):
        check(dht_built(), "the registry plugin was built without OpenDHT (libopendht-dev; meson -Dopendht=enabled)")
        dht = run_dht()
    summary("central", central)
    summary("dht", dht)


if __name__ == "__main__":
    main(test)
