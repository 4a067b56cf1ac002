// The node's control-plane surface: views for the daemon's snapshots (sessions, origin circuits), circuit
// transitions for the shm event rings, the circuit policy set at run time, and forgetting a node. Nothing here is
// on the packet path; the views allocate and are taken a few times per second.
#include <algorithm>

#include "circuit/onion.h"
#include "node/node_state.h"

namespace voxa::node {
namespace {

// Transitions kept while nobody pops them (the worker pops every poll, so this only bounds a stall).
constexpr std::size_t kCircuitEventsMax = 1024;

}  // namespace

void Node::sessions(std::vector<SessionInfo>* out) const {
    for (const KnownNode& k : known_) {
        const link::PeerHandle peer = k.peer != link::kNoPeer ? k.peer : link_.find_peer(k.identity.id);
        if (peer == link::kNoPeer || !link_.ready(peer)) continue;
        out->push_back(SessionInfo{k.identity.id, link_.peer_endpoint(peer)});
    }
}

void Node::circuits(std::vector<CircuitInfo>* out, std::size_t max) const {
    const uint64_t now = clock_.now_ns();
    for (const auto& [key, oc] : origin_) {
        if (out->size() >= max) return;
        CircuitInfo c;
        c.id = key;
        c.hops = uint8_t(oc->path.empty() ? 0 : oc->path.size() - 1);
        for (std::size_t i : oc->path) c.path.push_back(known_[i].identity.id);
        if (!c.path.empty()) c.destination = c.path.back();
        c.state = oc->state == OriginCircuit::State::kReady ? "ready"
                  : oc->state == OriginCircuit::State::kBuilding ? "building"
                                                                 : "dead";
        c.age_ms = (now - oc->started_ns) / kNsPerMs;
        c.cells_sent = oc->cells_sent;
        out->push_back(std::move(c));
    }
}

void Node::push_circuit_event(const CircuitEvent& e) noexcept {
    if (circuit_events_.size() >= kCircuitEventsMax) circuit_events_.pop_front();
    circuit_events_.push_back(e);
}

bool Node::pop_circuit_event(CircuitEvent* out) noexcept {
    if (circuit_events_.empty()) return false;
    *out = circuit_events_.front();
    circuit_events_.pop_front();
    return true;
}

std::string Node::check_policy(const CircuitPolicy& p, uint8_t parts_per_relay_max) {
    if (p.hops < 1 || p.hops > circuit::kHopsMax) {
        return "hops " + std::to_string(p.hops) + " outside 1.." + std::to_string(circuit::kHopsMax);
    }
    if (p.n < 1 || p.n > wire::kPartsMax) {
        return "n " + std::to_string(p.n) + " outside 1.." + std::to_string(wire::kPartsMax);
    }
    if (p.k < 1 || p.k > p.n) return "k " + std::to_string(p.k) + " outside 1..n (n = " + std::to_string(p.n) + ")";
    if (p.circuit_lifetime_ns == 0) return "circuit lifetime must be positive";
    if (parts_per_relay_max != 1 && parts_per_relay_max >= p.k) {
        return "k " + std::to_string(p.k) + " must exceed parts_per_relay_max " + std::to_string(parts_per_relay_max) +
               " (or parts_per_relay_max must be 1)";
    }
    return "";
}

std::string Node::set_policy(const CircuitPolicy& p) {
    std::string why = check_policy(p, config_.parts_per_relay_max);
    if (!why.empty()) return why;
    config_.hops = p.hops;
    config_.circuit_lifetime_ns = p.circuit_lifetime_ns;
    if (p.n != config_.n || p.k != config_.k) {
        // Messages index their parts by config_.n and circuit sets hold n slots: change both only when nothing is
        // in flight.
        pending_parts_ = p;
        if (outgoing_.empty()) apply_pending_parts();
    } else {
        pending_parts_.reset();
    }
    return "";
}

void Node::apply_pending_parts() noexcept {
    config_.n = pending_parts_->n;
    config_.k = pending_parts_->k;
    pending_parts_.reset();
    for (auto& [dest, set] : sets_) {
        for (OriginCircuit* oc : set->slots) {
            if (oc != nullptr) kill_origin_circuit(*oc, true);
        }
        set->slots.assign(config_.n, nullptr);
    }
}

CircuitPolicy Node::policy() const noexcept {
    CircuitPolicy p;
    p.hops = config_.hops;
    p.n = pending_parts_ ? pending_parts_->n : config_.n;
    p.k = pending_parts_ ? pending_parts_->k : config_.k;
    p.circuit_lifetime_ns = config_.circuit_lifetime_ns;
    return p;
}

void Node::forget_node(const NodeId& id) noexcept {
    auto it = known_index_.find(id);
    if (it == known_index_.end()) return;
    known_[it->second].suspect_until_ns = kForgotten;
}

}  // namespace voxa::node
