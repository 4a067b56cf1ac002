// Circuits this node originates: n relay-disjoint circuits per destination, built telescopically (CREATE to the
// first hop, then EXTEND through the circuit's current end), rebuilt when they fail and rotated when old.
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "node/node.h"
#include "node/node_state.h"
#include "voxa/assert.h"

namespace voxa::node {

uint32_t Node::allocate_circ_id(link::PeerHandle peer) const noexcept {
    // Both tables index circuits we created on a link by (peer, id); an id must be free in both.
    for (;;) {
        const uint32_t id = relays_.allocate_id(peer);
        if (origin_.count(ref(CircuitRef::Kind::kOrigin, peer, id).key()) == 0) return id;
    }
}

Node::OriginCircuit* Node::origin_circuit(const CircuitRef& ref) noexcept {
    auto it = origin_.find(ref.key());
    return it == origin_.end() ? nullptr : it->second.get();
}

Node::CircuitSet* Node::circuit_set(const NodeId& destination, std::string* error) {
    auto dest = known_index_.find(destination);
    if (dest == known_index_.end()) {
        if (error) *error = "unknown destination " + to_hex(destination);
        return nullptr;
    }
    auto [it, inserted] = sets_.try_emplace(destination);
    if (inserted) {
        it->second = std::make_unique<CircuitSet>();
        it->second->destination = destination;
        it->second->destination_index = dest->second;
        it->second->slots.assign(config_.n, nullptr);
    }
    CircuitSet& set = *it->second;

    // Relays already used by this set's live circuits stay excluded (circuits of one set share no relay), or,
    // when a relay may carry several parts, count as uses.
    std::vector<NodeId> exclude{self_.id(), destination};
    std::vector<NodeId> used;
    std::size_t empty = 0;
    for (OriginCircuit* oc : set.slots) {
        if (oc == nullptr) {
            ++empty;
            continue;
        }
        for (std::size_t i = 0; i + 1 < oc->path.size(); ++i) {
            (config_.parts_per_relay_max > 1 ? used : exclude).push_back(known_[oc->path[i]].identity.id);
        }
    }
    if (empty == 0) return &set;

    std::vector<circuit::RelayInfo> relays;
    std::vector<std::size_t> relay_known;   // relays[i] is known_[relay_known[i]]
    for (std::size_t i = 0; i < known_.size(); ++i) {
        if (!known_[i].is_relay || known_[i].suspect_until_ns == kForgotten) continue;
        const bool live = clock_.now_ns() >= known_[i].suspect_until_ns;
        relays.push_back(circuit::RelayInfo{known_[i].identity.id, known_[i].endpoint, known_[i].capacity, live});
        relay_known.push_back(i);
    }
    std::string why;
    auto paths = circuit::choose_disjoint_paths(relays, empty, config_.hops, exclude, &why,
                                                config_.parts_per_relay_max, used);
    if (!paths) {
        if (error) *error = "cannot build " + std::to_string(empty) + " relay-disjoint circuits of " +
                            std::to_string(config_.hops) + " hops: " + why;
        return nullptr;
    }
    std::size_t next_path = 0;
    for (std::size_t slot = 0; slot < set.slots.size(); ++slot) {
        if (set.slots[slot] != nullptr) continue;
        std::vector<std::size_t> path;
        for (std::size_t r : (*paths)[next_path++]) path.push_back(relay_known[r]);
        path.push_back(set.destination_index);
        start_circuit(set, slot, path);
    }
    return &set;
}

bool Node::start_circuit(CircuitSet& set, std::size_t slot, std::span<const std::size_t> path) {
    const link::PeerHandle first = peer_for(path[0]);
    if (first == link::kNoPeer) return false;
    auto oc = std::make_unique<OriginCircuit>(config_.provider);
    oc->ref = ref(CircuitRef::Kind::kOrigin, first, allocate_circ_id(first));
    oc->path.assign(path.begin(), path.end());
    oc->started_ns = clock_.now_ns();
    oc->set = &set;
    oc->slot = slot;
    oc->pending = std::make_unique<circuit::NtorClient>(known_[path[0]].identity);
    set.slots[slot] = oc.get();

    uint8_t* body = tx_cell(oc->ref.circ_id, wire::CellCmd::kCreate);
    oc->pending->onionskin(body);
    const link::PeerHandle peer = oc->ref.peer;
    origin_.emplace(oc->ref.key(), std::move(oc));
    send_tx_cell(peer);
    return true;
}

void Node::extend_or_finish(OriginCircuit& oc) noexcept {
    const std::size_t built = oc.crypto.hops();
    if (built == oc.path.size()) {
        oc.state = OriginCircuit::State::kReady;
        oc.ready_ns = clock_.now_ns();
        stats_.circuits_built += 1;
        push_circuit_event(CircuitEvent{oc.ref.key(), uint8_t(oc.path.size() - 1), true, 0});
        const uint64_t took = oc.ready_ns - oc.started_ns;
        build_ns_avg_ = build_ns_avg_ == 0 ? took : (7 * build_ns_avg_ + took) / 8;
        return;
    }
    const KnownNode& next = known_[oc.path[built]];
    oc.pending = std::make_unique<circuit::NtorClient>(next.identity);
    uint8_t extend[kExtendBytes];
    std::memcpy(extend, next.identity.id.data(), kNodeIdBytes);
    oc.pending->onionskin(extend + kNodeIdBytes);
    send_relay_msg(oc.ref, wire::RelayMsgType::kExtend, 0, extend);
}

void Node::on_origin_backward(OriginCircuit& oc, const RelayMsgView& msg) noexcept {
    // Only a cell heard after the first unanswered send can answer it. One reactor iteration reads the clock once,
    // and a batch can hold an acknowledgement, the sends it lets out, then more cells: those later cells answer
    // earlier sends, not the ones made in this same instant.
    if (oc.unanswered_since_ns < clock_.now_ns()) oc.awaiting_answer = false;
    switch (msg.type) {
        case wire::RelayMsgType::kExtended: {
            if (oc.state != OriginCircuit::State::kBuilding || !oc.pending || msg.data.size() != kExtendedBytes) {
                stats_.drops[std::size_t(Drop::kUnexpectedMsg)] += 1;
                return;
            }
            std::optional<circuit::HopSecrets> secrets = oc.pending->finish(msg.data.data());
            oc.pending.reset();
            if (!secrets) {
                stats_.circuit_drops[std::size_t(circuit::Drop::kBadAuth)] += 1;
                kill_origin_circuit(oc, true);
                return;
            }
            oc.crypto.add_hop(*secrets);
            extend_or_finish(oc);
            return;
        }
        case wire::RelayMsgType::kExtendFailed:
            suspect_pending_hop(oc);
            kill_origin_circuit(oc, true);
            return;
        default:
            if (oc.state != OriginCircuit::State::kReady) {
                stats_.drops[std::size_t(Drop::kUnexpectedMsg)] += 1;
                return;
            }
            on_end_message(oc.ref, msg);
    }
}

void Node::kill_origin_circuit(OriginCircuit& oc, bool send_destroy_cell) noexcept {
    if (oc.state == OriginCircuit::State::kDead) return;
    if (oc.state == OriginCircuit::State::kBuilding) stats_.circuits_failed += 1;
    if (oc.state == OriginCircuit::State::kReady) {
        push_circuit_event(CircuitEvent{oc.ref.key(), uint8_t(oc.path.size() - 1), false, 1});
    }
    oc.state = OriginCircuit::State::kDead;
    oc.pending.reset();
    if (send_destroy_cell) send_destroy(oc.ref.peer, oc.ref.circ_id);
    if (oc.set != nullptr && oc.set->slots[oc.slot] == &oc) oc.set->slots[oc.slot] = nullptr;
    oc.set = nullptr;
}

// Live relays only (DESIGN §3): when a relay answers EXTEND_FAILED, the node it could not reach is down or
// unreachable, so paths leave it out for relay_suspect_ns.
void Node::suspect_pending_hop(const OriginCircuit& oc) noexcept {
    const std::size_t hop = oc.crypto.hops();   // hops built so far: path[hop] is the one being created
    if (hop < oc.path.size()) known_[oc.path[hop]].suspect_until_ns = clock_.now_ns() + config_.relay_suspect_ns;
}

// A build that takes four times longer than builds usually take here has almost surely lost a cell: give up on
// it early and build another, instead of waiting for the worst case the configuration allows.
uint64_t Node::build_timeout_ns() const noexcept {
    if (build_ns_avg_ == 0) return config_.circuit_build_timeout_ns;
    return std::clamp(4 * build_ns_avg_, config_.circuit_build_timeout_min_ns, config_.circuit_build_timeout_ns);
}

void Node::tick_circuits() noexcept {
    const uint64_t now = clock_.now_ns();
    for (auto it = origin_.begin(); it != origin_.end();) {
        OriginCircuit& oc = *it->second;
        if (oc.state == OriginCircuit::State::kBuilding && now - oc.started_ns > build_timeout_ns()) {
            kill_origin_circuit(oc, true);   // under loss builds time out often: no relay is suspected for it
        }
        if (oc.state == OriginCircuit::State::kReady && oc.awaiting_answer &&
            now - oc.unanswered_since_ns > config_.circuit_silence_ns) {
            stats_.circuits_failed += 1;
            kill_origin_circuit(oc, true);
        }
        if (oc.state == OriginCircuit::State::kReady && now - oc.ready_ns > config_.circuit_lifetime_ns) {
            // Rotation: new messages get a fresh circuit; this one keeps serving messages already on it until
            // they can no longer be in flight.
            if (oc.set != nullptr && oc.set->slots[oc.slot] == &oc) oc.set->slots[oc.slot] = nullptr;
            oc.set = nullptr;
            if (now - oc.ready_ns > config_.circuit_lifetime_ns + config_.message_timeout_ns) {
                kill_origin_circuit(oc, true);
            }
        }
        if (oc.state == OriginCircuit::State::kDead) {
            it = origin_.erase(it);
        } else {
            ++it;
        }
    }
    if (now - last_relay_sweep_ns_ >= kNsPerS) {
        last_relay_sweep_ns_ = now;
        expire_relay_circuits();
    }
}

// Circuits this node relays or ends are freed by DESTROY; one whose origin vanished without it is freed when idle,
// so the bounded table cannot fill up with the dead.
void Node::expire_relay_circuits() noexcept {
    const uint64_t now = clock_.now_ns();
    relays_.for_each([&](circuit::RelayCircuit& c) {
        if (now - c.last_used_ns <= config_.relay_idle_ns) return;
        send_destroy(c.prev_peer, c.prev_id);
        if (c.next_peer != circuit::kNoPeer) send_destroy(c.next_peer, c.next_id);
        relays_.erase(&c);
    });
}

std::vector<std::vector<NodeId>> Node::circuit_paths(const NodeId& destination) const {
    std::vector<std::vector<NodeId>> out;
    auto it = sets_.find(destination);
    if (it == sets_.end()) return out;
    for (const OriginCircuit* oc : it->second->slots) {
        if (oc == nullptr) continue;
        std::vector<NodeId> relays;
        for (std::size_t i = 0; i + 1 < oc->path.size(); ++i) relays.push_back(known_[oc->path[i]].identity.id);
        out.push_back(std::move(relays));
    }
    return out;
}

}  // namespace voxa::node
