// BM_RelayPeel: one relay's whole work on one forward cell, excluding I/O, measured on the real engine
// (voxa::node::Node): link open (AEAD + replay window), cell parse, circuit lookup, one onion layer, header
// rewrite, link seal for the next hop. Three nodes (origin -> relay -> destination) are wired by hand; the
// origin's cells to the relay are captured and replayed into the relay, whose output is discarded.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <deque>
#include <string>
#include <memory>
#include <vector>

#include "crypto/identity.h"
#include "node/node.h"

namespace {

using namespace voxa;

struct Wire final : link::TxSink {
    uint32_t from = 0;
    struct Router* router = nullptr;
    void transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept override;
};

struct Router {
    struct Packet {
        uint32_t from, to;
        std::vector<uint8_t> bytes;
    };
    std::deque<Packet> queue;
    bool capture = false;                      // benchmark phase: keep origin->relay cells, drop relay output
    std::vector<std::vector<uint8_t>> captured;
    uint64_t discarded = 0;
};

void Wire::transmit(const Endpoint& to, std::span<const uint8_t> datagram) noexcept {
    if (router->capture) {
        if (from == 0 && to.sim_index() == 1) {
            router->captured.emplace_back(datagram.begin(), datagram.end());
        } else {
            router->discarded += 1;
        }
        return;
    }
    router->queue.push_back(Router::Packet{from, to.sim_index(), {datagram.begin(), datagram.end()}});
}

struct ThreeNodes {
    ManualClock clock;
    SystemWallClock wall;
    Router router;
    std::vector<crypto::Identity> ids;
    Wire wires[3];
    std::vector<std::unique_ptr<node::Node>> nodes;
    NodeId destination{};

    ThreeNodes() {
        node::NodeConfig cfg;
        cfg.hops = 1;
        cfg.n = 1;
        cfg.k = 1;
        cfg.window_cells = 1u << 20;   // measure the relay, not flow control: a whole message per refill
        for (int i = 0; i < 3; ++i) ids.push_back(crypto::Identity::generate());
        for (uint32_t i = 0; i < 3; ++i) {
            wires[i].from = i;
            wires[i].router = &router;
            nodes.push_back(std::make_unique<node::Node>(ids[i], cfg, clock, wall, wires[i]));
        }
        for (uint32_t i = 0; i < 3; ++i) {
            for (uint32_t j = 0; j < 3; ++j) {
                nodes[i]->add_known_node(ids[j].peer(), Endpoint::sim(j), 1, /*is_relay=*/j == 1);
            }
        }
        destination = ids[2].id();
    }
    void pump(int rounds) {
        for (int r = 0; r < rounds; ++r) {
            while (!router.queue.empty()) {
                Router::Packet p = std::move(router.queue.front());
                router.queue.pop_front();
                nodes[p.to]->on_datagram(Endpoint::sim(p.from), p.bytes.data(), p.bytes.size());
            }
            clock.advance_ns(kNsPerMs);
            for (auto& n : nodes) n->tick();
        }
    }
    // Builds the circuit by delivering one small message end to end.
    bool warm_up() {
        std::vector<uint8_t> msg(100, 0x42);
        std::string error;
        auto id = nodes[0]->send(destination, msg, &error);
        for (int i = 0; id && i < 200 && nodes[0]->send_state(*id) != node::SendState::kDelivered; ++i) pump(1);
        return id && nodes[0]->send_state(*id) == node::SendState::kDelivered;
    }
    // Captures the origin's forward cells (full-size datagrams to the relay) for one message.
    void refill(std::size_t message_bytes) {
        router.capture = true;
        router.captured.clear();
        std::vector<uint8_t> msg(message_bytes, 0x42);
        std::string error;
        (void)nodes[0]->send(destination, msg, &error);
        nodes[0]->tick();   // the circuit set is ready: the tick sends every part
        std::erase_if(router.captured, [](const std::vector<uint8_t>& p) { return p.size() != 1280; });
    }
};

void BM_RelayPeel(benchmark::State& state) {
    if (!crypto::init()) state.SkipWithError("libsodium");
    ThreeNodes net;
    if (!net.warm_up()) {
        state.SkipWithError("circuit did not come up");
        return;
    }
    std::size_t next = 0;
    for (auto _ : state) {
        if (next == net.router.captured.size()) {
            state.PauseTiming();
            next = 0;
            net.refill(4u << 20);
            state.ResumeTiming();
            if (net.router.captured.empty()) {
                state.SkipWithError("no cells captured");
                break;
            }
        }
        std::vector<uint8_t>& pkt = net.router.captured[next++];
        net.nodes[1]->on_datagram(Endpoint::sim(0), pkt.data(), pkt.size());
    }
    const auto& s = net.nodes[1]->stats();
    if (s.cells_relayed_forward == 0) state.SkipWithError("relay forwarded nothing");
    state.counters["relayed"] = double(s.cells_relayed_forward);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(state.range(0)));
}
BENCHMARK(BM_RelayPeel)->Arg(1280);

}  // namespace
