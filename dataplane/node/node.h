// The protocol engine of one node: link sessions to neighbours, circuits it originates, relays or ends, request
// splitting over relay-disjoint circuits, reassembly, acknowledgement and retransmission, and replies over the
// same circuits. It does no I/O of its own: datagrams come in through on_datagram(), go out through the TxSink,
// and time comes from the injected Clock. The running data plane (a worker per core) and the in-process
// simulated network (dataplane/sim) drive the very same engine.
//
// Threading: a Node belongs to one thread. Nothing here blocks, throws on the data path, or logs per packet.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "circuit/cell.h"
#include "circuit/circuit_table.h"
#include "circuit/ntor.h"
#include "circuit/onion.h"
#include "circuit/path.h"
#include "common/clock.h"
#include "common/endpoint.h"
#include "crypto/identity.h"
#include "crypto/provider.h"
#include "link/endpoint.h"
#include "node/relay_msg.h"
#include "reassembly/reassembler.h"
#include "split/manifest.h"
#include "split/splitter.h"
#include "voxa/types.h"
#include "voxa/wire.h"

namespace voxa::node {

// Hashes for ids that are already uniformly random (BLAKE2b outputs, CSPRNG message ids): the first 8 bytes.
struct NodeIdHash {
    std::size_t operator()(const NodeId& id) const noexcept {
        std::size_t h;
        std::memcpy(&h, id.data(), sizeof h);
        return h;
    }
};
struct MessageIdHash {
    std::size_t operator()(const MessageId& id) const noexcept {
        std::size_t h;
        std::memcpy(&h, id.data(), sizeof h);
        return h;
    }
};

struct NodeConfig {
    std::size_t cell_bytes = wire::kCellBytesDefault;
    uint8_t hops = 3;                               // relays per circuit, 1..8
    uint8_t k = 3, n = 5;                           // any k of n parts rebuild a message
    std::size_t max_message_bytes = wire::kMessageBytesMax;
    crypto::Provider provider = crypto::default_provider();
    link::LinkConfig link;
    reassembly::ReassemblyConfig reassembly;
    std::size_t circuits_max = 8192;                // relay-side circuit table
    uint64_t circuit_build_timeout_ns = 3 * kNsPerS;       // ceiling; the working value adapts (see below)
    uint64_t circuit_build_timeout_min_ns = 20 * kNsPerMs;
    uint64_t circuit_lifetime_ns = 600 * kNsPerS;   // origin circuits are rotated after this
    uint64_t relay_idle_ns = 900 * kNsPerS;         // a relayed or ended circuit silent this long is torn down
    uint64_t circuit_silence_ns = 3 * kNsPerS;      // an origin circuit sent on but unanswered this long is dead
    uint64_t relay_suspect_ns = 30 * kNsPerS;       // a node an EXTEND failed to reach is left out of paths this long
    uint64_t status_idle_ns = 40 * kNsPerMs;        // receiver: a part idle this long gets a STATUS (NACK)
    uint64_t hole_resend_gap_ns = 20 * kNsPerMs;    // sender: a NACKed hole is not resent sooner after its last copy
    uint64_t tail_resend_gap_ns = 300 * kNsPerMs;   // sender: nor a missing tail fragment (it may be in flight)
    uint32_t status_every_cells = 256;              // receiver: a progress STATUS (ack) per this many fragments
    uint32_t window_cells = 1024;                   // sender: fragments in flight per circuit beyond the ack
    uint64_t probe_after_ns = 400 * kNsPerMs;       // sender: no feedback this long -> resend manifests
    uint64_t message_timeout_ns = 120 * kNsPerS;    // sender gives up
    std::size_t pending_cells_per_peer_max = 4096;  // cells held while a link handshake completes
    std::size_t outgoing_messages_max = 256;
    std::size_t replyable_max = 1024;               // requests remembered for reply()
    std::size_t orphan_cells_max = 8192;            // fragments held until their manifest arrives
    uint8_t parts_per_relay_max = 1;                // 1: relay-disjoint circuits; more lets a small network
                                                    // share relays between a message's circuits (< k)
    // Workers: one Node per data-plane worker, all with the same identity (see "Workers" below).
    uint8_t worker = 0, workers = 1;
    uint64_t gossip_interval_ns = 30 * kNsPerS;     // directory gossip to every neighbour with a session
    std::size_t gossip_in_max = 256;                // received gossip bodies waiting for pop_gossip()
};

// For tests of the protocol's defences only: a relay that misbehaves on purpose.
struct FaultInjection {
    double flip_relayed_bit_probability = 0.0;      // flip one bit of the onion of a relayed forward cell
};

// Where a relay message goes: a circuit this node originated (forward) or one it ends (backward), on the worker
// that owns it.
struct CircuitRef {
    enum class Kind : uint8_t { kNone, kOrigin, kEnd };
    Kind kind = Kind::kNone;
    link::PeerHandle peer = link::kNoPeer;          // first hop (kOrigin) or previous hop (kEnd)
    uint32_t circ_id = 0;
    uint8_t worker = 0;                             // the worker whose Node holds the circuit
    friend bool operator==(const CircuitRef&, const CircuitRef&) = default;
    // Unique among a node's circuits (peer handles stay below 2^23: LinkConfig::peers_max).
    uint64_t key() const noexcept {
        return (uint64_t(kind == Kind::kEnd) << 63) | (uint64_t(worker) << 55) | (uint64_t(peer) << 32) | circ_id;
    }
};

// Workers. A node runs one Node per data-plane worker, all with the same identity. Link sessions and circuits
// belong to the worker that made or accepted them (the link layer's receiver indices name the worker, so the
// backend steers their datagrams there). Messages belong to a worker too: owner(id) = id[0] % workers. Relay
// messages about a message (DATA, MANIFEST, STATUS, DONE) that arrive on another worker's circuit are handed to
// the owner, and a message's owner sends on another worker's circuit by handing the relay message to that worker.
// Both go through a HandoffSink (the daemon's SPSC rings between workers); a full ring drops, counted, and the
// retransmission machinery recovers as from any loss.
struct Handoff {
    enum class Kind : uint8_t { kEndMessage = 1, kSendOnCircuit = 2 };
    Kind kind = Kind::kEndMessage;
    wire::RelayMsgType type = wire::RelayMsgType::kPadding;
    uint8_t flags = 0;
    CircuitRef ref;                                 // kEndMessage: the circuit it arrived on; kSendOnCircuit: target
};
class HandoffSink {
public:
    virtual ~HandoffSink() = default;
    // Queues `h` and a copy of `data` for worker `to`; false when its ring is full.
    virtual bool handoff(uint8_t to, const Handoff& h, std::span<const uint8_t> data) noexcept = 0;
};
inline uint8_t message_owner(const MessageId& id, uint8_t workers) noexcept { return uint8_t(id[0] % workers); }

// Node-level drops (link, circuit and reassembly layers count their own).
enum class Drop : uint8_t {
    kNone, kBadCell, kUnknownCircuit, kBadRelayMsg, kUnexpectedMsg, kBadE2eTag, kPendingFull, kNoRoute,
    kCircuitsFull, kBadExtend, kOrphansFull, kHandoffFull, kGossipFull, kCount
};
std::string_view drop_name(Drop d) noexcept;

struct NodeStats {
    uint64_t drops[std::size_t(Drop::kCount)] = {};
    uint64_t circuit_drops[std::size_t(circuit::Drop::kCount)] = {};
    uint64_t cells_relayed_forward = 0, cells_relayed_backward = 0, cells_originated = 0, cells_ended = 0;
    uint64_t circuits_built = 0, circuits_failed = 0, circuits_relayed = 0;
    uint64_t messages_sent = 0, messages_delivered = 0, messages_failed = 0, messages_received = 0;
    uint64_t fragments_sent = 0, fragments_retransmitted = 0, status_sent = 0, status_received = 0;
    uint64_t handoffs_out = 0, handoffs_in = 0, gossip_sent = 0, gossip_received = 0;
};

enum class SendState : uint8_t { kUnknown, kBuildingCircuits, kSending, kDelivered, kFailed };

// Views for the control plane (node_control.cpp). They allocate: take them every few hundred ms, never per packet.
struct SessionInfo {
    NodeId node{};
    Endpoint endpoint{};
};
struct CircuitInfo {
    uint64_t id = 0;                                // CircuitRef::key()
    NodeId destination{};
    uint8_t hops = 0;                               // relays (the path minus the destination)
    std::vector<NodeId> path;                       // relays, then the destination
    const char* state = "building";                 // "building", "ready", "dead"
    uint64_t age_ms = 0;
    uint64_t cells_sent = 0;
};
// An origin circuit became ready (up) or a ready one was torn down (down), in order.
struct CircuitEvent {
    uint64_t id = 0;
    uint8_t hops = 0;
    bool up = false;
    uint32_t reason = 0;                            // down: 1 failed or destroyed, 2 policy change
};
struct CircuitPolicy {
    uint8_t hops = 3, n = 5, k = 3;
    uint64_t circuit_lifetime_ns = 600 * kNsPerS;
};

struct Received {
    MessageId message_id{};
    MessageId in_reply_to{};
    bool is_reply = false;
    std::vector<uint8_t> bytes;
};

class Node {
public:
    // `self`, `clock`, `wall` and `tx` must outlive the node.
    Node(const crypto::Identity& self, const NodeConfig& config, const Clock& clock, const WallClock& wall,
         link::TxSink& tx);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Directory: every node this one may use as a relay, extend to, or send to.
    void add_known_node(const crypto::PeerIdentity& peer, const Endpoint& endpoint, uint32_t capacity,
                        bool is_relay);

