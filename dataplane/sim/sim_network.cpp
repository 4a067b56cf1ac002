#include "sim/sim_network.h"

#include <cstring>

#include "crypto/hash.h"
#include "voxa/assert.h"

namespace voxa::sim {

struct SimNetwork::SimNode {
    crypto::Identity identity;
    Port<SimNetwork> port;
    std::unique_ptr<node::Node> node;
    bool is_relay;
    uint32_t capacity;
    bool blackhole = false;
};

SimNetwork::SimNetwork(uint64_t seed, const Impairment& impairment)
    : seed_(seed), impairment_(impairment), rng_(seed) {}

SimNetwork::~SimNetwork() = default;

node::Node& SimNetwork::node(std::size_t index) { return *nodes_[index]->node; }
const crypto::Identity& SimNetwork::identity(std::size_t index) const { return nodes_[index]->identity; }
void SimNetwork::set_blackhole(std::size_t index, bool on) noexcept { nodes_[index]->blackhole = on; }

std::size_t SimNetwork::add_node(const node::NodeConfig& config, bool is_relay, uint32_t capacity) {
    const uint32_t index = uint32_t(nodes_.size());
    uint8_t seed[32];
    uint8_t input[12];
    std::memcpy(input, &seed_, 8);
    std::memcpy(input + 8, &index, 4);
    crypto::hash(seed, "voxa.sim.node", {crypto::Bytes(input, sizeof input)});
    auto sn = std::unique_ptr<SimNode>(new SimNode{crypto::Identity::from_seed(seed), Port<SimNetwork>(*this, index), nullptr,
                                                   is_relay, capacity});
    sn->node = std::make_unique<node::Node>(sn->identity, config, clock_, wall_, sn->port);
    nodes_.push_back(std::move(sn));
    return index;
}

void SimNetwork::share_directory() {
    for (auto& a : nodes_) {
        for (std::size_t j = 0; j < nodes_.size(); ++j) {
            const SimNode& b = *nodes_[j];
            a->node->add_known_node(b.identity.peer(), Endpoint::sim(uint32_t(j)), b.capacity, b.is_relay);
        }
    }
}

void SimNetwork::transmit(uint32_t from, const Endpoint& to, std::span<const uint8_t> bytes) {
    VOXA_CHECK(to.family == Endpoint::Family::kSim);
    const uint32_t dest = to.sim_index();
    stats_.sent += 1;
    if (dest >= nodes_.size() || nodes_[from]->blackhole || nodes_[dest]->blackhole) {
        stats_.blackholed += 1;
        return;
    }
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    if (coin(rng_) < impairment_.loss) {
        stats_.lost += 1;
        return;
    }
    std::vector<uint8_t> copy(bytes.begin(), bytes.end());
    if (coin(rng_) < impairment_.corrupt && !copy.empty()) {
        copy[rng_() % copy.size()] ^= uint8_t(1u << (rng_() % 8));
        stats_.corrupted += 1;
    }
    uint64_t delay = impairment_.delay_ns + (impairment_.jitter_ns ? rng_() % (impairment_.jitter_ns + 1) : 0);
    const bool reordered = coin(rng_) < impairment_.reorder;
    if (reordered) {
        delay += impairment_.reorder_delay_ns;
        stats_.reordered += 1;
    }
    if (coin(rng_) < impairment_.duplicate) {
        stats_.duplicated += 1;
        schedule(from, dest, copy, delay + impairment_.jitter_ns + 1, reordered);
    }
    schedule(from, dest, std::move(copy), delay, reordered);
}

void SimNetwork::schedule(uint32_t from, uint32_t to, std::vector<uint8_t> bytes, uint64_t delay_ns,
                          bool reordered) {
    uint64_t at = clock_.now_ns() + std::max<uint64_t>(delay_ns, 1);
    if (!reordered) {
        uint64_t& last = link_last_ns_[(uint64_t(from) << 32) | to];
        at = std::max(at, last);
        last = at;
    }
    queue_.push(Datagram{at, seq_++, to, from, std::move(bytes)});
}

bool SimNetwork::run_until(const std::function<bool()>& done, uint64_t limit_ns) {
    const uint64_t end_ns = clock_.now_ns() + limit_ns;
    uint64_t next_tick = clock_.now_ns() + kTickNs;
    while (!done()) {
        if (clock_.now_ns() >= end_ns) return done();
        // Deliver everything due before the next timer tick, in time order; deliveries may schedule more.
        while (!queue_.empty() && queue_.top().at_ns <= next_tick) {
            Datagram d = std::move(const_cast<Datagram&>(queue_.top()));
            queue_.pop();
            clock_.set_ns(d.at_ns);
            SimNode& to = *nodes_[d.to];
            if (to.blackhole) {
                stats_.blackholed += 1;
                continue;
            }
            stats_.delivered += 1;
            stats_.bytes_delivered += d.bytes.size();
            to.node->on_datagram(Endpoint::sim(d.from), d.bytes.data(), d.bytes.size());
        }
        clock_.set_ns(next_tick);
        next_tick += kTickNs;
        for (auto& n : nodes_) {
            if (!n->blackhole) n->node->tick();
        }
    }
    return true;
}

}  // namespace voxa::sim
