// Private state of voxa::node::Node, shared by node.cpp, node_circuits.cpp and node_delivery.cpp.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "node/node.h"

namespace voxa::node {

struct Node::KnownNode {
    crypto::PeerIdentity identity;
    Endpoint endpoint;
    uint32_t capacity = 1;
    bool is_relay = true;
    link::PeerHandle peer = link::kNoPeer;   // link peer, added on first use
    uint64_t suspect_until_ns = 0;           // an EXTEND to this node failed: not drawn for paths until then
                                             // (kForgotten: the control plane removed it)
};
inline constexpr uint64_t kForgotten = ~uint64_t(0);

// A circuit this node originates: origin -> path[0] -> ... -> path[last] (the destination is path.back()).
struct Node::OriginCircuit {
    enum class State : uint8_t { kBuilding, kReady, kDead };
    State state = State::kBuilding;
    CircuitRef ref;                                   // kOrigin, first hop's peer, our circuit id on that link
    std::vector<std::size_t> path;                    // indices into known_: relays, then the destination
    circuit::OriginCrypto crypto;
    std::unique_ptr<circuit::NtorClient> pending;     // the hop being created
    uint64_t started_ns = 0, ready_ns = 0;
    // Liveness: the first send after we last heard anything back. Silence that lasts circuit_silence_ns from
    // there means a relay or the destination is gone (killed, restarted): the circuit is torn down and rebuilt.
    bool awaiting_answer = false;
    uint64_t unanswered_since_ns = 0;
    uint64_t cells_sent = 0;                          // relay cells originated on it
    CircuitSet* set = nullptr;                        // owner set
    std::size_t slot = 0;                             // index within the set

    explicit OriginCircuit(crypto::Provider p) : crypto(p) {}
};

// The n circuits this node keeps to one destination: relay-disjoint, rebuilt on failure, rotated on a timer.
struct Node::CircuitSet {
    NodeId destination{};
    std::size_t destination_index = 0;
    std::vector<OriginCircuit*> slots;               // n entries; nullptr while a slot has no circuit
};

// A message this node sends (a request over origin circuits, or a reply over circuits it ends).
struct Node::Outgoing {
    MessageId id{};
    std::optional<split::SplitMessage> split;
    std::array<CircuitRef, wire::kPartsMax> part_ref{};   // kNone: part not sent
    std::optional<NodeId> destination;               // requests: circuits are taken from sets_[destination]
    SendState state = SendState::kBuildingCircuits;
    std::size_t fragments_per_part = 0;
    std::array<uint32_t, wire::kPartsMax> next_fragment{};   // first-pass send cursor per part
    std::array<uint32_t, wire::kPartsMax> acked{};           // receiver's `highest` per part (flow control)
    std::vector<uint32_t> sent_ms;   // [part * fragments_per_part + fragment]: last transmission, ms after creation
    uint64_t created_ns = 0, last_feedback_ns = 0, last_probe_ns = 0;
    uint32_t age_ms(uint64_t now_ns) const noexcept { return uint32_t((now_ns - created_ns) / kNsPerMs) + 1; }
};

// Receiver-side bookkeeping of a message being reassembled here: which circuit carries which part, and when
// each part last made progress (a part idle for status_idle_ns gets a STATUS).
struct Node::Inbound {
    MessageId id{};
    std::array<CircuitRef, wire::kPartsMax> part_ref{};
    std::array<uint64_t, wire::kPartsMax> last_progress_ns{};
    std::array<uint64_t, wire::kPartsMax> last_status_ns{};
    std::array<uint32_t, wire::kPartsMax> highest{};            // one past the highest fragment index seen
    std::array<uint32_t, wire::kPartsMax> since_status{};       // fragments accepted since the last STATUS
    std::array<uint32_t, wire::kPartsMax> nacked_through{};     // holes below this were NACKed by a progress STATUS
    uint64_t created_ns = 0;
    bool have_manifest = false;
    uint64_t need_manifest_sent_ns = 0;
};

}  // namespace voxa::node