    // One datagram from the network. Decrypted and, for relayed cells, re-encrypted in place: `data` must be
    // writable and `len` bytes long. A relayed cell is transmitted from inside `data` (same length) and not
    // written again afterwards: the DPDK backend sends it in the mbuf it arrived in (io/backend.h, RxHandler).
    void on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept;
    // Timers; call every few milliseconds.
    void tick() noexcept;

    // Splits `message` over relay-disjoint circuits to `destination` (built on demand). Returns the message id,
    // or nullopt with `error` (unknown destination, too large, too many messages in flight).
    std::optional<MessageId> send(const NodeId& destination, std::span<const uint8_t> message, std::string* error);
    // Answers a received request over the circuits it arrived on. Same return contract as send().
    std::optional<MessageId> reply(const MessageId& request, std::span<const uint8_t> message, std::string* error);
    SendState send_state(const MessageId& id) const noexcept;
    // Messages addressed to this node (requests and replies), in completion order.
    bool pop_received(Received* out);

    const NodeId& id() const noexcept { return self_.id(); }
    const NodeStats& stats() const noexcept { return stats_; }
    const link::LinkStats& link_stats() const noexcept { return link_.stats(); }
    const reassembly::ReassemblyStats& reassembly_stats() const noexcept { return reassembler_.stats(); }
    // The relays of every live circuit this node originated to `destination` (for tests and the API).
    std::vector<std::vector<NodeId>> circuit_paths(const NodeId& destination) const;
    std::size_t relay_circuits() const noexcept { return relays_.size(); }
    std::size_t origin_circuits() const noexcept;
    std::size_t known_nodes() const noexcept;
    void set_faults(const FaultInjection& f) noexcept { faults_ = f; }

