#!/usr/bin/env python3
"""Nodes with two workers (pinned threads, one engine each, shared nothing): a destination and a relay restarted
with two cores still deliver every byte; messages whose owner is the other worker are handed over between the
workers, and the reuseport steering program keeps raw datagram handovers rare (under 1%)."""
import voxa_it as it

SRC, DST = 5, 4


def test():
    # Data planes only: restarting a node with another `cores` changes its shm geometry, which a running
    # voxa-control (sized for one worker) rightly refuses; an operator restarts both processes for that.
    with it.Devnet(6, netns=False, relays=4, hops=1, n=3, k=2, parts_per_relay=1, name="workers",
                   control=False) as net:
        for i in (DST, 0):
            net.kill(i)
            net.restart(i, env={"VOXA_DATAPLANE_CORES": "0,1"})
        net.wait_known(DST, 5)
        for r in range(6):
            it.transfer(net, SRC, DST, 3 << 20, name=f"w{r}.bin", chunk=1 << 20)   # 18 messages
        received = net.wait_stat(DST, ["node", "messages_received"], 18)
        it.check(received >= 18, f"received {received}")
        s = net.stats(DST)
        it.check(s["workers"] == 2, f"destination runs {s['workers']} workers")
        busy = [w for w in s["per_worker"] if w["rx_packets"] > 0]
        it.check(s["node"]["handoffs"] > 0 or len(busy) == 2,
                 f"no work crossed workers: {s['per_worker']}")
        rx = sum(w["rx_packets"] for w in s["per_worker"])
        it.check(s["node"]["handover_datagrams_in"] * 100 < rx, f"{s['node']['handover_datagrams_in']} of {rx} "
                 "datagrams reached the wrong worker: steering is not working")


it.main(test)
