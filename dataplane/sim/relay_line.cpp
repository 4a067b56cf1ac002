#include "sim/relay_line.h"

#include <string>

namespace voxa::sim {

RelayLine::RelayLine(uint32_t window_cells) {
    node::NodeConfig cfg;
    cfg.hops = 1;
    cfg.n = 1;
    cfg.k = 1;
    cfg.window_cells = window_cells;
    for (uint32_t i = 0; i < 3; ++i) ids_.push_back(crypto::Identity::generate());
    for (uint32_t i = 0; i < 3; ++i) {
        ports_.push_back(std::make_unique<Port<RelayLine>>(*this, i));
        nodes_.push_back(std::make_unique<node::Node>(ids_[i], cfg, clock_, wall_, *ports_[i]));
    }
    for (uint32_t i = 0; i < 3; ++i) {
        for (uint32_t j = 0; j < 3; ++j) {
            nodes_[i]->add_known_node(ids_[j].peer(), Endpoint::sim(j), 1, /*is_relay=*/j == 1);
        }
    }
}

RelayLine::~RelayLine() = default;

void RelayLine::transmit(uint32_t from, const Endpoint& to, std::span<const uint8_t> bytes) {
    if (!capturing_) {
        queue_.push_back(Packet{from, to.sim_index(), {bytes.begin(), bytes.end()}});
    } else if (from == 0 && to.sim_index() == 1 && bytes.size() == wire::kCellBytesDefault) {
        captured_.emplace_back(bytes.begin(), bytes.end());
    } else {
        discarded_ += 1;
    }
}

void RelayLine::pump(int rounds) {
    for (int r = 0; r < rounds; ++r) {
        while (!queue_.empty()) {
            Packet p = std::move(queue_.front());
            queue_.pop_front();
            nodes_[p.to]->on_datagram(Endpoint::sim(p.from), p.bytes.data(), p.bytes.size());
        }
        clock_.advance_ns(kNsPerMs);
        for (auto& n : nodes_) n->tick();
    }
}

bool RelayLine::warm_up() {
    std::vector<uint8_t> msg(100, 0x42);
    std::string error;
    auto id = nodes_[0]->send(ids_[2].id(), msg, &error);
    for (int i = 0; id && i < 500 && nodes_[0]->send_state(*id) != node::SendState::kDelivered; ++i) pump(1);
    return id && nodes_[0]->send_state(*id) == node::SendState::kDelivered;
}

std::vector<std::vector<uint8_t>> RelayLine::capture_forward_cells(std::size_t message_bytes) {
    capturing_ = true;
    captured_.clear();
    std::vector<uint8_t> msg(message_bytes, 0x42);
    std::string error;
    (void)nodes_[0]->send(ids_[2].id(), msg, &error);   // the circuit is up: the part leaves at once
    return std::move(captured_);
}

void RelayLine::relay(std::vector<uint8_t>& datagram) {
    nodes_[1]->on_datagram(Endpoint::sim(0), datagram.data(), datagram.size());
}

}  // namespace voxa::sim