    // Control plane (node_control.cpp).
    // The known nodes with a usable link session on this worker.
    void sessions(std::vector<SessionInfo>* out) const;
    // Up to `max` origin circuits.
    void circuits(std::vector<CircuitInfo>* out, std::size_t max) const;
    // Circuit transitions since the last call (bounded: the oldest are dropped when nobody pops).
    bool pop_circuit_event(CircuitEvent* out) noexcept;
    // "" when `p` fits a node's limits (hops 1..circuit::kHopsMax, 1 <= k <= n <= wire::kPartsMax, lifetime > 0,
    // and parts_per_relay_max, when not 1, below k), else what is wrong. Pure; any thread.
    static std::string check_policy(const CircuitPolicy& p, uint8_t parts_per_relay_max);
    // Applies a checked policy to circuits built from now on. hops and lifetime apply at once; a new n or k waits
    // until no message of this node is in flight (messages keep the split they started with), then the circuit sets
    // are rebuilt. Returns check_policy()'s error without changing anything when invalid.
    std::string set_policy(const CircuitPolicy& p);
    CircuitPolicy policy() const noexcept;
    // The node is left out of every new path (and as a first hop) until add_known_node() names it again.
    void forget_node(const NodeId& id) noexcept;
    std::size_t outgoing_messages() const noexcept { return outgoing_.size(); }

