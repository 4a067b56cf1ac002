#!/usr/bin/env python3
"""A file crosses a real dev network (6 relays, 2 endpoints, n=5 k=3, circuits of 2 relays) and is verified by
hash at the destination; the destination replies and the reply arrives. `--netns` puts every node in its own
network namespace (veth + bridge); without it, every node is on 127.0.0.1."""
import sys

import voxa_it as it


def test():
    netns = "--netns" in sys.argv
    if netns:
        it.need_root()
    with it.Devnet(8, netns=netns, relays=6, name="transfer-netns" if netns else "transfer-lo") as net:
        it.transfer(net, 7, 6, 40 << 20, chunk=16 << 20)   # three messages: 16 + 16 + 8 MiB

        # A reply to the last message goes back over the circuits it came on.
        got = it.Receiver(net, 6)
        net.ctl(7, "send", net.nodes[6]["node_id"], "--data", "ping from node 7")
        out = got.wait()
        ids = [w for w in out.split() if len(w) == 32 and all(c in "0123456789abcdef" for c in w)]
        it.check(ids, f"no message id in recv output: {out!r}")
        recv = it.Receiver(net, 7)
        net.ctl(6, "reply", ids[0], "--data", "pong from node 6")
        out = recv.wait()
        it.check("pong from node 6" in out, f"reply not received at node 7: {out!r}")

        received = net.wait_stat(6, ["node", "messages_received"], 4)
        it.check(received >= 4, f"destination counted {received} messages")
        delivered = net.wait_stat(7, ["node", "messages_delivered"], 4)
        it.check(delivered >= 4, f"sender counted {delivered} delivered")
        relayed = sum(net.stats(i)["node"]["cells_relayed_forward"] for i in range(6))
        # k parts hold the whole message, and every cell of a part crosses 2 relays.
        at_least = (40 << 20) // 1180 * 2
        it.check(relayed >= at_least, f"relays forwarded {relayed} cells, fewer than {at_least}")


it.main(test)
