#!/usr/bin/env python3
"""Either process of a node can be restarted while the other runs, without losing the other's state.

(a) kill -9 voxa-control of the destination and of a relay while a 48 MiB file crosses the network: the transfer
    completes and verifies (the data planes never needed the control planes); each restarted control plane
    re-attaches to the same shared-memory segment (its control-side epoch is the old one + 1) and its /stats
    totals are the data plane's counters, not reset: every counter >= its value before the kill.
(b) kill -9 the data plane of a node: its control plane reports it down (/status/ready 503 with a reason,
    /status/health dataplane.up false) within a few seconds, and keeps answering; after the data plane is
    restarted it reports it up again, with the data-plane epoch + 1, and the node is ready."""
import signal
import subprocess
import time

import voxa_it as it

SRC, DST, RELAY = 7, 6, 0


def health(net, i):
    status, _, body = net.api(i, "/status/health")
    it.check(status == 200, f"node {i} /status/health answered {status}: {body}")
    return body


def counters(net, i):
    """{name: total} of the counters (not the gauges) of node i's /stats."""
    status, _, body = net.api(i, "/stats")
    it.check(status == 200, f"node {i} /stats answered {status}: {body}")
    kinds = {c["name"]: c["kind"] for c in body["counters"]}
    return {k: v for k, v in body["totals"].items() if kinds.get(k) == "counter"}


def kill_control_during_transfer(net):
    before_epoch = {i: health(net, i)["control"]["epoch"] for i in (DST, RELAY)}
    # Some traffic first, so the counters we compare are not all zero.
    it.transfer(net, SRC, DST, 1 << 20, name="warmup.bin")
    before = {i: counters(net, i) for i in (DST, RELAY)}
    it.check(before[DST].get("messages_received", 0) > 0 or any(before[DST].values()),
             f"destination counters all zero before the kill: {before[DST]}")

    path = net.dir / "big.bin"
    size = 48 << 20
    digest = it.random_file(path, size)
    recv = it.Receiver(net, DST, timeout=240)
    base = net.dir / f"node{SRC}"
    send = subprocess.Popen([str(it.VOXACTL), "--data", str(base / "data"), "send", net.nodes[DST]["node_id"],
                             "--file", str(path), "--chunk", str(16 << 20), "--timeout", "240"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.1)
    it.check(send.poll() is None, "the transfer ended before the control planes could be killed")
    for i in (DST, RELAY):
        net.kill_control(i, signal.SIGKILL)
    time.sleep(0.5)   # a moment without any control plane at either node
    for i in (DST, RELAY):
        net.restart_control(i)

    out, err = send.communicate(timeout=240)
    it.check(send.returncode == 0, f"voxactl send failed ({send.returncode}) across the restarts:\n{out}\n{err}")
    files = it.file_lines(recv.wait(timeout=240))
    it.check(files.get("big.bin") == (size, digest), f"big.bin: received {files.get('big.bin')}, sent {(size, digest)}")
    it.check(it.sha256(recv.out_dir / "big.bin") == digest, "big.bin on disk differs from what was sent")

    for i in (DST, RELAY):
        net.wait_ready(i)
        h = health(net, i)
        it.check(h["control"]["epoch"] == before_epoch[i] + 1,
                 f"node {i}: control epoch {h['control']['epoch']} after the restart, expected {before_epoch[i] + 1}")
        it.check(h["dataplane"]["up"] is True, f"node {i}: data plane not up after the control restart: {h}")
        after = counters(net, i)
        lower = {k: (v, after.get(k)) for k, v in before[i].items() if after.get(k, -1) < v}
        it.check(not lower, f"node {i}: counters went back after the control restart (before, after): {lower}")
    # The destination counted the new file's messages on top of the old ones.
    rx = counters(net, DST).get("messages_received")
    if rx is not None and "messages_received" in before[DST]:
        it.check(rx >= before[DST]["messages_received"] + 3, f"messages_received {rx}, before {before[DST]}")


def kill_dataplane(net):
    i = DST
    control_pid = net.control_pid(i)
    epoch = health(net, i)["dataplane"]["epoch"]
    net.kill(i, signal.SIGKILL)
    t0 = time.time()
    while True:
        h = health(net, i)   # the control plane keeps answering
        status, _, ready = net.api(i, "/status/ready")
        if h["dataplane"]["up"] is False and status == 503:
            break
        it.check(time.time() - t0 < 6, f"data plane of node {i} killed {time.time() - t0:.1f} s ago, still reported "
                 f"up: health {h['dataplane']}, ready {status} {ready}")
        time.sleep(0.1)
    down_s = time.time() - t0
    it.check(ready["ready"] is False and ready["reasons"], f"/status/ready while down: {ready}")
    print(f"data plane down reported after {down_s:.1f} s")

    net.restart(i)
    t0 = time.time()
    while True:
        h = health(net, i)
        if h["dataplane"]["up"] is True:
            break
        it.check(time.time() - t0 < 10, f"node {i}: restarted data plane not reported up: {h['dataplane']}")
        time.sleep(0.1)
    it.check(h["dataplane"]["epoch"] == epoch + 1, f"data-plane epoch {h['dataplane']['epoch']}, expected {epoch + 1}")
    it.check(h["dataplane"]["pid"] == net.pid(i), f"health names pid {h['dataplane']['pid']}, running {net.pid(i)}")
    net.wait_ready(i)
    it.check(net.control_pid(i) == control_pid and h["control"]["pid"] == control_pid,
             "the control plane was replaced while the data plane restarted")
    net.wait_known(i, len(net.nodes) - 1)
    it.transfer(net, SRC, DST, 2 << 20, name="after-dp-restart.bin")


def test():
    if not it.CONTROL.exists():
        it.skip(f"{it.CONTROL} is not built")
    with it.Devnet(8, relays=6, name="restart") as net:
        kill_control_during_transfer(net)
        kill_dataplane(net)


it.main(test)