    // Starts a link handshake with a known node now (bootstrap peers), so gossip can flow before any circuit.
    void connect(const NodeId& id) noexcept;

    // Directory gossip (node_gossip.cpp). The bodies (dataplane/directory: signed descriptors) come from the
    // daemon; this node sends them in DIRECTORY cells to every neighbour when its session comes up and to every
    // known neighbour with a session each gossip interval. Bodies received from neighbours wait in a bounded queue.
    void set_gossip(std::vector<std::vector<uint8_t>> bodies);
    bool pop_gossip(std::vector<uint8_t>* body);
    std::size_t gossip_body_bytes() const noexcept { return cell_len() - wire::kCellHeaderBytes; }

    // Workers (node_handoff.cpp): `sink` outlives the node; null with one worker.
    void set_handoff(HandoffSink* sink) noexcept { handoff_ = sink; }
    // Work another worker handed to this one.
    void on_handoff(const Handoff& h, std::span<const uint8_t> data) noexcept;

private:
    struct KnownNode;
    struct OriginCircuit;
    struct CircuitSet;
    struct Outgoing;
    struct Inbound;

    // node.cpp: datagrams, cells, relaying
    void on_cell(link::PeerHandle peer, uint8_t* packet, uint8_t* cell, std::size_t cell_len) noexcept;
    void on_create(link::PeerHandle peer, const circuit::CellView& cell) noexcept;
    void on_created(link::PeerHandle peer, const circuit::CellView& cell) noexcept;
    void on_relay_forward(link::PeerHandle peer, uint8_t* packet, const circuit::CellView& cell) noexcept;
    void on_relay_backward(link::PeerHandle peer, uint8_t* packet, const circuit::CellView& cell) noexcept;
    void on_destroy(link::PeerHandle peer, const circuit::CellView& cell) noexcept;
    void on_end_message(const CircuitRef& ref, const RelayMsgView& msg) noexcept;
    void on_extend(circuit::RelayCircuit* c, std::span<const uint8_t> data) noexcept;
    void forward_in_place(link::PeerHandle peer, uint8_t* packet) noexcept;
    uint8_t* tx_cell(uint32_t circ_id, wire::CellCmd cmd) noexcept;   // clears and heads the scratch cell
    void send_tx_cell(link::PeerHandle peer) noexcept;
    void send_destroy(link::PeerHandle peer, uint32_t circ_id) noexcept;
    bool send_relay_msg(const CircuitRef& ref, wire::RelayMsgType type, uint8_t flags,
                        std::span<const uint8_t> data) noexcept;
    void flush_pending(link::PeerHandle peer) noexcept;
    link::PeerHandle peer_for(std::size_t known_index) noexcept;
    uint32_t allocate_circ_id(link::PeerHandle peer) const noexcept;   // unused by relay and origin circuits
    std::size_t cell_len() const noexcept { return wire::cell_payload_bytes(config_.cell_bytes); }
    std::size_t onion_len() const noexcept { return wire::onion_bytes(config_.cell_bytes); }

    // node_circuits.cpp: circuits this node originates
    CircuitSet* circuit_set(const NodeId& destination, std::string* error);
    bool start_circuit(CircuitSet& set, std::size_t slot, std::span<const std::size_t> path);
    void on_origin_backward(OriginCircuit& oc, const RelayMsgView& msg) noexcept;
    void extend_or_finish(OriginCircuit& oc) noexcept;
    void kill_origin_circuit(OriginCircuit& oc, bool send_destroy_cell) noexcept;
    void suspect_pending_hop(const OriginCircuit& oc) noexcept;
    void tick_circuits() noexcept;
    uint64_t build_timeout_ns() const noexcept;
    void expire_relay_circuits() noexcept;
    OriginCircuit* origin_circuit(const CircuitRef& ref) noexcept;

    // node_gossip.cpp
    void on_directory_cell(const circuit::CellView& cell) noexcept;
    void send_gossip(link::PeerHandle peer) noexcept;
    void tick_gossip() noexcept;

