// Directory gossip over link sessions: DIRECTORY cells (circuit id 0) carry bodies of signed node descriptors
// (dataplane/directory). This file only moves the bodies; the daemon verifies and merges them, and gives every
// worker's Node the bodies to send.
//
//   DIRECTORY cell   | circ_id u32 = 0 | cmd u8 = 7 | rsv[3] | gossip body, zero padded to the cell |
#include <cstring>

#include "node/node.h"
#include "node/node_state.h"

namespace voxa::node {

void Node::connect(const NodeId& id) noexcept {
    auto it = known_index_.find(id);
    if (it == known_index_.end()) return;
    const link::PeerHandle peer = peer_for(it->second);
    if (peer != link::kNoPeer && !link_.ready(peer)) link_.connect(peer, tx_);
}

void Node::set_gossip(std::vector<std::vector<uint8_t>> bodies) {
    for (auto& b : bodies) {
        if (b.size() > gossip_body_bytes()) b.clear();   // never truncate a signed descriptor: skip the body
    }
    gossip_out_ = std::move(bodies);
}

bool Node::pop_gossip(std::vector<uint8_t>* body) {
    if (gossip_in_.empty()) return false;
    *body = std::move(gossip_in_.front());
    gossip_in_.pop_front();
    return true;
}

void Node::on_directory_cell(const circuit::CellView& cell) noexcept {
    if (gossip_in_.size() >= config_.gossip_in_max) {
        stats_.drops[std::size_t(Drop::kGossipFull)] += 1;
        return;
    }
    stats_.gossip_received += 1;
    gossip_in_.emplace_back(cell.body, cell.body + cell.body_len);
}

void Node::send_gossip(link::PeerHandle peer) noexcept {
    for (const auto& body : gossip_out_) {
        if (body.empty()) continue;
        uint8_t* out = tx_cell(0, wire::CellCmd::kDirectory);
        std::memcpy(out, body.data(), body.size());
        send_tx_cell(peer);
        stats_.gossip_sent += 1;
    }
}

void Node::tick_gossip() noexcept {
    const uint64_t now = clock_.now_ns();
    if (gossip_out_.empty() || now - last_gossip_ns_ < config_.gossip_interval_ns) return;
    last_gossip_ns_ = now;
    // peer_for() also adopts a session the neighbour opened to us before we knew it (the link layer upgrades
    // that anonymous peer in place), so new nodes hear back from the nodes they bootstrapped from.
    for (std::size_t i = 0; i < known_.size(); ++i) {
        const link::PeerHandle peer = peer_for(i);
        if (peer != link::kNoPeer && link_.ready(peer)) send_gossip(peer);
    }
}

}  // namespace voxa::node
