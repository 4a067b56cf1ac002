// Datagrams in, cells dispatched, cells relayed. The relay path works in place: a forward cell is decrypted by
// the link layer inside the received datagram, loses one onion layer, gets the next hop's circuit id and is
// sealed for the next link in the same buffer, so a relayed cell is never copied.
#include "node/node.h"

#include <cstring>

#include <sodium.h>

#include "common/bytes.h"
#include "node/node_state.h"
#include "voxa/assert.h"

namespace voxa::node {

std::string_view drop_name(Drop d) noexcept {
    switch (d) {
        case Drop::kNone: return "none";
        case Drop::kBadCell: return "bad_cell";
        case Drop::kUnknownCircuit: return "unknown_circuit";
        case Drop::kBadRelayMsg: return "bad_relay_msg";
        case Drop::kUnexpectedMsg: return "unexpected_msg";
        case Drop::kBadE2eTag: return "bad_e2e_tag";
        case Drop::kPendingFull: return "pending_full";
        case Drop::kNoRoute: return "no_route";
        case Drop::kCircuitsFull: return "circuits_full";
        case Drop::kBadExtend: return "bad_extend";
        case Drop::kOrphansFull: return "orphans_full";
        case Drop::kHandoffFull: return "handoff_full";
        case Drop::kGossipFull: return "gossip_full";
        case Drop::kCount: break;
    }
    return "unknown";
}

Node::Node(const crypto::Identity& self, const NodeConfig& config, const Clock& clock, const WallClock& wall,
           link::TxSink& tx)
    : self_(self),
      config_(config),
      clock_(clock),
      tx_(tx),
      link_(self, [&] {
          link::LinkConfig lc = config.link;
          lc.cell_bytes = config.cell_bytes;
          lc.provider = config.provider;
          lc.worker = config.worker;
          return lc;
      }(), clock, wall),
      relays_(config.circuits_max),
      reassembler_([&] {
          reassembly::ReassemblyConfig rc = config.reassembly;
          rc.cell_bytes = config.cell_bytes;
          rc.provider = config.provider;
          rc.message_bytes_max = config.max_message_bytes;
          return rc;
      }(), clock),
      tx_packet_(config.cell_bytes, 0) {
    VOXA_CHECK(config.cell_bytes >= wire::kCellBytesMin && config.cell_bytes <= wire::kCellBytesMax);
    VOXA_CHECK(config.hops >= 1 && config.hops <= circuit::kHopsMax);
    VOXA_CHECK(config.k >= 1 && config.k <= config.n && config.n <= wire::kPartsMax);
    VOXA_CHECK(config.workers >= 1 && config.worker < config.workers);
    VOXA_CHECK(config.parts_per_relay_max >= 1);
}

Node::~Node() = default;

std::size_t Node::origin_circuits() const noexcept { return origin_.size(); }
std::size_t Node::known_nodes() const noexcept { return known_.size(); }

void Node::add_known_node(const crypto::PeerIdentity& peer, const Endpoint& endpoint, uint32_t capacity,
                          bool is_relay) {
    if (peer.id == self_.id()) return;
    auto it = known_index_.find(peer.id);
    if (it != known_index_.end()) {
        KnownNode& k = known_[it->second];
        k.endpoint = endpoint;
        k.capacity = capacity;
        k.is_relay = is_relay;
        if (k.suspect_until_ns == kForgotten) k.suspect_until_ns = 0;
        if (k.peer != link::kNoPeer) link_.add_peer(peer, endpoint);
        return;
    }
    known_index_.emplace(peer.id, known_.size());
    known_.push_back(KnownNode{peer, endpoint, capacity, is_relay, link::kNoPeer});
}

link::PeerHandle Node::peer_for(std::size_t known_index) noexcept {
    KnownNode& k = known_[known_index];
    if (k.peer == link::kNoPeer) {
        k.peer = link_.find_peer(k.identity.id);
        if (k.peer == link::kNoPeer) k.peer = link_.add_peer(k.identity, k.endpoint);
    }
    return k.peer;
}

void Node::on_datagram(const Endpoint& from, uint8_t* data, std::size_t len) noexcept {
    const link::RxEvent ev = link_.receive(from, data, len, tx_);
    switch (ev.kind) {
        case link::RxEvent::Kind::kSessionUp:
            flush_pending(ev.peer);
            send_gossip(ev.peer);
            break;
        case link::RxEvent::Kind::kPayload:
            // A responder's session is confirmed by the initiator's first transport packet, which may carry data.
            if (ev.session_up) {
                flush_pending(ev.peer);
                send_gossip(ev.peer);
            }
            on_cell(ev.peer, data, ev.payload, ev.payload_len);
            break;
        case link::RxEvent::Kind::kDropped:
        case link::RxEvent::Kind::kControl:
        case link::RxEvent::Kind::kKeepalive:
            break;
    }
}

void Node::on_cell(link::PeerHandle peer, uint8_t* packet, uint8_t* cell, std::size_t len) noexcept {
    circuit::CellView view;
    const circuit::Drop why = circuit::parse_cell(cell, len, config_.cell_bytes, &view);
    if (why != circuit::Drop::kNone) {
        stats_.circuit_drops[std::size_t(why)] += 1;
        return;
    }
    switch (view.cmd) {
        case wire::CellCmd::kCreate: on_create(peer, view); break;
        case wire::CellCmd::kCreated: on_created(peer, view); break;
        case wire::CellCmd::kRelayForward: on_relay_forward(peer, packet, view); break;
        case wire::CellCmd::kRelayBackward: on_relay_backward(peer, packet, view); break;
        case wire::CellCmd::kDestroy: on_destroy(peer, view); break;
        case wire::CellCmd::kPadding: break;
        case wire::CellCmd::kDirectory: on_directory_cell(view); break;
    }
}

void Node::on_create(link::PeerHandle peer, const circuit::CellView& cell) noexcept {
    if (relays_.find_prev(peer, cell.circ_id) != nullptr) {
        stats_.drops[std::size_t(Drop::kBadCell)] += 1;   // a second CREATE for a live circuit
        return;
    }
    circuit::HopSecrets secrets;
    uint8_t created[circuit::kCreatedBytes];
    const circuit::Drop why = circuit::ntor_server(self_, cell.body, created, &secrets);
    if (why != circuit::Drop::kNone) {
        stats_.circuit_drops[std::size_t(why)] += 1;
        return;
    }
    circuit::RelayCircuit* c = relays_.insert(peer, cell.circ_id);
    if (c == nullptr) {
        stats_.drops[std::size_t(Drop::kCircuitsFull)] += 1;
        send_destroy(peer, cell.circ_id);
        return;
    }
    c->crypto = std::make_unique<circuit::HopCrypto>(secrets, config_.provider);
    c->created_ns = c->last_used_ns = clock_.now_ns();
    stats_.circuits_relayed += 1;
    uint8_t* body = tx_cell(cell.circ_id, wire::CellCmd::kCreated);
    std::memcpy(body, created, sizeof created);
    send_tx_cell(peer);
}

void Node::on_created(link::PeerHandle peer, const circuit::CellView& cell) noexcept {
    // A relay extending a circuit: the next hop answered our CREATE; report it back as EXTENDED.
    if (circuit::RelayCircuit* c = relays_.find_next(peer, cell.circ_id); c != nullptr && c->extending) {
        c->extending = false;
        c->last_used_ns = clock_.now_ns();
        const CircuitRef back = ref(CircuitRef::Kind::kEnd, c->prev_peer, c->prev_id);
        send_relay_msg(back, wire::RelayMsgType::kExtended, 0,
                       std::span<const uint8_t>(cell.body, circuit::kCreatedBytes));
        return;
    }
    // Our own circuit's first hop.
    OriginCircuit* oc = origin_circuit(ref(CircuitRef::Kind::kOrigin, peer, cell.circ_id));
    if (oc == nullptr || oc->state != OriginCircuit::State::kBuilding || oc->crypto.hops() != 0 || !oc->pending) {
        stats_.drops[std::size_t(Drop::kUnknownCircuit)] += 1;
        return;
    }
    std::optional<circuit::HopSecrets> secrets = oc->pending->finish(cell.body);
    oc->pending.reset();
    if (!secrets) {
        stats_.circuit_drops[std::size_t(circuit::Drop::kBadAuth)] += 1;
        kill_origin_circuit(*oc, true);
        return;
    }
    oc->crypto.add_hop(*secrets);
    extend_or_finish(*oc);
}

void Node::on_relay_forward(link::PeerHandle peer, uint8_t* packet, const circuit::CellView& cell) noexcept {
    circuit::RelayCircuit* c = relays_.find_prev(peer, cell.circ_id);
    if (c == nullptr) {
        // A circuit this node forgot (it restarted, or tore the circuit down): tell the sender, hop by hop, so
        // the origin rebuilds instead of sending into the void. One DESTROY per such cell, to an authenticated
        // neighbour only: no amplification.
        stats_.drops[std::size_t(Drop::kUnknownCircuit)] += 1;
        send_destroy(peer, cell.circ_id);
        return;
    }
    c->last_used_ns = clock_.now_ns();
    uint8_t* nonce = cell.body;
    uint8_t* onion = cell.body + wire::kCellNonceBytes;
    if (c->next_peer != circuit::kNoPeer && !c->extending) {
        c->crypto->relay_forward(nonce, onion, onion_len());
        if (faults_.flip_relayed_bit_probability > 0.0 &&
            randombytes_uniform(1'000'000) < uint32_t(faults_.flip_relayed_bit_probability * 1e6)) {
            onion[randombytes_uniform(uint32_t(onion_len()))] ^= uint8_t(1u << randombytes_uniform(8));
        }
        circuit::write_cell_header(packet + wire::kLinkHeaderBytes, c->next_id, wire::CellCmd::kRelayForward);
        stats_.cells_relayed_forward += 1;
        forward_in_place(c->next_peer, packet);
        return;
    }
    if (c->extending) {
        stats_.drops[std::size_t(Drop::kUnexpectedMsg)] += 1;   // the origin waits for EXTENDED first
        return;
    }
    // This node is the circuit's end.
    if (!c->crypto->end_receive_forward(nonce, onion, onion_len())) {
        stats_.drops[std::size_t(Drop::kBadE2eTag)] += 1;
        return;
    }
    stats_.cells_ended += 1;
    RelayMsgView msg;
    if (!parse_relay_msg(onion, wire::relay_msg_bytes(config_.cell_bytes), &msg)) {
        stats_.drops[std::size_t(Drop::kBadRelayMsg)] += 1;
        return;
    }
    if (msg.type == wire::RelayMsgType::kExtend) {
        on_extend(c, msg.data);
        return;
    }
    on_end_message(ref(CircuitRef::Kind::kEnd, peer, cell.circ_id), msg);
}

void Node::on_extend(circuit::RelayCircuit* c, std::span<const uint8_t> data) noexcept {
    if (data.size() != kExtendBytes) {
        stats_.drops[std::size_t(Drop::kBadExtend)] += 1;
        return;
    }
    NodeId next_id;
    std::memcpy(next_id.data(), data.data(), next_id.size());
    auto it = known_index_.find(next_id);
    const CircuitRef back = ref(CircuitRef::Kind::kEnd, c->prev_peer, c->prev_id);
    if (it == known_index_.end()) {
        stats_.drops[std::size_t(Drop::kNoRoute)] += 1;
        send_relay_msg(back, wire::RelayMsgType::kExtendFailed, 0, {});
        return;
    }
    const link::PeerHandle next = peer_for(it->second);
    if (next == link::kNoPeer || next == c->prev_peer) {
        stats_.drops[std::size_t(Drop::kBadExtend)] += 1;
        send_relay_msg(back, wire::RelayMsgType::kExtendFailed, 0, {});
        return;
    }
    const uint32_t id = allocate_circ_id(next);
    if (!relays_.set_next(c, next, id)) {
        stats_.drops[std::size_t(Drop::kCircuitsFull)] += 1;
        send_relay_msg(back, wire::RelayMsgType::kExtendFailed, 0, {});
        return;
    }
    c->extending = true;
    uint8_t* body = tx_cell(id, wire::CellCmd::kCreate);
    std::memcpy(body, data.data() + kNodeIdBytes, circuit::kOnionskinBytes);
    send_tx_cell(next);
}

void Node::on_relay_backward(link::PeerHandle peer, uint8_t* packet, const circuit::CellView& cell) noexcept {
    uint8_t* nonce = cell.body;
    uint8_t* onion = cell.body + wire::kCellNonceBytes;
    if (circuit::RelayCircuit* c = relays_.find_next(peer, cell.circ_id); c != nullptr && !c->extending) {
        c->last_used_ns = clock_.now_ns();
        c->crypto->relay_backward(nonce, onion, onion_len());
        circuit::write_cell_header(packet + wire::kLinkHeaderBytes, c->prev_id, wire::CellCmd::kRelayBackward);
        stats_.cells_relayed_backward += 1;
        forward_in_place(c->prev_peer, packet);
        return;
    }
    OriginCircuit* oc = origin_circuit(ref(CircuitRef::Kind::kOrigin, peer, cell.circ_id));
    if (oc == nullptr || oc->state == OriginCircuit::State::kDead || oc->crypto.hops() == 0) {
        stats_.drops[std::size_t(Drop::kUnknownCircuit)] += 1;
        if (oc == nullptr) send_destroy(peer, cell.circ_id);   // as in on_relay_forward
        return;
    }
    if (!oc->crypto.unwrap_backward(oc->crypto.hops(), nonce, onion, onion_len())) {
        stats_.drops[std::size_t(Drop::kBadE2eTag)] += 1;
        return;
    }
    RelayMsgView msg;
    if (!parse_relay_msg(onion, wire::relay_msg_bytes(config_.cell_bytes), &msg)) {
        stats_.drops[std::size_t(Drop::kBadRelayMsg)] += 1;
        return;
    }
    stats_.cells_ended += 1;
    on_origin_backward(*oc, msg);
}

void Node::on_destroy(link::PeerHandle peer, const circuit::CellView& cell) noexcept {
    if (circuit::RelayCircuit* c = relays_.find_prev(peer, cell.circ_id); c != nullptr) {
        if (c->next_peer != circuit::kNoPeer) send_destroy(c->next_peer, c->next_id);
        relays_.erase(c);
        return;
    }
    if (circuit::RelayCircuit* c = relays_.find_next(peer, cell.circ_id); c != nullptr) {
        send_destroy(c->prev_peer, c->prev_id);
        relays_.erase(c);
        return;
    }
    if (OriginCircuit* oc = origin_circuit(ref(CircuitRef::Kind::kOrigin, peer, cell.circ_id))) {
        kill_origin_circuit(*oc, false);
    }
}

void Node::on_end_message(const CircuitRef& ref, const RelayMsgView& msg) noexcept {
    if (hand_end_message(ref, msg)) return;   // the message belongs to another worker
    switch (msg.type) {
        case wire::RelayMsgType::kData: on_data(ref, msg.data); break;
        case wire::RelayMsgType::kManifest: on_manifest(ref, msg.data); break;
        case wire::RelayMsgType::kStatus: on_status(msg.data); break;
        case wire::RelayMsgType::kDone: on_done(msg.data); break;
        case wire::RelayMsgType::kPadding: break;
        case wire::RelayMsgType::kExtend:
        case wire::RelayMsgType::kExtended:
        case wire::RelayMsgType::kExtendFailed:
            stats_.drops[std::size_t(Drop::kUnexpectedMsg)] += 1;
            break;
    }
}

void Node::forward_in_place(link::PeerHandle peer, uint8_t* packet) noexcept {
    const std::size_t len = link_.seal(peer, packet, cell_len());
    if (len != 0) {
        tx_.transmit(link_.peer_endpoint(peer), std::span<const uint8_t>(packet, len));
        return;
    }
    auto& queue = pending_[peer];
    if (queue.size() >= config_.pending_cells_per_peer_max) {
        stats_.drops[std::size_t(Drop::kPendingFull)] += 1;
        return;
    }
    const uint8_t* cell = packet + wire::kLinkHeaderBytes;
    queue.emplace_back(cell, cell + cell_len());
    link_.connect(peer, tx_);
}

uint8_t* Node::tx_cell(uint32_t circ_id, wire::CellCmd cmd) noexcept {
    uint8_t* cell = tx_packet_.data() + wire::kLinkHeaderBytes;
    std::memset(cell, 0, cell_len());
    circuit::write_cell_header(cell, circ_id, cmd);
    return cell + wire::kCellHeaderBytes;
}

void Node::send_tx_cell(link::PeerHandle peer) noexcept { forward_in_place(peer, tx_packet_.data()); }

void Node::send_destroy(link::PeerHandle peer, uint32_t circ_id) noexcept {
    tx_cell(circ_id, wire::CellCmd::kDestroy);
    send_tx_cell(peer);
}

bool Node::send_relay_msg(const CircuitRef& ref, wire::RelayMsgType type, uint8_t flags,
                          std::span<const uint8_t> data) noexcept {
    if (foreign(ref)) {   // another worker's circuit: that worker seals and sends it
        if (handoff_ == nullptr || !handoff_->handoff(ref.worker, Handoff{Handoff::Kind::kSendOnCircuit, type, flags,
                                                                          ref}, data)) {
            stats_.drops[std::size_t(Drop::kHandoffFull)] += 1;
            return false;
        }
        stats_.handoffs_out += 1;
        return true;
    }
    const std::size_t msg_bytes = wire::relay_msg_bytes(config_.cell_bytes);
    if (ref.kind == CircuitRef::Kind::kOrigin) {
        OriginCircuit* oc = origin_circuit(ref);
        if (oc == nullptr || oc->state == OriginCircuit::State::kDead || oc->crypto.hops() == 0) return false;
        uint8_t* body = tx_cell(ref.circ_id, wire::CellCmd::kRelayForward);
        uint8_t* onion = body + wire::kCellNonceBytes;
        if (!write_relay_msg(onion, msg_bytes, type, flags, data)) return false;
        oc->crypto.wrap_forward(oc->crypto.hops(), body, onion, onion_len());
        stats_.cells_originated += 1;
        oc->cells_sent += 1;
        if (!oc->awaiting_answer) {
            oc->awaiting_answer = true;
            oc->unanswered_since_ns = clock_.now_ns();
        }
        send_tx_cell(ref.peer);
        return true;
    }
    if (ref.kind == CircuitRef::Kind::kEnd) {
        circuit::RelayCircuit* c = relays_.find_prev(ref.peer, ref.circ_id);
        if (c == nullptr) return false;
        uint8_t* body = tx_cell(ref.circ_id, wire::CellCmd::kRelayBackward);
        uint8_t* onion = body + wire::kCellNonceBytes;
        if (!write_relay_msg(onion, msg_bytes, type, flags, data)) return false;
        c->crypto->end_send_backward(body, onion, onion_len());
        stats_.cells_originated += 1;
        send_tx_cell(ref.peer);
        return true;
    }
    return false;
}

void Node::flush_pending(link::PeerHandle peer) noexcept {
    auto it = pending_.find(peer);
    if (it == pending_.end() || !link_.ready(peer)) return;
    std::deque<std::vector<uint8_t>> queue = std::move(it->second);
    pending_.erase(it);
    for (const std::vector<uint8_t>& cell : queue) {
        std::memcpy(tx_packet_.data() + wire::kLinkHeaderBytes, cell.data(), cell.size());
        send_tx_cell(peer);
    }
}

void Node::tick() noexcept {
    link_.tick(tx_);
    // Collect first: flushing erases entries and may re-insert them, which would invalidate iterators.
    std::vector<link::PeerHandle> waiting;
    waiting.reserve(pending_.size());
    for (const auto& [peer, queue] : pending_) waiting.push_back(peer);
    for (link::PeerHandle peer : waiting) flush_pending(peer);
    tick_circuits();
    tick_delivery();
    tick_gossip();
    reassembler_.expire();
    if (pending_parts_ && outgoing_.empty()) apply_pending_parts();
}

}  // namespace voxa::node