    // node_handoff.cpp
    bool foreign(const CircuitRef& ref) const noexcept { return ref.worker != config_.worker; }
    CircuitRef ref(CircuitRef::Kind kind, link::PeerHandle peer, uint32_t circ_id) const noexcept {
        return CircuitRef{kind, peer, circ_id, config_.worker};
    }
    bool hand_end_message(const CircuitRef& ref, const RelayMsgView& msg) noexcept;   // true if handed over
    MessageId new_message_id() const noexcept;   // random, owned by this worker

    // node_delivery.cpp: sending, retransmitting, receiving
    std::optional<MessageId> start_outgoing(std::span<const uint8_t> message, const MessageId* in_reply_to,
                                            const NodeId* destination, std::span<const CircuitRef> refs,
                                            std::string* error);
    void send_part(Outgoing& out, std::size_t part) noexcept;
    void pump_part(Outgoing& out, std::size_t part) noexcept;
    void assign_parts(Outgoing& out) noexcept;
    void send_manifest(Outgoing& out, std::size_t part) noexcept;
    void send_fragment(Outgoing& out, std::size_t part, uint32_t fragment) noexcept;
    bool ref_alive(const CircuitRef& ref) noexcept;
    void on_data(const CircuitRef& ref, std::span<const uint8_t> data) noexcept;
    void on_manifest(const CircuitRef& ref, std::span<const uint8_t> data) noexcept;
    void on_status(std::span<const uint8_t> data) noexcept;
    void on_done(std::span<const uint8_t> data) noexcept;
    Inbound* inbound(const MessageId& id, bool create) noexcept;
    void deliver_completed() noexcept;
    void send_status(Inbound& in, std::size_t part, uint8_t flags, bool below_highest_only) noexcept;
    void tick_delivery() noexcept;

    const crypto::Identity& self_;
    NodeConfig config_;
    const Clock& clock_;
    link::TxSink& tx_;
    link::LinkEndpoint link_;
    circuit::CircuitTable relays_;
    reassembly::Reassembler reassembler_;
    NodeStats stats_;
    FaultInjection faults_;

    std::vector<KnownNode> known_;
    std::unordered_map<NodeId, std::size_t, NodeIdHash> known_index_;
    std::unordered_map<link::PeerHandle, std::deque<std::vector<uint8_t>>> pending_;   // cells awaiting a session
    std::vector<uint8_t> tx_packet_;                                                    // scratch datagram

    std::unordered_map<uint64_t, std::unique_ptr<OriginCircuit>> origin_;   // by CircuitRef::key()
    std::unordered_map<NodeId, std::unique_ptr<CircuitSet>, NodeIdHash> sets_;
    std::unordered_map<MessageId, std::unique_ptr<Outgoing>, MessageIdHash> outgoing_;
    std::unordered_map<MessageId, std::unique_ptr<Inbound>, MessageIdHash> inbound_;
    std::deque<std::pair<MessageId, std::array<CircuitRef, wire::kPartsMax>>> replyable_;
    std::deque<Received> received_;

    // Fragments that overtook their message's manifest (possible whenever a path reorders), replayed into the
    // reassembler when the manifest arrives. Bounded by orphan_cells_max.
    struct Orphan {
        CircuitRef ref;
        std::vector<uint8_t> data;
    };
    std::unordered_map<MessageId, std::vector<Orphan>, MessageIdHash> orphans_;
    std::size_t orphan_cells_ = 0;
    uint64_t last_relay_sweep_ns_ = 0;
    HandoffSink* handoff_ = nullptr;
    std::vector<std::vector<uint8_t>> gossip_out_;
    std::deque<std::vector<uint8_t>> gossip_in_;
    uint64_t last_gossip_ns_ = 0;
    uint64_t build_ns_avg_ = 0;   // running average of successful circuit builds; 0 until the first
    std::deque<CircuitEvent> circuit_events_;          // bounded by kCircuitEventsMax
    std::optional<CircuitPolicy> pending_parts_;       // a new n/k waiting for outgoing_ to empty
    void push_circuit_event(const CircuitEvent& e) noexcept;
    void apply_pending_parts() noexcept;
};

}  // namespace voxa::node
