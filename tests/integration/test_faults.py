#!/usr/bin/env python3
"""Faults on a real dev network in network namespaces (8 relays, 2 endpoints, n=5 k=3, circuits of 2 relays):
  0. a relay that flips bits in the cells it relays: the destination rejects those cells (end-to-end tag) and
     still delivers every byte (it runs first, and stays in the network for the rest);
  1. hostile datagrams (random garbage, truncated and replayed copies of real traffic) fired at every node are
     dropped and counted, and the network keeps delivering;
  2. a relay killed in the middle of a transfer: the message still arrives (n-k tolerance, retransmission), and
     the origin gives up the silent circuit and the next message goes over a new one;
  3. a node restarted with the same identity rejoins: same node id, sessions back, the others keep it."""
import os
import signal
import time

import voxa_it as it

SRC, DST = 9, 8


def hostile_datagrams(net):
    before = {i: it.drops_total(net.stats(i), "link") for i in range(len(net.nodes))}
    cap = it.Capture("eth0", net.nodes[0]["port"], netns=net.nodes[0]["netns"])
    it.transfer(net, SRC, DST, 2 << 20, name="warmup.bin")
    real = [p for (_, _, _, p) in cap.stop() if len(p) > 32]
    it.check(real, "captured no traffic to node 0")
    junk = [os.urandom(n) for n in (1, 4, 16, 31, 32, 96, 152, 1280, 1400)]
    junk += [bytes([t]) + os.urandom(n) for t in (1, 2, 3, 4) for n in (15, 95, 151, 1279)]
    truncated = [p[:len(p) // 2] for p in real[:50]] + [p[:-1] for p in real[:50]]
    replayed = real[:200]
    for i, node in enumerate(net.nodes):
        it.send_udp(node["host"], node["port"], junk + truncated + replayed, netns=net.nodes[SRC]["netns"])
    time.sleep(0.5)
    for i in range(len(net.nodes)):
        s = net.stats(i)
        it.check(it.drops_total(s, "link") > before[i], f"node {i} counted no link drops: {s['drops']}")
    it.transfer(net, SRC, DST, 3 << 20, name="after-hostile.bin")


def relay_killed(net):
    carrying = [i for i in range(8) if i not in (0, 1, 2) and net.stats(i)["node"]["relay_circuits"] > 0]
    it.check(carrying, "no relay carries a circuit")
    victim = carrying[0]   # not a bootstrap node, not the corrupter
    path = net.dir / "big.bin"
    digest = it.random_file(path, 48 << 20)
    recv = it.Receiver(net, DST)
    import subprocess
    sender = subprocess.Popen([str(it.VOXACTL), "--data", net.nodes[SRC]["data"], "send", net.nodes[DST]["node_id"],
                               "--file", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.4)
    net.kill(victim)
    out, err = sender.communicate(timeout=300)
    it.check(sender.returncode == 0, f"send failed after relay {victim} died:\n{out}\n{err}\n{net.logs()}")
    files = it.file_lines(recv.wait())
    it.check(files.get("big.bin") == (48 << 20, digest), f"big.bin arrived as {files.get('big.bin')}")
    # The origin notices the silent circuit and builds a new one; the next message goes over it.
    failed = net.wait_stat(SRC, ["node", "circuits_failed"], 1, timeout=10)
    it.check(failed >= 1, "the origin never gave up the circuit through the dead relay")
    it.transfer(net, SRC, DST, 4 << 20, name="after-kill.bin")
    return victim


def corrupting_relay(net):
    """Before any circuit exists, relay 2 is restarted as a corrupter. Ten relay slots over eight relays, drawn
    fewest-uses first, put every relay on some circuit, so the corrupter carries part of every message."""
    bad = 2
    net.kill(bad, signal.SIGTERM)
    net.restart(bad, env={"VOXA_DEV_FLIP_RELAYED_BITS": "0.2"})
    net.wait_known(bad, len(net.nodes) - 1)
    it.transfer(net, SRC, DST, 4 << 20, name="corrupt.bin")
    flipped = net.wait_stat(DST, ["drops", "node", "bad_e2e_tag"], 1) if "bad_e2e_tag" in \
        net.stats(DST)["drops"]["node"] else 0
    it.check(flipped > 0, f"no cell rejected at the destination: {net.stats(DST)['drops']}; relay {bad} carried "
             f"{net.stats(bad)['node']['cells_relayed_forward']} cells")
    return bad


def restart_rejoins(net, dead):
    node_id = net.nodes[dead]["node_id"]
    net.restart(dead)
    s = net.stats(dead)
    it.check(s["node_id"] == node_id, f"restarted node has id {s['node_id']}, expected {node_id}")
    deadline = time.time() + 20
    while time.time() < deadline:
        s = net.stats(dead)
        if s["link"]["sessions_up"] > 0 and s["directory"]["known"] >= len(net.nodes) - 1:
            break
        time.sleep(0.3)
    it.check(s["link"]["sessions_up"] > 0, "restarted node has no session")
    it.check(s["directory"]["known"] >= len(net.nodes) - 1, f"restarted node knows {s['directory']['known']}")
    it.transfer(net, SRC, DST, 2 << 20, name="after-restart.bin")


def test():
    it.need_root()
    with it.Devnet(10, netns=True, relays=8, name="faults") as net:
        corrupting_relay(net)
        hostile_datagrams(net)
        dead = relay_killed(net)
        restart_rejoins(net, dead)


it.main(test)
