#!/usr/bin/env python3
"""What one relay receives during a transfer, captured on its interface (network namespaces): every datagram is
a link packet of a fixed size (cells exactly cell_bytes; handshakes 152/96/64; keepalives 32), a marker string
written all over the plaintext never appears on the wire, and no relay carries k parts of a message (its circuit
count stays at most parts_per_relay_max < k while a single message set is in flight)."""
import json

import voxa_it as it

CELL = 1280
MARKER = b"VOXA-PLAINTEXT-MARKER-7f3a"
SRC, DST = 7, 6
HANDSHAKE_SIZES = {152, 96, 64, 32}


def test():
    it.need_root()
    with it.Devnet(8, netns=True, relays=6, name="wire") as net:
        caps = [it.Capture("eth0", net.nodes[i]["port"], netns=net.nodes[i]["netns"]) for i in range(6)]
        path = net.dir / "marked.bin"
        with open(path, "wb") as f:
            f.write((MARKER + b" ") * ((6 << 20) // (len(MARKER) + 1)))
        digest = it.sha256(path)
        recv = it.Receiver(net, DST)
        net.ctl(SRC, "send", net.nodes[DST]["node_id"], "--file", str(path))
        circuits = [net.stats(i)["node"]["relay_circuits"] for i in range(6)]
        files = it.file_lines(recv.wait())
        it.check(files.get("marked.bin") == (path.stat().st_size, digest), f"marked.bin arrived as {files}")
        k, per_relay = 3, 2
        for i, c in enumerate(circuits):
            it.check(c <= per_relay < k, f"relay {i} carries {c} circuits of one message set (k = {k})")
        it.check(sum(circuits) == 5 * 2, f"relays carry {circuits}: expected 5 circuits of 2 relays")

        total = 0
        for i, cap in enumerate(caps):
            for (src, sport, dst, payload) in cap.stop():
                # A UDP GSO train is captured unsegmented: split it into its cells.
                if len(payload) > CELL:
                    it.check(len(payload) % CELL == 0, f"relay {i}: {len(payload)}-byte train is not whole cells")
                    grams = [payload[j:j + CELL] for j in range(0, len(payload), CELL)]
                else:
                    grams = [payload]
                for g in grams:
                    total += 1
                    ok = len(g) == CELL or (len(g) in HANDSHAKE_SIZES and g[0] in (1, 2, 3, 4))
                    it.check(ok, f"relay {i} received a {len(g)}-byte datagram type {g[0]} from {src}:{sport}")
                    it.check(MARKER not in g and MARKER[:12] not in g, f"relay {i} saw the plaintext marker")
        it.check(total > 6 * 1024 * 1024 // 1180, f"captured only {total} datagrams")
        print(json.dumps({"datagrams_checked": total, "relay_circuits": circuits}))


it.main(test)
