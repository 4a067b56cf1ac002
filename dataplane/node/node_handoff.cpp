// Work between the workers of one node (see "Workers" in node.h): relay messages about a message go to the
// message's owner; relay messages the owner sends on another worker's circuit go to that worker.
#include <sodium.h>

#include <cstring>

#include "node/node.h"
#include "node/node_state.h"

namespace voxa::node {
namespace {

// The message a DATA, MANIFEST, STATUS or DONE relay message is about; false for other types or short data.
bool message_of(const RelayMsgView& msg, MessageId* id) noexcept {
    std::size_t offset = 0;
    switch (msg.type) {
        case wire::RelayMsgType::kData:
        case wire::RelayMsgType::kStatus:
        case wire::RelayMsgType::kDone: offset = 0; break;
        case wire::RelayMsgType::kManifest: offset = kManifestPrefixBytes + 8; break;   // manifest.h: message_id
        default: return false;
    }
    if (msg.data.size() < offset + id->size()) return false;
    std::memcpy(id->data(), msg.data.data() + offset, id->size());
    return true;
}

}  // namespace

MessageId Node::new_message_id() const noexcept {
    MessageId id;
    for (;;) {
        randombytes_buf(id.data(), id.size());
        const unsigned first = (id[0] / config_.workers) * config_.workers + config_.worker;
        if (first <= 0xff) {
            id[0] = uint8_t(first);
            return id;
        }
    }
}

bool Node::hand_end_message(const CircuitRef& ref, const RelayMsgView& msg) noexcept {
    if (config_.workers == 1) return false;
    MessageId id;
    if (!message_of(msg, &id)) return false;
    const uint8_t owner = message_owner(id, config_.workers);
    if (owner == config_.worker) return false;
    if (handoff_ == nullptr || !handoff_->handoff(owner, Handoff{Handoff::Kind::kEndMessage, msg.type, msg.flags,
                                                                 ref}, msg.data)) {
        stats_.drops[std::size_t(Drop::kHandoffFull)] += 1;
        return true;
    }
    stats_.handoffs_out += 1;
    return true;
}

void Node::on_handoff(const Handoff& h, std::span<const uint8_t> data) noexcept {
    stats_.handoffs_in += 1;
    switch (h.kind) {
        case Handoff::Kind::kEndMessage:
            on_end_message(h.ref, RelayMsgView{h.type, h.flags, data});
            break;
        case Handoff::Kind::kSendOnCircuit: {
            CircuitRef local = h.ref;
            local.worker = config_.worker;
            send_relay_msg(local, h.type, h.flags, data);
            break;
        }
    }
}

}  // namespace voxa::node
